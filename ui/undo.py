"""Undoable edits: each QUndoCommand's redo and undo is ONE store call (one transaction).

Every edit is committed the moment it is made (kill-safety); undo is a new edit that restores
the previous state, so it is committed at once too and recorded in the span history.

A command talks to an ``EditContext``: ``store`` (a ``db.Store``), ``annotator`` (str) and
``edited(doc_id, span_id, upsert=None, removed=None, review_status=None)``, called after each
change with what the store returned, so the window can patch its view without re-reading
the document (``upsert``/``removed``/``review_status`` all None means "re-read it").

A store call that finds its span gone (``db.SpanGoneError``: a newer pre-label run replaced
the suggestion) wrote nothing; the command marks itself obsolete, so Qt drops it from the
stack, and hands the error to ``ctx.span_gone(error)`` (the window says so and re-reads the
document once the stack call returns). It does not raise: an exception leaving a Qt override
would surface in whatever Python slot Qt calls next.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Protocol

from PySide6.QtGui import QUndoCommand

from annotator.model import Span
from db import SpanGoneError


class EditContext(Protocol):
    store: object
    annotator: str

    def edited(self, doc_id: int, span_id: int | None = None, *,
               upsert: Span | None = None, removed: int | None = None,
               review_status: str | None = None) -> None: ...


class _Cmd(QUndoCommand):
    def __init__(self, ctx: EditContext, doc_id: int, text: str):
        super().__init__(text)
        self.ctx, self.doc_id = ctx, doc_id



def _unless_gone(step):
    """Run a command's ``redo``/``undo``; when its span is gone nothing was written: the
    command becomes obsolete (Qt removes it: nothing to undo or redo) and the context is
    told (``ctx.span_gone(error)``)."""

    @functools.wraps(step)
    def run(self: _Cmd) -> None:
        try:
            step(self)
        except SpanGoneError as exc:
            self.setObsolete(True)
            notify = getattr(self.ctx, "span_gone", None)
            if notify is not None:
                notify(exc)

    return run


class CreateSpan(_Cmd):
    """Add a span; undo deletes it; redo re-adds it with the same id."""

    def __init__(self, ctx: EditContext, doc_id: int, span: Span):
        super().__init__(ctx, doc_id, f"create {span.label} [{span.start}, {span.end})")
        self.span = dataclasses.replace(span, id=None, doc_id=None)

    def redo(self) -> None:
        self.span = self.ctx.store.add_span(self.doc_id, self.span)
        self.ctx.edited(self.doc_id, self.span.id, upsert=self.span)

    @_unless_gone
    def undo(self) -> None:
        self.ctx.store.delete_span(self.span.id, annotator=self.ctx.annotator)
        self.ctx.edited(self.doc_id, None, removed=self.span.id)


class DeleteSpan(_Cmd):
    """Delete a span; undo re-adds its last state with its id."""

    def __init__(self, ctx: EditContext, doc_id: int, span_id: int):
        super().__init__(ctx, doc_id, f"delete span {span_id}")
        self.span_id = span_id
        self.removed: Span | None = None

    @_unless_gone
    def redo(self) -> None:
        self.removed = self.ctx.store.delete_span(self.span_id, annotator=self.ctx.annotator)
        self.ctx.edited(self.doc_id, None, removed=self.span_id)

    def undo(self) -> None:
        restored = dataclasses.replace(self.removed, id=self.span_id)
        restored = self.ctx.store.add_span(self.doc_id, restored)
        self.ctx.edited(self.doc_id, self.span_id, upsert=restored)


class UpdateSpan(_Cmd):
    """Change a span's label, status and/or boundaries (``start``/``end``, continuous spans
    only); undo puts the old values back."""

    def __init__(self, ctx: EditContext, doc_id: int, span: Span, *,
                 label: str | None = None, status: str | None = None,
                 start: int | None = None, end: int | None = None):
        if start is not None or end is not None:
            what = f"[{span.start}, {span.end}) -> [{start}, {end})"
        else:
            what = f"label {label}" if label else f"{status}"
        super().__init__(ctx, doc_id, f"span {span.id}: {what}")
        self.span_id = span.id
        # undo restores provenance too: an edited suggestion becomes a human span
        self.provenance = {"source": span.source, "source_version": span.source_version,
                           "score": span.score, "meta": dict(span.meta or {})}
        self.before = {"label": span.label, "status": span.status}
        self.after = {"label": label or span.label, "status": status or span.status}
        if start is not None or end is not None:
            if span.is_discontinuous:
                raise ValueError("the boundaries of a discontinuous span cannot be moved")
            self.before.update(start=span.start, end=span.end)
            self.after.update(start=span.start if start is None else start,
                              end=span.end if end is None else end)

    def _apply(self, values: dict, restore: dict | None = None) -> None:
        new = self.ctx.store.update_span(self.span_id, annotator=self.ctx.annotator,
                                         restore=restore, **values)
        self.ctx.edited(self.doc_id, self.span_id, upsert=new)

    @_unless_gone
    def redo(self) -> None:
        self._apply(self.after)

    @_unless_gone
    def undo(self) -> None:
        self._apply(self.before, restore=self.provenance)


class SourceStatus(_Cmd):
    """Accept or reject every proposed span of one source on a document; undo sets exactly
    those spans back to ``proposed`` (one transaction either way). ``span_ids``: the
    proposals the person sees; when the document's proposals are no longer those, nothing
    is changed (``SpanGoneError``)."""

    def __init__(self, ctx: EditContext, doc_id: int, source: str, status: str,
                 span_ids: list[int] | None = None):
        super().__init__(ctx, doc_id, f"{status} all {source}")
        self.source, self.status = source, status
        self.span_ids = span_ids
        self.changed: list[int] = []

    @_unless_gone
    def redo(self) -> None:
        expected = self.changed or self.span_ids  # after an undo: the spans it set back
        self.changed = self.ctx.store.set_source_status(
            self.doc_id, self.source, self.status, annotator=self.ctx.annotator,
            expected_ids=expected)
        self.ctx.edited(self.doc_id, None)

    @_unless_gone
    def undo(self) -> None:
        from db.gui_queries import set_span_statuses

        set_span_statuses(self.ctx.store, {sid: "proposed" for sid in self.changed},
                          annotator=self.ctx.annotator)
        self.ctx.edited(self.doc_id, None)


class ReviewStatus(_Cmd):
    """Set a document's review status; undo restores the previous one."""

    def __init__(self, ctx: EditContext, doc_id: int, old: str, new: str):
        super().__init__(ctx, doc_id, f"document {doc_id}: {new}")
        self.old, self.new = old, new

    def redo(self) -> None:
        self.ctx.store.set_review_status(self.doc_id, self.new)
        self.ctx.edited(self.doc_id, None, review_status=self.new)

    def undo(self) -> None:
        self.ctx.store.set_review_status(self.doc_id, self.old)
        self.ctx.edited(self.doc_id, None, review_status=self.old)
