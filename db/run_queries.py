"""Which batch jobs ran on which documents: the ``done`` doc-run marks, read in bulk.

Used by ``annotator.runs`` (disagreements only among sources that ran on a document, and the
evaluation warning about suggestions a job could not make). Returns plain tuples.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from .store import DR, D, Store

_CHUNK = 500

DocRunMark = tuple  # (kind, run_key, stats, updated_at)


def done_doc_runs(store: Store, doc_ids: Sequence[int]
                  ) -> dict[int, list[tuple[str, str, dict[str, Any] | None, datetime]]]:
    """``{doc_id: [(kind, run_key, stats, updated_at), ...]}`` of the ``done`` marks of the
    given documents of the project (documents without one are absent)."""
    out: dict[int, list] = defaultdict(list)
    ids = list(doc_ids)
    with store.engine.connect() as c:
        for i in range(0, len(ids), _CHUNK):
            q = (select(DR.c.doc_id, DR.c.kind, DR.c.run_key, DR.c.stats, DR.c.updated_at)
                 .join(D, D.c.id == DR.c.doc_id)
                 .where(DR.c.doc_id.in_(ids[i:i + _CHUNK]), DR.c.status == "done",
                        D.c.project_id == store.project_id)
                 .order_by(DR.c.id))
            for doc_id, kind, run_key, stats, at in c.execute(q):
                out[doc_id].append((kind, run_key, stats, at))
    return dict(out)


def doc_run_marks(store: Store, kind: str, run_key: str, doc_ids: Sequence[int]
                  ) -> dict[int, tuple[str, dict[str, Any] | None]]:
    """``{doc_id: (status, stats)}`` of the ``kind``/``run_key`` marks of the given documents
    (documents without a mark are absent)."""
    out: dict[int, tuple[str, dict[str, Any] | None]] = {}
    ids = list(doc_ids)
    with store.engine.connect() as c:
        for i in range(0, len(ids), _CHUNK):
            q = select(DR.c.doc_id, DR.c.status, DR.c.stats).where(
                DR.c.kind == kind, DR.c.run_key == run_key,
                DR.c.doc_id.in_(ids[i:i + _CHUNK]))
            for doc_id, status, stats in c.execute(q):
                out[doc_id] = (status, stats)
    return out
