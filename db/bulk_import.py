"""Bulk document import for SQLite: the same contract as ``Store.import_documents`` (one
transaction, duplicates by content hash skipped and counted, every span checked against its
text before anything is written), with rows pre-serialised (orjson, ISO timestamps) and
inserted through the driver's ``executemany``, which skips SQLAlchemy's per-row processing.
Other databases go through ``Store.import_documents``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

import orjson
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from annotator.model import Document

from .store import D, ImportResult, Store

_DOC_SQL = ("INSERT INTO documents (project_id, name, text, meta, review_status, hash, length, "
            "density, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_SPAN_SQL = ('INSERT INTO spans (doc_id, start, "end", label, fragments, source, '
             "source_version, score, status, annotator, meta, created_at, updated_at) "
             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


def _dumps(v) -> str:
    return orjson.dumps(v, option=orjson.OPT_NON_STR_KEYS).decode()


def import_documents_fast(store: Store, docs: Iterable[Document], *, conn: Connection,
                          batch_size: int = 5000) -> ImportResult:
    """Insert ``docs`` inside the caller's transaction ``conn``; sets ``doc.id``."""
    if conn.dialect.name != "sqlite":
        return store.import_documents(docs, conn=conn)
    result = ImportResult()
    pid = store.project_id
    seen = set(conn.execute(select(D.c.hash).where(D.c.project_id == pid)).scalars())
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    batch: list[Document] = []

    def flush() -> None:
        if not batch:
            return
        last = conn.execute(select(func.max(D.c.id))).scalar() or 0
        conn.exec_driver_sql(_DOC_SQL, [
            (pid, d.name, d.text, _dumps(d.meta or {}), d.review_status, d.hash, len(d.text),
             d.density, now, now) for d in batch])
        ids = dict(conn.execute(select(D.c.hash, D.c.id).where(D.c.project_id == pid,
                                                               D.c.id > last)).all())
        rows = []
        for d in batch:
            d.id = ids[d.hash]
            result.doc_ids.append(d.id)
            for sp in d.spans:
                rows.append((d.id, sp.start, sp.end, sp.label,
                             _dumps([list(f) for f in sp.fragments]) if sp.fragments else None,
                             sp.source, sp.source_version, sp.score, sp.status, sp.annotator,
                             _dumps(sp.meta) if sp.meta else None, now, now))
        if rows:
            conn.exec_driver_sql(_SPAN_SQL, rows)
        result.spans += len(rows)
        result.added += len(batch)
        batch.clear()

    for d in docs:
        d.check_spans()
        if d.hash in seen:
            result.skipped_duplicates += 1
            continue
        seen.add(d.hash)
        batch.append(d)
        if len(batch) >= batch_size:
            flush()
    flush()
    return result
