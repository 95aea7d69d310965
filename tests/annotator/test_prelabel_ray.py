"""``prelabel --engine ray`` against a real local Ray cluster (2 CPUs): the same spans, done
marks and run key as the local engine (lexicon and the tiny GLiNER2), a partial run resumed,
a worker process killed mid-batch retried with every document written once, and the CLI
starting and stopping its own Ray with no Ray process left behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from annotator.cli import main
from annotator.jobs import drive
from annotator.model import Span
from annotator.prelabel.job import prelabel_job
from annotator.prelabel.lexicon import LexiconPrelabeler
from db import Store

ray = pytest.importorskip("ray", reason="the 'scale' extra (Ray Data) is not installed")

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _children() -> dict[int, int]:
    """pid -> parent pid of every process."""
    out = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                stat = Path(f"/proc/{p}/stat").read_text()
            except OSError:
                continue
            out[int(p)] = int(stat.rsplit(")", 1)[1].split()[1])
    return out


def ray_processes(temp_dir: str) -> set[int]:
    """The Ray processes of the cluster whose temp dir is ``temp_dir``: those naming it on
    their command line (GCS, raylet, monitors) and their descendants (the workers)."""
    parents = _children()
    found = {p for p in parents if temp_dir in _cmdline(p) and p != os.getpid()}
    grew = True
    while grew:
        more = {p for p, pp in parents.items() if pp in found and p not in found}
        grew = bool(more)
        found |= more
    return found


def assert_gone(pids: set[int], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = {p for p in alive if Path(f"/proc/{p}").exists()
                 and "(Z)" not in Path(f"/proc/{p}/stat").read_text()}
        time.sleep(0.2)
    assert not alive, f"Ray processes left: {[(p, _cmdline(p)[:80]) for p in alive]}"


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray of 2 CPUs for this module, its temp dir short (AF_UNIX socket paths are
    limited to 107 bytes, which pytest's tmp_path exceeds); no process left afterwards."""
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    os.environ["RAY_AUTH_MODE"] = "disabled"  # no token written under ~/.ray
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=temp, log_to_driver=False)
    try:
        yield temp
    finally:
        pids = ray_processes(temp)
        ray.shutdown()
        assert_gone(pids)
        shutil.rmtree(temp, ignore_errors=True)


def with_decisions(db: str) -> None:
    """Accept two strings so the lexicon has entries (and a decided span it must skip)."""
    with Store(db) as store:
        doc = next(store.iter_documents())
        for word, label in (("pneumonie", "disease"), ("paracétamol", "drug")):
            if word in doc.text:
                s = doc.text.index(word)
                store.add_span(doc.id, Span(s, s + len(word), label, annotator="dr"))


def proposals(db: str) -> dict[str, list[tuple]]:
    with Store(db) as store:
        return {d.name: sorted((sp.start, sp.end, sp.label, sp.source, sp.source_version,
                                sp.score) for sp in d.spans if sp.status == "proposed")
                for d in store.iter_documents()}


def done_marks(db: str, run_key: str) -> dict[str, int]:
    """Per document name: how many prelabel done marks it has under ``run_key``."""
    with Store(db) as store:
        return {s.name: sum(1 for r in store.doc_runs(s.id) if r["kind"] == "prelabel"
                            and r["run_key"] == run_key and r["status"] == "done")
                for s in store.document_summaries()}


def copy_db(db: str, tmp_path: Path, name: str) -> str:
    out = str(tmp_path / name)
    shutil.copy(db, out)
    return out


def test_lexicon_same_spans_as_local_engine(prelabel_db, tmp_path, local_ray):
    from annotator.prelabel.ray_engine import ray_prelabel_job

    with_decisions(prelabel_db)
    other = copy_db(prelabel_db, tmp_path, "ray.sqlite")
    with Store(prelabel_db) as store:
        local = drive(prelabel_job(store, backend="lexicon", batch_size=2))
    progress = []
    with Store(other) as store:
        got = drive(ray_prelabel_job(store, backend="lexicon", batch_size=2, workers=2),
                    on_progress=progress.append)
        run = store.runs("prelabel")[-1]
    assert local["spans"] > 0 and local["skipped_existing"] >= 1
    for key in ("run_key", "docs", "spans", "skipped_existing", "failed", "windows"):
        assert got[key] == local[key], key
    assert proposals(other) == proposals(prelabel_db)
    assert set(done_marks(other, got["run_key"]).values()) == {1}
    assert run["status"] == "done" and run["config"]["engine"] == "ray"
    # a Progress per written batch (6 documents, 2 per batch), counting up to the total
    assert [p.done for p in progress] == [0, 2, 4, 6] and progress[-1].total == 6


