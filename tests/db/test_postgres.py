"""PostgreSQL as a first-class store, on a real server (``tests/pgserver.py``): every export
format the same as on SQLite, concurrent processes that neither lose an edit nor double a
proposal, concurrent first opens of a fresh database, and one-line errors for addresses that
cannot work.

Concurrent processes are real OS processes (the ``annotator`` CLI, or Python using the
store) started together: each imports everything, says it is ready, and waits for the go.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from annotator.model import Document, Span
from db import Store
from db.engine import current_revision, head_revision

pytestmark = pytest.mark.slow  # starts a PostgreSQL server

QUAERO = Path(__file__).resolve().parents[1] / "data" / "quaero" / "corpus"

# run by each process: import what the work needs, say "ready", wait for the go, then work
_START = """
import pathlib, sys, time
import alembic.command, annotator.cli, db.store, psycopg
annotator.cli.build_parser()  # imports every command module
ready, go = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
ready.touch()
while not go.exists():
    time.sleep(0.002)
"""
CLI = _START + "sys.exit(annotator.cli.main(sys.argv[3:]))\n"


def _together(tmp_path: Path, jobs: list[tuple[str, list[str]]], *, timeout: float = 120,
              names: list[str] | None = None,
              meanwhile=None) -> list[subprocess.CompletedProcess]:
    """Run ``(code, argv)`` jobs as separate Python processes started at the same moment;
    ``names``: their PostgreSQL application names (``PGAPPNAME``); ``meanwhile()`` runs once
    they have started."""
    procs = []
    go = tmp_path / "go"
    for n, (code, argv) in enumerate(jobs):
        ready = tmp_path / f"ready-{n}"
        env = dict(os.environ, PGAPPNAME=names[n]) if names else None
        procs.append((ready, subprocess.Popen(
            [sys.executable, "-c", code, str(ready), str(go), *argv], text=True, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)))
    deadline = time.monotonic() + timeout
    while not all(r.exists() for r, _ in procs):
        if time.monotonic() > deadline or any(p.poll() is not None for _, p in procs):
            for _, p in procs:
                p.kill()
            pytest.fail("a process did not start: "
                        + " | ".join(p.communicate()[1][-2000:] for _, p in procs))
        time.sleep(0.01)
    go.touch()
    try:
        if meanwhile is not None:
            meanwhile()
    finally:
        out = []
        for _, p in procs:
            stdout, stderr = p.communicate(timeout=timeout)
            out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


def _cli(*argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "annotator", *argv], capture_output=True,
                          text=True, env=env, timeout=120)


# ---------------------------------------------------------------- migrations

def test_concurrent_first_opens_of_a_fresh_database_all_succeed(pg_server, tmp_path):
    """Three processes open a new, empty database at once: one migrates (under the
    advisory lock), the others wait and find it migrated; every import lands."""
    url = pg_server.url(pg_server.create_database("fresh"))
    src = tmp_path / "docs.jsonl"
    src.write_text('{"text": "fièvre et toux", "spans": []}\n', encoding="utf-8")
    results = _together(tmp_path, [(CLI, ["--db", url, "--project", f"p{n}", "import",
                                          "--format", "jsonl", str(src)]) for n in range(3)])
    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr[-800:] for r in results]
    with Store(url) as st:
        assert current_revision(st.engine) == head_revision()
        assert st.list_projects() == ["p0", "p1", "p2"]


# ---------------------------------------------------------------- concurrent writers

EDITOR = _START + """
from annotator.model import Span
from db import Store

st = Store(sys.argv[3])
for doc_id in map(int, sys.argv[4].split(",")):
    doc = st.get_document(doc_id)
    second = doc.text.rindex("betazol")
    st.add_span(doc_id, Span(second, second + 9, "CHEM", source="human", annotator="editor"))
    [first] = [s for s in doc.spans if s.source == "import"]
    st.update_span(first.id, status="rejected", annotator="editor")
