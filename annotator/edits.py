"""Undoable edits of a review, free of Qt: each edit's ``do`` and ``undo`` is ONE store call
(one transaction), committed at once.

Every edit is committed the moment it is made (kill-safety); undo is a new edit that restores
the previous state, so it is committed at once too and recorded in the span history.

An edit runs against an ``EditContext`` (the :class:`annotator.session.ReviewSession`): its
``store`` (an ``annotator.ports.StorePort``) and its ``annotator`` (recorded on the change) as
they are when the step runs. Each
step returns a :class:`Change`, what the store wrote as it returned it, so that whoever shows
the document can patch it instead of re-reading it.

A store call that finds its span gone (``annotator.errors.SpanGoneError``: a newer pre-label
run replaced the suggestion) has written nothing; the error goes through to the caller, which
decides what becomes of the edit (the session drops it from its history).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .model import Span

if TYPE_CHECKING:
    from .ports import StorePort


class EditContext(Protocol):
    store: StorePort
    annotator: str


@dataclass
class Change:
    """What one step wrote on document ``doc_id``: the spans created or updated (as the store
    returned them), the ids of the spans deleted, the document's new review status, or
    ``reload`` when the document must be read again (a change of many spans). ``current_id``:
    the span the step leaves under the cursor."""

    doc_id: int
    upserted: list[Span] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    review_status: str | None = None
    reload: bool = False
    current_id: int | None = None

    def then(self, later: Change) -> Change:
        """This change followed by ``later`` (on the same document)."""
        ids = set(later.removed) | {s.id for s in later.upserted}
        return Change(
            self.doc_id,
            upserted=[s for s in self.upserted if s.id not in ids] + later.upserted,
            removed=[i for i in self.removed if i not in ids] + later.removed,
            review_status=later.review_status or self.review_status,
            reload=self.reload or later.reload,
            current_id=later.current_id if later.current_id is not None else self.current_id)


class Edit:
    """One undoable edit of document ``doc_id``; ``text`` says what it does, in words (the
    Edit menu's "Undo: accept 'fièvre' as Disease")."""

    doc_id: int
    text: str = ""

    def do(self, ctx: EditContext) -> Change:
        raise NotImplementedError

    def undo(self, ctx: EditContext) -> Change:
        raise NotImplementedError


class CreateSpan(Edit):
    """Add a span; undo deletes it; redo re-adds it with the same id."""

    def __init__(self, doc_id: int, span: Span):
        self.doc_id = doc_id
        self.span = dataclasses.replace(span, id=None, doc_id=None)

    def do(self, ctx: EditContext) -> Change:
        self.span = ctx.store.add_span(self.doc_id, self.span)
        return Change(self.doc_id, upserted=[self.span], current_id=self.span.id)

    def undo(self, ctx: EditContext) -> Change:
        ctx.store.delete_span(self.span.id, annotator=ctx.annotator)
        return Change(self.doc_id, removed=[self.span.id])


class DeleteSpan(Edit):
    """Delete ``span``; undo re-adds its last state with its id."""

    def __init__(self, doc_id: int, span: Span):
        self.doc_id, self.span, self.span_id = doc_id, span, span.id
        self.removed: Span | None = None

    def do(self, ctx: EditContext) -> Change:
        self.removed = ctx.store.delete_span(self.span_id, annotator=ctx.annotator)
        return Change(self.doc_id, removed=[self.span_id])

    def undo(self, ctx: EditContext) -> Change:
        restored = ctx.store.add_span(self.doc_id, dataclasses.replace(self.removed,
                                                                       id=self.span_id))
        return Change(self.doc_id, upserted=[restored], current_id=self.span_id)


class UpdateSpan(Edit):
    """Change ``span``'s label, status and/or boundaries (``start``/``end``, continuous spans
    only); undo puts the old values back, provenance included (an edited suggestion became a
    human span: undo makes it the suggestion again)."""

    def __init__(self, doc_id: int, span: Span, *, label: str | None = None,
                 status: str | None = None, start: int | None = None, end: int | None = None):
        self.doc_id, self.span, self.span_id = doc_id, span, span.id
        self.provenance = {"source": span.source, "source_version": span.source_version,
                           "score": span.score, "meta": dict(span.meta or {})}
        self.before: dict[str, Any] = {"label": span.label, "status": span.status}
        self.after: dict[str, Any] = {"label": label or span.label,
                                      "status": status or span.status}
        if start is not None or end is not None:
            if span.is_discontinuous:
                raise ValueError("the boundaries of a discontinuous span cannot be moved")
            self.before.update(start=span.start, end=span.end)
            self.after.update(start=span.start if start is None else start,
                              end=span.end if end is None else end)

    def _apply(self, ctx: EditContext, values: dict, restore: dict | None = None) -> Change:
        new = ctx.store.update_span(self.span_id, annotator=ctx.annotator, restore=restore,
                                    **values)
        return Change(self.doc_id, upserted=[new], current_id=self.span_id)

    def do(self, ctx: EditContext) -> Change:
        return self._apply(ctx, self.after)

    def undo(self, ctx: EditContext) -> Change:
        return self._apply(ctx, self.before, restore=self.provenance)


class SourceStatus(Edit):
    """Accept or reject every proposed span of ``source`` on a document; undo sets exactly
    those spans back to ``proposed`` (one transaction either way). ``span_ids``: the
    proposals the person sees; when the document's proposals are no longer those, the store
    changes nothing (span-gone error)."""

    def __init__(self, doc_id: int, source: str, status: str, span_ids: list[int]):
        self.doc_id, self.source, self.status = doc_id, source, status
        self.span_ids = list(span_ids)
        self.changed: list[int] = []

    def do(self, ctx: EditContext) -> Change:
        expected = self.changed or self.span_ids  # after an undo: the spans it set back
        self.changed = ctx.store.set_source_status(
            self.doc_id, self.source, self.status, annotator=ctx.annotator,
            expected_ids=expected)
        return Change(self.doc_id, reload=True)

    def undo(self, ctx: EditContext) -> Change:
        ctx.store.set_span_statuses({sid: "proposed" for sid in self.changed},
                                    annotator=ctx.annotator)
        return Change(self.doc_id, reload=True)


class MarkDocument(Edit):
    """Set a document's review status; undo restores the previous one."""

    def __init__(self, doc_id: int, old: str, new: str):
        self.doc_id, self.old, self.new = doc_id, old, new

    def do(self, ctx: EditContext) -> Change:
        ctx.store.set_review_status(self.doc_id, self.new)
        return Change(self.doc_id, review_status=self.new)

    def undo(self, ctx: EditContext) -> Change:
        ctx.store.set_review_status(self.doc_id, self.old)
        return Change(self.doc_id, review_status=self.old)


class Steps(Edit):
    """Several edits of one document undone and redone as one (the first edit of a 'to do'
    document: marking it in progress, then the edit), named after the last.

    ``do`` is all or nothing: when a step fails, the steps already done are undone and the
    error goes on. ``undo`` undoes every step, last first, even when one fails (the first
    error goes on once all were tried): a span gone does not leave the document marked."""

    def __init__(self, *steps: Edit):
        self.steps = steps
        self.doc_id = steps[-1].doc_id

    @property  # type: ignore[override]
    def text(self) -> str:
        return self.steps[-1].text

    def do(self, ctx: EditContext) -> Change:
        change, done = Change(self.doc_id), []
        try:
            for step in self.steps:
                change = change.then(step.do(ctx))
                done.append(step)
        except Exception:
            for step in reversed(done):
                step.undo(ctx)
            raise
        return change

    def undo(self, ctx: EditContext) -> Change:
        change, error = Change(self.doc_id), None
        for step in reversed(self.steps):
            try:
                change = change.then(step.undo(ctx))
            except Exception as exc:  # noqa: BLE001 - raised below, once the rest is undone
                error = error or exc
        if error is not None:
            raise error
        return change


class History:
    """The session's undo and redo stacks (newest last)."""

    def __init__(self) -> None:
        self.done: list[Edit] = []
        self.undone: list[Edit] = []

    @property
    def can_undo(self) -> bool:
        return bool(self.done)

    @property
    def can_redo(self) -> bool:
        return bool(self.undone)

    @property
    def undo_text(self) -> str:
        """What undo would take back ("" when nothing)."""
        return self.done[-1].text if self.done else ""

    @property
    def redo_text(self) -> str:
        return self.undone[-1].text if self.undone else ""

    def record(self, edit: Edit) -> None:
        """A new edit was made: it can be undone, and what was undone can no longer be redone."""
        self.done.append(edit)
        self.undone.clear()

    def clear(self) -> None:
        self.done.clear()
        self.undone.clear()


__all__ = ["Change", "CreateSpan", "DeleteSpan", "Edit", "EditContext", "History",
           "MarkDocument", "SourceStatus", "Steps", "UpdateSpan"]
