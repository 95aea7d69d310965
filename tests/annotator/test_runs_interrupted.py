"""A pre-label run killed with SIGKILL shows as ``interrupted`` (not ``running`` forever), and
the same command run again resumes it to exactly the result of an uninterrupted run.

The run is a real ``annotator prelabel --backend lexicon`` process. It is killed while it is
writing: the test takes the database write lock (``BEGIN IMMEDIATE`` on a raw connection) as
soon as the first documents are committed, so at the kill the process is blocked on its next
write with part of the corpus done, whatever the machine's speed.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from annotator.cli import main
from annotator.model import Document, Span
from db import Store

N_DOCS = 1500
GOLD = "Patient avec une fièvre depuis hier."


def _corpus() -> list[Document]:
    docs = [Document(text=GOLD, name="gold", review_status="reviewed",
                     spans=[Span(17, 23, "disease", source="human", status="accepted")])]
    for i in range(N_DOCS):
        docs.append(Document(text=f"Note {i} : fièvre à 39, toux sèche, fièvre le soir.",
                             name=f"n{i:05d}"))
    return docs


def _project(path: str) -> None:
    with Store(path) as st:
        st.import_documents(_corpus())


def _prelabel_argv(path: str) -> list[str]:
    return ["--db", path, "prelabel", "--backend", "lexicon", "--batch-size", "1", "--json"]


def _spans(path: str) -> set[tuple]:
    with sqlite3.connect(path) as c:
        return set(c.execute(
            "SELECT d.name, s.start, s.\"end\", s.label, s.source, s.status, s.source_version, "
            "s.score FROM spans s JOIN documents d ON d.id = s.doc_id").fetchall())


def _done_marks(path: str) -> set[tuple]:
    with sqlite3.connect(path) as c:
        return set(c.execute("SELECT d.name, r.kind, r.run_key, r.status FROM doc_runs r "
                             "JOIN documents d ON d.id = r.doc_id").fetchall())


def _kill_while_writing(path: str) -> tuple[int, int]:
    """Start the pre-label process, let it commit some documents, hold the write lock and
    SIGKILL it. Returns (documents done at the kill, its pid)."""
    proc = subprocess.Popen([sys.executable, "-m", "annotator", *_prelabel_argv(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lock = sqlite3.connect(path, isolation_level=None, timeout=60)
    try:
        while True:
            lock.execute("BEGIN IMMEDIATE")
            done = lock.execute("SELECT count(*) FROM doc_runs WHERE status = 'done'"
                                ).fetchone()[0]
            if done >= 5:
                break  # keep the lock: the process cannot commit another document
            lock.execute("ROLLBACK")
            if proc.poll() is not None:
                pytest.fail(f"prelabel ended before it was killed: {proc.stderr.read()!r}")
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
    finally:
        if lock.in_transaction:
            lock.execute("ROLLBACK")
        lock.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return done, proc.pid


def test_killed_prelabel_is_interrupted_and_a_rerun_resumes_it(tmp_path, capsys):
    killed, reference = str(tmp_path / "killed.sqlite"), str(tmp_path / "reference.sqlite")
    _project(killed)
    _project(reference)

    done, pid = _kill_while_writing(killed)
    assert 0 < done < N_DOCS

    with sqlite3.connect(killed) as c:  # as stored: the process died before finish_run
        assert c.execute("SELECT status, pid FROM runs").fetchall() == [("running", pid)]
    with Store(killed) as st:
        [run] = st.runs("prelabel")
        assert run["status"] == "interrupted" and run["finished_at"] is None

    assert main(["--db", killed, "stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs_by_status"] == {"interrupted": 1}
    assert main(["--db", killed, "stats"]) == 0
    out = capsys.readouterr().out
    assert "runs by status: interrupted 1" in out and "same command is run again" in out

    # an uninterrupted run of the same corpus, for reference
    assert main(_prelabel_argv(reference)) == 0
    whole = json.loads(capsys.readouterr().out)
    assert whole["already_done"] == 0 and whole["docs"] > done

    # the same command again: it resumes the interrupted run
    assert main(_prelabel_argv(killed)) == 0
    totals = json.loads(capsys.readouterr().out)
    assert (totals["already_done"], totals["docs"]) == (done, whole["docs"] - done)
    with Store(killed) as st:
        assert [r["status"] for r in st.runs("prelabel")] == ["interrupted", "done"]
    with sqlite3.connect(killed) as c:  # the rerun stored what happened to the killed run
        assert c.execute("SELECT status FROM runs ORDER BY id").fetchall() == [
            ("interrupted",), ("done",)]
    assert _spans(killed) == _spans(reference)
    assert len([s for s in _spans(killed) if s[4] == "lexicon"]) == 2 * N_DOCS
    assert _done_marks(killed) == _done_marks(reference)


def test_a_run_of_a_live_process_stays_running(tmp_path):
    path = str(tmp_path / "live.sqlite")
    with Store(path) as st:
        run_id = st.start_run("prelabel", {"backend": "lexicon"}, run_key="k")
        assert [r["status"] for r in st.runs()] == ["running"]
        st.finish_run(run_id, {"docs": 0})
        assert [r["status"] for r in st.runs()] == ["done"]


def test_a_reused_pid_does_not_keep_a_dead_run_running(tmp_path):
    """The process start time is stored with the pid: a live process that got the dead
    run's pid is not mistaken for it."""
    path = str(tmp_path / "reuse.sqlite")
    with Store(path) as st:
        st.start_run("prelabel", {}, run_key="k")
    with sqlite3.connect(path) as c:  # this live process's pid, another start time
        c.execute("UPDATE runs SET pid_started = '1'")
    with Store(path) as st:
        if st.runs()[0]["pid_started"] is None:
            pytest.skip("no /proc: process start times are not known here")
        assert [r["status"] for r in st.runs()] == ["interrupted"]
