"""Bulk review for curators and scripts: decide many proposals, mark many documents.

Each call is ONE transaction: it decides every matching proposal or none. Every span decision
is recorded in the span history (``span_events``, action ``update``, with the state before and
after), exactly as an edit in the review desk, so it can be traced and undone. A decision on a
document that is still ``todo`` moves it to ``in_progress`` (the review desk does the same on
the first edit); only an explicit ``mark`` makes a document ``reviewed``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from annotator.model import REVIEW_STATUSES

from .store import SPAN_COLUMNS, D, E, S, Store, StoreError, row_to_span, span_snapshot
from .tables import DecisionBatchRow, DocEventRow

B = DecisionBatchRow.__table__
DE = DocEventRow.__table__

_CHUNK = 500


@dataclass
class BulkDecision:
    """What a bulk accept/reject did: spans decided, and on how many documents."""

    status: str
    spans: int = 0
    documents: int = 0
    by_label: dict[str, int] = field(default_factory=dict)
    moved_to_in_progress: int = 0
    batch: str | None = None  # the id ``review undo`` takes; None when nothing was decided

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "spans": self.spans, "documents": self.documents,
                "by_label": dict(self.by_label),
                "moved_to_in_progress": self.moved_to_in_progress, "batch": self.batch}


def _new_batch(c: Any, store: Store, kind: str, annotator: str | None, at: datetime,
               summary: dict[str, Any]) -> str:
    batch = uuid.uuid4().hex
    c.execute(insert(B).values(id=batch, project_id=store.project_id, kind=kind,
                               annotator=annotator, at=at, summary=summary))
    return batch


def _move_documents(c: Any, doc_ids: Sequence[int], status: str, *, only_from: str | None,
                    batch: str, annotator: str | None, at: datetime,
                    project_id: int) -> int:
    """Set the review status of ``doc_ids`` (those in ``only_from`` when given), recording
    one ``doc_events`` row per document that changed; returns how many changed."""
    ids = sorted(set(doc_ids))
    changed = 0
    for i in range(0, len(ids), _CHUNK):
        q = select(D.c.id, D.c.review_status).where(D.c.project_id == project_id,
                                                     D.c.id.in_(ids[i:i + _CHUNK]),
                                                     D.c.review_status != status)
        if only_from is not None:
            q = q.where(D.c.review_status == only_from)
        rows = list(c.execute(q))
        if not rows:
            continue
        c.execute(update(D).where(D.c.id.in_([r.id for r in rows]))
                  .values(review_status=status, updated_at=at))
        c.execute(insert(DE), [{"doc_id": r.id, "batch": batch, "before": r.review_status,
                                "after": status, "annotator": annotator, "at": at}
                               for r in rows])
        changed += len(rows)
    return changed


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
        batch = _new_batch(c, store, status, annotator, now, {
            "sources": list(sources or []), "labels": list(labels or []),
            "min_score": min_score, "max_score": max_score, "spans": len(rows),
            "documents": len({r.doc_id for r in rows})})
        updates, events, docs = [], [], set()
        by_label: dict[str, int] = {}
        for r in rows:
            old = row_to_span(r)
            before = span_snapshot(old)
            after = {**before, "status": status, "annotator": annotator or old.annotator}
            updates.append({"b_id": old.id, "b_annotator": after["annotator"]})
            events.append({"span_id": old.id, "doc_id": old.doc_id, "action": "update",
                           "before": before, "after": after, "annotator": annotator,
                           "at": now, "batch": batch})
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
        moved = _move_documents(c, sorted(docs), "in_progress", only_from="todo", batch=batch,
                                annotator=annotator, at=now, project_id=store.project_id)
        out.spans, out.documents, out.by_label = len(rows), len(docs), by_label
        out.moved_to_in_progress, out.batch = moved, batch
    return out


def mark_documents(store: Store, doc_ids: Sequence[int], status: str, *,
                   annotator: str | None = None) -> int:
    """Set the review status of the given documents (one transaction, one undoable batch);
    returns how many changed."""
    return mark_documents_batch(store, doc_ids, status, annotator=annotator)[0]


def mark_documents_batch(store: Store, doc_ids: Sequence[int], status: str, *,
                         annotator: str | None = None) -> tuple[int, str | None]:
    """``(documents changed, batch id)``; the batch is None when nothing changed."""
    if status not in REVIEW_STATUSES:
        raise StoreError(f"unknown document status {status!r}; expected one of "
                         f"{', '.join(REVIEW_STATUSES)}")
    now = datetime.now(timezone.utc)
    with store.transaction() as c:
        batch = _new_batch(c, store, f"mark:{status}", annotator, now,
                           {"documents": len(set(doc_ids))})
        changed = _move_documents(c, doc_ids, status, only_from=None, batch=batch,
                                  annotator=annotator, at=now, project_id=store.project_id)
        if not changed:
            c.execute(B.delete().where(B.c.id == batch))
            return 0, None
        c.execute(update(B).where(B.c.id == batch).values(
            summary={"documents": changed}))
    return changed, batch


@dataclass
class Batch:
    """One bulk decision as ``review history`` lists it."""

    id: str
    kind: str
    annotator: str | None
    at: datetime
    summary: dict[str, Any]
    undone_by: str | None

    def describe(self) -> str:
        """In words: "accepted 12 proposals on 3 documents", "marked 2 documents reviewed"."""
        s = self.summary or {}
        if self.kind in ("accepted", "rejected"):
            return (f"{self.kind} {s.get('spans', 0)} proposals on {s.get('documents', 0)} "
                    "documents")
        if self.kind.startswith("mark:"):
            return f"marked {s.get('documents', 0)} documents {self.kind[5:]}"
        if self.kind == "undo":
            return (f"undid {str(s.get('undid', ''))[:8]}: {s.get('spans', 0)} spans, "
                    f"{s.get('documents', 0)} documents restored")
        return self.kind

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "annotator": self.annotator,
                "at": self.at.isoformat(), "summary": self.summary,
                "undone_by": self.undone_by, "description": self.describe()}


def list_batches(store: Store, limit: int = 50) -> list[Batch]:
    """The project's bulk decisions, newest first."""
    q = (select(B).where(B.c.project_id == store.project_id)
         .order_by(B.c.at.desc(), B.c.id).limit(limit))
    with store.engine.connect() as c:
        return [Batch(r.id, r.kind, r.annotator, r.at, r.summary or {}, r.undone_by)
                for r in c.execute(q)]


