"""Read-only queries behind the statistics view (``annotator.overview``); plain values out."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from .tables import DocumentRow, SpanRow

D = DocumentRow.__table__
S = SpanRow.__table__


def span_counts(store: Any) -> list[tuple[str, str, str, int]]:
    """``(label, source, status, n)`` over the project's spans."""
    q = (select(S.c.label, S.c.source, S.c.status, func.count())
         .select_from(S.join(D, D.c.id == S.c.doc_id))
         .where(D.c.project_id == store.project_id)
         .group_by(S.c.label, S.c.source, S.c.status))
    with store.engine.connect() as c:
        return [(lab, src, st, int(n)) for lab, src, st, n in c.execute(q)]


def reference_doc_ids(store: Any) -> list[int]:
    """Documents whose accepted spans are a reference: reviewed ones, and those holding
    accepted ``import`` spans (a gold annotation from a file)."""
    imported = (select(S.c.doc_id).where(S.c.source == "import", S.c.status == "accepted")
                .distinct())
    q = (select(D.c.id).where(D.c.project_id == store.project_id)
         .where((D.c.review_status == "reviewed") | D.c.id.in_(imported)).order_by(D.c.id))
    with store.engine.connect() as c:
        return list(c.execute(q).scalars())
