"""Nothing lost: edits of spans another process removed fail loudly and record nothing, a
refused command leaves the database exactly as it was, and database addresses that cannot
work are refused in one line naming the path, the driver to install or the server.

Two processes are played by two connections to one database, once on SQLite and once on
PostgreSQL (``db_url``): another connection holds a write transaction and its DELETE (what a
pre-label run replacing proposals does) while the store's edit starts; a timer thread commits
it.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import threading

import pytest
from sqlalchemy import inspect, text

from annotator.cli import main
from annotator.model import Document, Span
from db import DatabaseError, SpanGoneError, Store, StoreError
from db.engine import display_url, make_engine, resolve_url, write_engine

TEXT = "fièvre et toux"


@pytest.fixture
def path(db_url):
    """The database: a SQLite file's path, a PostgreSQL URL."""
    return db_url


def _other_process_writes(url: str, *statements: tuple[str, dict]) -> threading.Timer:
    """Another writer: runs ``statements`` inside its open write transaction (SQLite ``BEGIN
    IMMEDIATE``; PostgreSQL row locks), commits a moment later on a timer thread."""
    engine = write_engine(make_engine(resolve_url(url)))
    conn = engine.connect()
    tx = conn.begin()
    for sql, params in statements:
        conn.execute(text(sql), params)

    def commit():
        tx.commit()
        conn.close()
        engine.dispose()

    timer = threading.Timer(0.3, commit)
    timer.start()
    return timer


def _other_process_deletes(url: str, span_id: int) -> threading.Timer:
    return _other_process_writes(url, ("DELETE FROM spans WHERE id = :id", {"id": span_id}))


def _events(st: Store) -> list[tuple]:
    with st.engine.connect() as c:
        return [tuple(r) for r in c.execute(text(
            "SELECT id, span_id, action FROM span_events ORDER BY id"))]


def _proposal(path: str) -> tuple[Store, int, Span]:
    st = Store(path)
    doc = st.add_document(Document(text=TEXT))
    p = st.add_span(doc, Span(0, 6, "DISO", source="lexicon", status="proposed"))
    return st, doc, p


def test_update_of_a_span_deleted_by_another_open_transaction_fails_and_records_nothing(path):
    st, doc, p = _proposal(path)
    before = _events(st)
    timer = _other_process_deletes(path, p.id)
    with pytest.raises(SpanGoneError) as err:
        st.update_span(p.id, status="accepted", annotator="dr.a")
    timer.join()
    assert err.value.span_ids == (p.id,)
    assert f"span {p.id} no longer exists" in str(err.value)
    assert _events(st) == before  # no 'update' event for a span that is gone
    assert st.get_document(doc).spans == []
    st.close()


def test_delete_of_a_span_deleted_meanwhile_fails_and_records_nothing(path):
    st, doc, p = _proposal(path)
    before = _events(st)
    timer = _other_process_deletes(path, p.id)
    with pytest.raises(SpanGoneError):
        st.delete_span(p.id, annotator="dr.a")
    timer.join()
    assert _events(st) == before
    st.close()


def test_accept_all_of_replaced_proposals_fails_and_changes_nothing(path):
    """The GUI passes the proposals it shows; a pre-label run replaced them meanwhile."""
    st, doc, p = _proposal(path)
    before = _events(st)
    timer = _other_process_writes(
        path, ("DELETE FROM spans WHERE id = :id", {"id": p.id}),
        ('INSERT INTO spans (doc_id, start, "end", label, source, status, created_at, '
         "updated_at) VALUES (:doc, 10, 14, 'DISO', 'lexicon', 'proposed', '2026-01-01', "
         "'2026-01-01')", {"doc": doc}))
    with pytest.raises(SpanGoneError) as err:
        st.set_source_status(doc, "lexicon", "accepted", annotator="dr.a",
                             expected_ids=[p.id])
    timer.join()
    assert err.value.span_ids == (p.id,)
    assert _events(st) == before
    [fresh] = st.get_document(doc).spans
    assert (fresh.start, fresh.status) == (10, "proposed")  # the new proposal stays undecided
    st.close()


