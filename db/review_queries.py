"""Bulk review for curators and scripts: decide many proposals, mark many documents.

Each call is ONE transaction: it decides every matching proposal or none. Every span decision
is recorded in the span history (``span_events``, action ``update``, with the state before and
after), exactly as an edit in the review desk, so it can be traced and undone. A decision on a
document that is still ``todo`` moves it to ``in_progress`` (the review desk does the same on
the first edit); only an explicit ``mark`` makes a document ``reviewed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from annotator.model import REVIEW_STATUSES

from .store import SPAN_COLUMNS, D, E, S, Store, StoreError, row_to_span, span_snapshot

_CHUNK = 500


@dataclass
class BulkDecision:
    """What a bulk accept/reject did: spans decided, and on how many documents."""

    status: str
    spans: int = 0
    documents: int = 0
    by_label: dict[str, int] = field(default_factory=dict)
    moved_to_in_progress: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "spans": self.spans, "documents": self.documents,
                "by_label": dict(self.by_label),
                "moved_to_in_progress": self.moved_to_in_progress}


def resolve_document_names(store: Store, names: Sequence[str]) -> dict[str, list[int]]:
    """``{name: [doc ids]}`` for document names as ``export --format jsonl`` writes them
    (a document without a name answers to ``doc<ID>``). Raises StoreError naming every name
    that matches no document of the project, before anything changes."""
    wanted = list(dict.fromkeys(names))
    found: dict[str, list[int]] = {n: [] for n in wanted}
    with store.engine.connect() as c:
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i:i + _CHUNK]
            q = select(D.c.id, D.c.name).where(D.c.project_id == store.project_id,
                                               D.c.name.in_(chunk))
            for doc_id, name in c.execute(q):
                found[name].append(int(doc_id))
        by_id = [n for n in wanted if not found[n] and n.startswith("doc") and n[3:].isdigit()]
        if by_id:
            ids = {int(n[3:]): n for n in by_id}
            q = select(D.c.id).where(D.c.project_id == store.project_id, D.c.name == "",
                                     D.c.id.in_(list(ids)))
            for doc_id in c.execute(q).scalars():
                found[ids[int(doc_id)]].append(int(doc_id))
    missing = [n for n in wanted if not found[n]]
    if missing:
        shown = ", ".join(repr(n) for n in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise StoreError(f"no document named {shown}{more} in project {store.project!r} "
                         "(names as `export --format jsonl` writes them)")
    return found


def decide_proposals(
    store: Store, status: str, *, sources: Sequence[str] | None = None,
    labels: Sequence[str] | None = None, min_score: float | None = None,
    max_score: float | None = None, doc_ids: Sequence[int] | None = None,
    annotator: str | None = None,
) -> BulkDecision:
    """Accept or reject (``status``) every ``proposed`` span matching all the filters.

    ``None`` means "any" for each filter. A score bound excludes spans without a score.
    Returns what was decided; nothing is decided when any write fails.
    """
    if status not in ("accepted", "rejected"):
        raise StoreError(f"a bulk decision accepts or rejects, not {status!r}")
    conds = [D.c.project_id == store.project_id, S.c.status == "proposed"]
    if sources:
        conds.append(S.c.source.in_(list(sources)))
    if labels:
        conds.append(S.c.label.in_(list(labels)))
    if min_score is not None:
        conds.append(S.c.score >= float(min_score))
    if max_score is not None:
        conds.append(S.c.score <= float(max_score))
    out = BulkDecision(status=status)
    now = datetime.now(timezone.utc)
    with store.transaction() as c:
        q = select(*SPAN_COLUMNS).join(D, D.c.id == S.c.doc_id).where(*conds).order_by(S.c.id)
        rows: list[Any] = []
        if doc_ids is None:
            rows = list(c.execute(q))
        else:
            ids = sorted(set(doc_ids))
            for i in range(0, len(ids), _CHUNK):
                rows.extend(c.execute(q.where(S.c.doc_id.in_(ids[i:i + _CHUNK]))))
        if not rows:
            return out
        updates, events, docs = [], [], set()
        by_label: dict[str, int] = {}
        for r in rows:
            old = row_to_span(r)
            before = span_snapshot(old)
            after = {**before, "status": status, "annotator": annotator or old.annotator}
            updates.append({"b_id": old.id, "b_annotator": after["annotator"]})
            events.append({"span_id": old.id, "doc_id": old.doc_id, "action": "update",
                           "before": before, "after": after, "annotator": annotator,
                           "at": now})
            docs.add(old.doc_id)
            by_label[old.label] = by_label.get(old.label, 0) + 1
        res = c.execute(update(S).where(S.c.id == bindparam("b_id"),
                                        S.c.status == "proposed")
                        .values(status=status, annotator=bindparam("b_annotator"),
                                updated_at=now), updates)
        if res.rowcount != len(updates):  # another writer decided some of them meanwhile
            raise StoreError(f"{len(updates) - res.rowcount} of {len(updates)} proposals "
                             "changed while deciding them; nothing was decided, run it again")
        c.execute(insert(E), events)
        moved = c.execute(update(D).where(D.c.id.in_(sorted(docs)), D.c.review_status == "todo")
                          .values(review_status="in_progress", updated_at=now))
        out.spans, out.documents, out.by_label = len(rows), len(docs), by_label
        out.moved_to_in_progress = int(moved.rowcount or 0)
    return out


def mark_documents(store: Store, doc_ids: Sequence[int], status: str) -> int:
    """Set the review status of the given documents (one transaction); returns how many
    changed."""
    if status not in REVIEW_STATUSES:
        raise StoreError(f"unknown document status {status!r}; expected one of "
                         f"{', '.join(REVIEW_STATUSES)}")
    now = datetime.now(timezone.utc)
    ids = sorted(set(doc_ids))
    changed = 0
    with store.transaction() as c:
        for i in range(0, len(ids), _CHUNK):
            res = c.execute(update(D).where(D.c.project_id == store.project_id,
                                            D.c.id.in_(ids[i:i + _CHUNK]),
                                            D.c.review_status != status)
                            .values(review_status=status, updated_at=now))
            changed += int(res.rowcount or 0)
    return changed
