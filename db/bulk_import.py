"""Bulk document import for SQLite: the same contract as ``Store.import_documents`` (one
transaction, duplicates by content hash skipped and counted, every span checked against its
text — ``0 <= start < end <= len(text)`` — before anything is written), with rows prepared as
flat parameter lists (orjson for JSON columns, one ISO timestamp per import) and inserted
through the DBAPI cursor on the caller's transaction as multi-row ``INSERT ... VALUES``
statements (``ROWS_PER_STATEMENT`` rows each), which skips SQLAlchemy's per-row work.

Rows go in document order, so span rows arrive sorted by ``doc_id`` (append-only in the
``ix_spans_doc_pos`` index). For the duration of the call the connection's page cache is raised
(``PRAGMA cache_size``) so that a large import does not spill dirty pages to the WAL before
its commit; the previous value is restored afterwards. Nothing is deferred: an error raises
before commit and the caller's transaction rolls everything back.
Other databases go through ``Store.import_documents``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime, timezone

import orjson
from sqlalchemy.engine import Connection

from annotator.model import Document, SpanError

from .store import ImportResult, Store

_DOC_HEAD = ("INSERT INTO documents (project_id, name, text, meta, review_status, hash, "
             "length, density, created_at, updated_at) VALUES ")
_DOC_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, '{now}', '{now}')"  # 8 parameters
_SPAN_HEAD = ('INSERT INTO spans (doc_id, start, "end", label, fragments, source, '
              "source_version, score, status, annotator, meta, created_at, updated_at) VALUES ")
# the common span (no fragments, version, score, annotator or meta): 6 parameters
_SPAN_ROW_PLAIN = "(?, ?, ?, ?, NULL, ?, NULL, NULL, ?, NULL, NULL, '{now}', '{now}')"
_SPAN_ROW_FULL = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '{now}', '{now}')"  # 11 parameters
ROWS_PER_STATEMENT = 500
IMPORT_CACHE_KIB = 256 * 1024  # page cache while importing (SQLite allocates it on demand)


def _dumps(v) -> str:
    return orjson.dumps(v, option=orjson.OPT_NON_STR_KEYS).decode()


def import_documents_fast(store: Store, docs: Iterable[Document], *, conn: Connection,
                          batch_size: int = 20000) -> ImportResult:
    """Insert ``docs`` inside the caller's transaction ``conn``; sets ``doc.id``.

    Raises ``SpanError`` (before the batch holding the document is written) for a span that
    does not fit its text; the caller's transaction then rolls back the whole import.
    """
    if conn.dialect.name != "sqlite":
        return store.import_documents(docs, conn=conn)
    cur = conn.connection.driver_connection.cursor()
    old_cache = cur.execute("PRAGMA cache_size").fetchone()[0]
    cur.execute(f"PRAGMA cache_size = -{IMPORT_CACHE_KIB}")
    try:
        return _insert(cur, store.project_id, docs, batch_size)
    finally:
        cur.execute(f"PRAGMA cache_size = {int(old_cache)}")
        cur.close()


def _insert(cur, pid: int, docs: Iterable[Document], batch_size: int) -> ImportResult:
    result = ImportResult()
    seen = {h for (h,) in cur.execute("SELECT hash FROM documents WHERE project_id = ?",
                                      (pid,))}
    # one timestamp for the whole import, written as a literal (digits, '-', ':', '.', ' ')
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    doc_row, plain_row, full_row = (r.format(now=now) for r in
                                    (_DOC_ROW, _SPAN_ROW_PLAIN, _SPAN_ROW_FULL))
    batch: list[Document] = []

    def flush() -> None:
        if not batch:
            return
        last = cur.execute("SELECT max(id) FROM documents").fetchone()[0] or 0
        flat: list = []
        add = flat.extend
        for d in batch:
            add((pid, d.name, d.text, _dumps(d.meta) if d.meta else "{}", d.review_status,
                 d.hash, len(d.text), d.density))
        _insert_many(cur, _DOC_HEAD, doc_row, 8, flat)
        ids = dict(cur.execute("SELECT hash, id FROM documents WHERE project_id = ? AND id > ?",
                               (pid, last)).fetchall())
        flat, plain = [], True
        add = flat.extend
        for d in batch:
            doc_id = d.id = ids[d.hash]
            result.doc_ids.append(doc_id)
            for sp in d.spans:
                if plain and (sp.fragments or sp.source_version is not None or sp.meta
                              or sp.score is not None or sp.annotator is not None):
                    plain = False
                add((doc_id, sp.start, sp.end, sp.label, sp.source, sp.status))
        n_spans = len(flat) // 6
        if plain:
            _insert_many(cur, _SPAN_HEAD, plain_row, 6, flat)
        else:  # some span carries optional columns: every row of the batch in full form
            flat = []
            add = flat.extend
            for d in batch:
                for sp in d.spans:
                    add((d.id, sp.start, sp.end, sp.label,
                         _dumps([list(f) for f in sp.fragments]) if sp.fragments else None,
                         sp.source, sp.source_version, sp.score, sp.status, sp.annotator,
                         _dumps(sp.meta) if sp.meta else None))
            _insert_many(cur, _SPAN_HEAD, full_row, 11, flat)
        result.spans += n_spans
        result.added += len(batch)
        batch.clear()

    for d in docs:
        n = len(d.text)
        for sp in d.spans:
            if not (0 <= sp.start < sp.end <= n):
                d.check_spans()  # raises with the store's wording (ends past the text)
                raise SpanError(f"{d.name or 'document'}: span [{sp.start}, {sp.end}) "
                                f"{sp.label!r} violates 0 <= start < end")
        if d.hash in seen:
            result.skipped_duplicates += 1
            continue
        seen.add(d.hash)
        batch.append(d)
        if len(batch) >= batch_size:
            flush()
    flush()
    return result


def _insert_many(cur, head: str, row: str, width: int, flat: list) -> None:
    """Insert ``len(flat) // width`` rows, ``ROWS_PER_STATEMENT`` per multi-row INSERT, in
    order. One statement per many rows, not one per row: SQLite re-runs per-statement setup
    (e.g. the IN lists of the CHECK constraints) on every execution, so ``executemany``
    costs about three times more here."""
    getlimit = getattr(cur.connection, "getlimit", None)  # Python >= 3.11
    limit = getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) if getlimit else 999
    per = min(ROWS_PER_STATEMENT, max(1, limit // width))
    step = per * width
    full_sql = head + ", ".join([row] * per)
    for i in range(0, len(flat), step):
        part = flat[i:i + step]
        cur.execute(full_sql if len(part) == step
                    else head + ", ".join([row] * (len(part) // width)), part)
