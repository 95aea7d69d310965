"""Migrations: applied automatically on open, and in step with the ORM tables."""

import sqlite3

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from db import Store
from db.engine import current_revision, head_revision
from db.tables import Base


def test_open_applies_migrations_and_pragmas(tmp_path):
    path = tmp_path / "p.sqlite"
    store = Store(str(path))
    assert current_revision(store.engine) == head_revision()
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    store.close()
    tables = {r[0] for r in sqlite3.connect(path).execute(
        "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"projects", "documents", "spans", "span_events", "doc_runs", "runs",
            "llm_calls", "models", "assignments", "alembic_version"} <= tables


def test_migrations_match_orm_tables(db_url):
    store = Store(db_url)  # SQLite, and PostgreSQL
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    store.close()
    # SQLite cannot report CHECK constraints back, so only tables/columns/indexes compare
    assert diff == []


def test_reopen_keeps_data_and_projects_are_separate(tmp_path):
    from annotator.model import Document

    url = str(tmp_path / "p.sqlite")
    Store(url).add_document(Document(text="a"))
    Store(url, "other").add_document(Document(text="a"))
    assert Store(url).count_documents() == 1
    assert Store(url, "other").count_documents() == 1
    assert Store(url).list_projects() == ["default", "other"]