def test_accept_all_when_nothing_changed_accepts_exactly_the_shown_spans(path):
    st, doc, p = _proposal(path)
    q = st.add_span(doc, Span(10, 14, "DISO", source="lexicon", status="proposed"))
    assert st.set_source_status(doc, "lexicon", "accepted", annotator="dr.a",
                                expected_ids=[q.id, p.id]) == [p.id, q.id]
    assert {s.status for s in st.get_document(doc).spans} == {"accepted"}
    assert [a for _, _, a in _events(st)][-2:] == ["update", "update"]
    st.close()


def test_span_ids_are_never_reused(path):
    """A replaced proposal's id does not come back on its replacement (SQLite AUTOINCREMENT,
    PostgreSQL sequences): an edit by id cannot land on a span the person never saw."""
    st, doc, p = _proposal(path)
    st.replace_proposals(doc, "lexicon", [Span(10, 14, "DISO", source="lexicon",
                                               status="proposed")])
    [new] = st.get_document(doc).spans
    assert new.id > p.id
    with pytest.raises(SpanGoneError):
        st.update_span(p.id, status="accepted")
    st.close()


def test_an_edit_waits_for_another_writer_and_applies_on_top_of_its_change(path):
    """The edit's existence check and write run in one write transaction: a concurrent
    relabel is neither lost nor overwritten by a stale read."""
    st, doc, p = _proposal(path)
    timer = _other_process_writes(path, ("UPDATE spans SET label = 'SYMP' WHERE id = :id",
                                         {"id": p.id}))
    new = st.update_span(p.id, status="accepted", annotator="dr.a")
    timer.join()
    assert (new.label, new.status) == ("SYMP", "accepted")
    assert st.get_span(p.id).label == "SYMP"
    st.close()


# ---------------------------------------------------------------- refused commands

def _dump(db: str) -> dict[str, object]:
    """Every table's columns, indexes and constraints and its rows in primary-key order: the
    database as a reader sees it."""
    engine = make_engine(resolve_url(db, create=False))
    out: dict[str, object] = {}
    try:
        with engine.connect() as c:
            insp = inspect(c)
            for name in sorted(insp.get_table_names()):
                pk = insp.get_pk_constraint(name)["constrained_columns"]
                schema = [insp.get_columns(name), insp.get_indexes(name),
                          insp.get_unique_constraints(name), insp.get_check_constraints(name),
                          insp.get_foreign_keys(name)]
                order = ", ".join(f'"{k}"' for k in pk)
                out[name] = (repr(schema), [tuple(r) for r in c.execute(
                    text(f'SELECT * FROM "{name}" ORDER BY {order}'))])
    finally:
        engine.dispose()
    return out


@pytest.fixture
def populated(db_url, tmp_path):
    """A database (SQLite, PostgreSQL) with one project, its schema and a document."""
    good = tmp_path / "good.jsonl"
    good.write_text('{"text": "fièvre et toux", "spans": [{"start": 0, "end": 6, '
                    '"label": "disease"}]}\n', encoding="utf-8")
    assert main(["--db", db_url, "import", "--format", "jsonl", str(good)]) == 0
    return db_url


def test_refused_import_into_a_new_project_leaves_the_database_unchanged(populated, tmp_path,
                                                                         capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "abc", "spans": []}\n'
                   '{"text": "abc", "spans": [{"start": 0, "end": 9, "label": "disease"}]}\n',
                   encoding="utf-8")
    before = _dump(str(populated))
    assert main(["--db", str(populated), "--project", "newp", "import", "--format", "jsonl",
                 str(bad)]) == 2
    assert f"{bad}:2" in capsys.readouterr().err
    assert _dump(str(populated)) == before
    with Store(str(populated)) as st:
        assert st.list_projects() == ["default"]


def test_refused_import_into_an_existing_project_leaves_the_database_unchanged(
        populated, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "toux", "spans": [{"start": 0, "end": 4, "label": "NOPE"}]}\n',
                   encoding="utf-8")
    before = _dump(str(populated))
    assert main(["--db", str(populated), "import", "--format", "jsonl", str(bad)]) == 2
    assert f"{bad}:1" in capsys.readouterr().err
    assert _dump(str(populated)) == before


