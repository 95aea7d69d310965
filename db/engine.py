"""Engines, SQLite pragmas and transactions, automatic Alembic migrations.

SQLite transactions are begun by SQLAlchemy, not by pysqlite (whose legacy mode begins a
transaction only before the first INSERT/UPDATE/DELETE, so the SELECT that checks a row runs
outside the transaction that writes it). Every transaction emits ``BEGIN``; a connection with
the execution option ``sqlite_begin="immediate"`` (``write_engine``) emits ``BEGIN IMMEDIATE``
and so holds the write lock from its first statement: what a write transaction reads stays
true until it commits. Readers keep deferred transactions (in WAL mode they never wait).
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import orjson
from sqlalchemy import create_engine, event, func, inspect, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine, make_url

from annotator.errors import DatabaseError

MIGRATIONS = Path(__file__).parent / "migrations"
POSTGRES_EXTRA = "pip install 'medannotator[postgres]'"
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306, "mssql": 1433}



def default_data_dir() -> Path:
    """The user's data folder for the embedded project (XDG on Linux)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "medannotator"


def resolve_url(db: str | os.PathLike | None, *, create: bool = True) -> str:
    """A SQLAlchemy URL from ``--db``: a URL, a file path, or (None) ``ANNOTATOR_DB`` or the
    embedded default project in the user's data folder.

    Only the embedded default's folder is created. A SQLite file named explicitly (path,
    ``sqlite:///`` URL or ``ANNOTATOR_DB``) must be in an existing folder: a typo is refused
    with the path named instead of creating folders and an empty project. With ``create``
    False the SQLite file itself must exist (read-only commands create nothing).
    """
    embedded = False
    if db is None:
        env = os.environ.get("ANNOTATOR_DB")
        embedded = not env
        db = env or str(default_data_dir() / "project.sqlite")
    db = str(db)
    if "://" in db:
        try:
            url = make_url(db)
        except sa_exc.ArgumentError:
            raise DatabaseError(f"{db}: not a database URL (expected e.g. "
                                "postgresql+psycopg://user@host/dbname or a file path)") from None
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:") \
                or url.database.startswith("file:"):
            return db
        path = Path(url.database).expanduser().resolve()
        _check_sqlite_path(path, create=create, embedded=False)
        return db
    path = Path(db).expanduser().resolve()
    _check_sqlite_path(path, create=create, embedded=embedded)
    return f"sqlite:///{path}"


def _check_sqlite_path(path: Path, *, create: bool, embedded: bool) -> None:
    if path.is_dir():
        raise DatabaseError(f"{path}: is a folder, not a SQLite database file")
    if not create:
        if not path.exists():
            raise DatabaseError(f"no database at {path}")
        return
    if embedded:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.parent.is_dir():
        raise DatabaseError(f"{path}: folder {path.parent} does not exist (create it, or give "
                            "--db a path in an existing folder)")


def display_url(url: str) -> str:
    """The URL as shown to a person: a SQLite file's path, otherwise no password."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        return u.database or ":memory:"
    return u.render_as_string(hide_password=True)


def server_address(url: str) -> str:
    """``host:port/database`` of a server URL (the dialect's default port when none)."""
    u = make_url(url)
    port = u.port or DEFAULT_PORTS.get(u.get_backend_name())
    host = u.host or "localhost"
    return f"{host}:{port}/{u.database or ''}" if port else f"{host}/{u.database or ''}"


def _json_dumps(obj) -> str:
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout, foreign keys and explicit BEGIN.

    A missing database driver is a ``DatabaseError`` naming what to install."""
    u = make_url(url)
    is_sqlite = u.get_backend_name() == "sqlite"
    kwargs = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if is_sqlite:
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    try:
        engine = create_engine(url, **kwargs)
    except ModuleNotFoundError as exc:
        backend = u.get_backend_name()
        hint = (POSTGRES_EXTRA if backend == "postgresql"
                else f"pip install {exc.name}")
        if backend == "postgresql" and u.get_driver_name() != "psycopg":
            hint += " and use a postgresql+psycopg:// URL"
        raise DatabaseError(f"{display_url(url)}: the database driver {exc.name!r} is not "
                            f"installed; install it with: {hint}") from None
    except sa_exc.ArgumentError as exc:
        raise DatabaseError(f"{db_label(url)}: not a database URL or path ({exc})") from None
    if is_sqlite:
        file_db = u.database not in (None, "", ":memory:")

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            if file_db:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):
            immediate = conn.get_execution_options().get("sqlite_begin") == "immediate"
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def db_label(url: str) -> str:
    try:
        return display_url(url)
    except sa_exc.ArgumentError:
        return url


def write_engine(engine: Engine) -> Engine:
    """The engine whose transactions take the write lock when they begin (SQLite ``BEGIN
    IMMEDIATE``; other databases lock the rows a write reads with ``SELECT ... FOR UPDATE``)."""
    return engine.execution_options(sqlite_begin="immediate")


def check_connection(engine: Engine) -> None:
    """Connect once; a refused connection, bad credentials, a missing database or a file
    that is not SQLite become one ``DatabaseError`` line naming the host and port (or file)."""
    url = engine.url.render_as_string(hide_password=False)
    try:
        with engine.connect():
            pass
    except sa_exc.DBAPIError as exc:
        reason = _first_line(exc.orig) if exc.orig is not None else _first_line(exc)
        if engine.dialect.name == "sqlite":
            raise DatabaseError(f"{display_url(url)}: cannot open the SQLite database: "
                                f"{reason}") from None
        raise DatabaseError(f"cannot connect to the {engine.dialect.name} server at "
                            f"{server_address(url)}: {reason}") from None


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__


def head_revision() -> str | None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


# the key of the PostgreSQL advisory lock that serialises migrations (any 64-bit number that
# no other application on the database uses: crc32 of "medannotator.migrate")
MIGRATION_LOCK = zlib.crc32(b"medannotator.migrate")


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema revision (checked on every open).

    An upgrade runs in one write transaction that first takes the migration lock (SQLite
    ``BEGIN IMMEDIATE``; PostgreSQL the transaction-level advisory lock ``MIGRATION_LOCK``)
    and reads the revision again under it: of two processes opening an old or new database
    at once, one migrates and the other, once the first has committed, finds nothing to do."""
    from alembic import command
    from alembic.config import Config

    head = head_revision()
    if current_revision(engine) == head:
        return
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        with write_engine(engine).begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))
            if _revision(conn) == head:  # migrated by another process while this one waited
                return
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except sa_exc.DBAPIError as exc:  # e.g. a role that may not create tables
        where = display_url(engine.url.render_as_string(hide_password=False))
        reason = _first_line(exc.orig) if exc.orig is not None else _first_line(exc)
        raise DatabaseError(f"{where}: cannot create or update the tables (schema revision "
                            f"{head}; nothing was changed): {reason}") from None


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return _revision(conn)


def _revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    if not inspect(conn).has_table("alembic_version"):
        return None
    return MigrationContext.configure(conn).get_current_revision()