@dataclass
class UndoResult:
    batch: str  # the batch undone
    undo_batch: str | None = None
    spans: int = 0  # spans put back as they were
    documents: int = 0  # documents put back to their earlier status
    changed_since: int = 0  # spans or documents changed after the batch: left as they are

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def undo_batch(store: Store, batch_id: str | None = None, *,
               annotator: str | None = None) -> UndoResult:
    """Undo bulk decision ``batch_id`` (default: the newest one not undone yet), in one
    transaction: each span it decided goes back to its state before the batch, each document
    it moved goes back to its earlier status, unless that span or document changed since
    (then it is left as it is and counted in ``changed_since``). The undo is itself recorded
    as a batch (kind ``undo``) with its own events; an undo cannot be undone (run the
    decision again)."""
    now = datetime.now(timezone.utc)
    with store.transaction() as c:
        q = select(B).where(B.c.project_id == store.project_id)
        if batch_id:
            rows = list(c.execute(q.where(B.c.id.like(f"{batch_id}%"))))
            if not rows:
                raise StoreError(f"no bulk decision {batch_id!r} in project {store.project!r} "
                                 "(see: annotator review history)")
            if len(rows) > 1:
                raise StoreError(f"{batch_id!r} names {len(rows)} bulk decisions: give more "
                                 "of the id")
        else:
            rows = list(c.execute(q.where(B.c.undone_by.is_(None), B.c.kind != "undo")
                                  .order_by(B.c.at.desc()).limit(1)))
            if not rows:
                raise StoreError("no bulk decision to undo")
        row = rows[0]
        if row.kind == "undo":
            raise StoreError(f"{row.id[:8]} is an undo: run the decision again instead")
        if row.undone_by:
            raise StoreError(f"bulk decision {row.id[:8]} was already undone "
                             f"(by {row.undone_by[:8]})")
        out = UndoResult(batch=row.id)
        undo = _new_batch(c, store, "undo", annotator, now, {"undid": row.id})
        out.undo_batch = undo
        events = list(c.execute(select(E.c.span_id, E.c.before, E.c.after)
                                .where(E.c.batch == row.id)))
        ids = [e.span_id for e in events]
        current = {}
        for i in range(0, len(ids), _CHUNK):
            for r in c.execute(select(*SPAN_COLUMNS).where(S.c.id.in_(ids[i:i + _CHUNK]))):
                current[r.id] = r
        new_events = []
        for e in events:
            r = current.get(e.span_id)
            if r is None or any(getattr(r, k) != e.after.get(k)
                                for k in ("status", "label", "start", "end", "source")):
                out.changed_since += 1
                continue
            sp = row_to_span(r)
            before = span_snapshot(sp)
            res = c.execute(update(S).where(S.c.id == sp.id, S.c.status == e.after["status"])
                            .values(status=e.before["status"],
                                    annotator=e.before.get("annotator"), updated_at=now))
            if res.rowcount != 1:
                out.changed_since += 1
                continue
            new_events.append({"span_id": sp.id, "doc_id": sp.doc_id, "action": "update",
                               "before": before,
                               "after": {**before, "status": e.before["status"],
                                         "annotator": e.before.get("annotator")},
                               "annotator": annotator, "at": now, "batch": undo})
            out.spans += 1
        if new_events:
            c.execute(insert(E), new_events)
        doc_events = list(c.execute(select(DE.c.doc_id, DE.c.before, DE.c.after)
                                    .where(DE.c.batch == row.id)))
        for d in doc_events:
            res = c.execute(update(D).where(D.c.id == d.doc_id, D.c.review_status == d.after)
                            .values(review_status=d.before, updated_at=now))
            if res.rowcount != 1:
                out.changed_since += 1
                continue
            c.execute(insert(DE).values(doc_id=d.doc_id, batch=undo, before=d.after,
                                        after=d.before, annotator=annotator, at=now))
            out.documents += 1
        c.execute(update(B).where(B.c.id == undo).values(summary={
            "undid": row.id, "spans": out.spans, "documents": out.documents,
            "changed_since": out.changed_since}))
        c.execute(update(B).where(B.c.id == row.id).values(undone_by=undo))
    return out