@pytest.mark.parametrize("command", [["stats"], ["export", "--format", "jsonl", "--out", "o"]])
def test_read_only_commands_refuse_a_missing_project_and_create_nothing(populated, tmp_path,
                                                                        capsys, command):
    before = _dump(str(populated))
    if "--out" in command:
        command = [*command[:-1], str(tmp_path / "o.jsonl")]
    assert main(["--db", str(populated), "--project", "nope", *command]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: no project 'nope' in {display_url(resolve_url(populated))}; "
        "projects: default")
    assert _dump(str(populated)) == before
    assert not (tmp_path / "o.jsonl").exists()


def test_read_only_command_on_a_missing_file_creates_no_file(tmp_path, capsys):
    db = tmp_path / "typo.sqlite"
    assert main(["--db", str(db), "stats"]) == 2
    assert capsys.readouterr().err.strip() == f"error: no database at {db}"
    assert not db.exists()


def test_a_new_project_is_created_by_its_first_write_only(path):
    with Store(path, "later") as st:
        assert st.list_projects() == [] and st.count_documents() == 0
        assert st.get_schema() is None and st.runs() == []
        with pytest.raises(RuntimeError), st.transaction():
            st.add_document(Document(text="a"))  # joins the open transaction
            raise RuntimeError("abort")  # the project row is rolled back with the document
        assert st.list_projects() == []
        st.add_document(Document(text="b"))
        assert st.list_projects() == ["later"] and st.count_documents() == 1
    with pytest.raises(StoreError, match="no project 'gone' in .*; projects: later"):
        Store(path, "gone", create=False)


# ---------------------------------------------------------------- database addresses

def test_explicit_sqlite_path_in_a_missing_folder_is_refused_by_name(tmp_path, capsys):
    target = tmp_path / "nope" / "sub" / "x.sqlite"
    assert main(["--db", str(target), "stats"]) == 2
    assert main(["--db", str(target), "import", "--format", "text", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"error: {target}: folder {target.parent} does not exist (create it, "
                       "or give --db a path in an existing folder)")
    assert not (tmp_path / "nope").exists()
    with pytest.raises(DatabaseError, match="does not exist"):
        Store(f"sqlite:///{target}")


def test_the_embedded_default_folder_is_still_created(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("ANNOTATOR_DB", raising=False)
    with Store() as st:
        st.add_document(Document(text="a"))
        assert st.url.endswith("/xdg/medannotator/project.sqlite")
    assert (tmp_path / "xdg" / "medannotator" / "project.sqlite").is_file()


def test_a_file_that_is_not_sqlite_is_one_line(tmp_path, capsys):
    db = tmp_path / "notes.sqlite"
    db.write_text("hello, not a database\n" * 100)
    assert main(["--db", str(db), "stats"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {db}: cannot open the SQLite database: file is not a database")


HAVE_PSYCOPG = importlib.util.find_spec("psycopg") is not None

# the CLI in a process where psycopg cannot be imported, as where the extra is not installed
NO_PSYCOPG = ("import sys; sys.modules['psycopg'] = None; from annotator.cli import main; "
              "sys.exit(main(sys.argv[1:]))")


def test_missing_postgres_driver_names_the_extra_to_install():
    res = subprocess.run([sys.executable, "-c", NO_PSYCOPG, "--db",
                          "postgresql+psycopg://ann:secret@127.0.0.1:5432/notes", "stats"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert res.stderr == ("error: postgresql+psycopg://ann:***@127.0.0.1:5432/notes: the "
                          "database driver 'psycopg' is not installed; install it with: "
                          "pip install 'medannotator[postgres]'\n")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket closes


@pytest.mark.skipif(not HAVE_PSYCOPG, reason="needs psycopg (pip install 'medannotator[postgres]')")
def test_refused_postgres_connection_is_one_line_with_host_and_port(capsys):
    port = _closed_port()
    assert main(["--db", f"postgresql+psycopg://ann:secret@127.0.0.1:{port}/notes",
                 "stats"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "secret" not in err
    assert err.startswith(f"error: cannot connect to the postgresql server at "
                          f"127.0.0.1:{port}/notes: ")