print("edited")
"""

N_TODO = 30
LEXICON = {"pneumonie": "DISO", "toux": "DISO", "paracétamol": "CHEM"}


def _writers_project(url: str) -> tuple[list[int], list[int]]:
    """A reviewed document whose accepted spans are the lexicon, N_TODO to-do documents holding
    its strings, and 12 reviewed documents for a person to edit, each naming its own drug
    twice; returns (to-do ids, edited ids). The edits leave the lexicon as it is (a string
    accepted at least once keeps its label), so both pre-labels run the same configuration."""
    seed = "pneumonie franche, toux sèche, paracétamol."
    docs = [Document(text=seed, name="seed", review_status="reviewed", spans=[
        Span(seed.index(w), seed.index(w) + len(w), lab, source="import")
        for w, lab in LEXICON.items()])]
    docs += [Document(text=f"Note {i} : pneumonie et toux, paracétamol {i} g.", name=f"n{i}")
             for i in range(N_TODO)]
    for j in range(12):
        t = f"Compte rendu {j} : betazol{j:02d} matin, betazol{j:02d} soir."
        docs.append(Document(text=t, name=f"cr{j}", review_status="reviewed",
                             spans=[Span(t.index("betazol"), t.index("betazol") + 9, "CHEM",
                                         source="import")]))
    with Store(url) as st:
        st.import_documents(docs)
    return [d.id for d in docs[1:N_TODO + 1]], [d.id for d in docs[N_TODO + 1:]]


def _proposals(st: Store, doc_id: int) -> Counter:
    return Counter((s.start, s.end, s.label) for s in st.get_document(doc_id).spans
                   if s.status == "proposed")


def test_concurrent_prelabels_and_edits_lose_no_edit_and_double_no_proposal(
        pg_server, pg_url, tmp_path):
    """Two lexicon pre-labels of the same documents and a person editing others: three
    processes at once. To make the two pre-labels meet on one document, spans are held
    locked (``LOCK TABLE spans IN SHARE MODE``: reads pass, writes wait) until both wait
    for a lock on their first one. Each document ends with one set of proposals, every edit
    is there, and a rerun finds everything done."""
    import psycopg
    from sqlalchemy.engine import make_url

    todo, edited = _writers_project(pg_url)
    prelabel = ["--db", pg_url, "prelabel", "--backend", "lexicon", "--batch-size", "1"]
    hold = psycopg.connect(pg_server.dsn(make_url(pg_url).database))
    hold.execute("LOCK TABLE spans IN SHARE MODE")

    def release_once_both_wait():
        try:
            deadline = time.monotonic() + 60
            with psycopg.connect(pg_server.dsn("postgres"), autocommit=True) as watch:
                while time.monotonic() < deadline:
                    waiting = watch.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                        " AND application_name LIKE 'prelabel-%'").fetchone()[0]
                    if waiting == 2:
                        return
                    time.sleep(0.01)
            pytest.fail("the two pre-labels never both waited for a lock")
        finally:
            hold.commit()
            hold.close()

    try:
        results = _together(tmp_path, [(CLI, prelabel), (CLI, prelabel),
                                       (EDITOR, [pg_url, ",".join(map(str, edited))])],
                            names=["prelabel-0", "prelabel-1", "editor"],
                            meanwhile=release_once_both_wait)
    finally:
        hold.close()  # (closed already, unless a process failed to start)
    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr[-800:] for r in results]
    assert results[2].stdout.strip() == "edited"
    with Store(pg_url) as st:
        for doc_id in todo:
            text = st.get_document(doc_id).text
            assert _proposals(st, doc_id) == Counter(
                (text.index(w), text.index(w) + len(w), lab) for w, lab in LEXICON.items())
        for doc_id in edited:
            doc = st.get_document(doc_id)
            first, second = doc.text.index("betazol"), doc.text.rindex("betazol")
            assert sorted((s.start, s.end, s.label, s.source, s.status, s.annotator)
                          for s in doc.spans) == [
                (first, first + 9, "CHEM", "import", "rejected", "editor"),
                (second, second + 9, "CHEM", "human", "accepted", "editor")]
        assert [r["status"] for r in st.runs("prelabel")] == ["done", "done"]
        assert len({r["run_key"] for r in st.runs("prelabel")}) == 1
        # each document was written by one of them: the other found it done (in the
        # transaction it would have written in) and left it
        stats = [r["stats"] for r in st.runs("prelabel")]
        assert sum(x["spans"] for x in stats) == len(LEXICON) * N_TODO
        assert sum(x["done_concurrently"] for x in stats) == N_TODO
        before = {doc_id: _proposals(st, doc_id) for doc_id in todo}
    again = _cli(*prelabel)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"0 documents pre-labeled ({N_TODO} already done"), again.stdout
    with Store(pg_url) as st:
        assert {doc_id: _proposals(st, doc_id) for doc_id in todo} == before


# ---------------------------------------------------------------- exports

def _files(path: Path) -> dict[str, bytes]:
    if path.is_file():
        return {path.name: path.read_bytes()}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file()}


EXPORTS = [
    ["--format", "jsonl", "--review-status", "all", "--status", "all"],
    ["--format", "brat", "--review-status", "all", "--status", "all"],
    ["--format", "gliner", "--review-status", "all", "--status", "all"],
    ["--format", "gliner2", "--review-status", "all", "--status", "all"],
    ["--format", "gliner2", "--plain-strings", "--descriptions"],  # the gold only
    ["--format", "gliner2", "--split", "train=0.5,test=0.5", "--seed", "3"],
    ["--format", "conll", "--review-status", "all", "--status", "all"],
]


def test_every_export_format_on_postgresql_equals_the_sqlite_export(pg_url, tmp_path, capsys):
    """The QUAERO sample (discontinuous and overlapping spans, notes) imported into both,
    lexicon proposals added and a few documents reviewed: every export (and its dry-run
    summary) is byte for byte the same."""
    from annotator.cli import main

    outputs = {}
    for kind, db in (("sqlite", str(tmp_path / "ref.sqlite")), ("postgresql", pg_url)):
        assert main(["--db", db, "import", "--format", "brat", str(QUAERO),
                     "--schema", "quaero"]) == 0
        assert main(["--db", db, "prelabel", "--backend", "lexicon"]) == 0
        assert main(["--db", db, "review", "mark", "reviewed", "train/MEDLINE/6193847",
                     "train/MEDLINE/10223112", "train/EMEA/425_6"]) == 0
        capsys.readouterr()
        for n, options in enumerate(EXPORTS):
            ext = "" if options[1] == "brat" or "--split" in options else ".out"
            out = tmp_path / kind / f"{n}-{options[1]}{ext}"
            out.parent.mkdir(exist_ok=True)
            assert main(["--db", db, "export", *options, "--dry-run", "--out", str(out)]) == 0
            dry = capsys.readouterr().out.replace(db, "DB")
            assert main(["--db", db, "export", *options, "--out", str(out)]) == 0
            said = capsys.readouterr().out.replace(str(tmp_path / kind), "OUT")
            outputs[kind, n] = (dry, said, _files(out))
    for n, options in enumerate(EXPORTS):
        assert outputs["postgresql", n] == outputs["sqlite", n], options
        assert outputs["sqlite", n][2], options  # something was written
    assert b'"source":"lexicon"' in outputs["sqlite", 0][2]["0-jsonl.out"]  # proposals too
    assert outputs["sqlite", 4][2]["4-gliner2.out"].count(b"\n") == 3  # the gold: 3 documents


# ---------------------------------------------------------------- addresses that cannot work

def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket closes


def _no_password_env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PGPASSWORD"}
    env["PGPASSFILE"] = str(tmp_path / "no-pgpass")
    return env


@pytest.mark.parametrize("case", ["refused", "bad password", "no password", "no database"])
def test_a_server_that_cannot_be_used_is_one_line_naming_it(pg_server, pg_url, tmp_path,
                                                             case):
    """``annotator --db URL stats`` as a person runs it: exit 2, one line on stderr naming the
    server and what the server (or the socket) said; never a traceback or the password."""
    from sqlalchemy.engine import make_url

    url = make_url(pg_url)
    reason = {
        "refused": "Connection refused",
        "bad password": f'password authentication failed for user "{url.username}"',
        "no password": "no password supplied",
        "no database": 'database "nope" does not exist',
    }[case]
    if case == "refused":
        url = url.set(port=_closed_port())
    elif case == "bad password":
        url = url.set(password="wrong-" + pg_server.password)
    elif case == "no password":
        url = make_url(pg_server.url(url.database, password=False))
    else:
        url = url.set(database="nope")
    res = _cli("--db", url.render_as_string(hide_password=False), "stats",
               env=_no_password_env(tmp_path))
    assert res.returncode == 2 and res.stdout == ""
    [line] = res.stderr.splitlines()
    assert line.startswith(f"error: cannot connect to the postgresql server at "
                           f"127.0.0.1:{url.port}/{url.database}: "), line
    assert reason in line and pg_server.password not in line


def test_a_role_that_may_not_create_the_tables_is_one_line(pg_server, tmp_path):
    """A fresh database opened first by a role without CREATE on its schema (PostgreSQL 15's
    default for roles that do not own the database): one line, nothing created."""
    import psycopg

    role = f"reader_{os.getpid()}"
    pg_server.sql(f"CREATE ROLE {role} LOGIN PASSWORD 'pw'")
    name = pg_server.create_database("readonly")
    url = f"postgresql+psycopg://{role}:pw@127.0.0.1:{pg_server.port}/{name}"
    res = _cli("--db", url, "stats")
    assert res.returncode == 2
    assert res.stderr == (f"error: postgresql+psycopg://{role}:***@127.0.0.1:{pg_server.port}/"
                          f"{name}: cannot create or update the tables (schema revision "
                          f"{head_revision()}; nothing was changed): permission denied for "
                          "schema public\n")
    with psycopg.connect(pg_server.dsn(name)) as c:
        assert c.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
                         ).fetchone()[0] == 0


def test_a_url_without_password_connects_through_pgpassfile_or_pgpassword(
        pg_server, pg_url, tmp_path):
    """What the README tells a team: keep the password out of the URL; libpq reads it from
    the password file (``~/.pgpass``, or ``PGPASSFILE``) or ``PGPASSWORD``."""
    from sqlalchemy.engine import make_url

    with Store(pg_url) as st:
        st.add_document(Document(text="fièvre et toux"))
    bare = pg_server.url(make_url(pg_url).database, password=False)
    assert pg_server.password not in bare
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{pg_server.port}:*:annotator:{pg_server.password}\n")
    pgpass.chmod(0o600)  # libpq ignores a password file others can read
    env = _no_password_env(tmp_path)
    res = _cli("--db", bare, "stats", env=dict(env, PGPASSFILE=str(pgpass)))
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("project default: 1 documents")
    res = _cli("--db", bare, "stats", env=dict(env, PGPASSWORD=pg_server.password))
    assert res.returncode == 0, res.stderr