def test_gliner2_same_spans_as_local_engine_through_the_cli(prelabel_db, tmp_path, local_ray,
                                                            tiny_gliner2_bert, capsys):
    other = copy_db(prelabel_db, tmp_path, "ray.sqlite")
    base = ["prelabel", "--model", str(tiny_gliner2_bert), "--threshold", "0.2",
            "--batch-size", "2", "--json"]
    assert main(["--db", prelabel_db, *base]) == 0
    local = json.loads(capsys.readouterr().out)
    assert main(["--db", other, *base, "--engine", "ray", "--workers", "2"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert local["spans"] > 0 and local["windows"] > 6
    assert got["engine"] == "ray" and got["run_key"] == local["run_key"]
    assert (got["docs"], got["spans"], got["windows"]) == (6, local["spans"], local["windows"])
    assert proposals(other) == proposals(prelabel_db)
    # the same command with the local engine finds nothing left to do (same run key)
    assert main(["--db", other, *base]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["docs"] == 0 and again["already_done"] == 6


def test_partial_run_resumes(prelabel_db, tmp_path, local_ray):
    from annotator.prelabel.ray_engine import ray_prelabel_job

    with_decisions(prelabel_db)
    ref = copy_db(prelabel_db, tmp_path, "ref.sqlite")
    with Store(ref) as store:
        drive(prelabel_job(store, backend="lexicon"))
    with Store(prelabel_db) as store:
        first = drive(ray_prelabel_job(store, backend="lexicon", batch_size=2, limit=3))
        assert first["docs"] == 3
        assert len(store.done_doc_ids("prelabel", first["run_key"])) == 3
        rest = drive(ray_prelabel_job(store, backend="lexicon", batch_size=2))
    assert rest["already_done"] == 3 and rest["docs"] == 3
    assert proposals(prelabel_db) == proposals(ref)
    assert set(done_marks(prelabel_db, first["run_key"]).values()) == {1}


class KillOnceLexicon(LexiconPrelabeler):
    """The lexicon, except that the first batch to claim ``marker`` kills its own process
    (SIGKILL) before answering, as an out-of-memory kill would."""

    marker: str = ""
    pids_file: str = ""

    def predict_docs(self, texts):
        with open(self.pids_file, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        try:
            os.rename(self.marker, self.marker + ".claimed")  # atomic: one batch claims it
        except FileNotFoundError:
            return super().predict_docs(texts)
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")


def test_killed_worker_is_retried_and_no_document_written_twice(prelabel_db, tmp_path,
                                                                 local_ray):
    import ray.cloudpickle

    from annotator.prelabel.ray_engine import ray_prelabel_job

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with_decisions(prelabel_db)
    ref = copy_db(prelabel_db, tmp_path, "ref.sqlite")
    with Store(ref) as store:
        local = drive(prelabel_job(store, backend="lexicon"))
    marker = tmp_path / "kill-once"
    marker.write_text("")
    with Store(prelabel_db) as store:
        pl = LexiconPrelabeler.from_store(store)
        killer = KillOnceLexicon(dict(pl.entries), scores=dict(pl.scores))
        killer.marker, killer.pids_file = str(marker), str(tmp_path / "pids")
        assert killer.run_key() == local["run_key"]  # the same configuration
        got = drive(ray_prelabel_job(store, prelabeler=killer, batch_size=2, workers=2))
    assert not marker.exists() and Path(str(marker) + ".claimed").exists()  # it did die
    pids = [int(x) for x in (tmp_path / "pids").read_text().split()]
    assert len(set(pids)) >= 2  # a new worker process answered after the kill
    assert got["docs"] == 6 and got["failed"] == 0 and got["duplicates_skipped"] == 0
    assert got["spans"] == local["spans"]
    assert proposals(prelabel_db) == proposals(ref)
    assert set(done_marks(prelabel_db, got["run_key"]).values()) == {1}


def test_cli_starts_and_stops_its_own_ray(prelabel_db, tmp_path):
    """A separate process: ``annotator prelabel --engine ray`` with no Ray running starts a
    local one, uses it and shuts it down (no Ray process left)."""
    with_decisions(prelabel_db)
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    env = {**os.environ, "RAY_TMPDIR": temp, "RAY_AUTH_MODE": "disabled",
           "PYTHONPATH": str(REPO)}
    env.pop("RAY_ADDRESS", None)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "annotator.cli", "--db", prelabel_db, "prelabel",
             "--backend", "lexicon", "--engine", "ray", "--workers", "1", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        seen: set[int] = set()
        while proc.poll() is None:  # remember the cluster's processes while it runs
            seen |= ray_processes(temp) - {proc.pid}
            time.sleep(0.2)
        out, err = proc.communicate()
        assert proc.returncode == 0, err[-2000:]
        totals = json.loads(out)
        assert totals["engine"] == "ray" and totals["docs"] == 6 and totals["spans"] > 0
        assert seen  # Ray did run under the temp dir
        assert_gone(seen | ray_processes(temp))
    finally:
        shutil.rmtree(temp, ignore_errors=True)

