"""Queries on the ``llm_calls`` audit table (one row per LLM request: body, answer, usage).

Rows hold the JSON request body and response only, never headers or credentials. Writes join
the caller's transaction (``conn``) so that a document's calls, spans and doc_runs mark are
committed together.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from .store import Store
from .tables import DocumentRow, LLMCallRow

C = LLMCallRow.__table__
D = DocumentRow.__table__

FIELDS = ("doc_id", "run_key", "pass_no", "window", "request", "response", "usage",
          "hallucinations", "error")


def add_calls(store: Store, rows: Sequence[dict[str, Any]], *,
              conn: Connection | None = None) -> int:
    """Insert audit rows (dicts with the keys of ``FIELDS``); returns how many."""
    if not rows:
        return 0
    now = datetime.now(timezone.utc)
    clean = [{k: r.get(k) for k in FIELDS} | {"created_at": now} for r in rows]
    for r in clean:
        r["window"] = r["window"] or 0
    with store.transaction(conn) as c:
        c.execute(insert(C), clean)
    return len(clean)


def _project_filter(store: Store, q):
    return q.join(D, D.c.id == C.c.doc_id).where(D.c.project_id == store.project_id)


def calls(store: Store, *, doc_id: int | None = None, run_key: str | None = None,
          pass_no: int | None = None) -> list[dict[str, Any]]:
    """Audit rows of this project, oldest first, optionally filtered."""
    q = _project_filter(store, select(C))
    if doc_id is not None:
        q = q.where(C.c.doc_id == doc_id)
    if run_key is not None:
        q = q.where(C.c.run_key == run_key)
    if pass_no is not None:
        q = q.where(C.c.pass_no == pass_no)
    with store.engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(q.order_by(C.c.id))]


def count_calls(store: Store, run_key: str | None = None) -> int:
    q = _project_filter(store, select(func.count()).select_from(C))
    if run_key is not None:
        q = q.where(C.c.run_key == run_key)
    with store.engine.connect() as c:
        return int(c.execute(q).scalar() or 0)


def usage_totals(store: Store, run_key: str) -> dict[str, int]:
    """Summed token usage of a run's calls (``prompt_tokens``, ``completion_tokens``,
    ``total_tokens``)."""
    tot = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    for row in calls(store, run_key=run_key):
        for k in tot:
            tot[k] += int((row["usage"] or {}).get(k) or 0)
    return tot
