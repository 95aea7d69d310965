"""Engines, SQLite pragmas and automatic Alembic migrations."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine, make_url

MIGRATIONS = Path(__file__).parent / "migrations"


def default_data_dir() -> Path:
    """The user's data folder for the embedded project (XDG on Linux)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "medannotator"


def resolve_url(db: str | os.PathLike | None) -> str:
    """A SQLAlchemy URL from ``--db``: a URL, a file path, or (None) ``ANNOTATOR_DB`` or the
    embedded default project in the user's data folder."""
    if db is None:
        db = os.environ.get("ANNOTATOR_DB") or str(default_data_dir() / "project.sqlite")
    db = str(db)
    if "://" in db:
        return db
    path = Path(db).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _json_dumps(obj) -> str:
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and foreign keys."""
    is_sqlite = make_url(url).get_backend_name() == "sqlite"
    kwargs = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if is_sqlite:
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    engine = create_engine(url, **kwargs)
    if is_sqlite:

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            if make_url(url).database not in (None, "", ":memory:"):
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    return engine


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema revision (run on every open)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return MigrationContext.configure(conn).get_current_revision()
