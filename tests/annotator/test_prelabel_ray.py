"""``prelabel --engine ray`` against a real local Ray cluster (2 CPUs): the same spans, done
marks and run key as the local engine (lexicon and the tiny GLiNER2), a partial or cancelled
run resumed, a worker process killed mid-batch retried with every document written once, a
batch delivered twice written once, and the CLI flags: starting and stopping its own Ray
with no Ray process left behind, ``--ray-address`` joining a running cluster, and
``--gpus-per-worker`` refused where no GPU could serve it."""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from annotator.cli import main
from annotator.errors import CancelledError
from annotator.jobs import drive
from annotator.model import Span
from annotator.prelabel.job import prelabel_job
from annotator.prelabel.lexicon import LexiconPrelabeler
from db import Store

ray = pytest.importorskip("ray", reason="the 'scale' extra (Ray Data) is not installed")

pytestmark = pytest.mark.slow
ANNOTATOR = str(Path(sys.executable).with_name("annotator"))  # the installed console script


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


def _alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie waiting for its parent to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def assert_gone(pids: set[int], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = {p for p in alive if _alive(p)}
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


def count_writes(store: Store) -> dict[int, int]:
    """Per document id: how many times the job replaced its proposals (wraps the store)."""
    counts: dict[int, int] = {}
    replace = store.replace_proposals

    def counting(doc_id, *args, **kwargs):
        counts[doc_id] = counts.get(doc_id, 0) + 1
        return replace(doc_id, *args, **kwargs)

    store.replace_proposals = counting
    return counts


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
        writes = count_writes(store)
        got = drive(ray_prelabel_job(store, backend="lexicon", batch_size=2, workers=2),
                    on_progress=progress.append)
        run = store.runs("prelabel")[-1]
    assert local["spans"] > 0 and local["skipped_existing"] >= 1
    assert sorted(writes.values()) == [1] * 6
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
    import torch

    base = ["prelabel", "--model", str(tiny_gliner2_bert), "--threshold", "0.2",
            "--batch-size", "2", "--json"]
    # each actor reserves 1 CPU and Ray gives it 1 thread (OMP_NUM_THREADS); with as many
    # threads here the float sums, hence the scores, are bit for bit the same (with 2 threads
    # they differ in the 6th decimal on the long document)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["--db", prelabel_db, *base]) == 0
    finally:
        torch.set_num_threads(threads)
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
        writes = count_writes(store)
        first = drive(ray_prelabel_job(store, backend="lexicon", batch_size=2, limit=3))
        assert first["docs"] == 3
        assert len(store.done_doc_ids("prelabel", first["run_key"])) == 3
        rest = drive(ray_prelabel_job(store, backend="lexicon", batch_size=2))
        again = drive(ray_prelabel_job(store, backend="lexicon", batch_size=2))
        runs = store.runs("prelabel")
    assert rest["already_done"] == 3 and rest["docs"] == 3
    assert again["docs"] == 0 and again["already_done"] == 6  # nothing left: Ray not started
    assert sorted(writes.values()) == [1] * 6
    assert proposals(prelabel_db) == proposals(ref)
    assert set(done_marks(prelabel_db, first["run_key"]).values()) == {1}
    assert [r["status"] for r in runs] == ["done"] * 3


def test_cancelled_run_keeps_written_batches_and_resumes(prelabel_db, tmp_path, local_ray):
    from annotator.prelabel.ray_engine import ray_prelabel_job

    with_decisions(prelabel_db)
    ref = copy_db(prelabel_db, tmp_path, "ref.sqlite")
    with Store(ref) as store:
        drive(prelabel_job(store, backend="lexicon"))
    cancel = threading.Event()
    with Store(prelabel_db) as store:
        writes = count_writes(store)
        job = ray_prelabel_job(store, backend="lexicon", batch_size=2, workers=2)
        with pytest.raises(CancelledError):
            drive(job, on_progress=lambda p: p.done and cancel.set(), cancel=cancel)
        run = store.runs("prelabel")[-1]
        key = run["run_key"]
        assert run["status"] == "cancelled"
        assert len(store.done_doc_ids("prelabel", key)) == 2  # the one batch written
        rest = drive(ray_prelabel_job(store, backend="lexicon", batch_size=2, workers=2))
    assert rest["already_done"] == 2 and rest["docs"] == 4
    assert sorted(writes.values()) == [1] * 6
    assert proposals(prelabel_db) == proposals(ref)


def test_batch_delivered_twice_is_written_once(prelabel_db):
    """The driver's guard for a retried batch whose first answer did arrive: its documents
    are not written again (counted as duplicates_skipped)."""
    import pickle

    import pyarrow as pa

    from annotator.prelabel.job import KIND
    from annotator.prelabel.ray_engine import _write_batch

    with_decisions(prelabel_db)
    with Store(prelabel_db) as store:
        pl = LexiconPrelabeler.from_store(store)
        docs = list(store.iter_documents(with_spans=False))[:3]
        preds = pl.predict_docs([d.text for d in docs])
        batch = pa.table({"id": [d.id for d in docs],
                          "pred": [pickle.dumps(p) for p in preds], "error": [None] * 3})
        writes = count_writes(store)
        written: set[int] = set()
        totals = {k: 0 for k in ("docs", "spans", "skipped_existing", "dropped_misaligned",
                                 "repaired", "unmapped", "windows", "truncated_docs",
                                 "failed", "duplicates_skipped")}
        assert _write_batch(store, pl.run_key(), pl.source, batch, written, totals) == 3
        assert _write_batch(store, pl.run_key(), pl.source, batch, written, totals) == 0
        assert totals["docs"] == 3 and totals["duplicates_skipped"] == 3
        assert writes == {d.id: 1 for d in docs}
        assert store.done_doc_ids(KIND, pl.run_key()) == {d.id for d in docs}


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
        writes = count_writes(store)
        # one worker: any second process id is the worker Ray restarted after the kill
        got = drive(ray_prelabel_job(store, prelabeler=killer, batch_size=2, workers=1))
    assert not marker.exists() and Path(str(marker) + ".claimed").exists()  # it did die
    pids = [int(x) for x in (tmp_path / "pids").read_text().split()]
    assert len(set(pids)) >= 2 and not _alive(pids[0])  # the killed one did not come back
    assert got["docs"] == 6 and got["failed"] == 0 and got["duplicates_skipped"] == 0
    assert sorted(writes.values()) == [1] * 6  # the killed batch retried, nothing twice
    assert got["spans"] == local["spans"]
    assert proposals(prelabel_db) == proposals(ref)
    assert set(done_marks(prelabel_db, got["run_key"]).values()) == {1}


class PidLexicon(LexiconPrelabeler):
    """The lexicon, noting the process id of each batch it predicts."""

    pids_file: str = ""

    def predict_docs(self, texts):
        with open(self.pids_file, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        return super().predict_docs(texts)


def recording_reader(log_file: str, db: str, run_key: str, last_id: int):
    """A read task body that notes each batch it reads (ids, pid, node, documents already
    written), the batch holding ``last_id`` waiting (up to 60 s) until the driver has written
    a document: it gets there only if the pipeline predicts and writes while reads remain."""
    from annotator.prelabel import ray_workers

    read_batch = ray_workers._read_batch

    def read(opener, ids):
        written = 0
        deadline = time.monotonic() + 60
        with Store(db, create=False) as store:
            while True:
                written = len(store.done_doc_ids("prelabel", run_key))
                if last_id not in ids or written or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        with open(log_file, "a") as fh:
            fh.write(json.dumps({"ids": list(ids), "pid": os.getpid(), "written": written,
                                 "node": ray.get_runtime_context().get_node_id()}) + "\n")
        yield from read_batch(opener, ids)

    return read


def test_documents_stream_from_the_store_in_read_tasks(prelabel_db, tmp_path, local_ray,
                                                       monkeypatch):
    """The driver reads no text: read tasks on its node, one per batch, each opening the
    store, run while the pipeline goes on: the last batch is read after the first one is
    written. The spans are the local engine's."""
    import ray.cloudpickle

    from annotator.prelabel import ray_engine, ray_workers

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with_decisions(prelabel_db)
    ref = copy_db(prelabel_db, tmp_path, "ref.sqlite")
    with Store(ref) as store:
        local = drive(prelabel_job(store, backend="lexicon"))
    log_file = tmp_path / "reads.jsonl"
    with Store(prelabel_db) as store:
        ids = store.document_ids()
        pl = PidLexicon(dict(LexiconPrelabeler.from_store(store).entries),
                        scores=dict(LexiconPrelabeler.from_store(store).scores))
        pl.pids_file = str(tmp_path / "pids")
        assert pl.run_key() == local["run_key"]
        monkeypatch.setattr(ray_workers, "_read_batch",
                            recording_reader(str(log_file), prelabel_db, pl.run_key(), ids[-1]))

        def no_text_on_the_driver(*args, **kwargs):
            raise AssertionError("the driver read documents")

        store.iter_documents = no_text_on_the_driver
        got = drive(ray_engine.ray_prelabel_job(store, prelabeler=pl, batch_size=2, workers=1))
        del store.iter_documents
    reads = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert sorted(r["ids"] for r in reads) == [ids[0:2], ids[2:4], ids[4:6]]  # 3 read tasks
    assert {r["node"] for r in reads} == {ray.get_runtime_context().get_node_id()}
    actor_pids = {int(p) for p in (tmp_path / "pids").read_text().split()}
    assert not {r["pid"] for r in reads} & (actor_pids | {os.getpid()})  # not fused into them
    last = next(r for r in reads if ids[-1] in r["ids"])
    assert last["written"] >= 1  # a batch was written before the last one was read
    assert got["docs"] == 6 and got["failed"] == 0 and got["spans"] == local["spans"]
    assert proposals(prelabel_db) == proposals(ref)


class PoisonLexicon(LexiconPrelabeler):
    """The lexicon, except that a batch holding the document ``poison`` kills its process
    (os._exit, as a segfault in native code would) on every try, noting each try."""

    poison: str = ""
    tries_file: str = ""

    def predict_docs(self, texts):
        if self.poison in texts:
            with open(self.tries_file, "a") as fh:
                fh.write(f"{os.getpid()}\n")
            os._exit(1)
        return super().predict_docs(texts)


def test_document_that_kills_every_worker_is_marked_failed_and_the_run_goes_on(
        prelabel_db, tmp_path, local_ray):
    """A document whose every try kills its worker process: the run completes, the others
    are written (the local engine's spans), it alone is marked failed with the reason, no
    worker is left holding a CPU, and the rerun does just that document."""
    import ray.cloudpickle

    from annotator.prelabel.ray_engine import ray_prelabel_job

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with_decisions(prelabel_db)
    ref = copy_db(prelabel_db, tmp_path, "ref.sqlite")
    with Store(ref) as store:
        local = drive(prelabel_job(store, backend="lexicon"))
    with Store(prelabel_db) as store:
        docs = {d.name: d for d in store.iter_documents(with_spans=False)}
        pl = LexiconPrelabeler.from_store(store)
        poisoned = PoisonLexicon(dict(pl.entries), scores=dict(pl.scores))
        poisoned.poison, poisoned.tries_file = docs["long"].text, str(tmp_path / "tries")
        assert poisoned.run_key() == local["run_key"]
        got = drive(ray_prelabel_job(store, prelabeler=poisoned, batch_size=1, workers=2,
                                     max_task_retries=1))
        runs = store.doc_runs(docs["long"].id)
        run = store.runs("prelabel")[-1]
        first = proposals(prelabel_db)
        # no worker left behind holding a CPU (one restarting at the end used to come back)
        deadline = time.monotonic() + 20
        while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ray.available_resources().get("CPU", 0) == 2
        again = drive(ray_prelabel_job(store, prelabeler=pl, batch_size=1, workers=1))
    tries = (tmp_path / "tries").read_text().split()
    # a try and a retry with its batch, then the same alone: each kills its process
    assert len(tries) == 4 and len(set(tries)) == 4
    assert run["status"] == "done"
    assert got["docs"] == 6 and got["failed"] == 1 and got["lost"] == 1
    [mark] = [r for r in runs if r["kind"] == "prelabel" and r["run_key"] == got["run_key"]]
    assert mark["status"] == "failed" and "2 tries with its batch then 2 alone" in mark["error"]
    reference = proposals(ref)
    assert {n: p for n, p in first.items() if n != "long"} == {
        n: p for n, p in reference.items() if n != "long"}
    assert first["long"] == [] and reference["long"]  # not written (the local engine did)
    # the rerun (here with a lexicon that survives it) does the failed document only
    assert again["docs"] == 1 and again["already_done"] == 5 and again["failed"] == 0
    assert proposals(prelabel_db) == proposals(ref)
    assert set(done_marks(prelabel_db, got["run_key"]).values()) == {1}



class DeadlyLexicon(LexiconPrelabeler):
    """Kills its process on every batch (a model that cannot run here at all)."""

    def predict_docs(self, texts):
        os._exit(1)


def test_workers_dying_on_every_batch_end_the_run(prelabel_db, local_ray, monkeypatch):
    """Past MAX_LOST_BATCHES lost batches the run stops with an error instead of going
    through the whole corpus; no worker is left holding a CPU."""
    import ray.cloudpickle

    from annotator.prelabel import ray_engine

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    monkeypatch.setattr(ray_engine, "MAX_LOST_BATCHES", 1)
    with Store(prelabel_db) as store:
        deadly = DeadlyLexicon({"pneumonie": "disease"})
        with pytest.raises(ray_engine.RayEngineError, match="kept dying"):
            drive(ray_engine.ray_prelabel_job(store, prelabeler=deadly, batch_size=2,
                                              workers=1, max_task_retries=0))
        run = store.runs("prelabel")[-1]
        assert run["status"] == "failed" and not store.done_doc_ids("prelabel", run["run_key"])
    deadline = time.monotonic() + 20
    while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ray.available_resources().get("CPU", 0) == 2

def test_errors_on_a_worker_come_back_in_the_data_and_stop_the_run(prelabel_db):
    """Without Ray: an AnnotatorError in predict, or a store the read task cannot open, is
    returned in the batch (a raised one would be skipped like a lost batch) and re-raised by
    the driver; a model error marks only its document failed."""
    from annotator.errors import AnnotatorError
    from annotator.prelabel.ray_engine import _raise_fatal
    from annotator.prelabel.ray_workers import (
        PrelabelActor,
        PrelabelerSpec,
        RayEngineError,
        _read_batch,
    )

    class Refusing(LexiconPrelabeler):
        def predict_docs(self, texts):
            if any("pneumonie" in t for t in texts):
                raise AnnotatorError("the model refuses")
            raise ValueError("bad document")

    with Store(prelabel_db) as store:
        url, ids = store.url, store.document_ids()
        pl = Refusing(dict(LexiconPrelabeler.from_store(store).entries))
    [block] = list(_read_batch(functools.partial(Store, url, "default", create=False), ids[:2]))
    assert block.column("id").to_pylist() == ids[:2] and block.column("read_error").null_count == 2
    actor = PrelabelActor(PrelabelerSpec(pl.run_key(), prelabeler=pl))
    with pytest.raises(AnnotatorError, match="the model refuses"):
        _raise_fatal(actor(block))
    out = actor(block.slice(1, 1))  # the second document, without "pneumonie"
    _raise_fatal(out)  # a model error: no fatal, the document failed
    assert out.column("pred").null_count == 1 and "bad document" in out.column("error")[0].as_py()
    broken = list(_read_batch(functools.partial(Store, url, "no-such-project", create=False),
                              ids[:2]))
    assert len(broken) == 1 and "no project" in broken[0].column("read_error")[0].as_py()
    with pytest.raises(RayEngineError, match="reading the documents from the store failed"):
        _raise_fatal(actor(broken[0]))


def test_cli_starts_and_stops_its_own_ray(prelabel_db, tmp_path):
    """A separate process: ``annotator prelabel --engine ray`` with no Ray running starts a
    local one, uses it and shuts it down (no Ray process left)."""
    with_decisions(prelabel_db)
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    env = {**os.environ, "RAY_TMPDIR": temp, "RAY_AUTH_MODE": "disabled"}
    env.pop("RAY_ADDRESS", None)
    try:
        proc = subprocess.Popen(
            [ANNOTATOR, "--db", prelabel_db, "prelabel",
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



def test_cli_joins_a_running_cluster_with_ray_address(prelabel_db, local_ray):
    """``--ray-address`` of the module's cluster: the command runs on it (it starts no Ray of
    its own) and leaves it running."""
    with_decisions(prelabel_db)
    address = ray.get_runtime_context().gcs_address
    own = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # where a Ray of its own would live
    env = {**os.environ, "RAY_TMPDIR": own, "RAY_AUTH_MODE": "disabled"}
    env.pop("RAY_ADDRESS", None)
    try:
        proc = subprocess.Popen(
            [ANNOTATOR, "--db", prelabel_db, "prelabel", "--backend", "lexicon", "--engine",
             "ray", "--ray-address", address, "--workers", "2", "--batch-size", "2", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        started_own: set[int] = set()
        while proc.poll() is None:
            started_own |= ray_processes(own) - {proc.pid}
            time.sleep(0.2)
        out, err = proc.communicate()
        assert proc.returncode == 0, err[-2000:]
        assert json.loads(out)["docs"] == 6
        assert not started_own
        assert ray.cluster_resources().get("CPU") == 2  # the cluster is still up
    finally:
        shutil.rmtree(own, ignore_errors=True)
    with Store(prelabel_db) as store:
        assert store.runs("prelabel")[-1]["config"]["workers"] == 2


def test_cli_gpus_per_worker_refused_where_no_gpu_can_serve_it(prelabel_db, local_ray,
                                                                 tiny_gliner2_bert, capsys):
    with_decisions(prelabel_db)
    model = ["--model", str(tiny_gliner2_bert)]
    # GPUs reserved for a model left on the CPU: refused before anything runs
    assert main(["--db", prelabel_db, "prelabel", *model, "--engine", "ray",
                 "--gpus-per-worker", "1"]) == 2
    assert "--device cuda" in capsys.readouterr().err
    assert main(["--db", prelabel_db, "prelabel", *model, "--engine", "ray",
                 "--device", "cuda"]) == 2
    assert "needs --gpus-per-worker" in capsys.readouterr().err
    # a cluster with no GPU: an error instead of waiting forever for one
    t = time.monotonic()
    assert main(["--db", prelabel_db, "prelabel", "--backend", "lexicon", "--engine", "ray",
                 "--gpus-per-worker", "1"]) == 2
    assert "needs 1 GPU" in capsys.readouterr().err and time.monotonic() - t < 30
    with Store(prelabel_db) as store:
        assert store.runs("prelabel")[-1]["status"] == "failed"
        assert not store.done_doc_ids("prelabel", store.runs("prelabel")[-1]["run_key"])


def test_unreachable_or_client_address_refused_at_once():
    """A head that takes no connection fails in seconds (``ray.init`` would wait on it
    without end); Ray Client addresses, which Ray Data does not run through, are refused."""
    from annotator.prelabel.ray_cluster import _check_reachable
    from annotator.prelabel.ray_workers import RayEngineError

    t = time.monotonic()
    with pytest.raises(RayEngineError, match="cannot reach the Ray head at 127.0.0.1:1"):
        _check_reachable("127.0.0.1:1")
    assert time.monotonic() - t < 15
    with pytest.raises(RayEngineError, match="Ray Client"):
        _check_reachable("ray://head:10001")
    with pytest.raises(RayEngineError, match="expected HOST:PORT"):
        _check_reachable("head")
    _check_reachable("auto")  # left to ray.init
