"""A review session, free of Qt: one person reviewing one document at a time.

:class:`ReviewSession` holds the review policy and turns a person's intents (label a
selection, accept, reject, move a boundary, mark the document reviewed, undo, ...) into store
edits (:mod:`annotator.edits`), each committed at once. Each intent returns an
:class:`Outcome`: what changed, where the review flow goes next, and what to tell the person.
The GUI maps keys to intents and paints outcomes; it holds no policy.

The policy (README, "Review lifecycle"):

- the first edit of a ``todo`` document marks it ``in_progress`` (undone with the edit);
- pressing a label on the exact text of a suggestion with that label accepts it (no second
  span); relabelling or moving a boundary accepts the span (an edited suggestion becomes a
  human decision that remembers what it came from, which the store records);
- accepting or rejecting a suggestion moves the review flow on to the next suggestion;
- an edit whose span another process replaced or deleted meanwhile (``SpanGoneError`` from
  the store) writes nothing: the session drops the edit (and the redo history), re-reads the
  document, and says so (:data:`SPAN_GONE_MESSAGE`). An undo or redo that finds its span gone
  is dropped the same way.

Offsets are ``[start, end)`` Python code points into the text as stored.
"""

from __future__ import annotations

import dataclasses
from bisect import insort
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import review
from .edits import (
    Change,
    CreateSpan,
    DeleteSpan,
    Edit,
    History,
    MarkDocument,
    SourceStatus,
    Steps,
    UpdateSpan,
)
from .errors import SpanGoneError
from .model import Document, LabelSchema, Span
from .text import snap_to_words

if TYPE_CHECKING:
    from .ports import StorePort

SPAN_GONE_MESSAGE = ("This suggestion was replaced by a newer pre-label run; the document was "
                     "reloaded.")
NO_SPAN = "No span under the cursor"


@dataclass
class Outcome:
    """What an intent changed and what to show.

    ``doc_id``: the document concerned (an undo may concern another one than the document
    open before it: the session then opens it, ``opened``). ``upserted``/``removed``: spans
    created or updated (as stored) and ids of spans deleted; ``review_status``: the document's
    new status; ``reload``: the document's spans were read again (a change of many spans, a
    span gone). ``current_id``: the span the edit leaves under the cursor; ``goto``: the span
    the review flow goes to next. ``message``: for the status bar; ``span_gone``: the
    ``SpanGoneError`` when the edit wrote nothing because its span was gone.
    ``selection_used``: the selection was made into a span (or a held fragment)."""

    doc_id: int | None = None
    opened: bool = False
    upserted: list[Span] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    review_status: str | None = None
    reload: bool = False
    current_id: int | None = None
    goto: Span | None = None
    message: str | None = None
    span_gone: SpanGoneError | None = None
    selection_used: bool = False

    @property
    def changed(self) -> bool:
        """Something was written on the document, or it was read again."""
        return bool(self.upserted or self.removed or self.review_status or self.reload)


def _order(s: Span) -> tuple[int, int, int]:
    return (s.start, s.end, s.id or 0)


class ReviewSession:
    """``ReviewSession(store, annotator)`` over one document at a time (``open(doc_id)``).

    ``store``: the project's store (the composition root passes it; the session reads and
    writes through it only). ``annotator`` is recorded on every edit (it may change during
    the session). ``schema`` (default: the store's) names labels in the edits' descriptions.
    """

    def __init__(self, store: StorePort, annotator: str, *,
                 schema: LabelSchema | None = None):
        self.store = store
        self.annotator = annotator
        self.schema = schema if schema is not None else store.get_schema()
        self.history = History()
        self.doc: Document | None = None
        self.held: list[tuple[int, int]] = []  # fragments held for a discontinuous span
        self.flow_id: int | None = None  # the span the review flow is on

    # ------------------------------------------------------------------ documents
    def set_store(self, store: StorePort) -> None:
        """Work on another store (another database or layer): the history, which belongs to
        the old one, is dropped, and no document is open."""
        self.store = store
        self.schema = store.get_schema()
        self.history.clear()
        self.doc, self.flow_id = None, None

    def open(self, doc_id: int) -> Outcome:
        """Open (or read again) document ``doc_id``. Held fragments belong to the document
        they were taken from: opening another drops them."""
        doc = self.store.get_document(doc_id)
        message = None
        if self.doc is None or self.doc.id != doc_id:
            if self.held:
                self.held, message = [], "Held fragments dropped"
            self.flow_id = None
        self.doc = doc
        return Outcome(doc_id=doc_id, opened=True, message=message)

    def _reread(self) -> None:
        fresh = self.store.get_document(self.doc.id)
        self.doc.spans, self.doc.review_status = fresh.spans, fresh.review_status

    def span(self, span_id: int | None) -> Span | None:
        """The open document's span ``span_id`` as it is now."""
        if self.doc is None or span_id is None:
            return None
        return next((s for s in self.doc.spans if s.id == span_id), None)

    # ------------------------------------------------------------------ the review flow
    def follow(self, span: Span | None) -> None:
        """``span`` is the current one: the flow is on it (it stays there when the cursor
        leaves every span)."""
        if span is not None:
            self.flow_id = span.id

    def flow_span(self, *, include_rejected: bool = False) -> Span | None:
        """The span the flow is on (a rejected one only with ``include_rejected``)."""
        sp = self.span(self.flow_id)
        return sp if sp is not None and (sp.status != "rejected" or include_rejected) else None

    def step_suggestion(self, caret: int, *, current: Span | None = None,
                        backward: bool = False) -> Outcome:
        """The next (previous) suggestion after ``current`` (or the caret), wrapping round
        the document with a message."""
        if self.doc is None:
            return Outcome()
        spans = self.doc.spans
        sp = review.next_suggestion(spans, caret, current=current, backward=backward)
        message = None
        if sp is None:  # past the last (first) one: wrap around, as Prodigy and INCEpTION do
            sp = review.next_suggestion(spans, len(self.doc.text) + 1 if backward else -1,
                                        backward=backward)
            if sp is None:
                return Outcome(message="No suggestions left in this document — Shift+N opens "
                                       "the next document with suggestions")
            message = ("Wrapped to the last suggestion" if backward
                       else "Wrapped to the first suggestion")
        return Outcome(goto=sp, message=message)

    # ------------------------------------------------------------------ labelling
    def label(self, label: str, selection: tuple[int, int] | None = None, *,
              exact: bool = False, current: Span | None = None) -> Outcome:
        """A label key: label the held fragments and ``selection`` as one discontinuous span;
        else label ``selection`` (snapped to words unless ``exact``); without a selection,
        relabel and accept ``current``."""
        if self.doc is None:
            return Outcome()
        if self.held:
            return self.label_held(label, selection, exact=exact)
        if selection is None:
            if current is None:
                return Outcome(message="Select some text first, then press a label key")
            if current.label != label or current.status != "accepted":
                return self._do(UpdateSpan(self.doc.id, current, label=label,
                                           status="accepted"))
            return Outcome()
        start, end = selection if exact else snap_to_words(self.doc.text, *selection)
        if start >= end:
            return Outcome(message="Nothing to label: the selection is only spaces or "
                                   "punctuation")
        return self._create(Span(start, end, label, source="human", status="accepted",
                                 annotator=self.annotator))

    def hold(self, selection: tuple[int, int] | None) -> Outcome:
        """Hold ``selection`` as one fragment of a discontinuous span."""
        if self.doc is None or selection is None or selection[0] == selection[1]:
            return Outcome(message="Select the first part of the entity, then press +")
        self.held.append(selection)
        return Outcome(selection_used=True)

    def drop_held(self) -> Outcome:
        had, self.held = bool(self.held), []
        return Outcome(message="Held fragments dropped" if had else None)

    def label_held(self, label: str, selection: tuple[int, int] | None, *,
                   exact: bool = False) -> Outcome:
        """The held fragments and ``selection``, each snapped to words (unless ``exact``) and
        merged where they touch, as one span."""
        if self.doc is None:
            return Outcome()
        if selection is None or selection[0] == selection[1]:
            return Outcome(message="Select the next part of the entity, then press a label "
                                   "key (Esc drops the held fragments)")
        parts = review.snap_fragments(self.doc.text, [*self.held, selection], exact=exact)
        self.held = []
        if not parts:
            return Outcome(message="Nothing to label: the selections are only spaces or "
                                   "punctuation")
        return self._create(Span.from_fragments(parts, label, source="human",
                                                status="accepted", annotator=self.annotator))

    def _create(self, span: Span) -> Outcome:
        """Add ``span`` -- or accept the suggestion with the same label and fragments."""
        same = [s for s in self.doc.spans
                if (s.start, s.end, s.label, s.parts) == (span.start, span.end, span.label,
                                                          span.parts)]
        if any(s.status == "accepted" for s in same):
            out = Outcome(message="Already labelled")
        elif same:  # pressing the label of a suggestion on its text accepts it
            out = self._do(UpdateSpan(self.doc.id, same[0], status="accepted"))
        else:
            out = self._do(CreateSpan(self.doc.id, span))
        out.selection_used = True
        return out

    # ------------------------------------------------------------------ deciding
    def set_status(self, span: Span | None, status: str) -> Outcome:
        """Accept or reject ``span``; deciding a suggestion moves the flow on to the next
        suggestion (``goto``)."""
        if self.doc is None or span is None:
            return Outcome(message=NO_SPAN)
        nxt = review.next_suggestion(self.doc.spans, span.start, current=span)
        out = (self._do(UpdateSpan(self.doc.id, span, status=status))
               if span.status != status else Outcome())
        if nxt is not None and span.status == "proposed":
            out.goto = self.span(nxt.id)
        return out

    def accept(self, span: Span | None) -> Outcome:
        return self.set_status(span, "accepted")

    def reject(self, span: Span | None) -> Outcome:
        return self.set_status(span, "rejected")

    def decide_source(self, source: str | None, status: str) -> Outcome:
        """Accept or reject every suggestion of ``source`` on the document, as shown."""
        if self.doc is None or not source:
            return Outcome(message="No suggestions to act on")
        shown = [s.id for s in self.doc.spans if s.source == source and s.status == "proposed"]
        if not shown:
            return Outcome(message=f"No proposed spans from {source}")
        out = self._do(SourceStatus(self.doc.id, source, status, shown))
        if out.span_gone is None:
            out.message = f"{status.capitalize()} all suggestions of {source}"
        return out

    def relabel(self, span: Span | None, label: str | None) -> Outcome:
        """Give ``span`` another label (a person's decision: it is accepted)."""
        if self.doc is None or span is None:
            return Outcome(message=NO_SPAN)
        if not label or label == span.label:
            return Outcome()
        return self._do(UpdateSpan(self.doc.id, span, label=label, status="accepted"))

    def delete(self, span: Span | None) -> Outcome:
        if self.doc is None or span is None:
            return Outcome(message=NO_SPAN)
        return self._do(DeleteSpan(self.doc.id, span))

    # ------------------------------------------------------------------ boundaries
    def move_boundary(self, span: Span | None, edge: str, direction: int) -> Outcome:
        """Move ``span``'s ``edge`` ("start"/"end") one word ``direction`` (+1 right, -1
        left); the span never becomes empty."""
        if self.doc is None or span is None:
            return Outcome(message=NO_SPAN)
        if span.is_discontinuous:
            return Outcome(message="A discontinuous span's boundaries cannot be moved: delete "
                                   "it and create it again")
        new = review.move_boundary(self.doc.text, span.start, span.end, edge, direction)
        if new is None:
            return Outcome(message="The span cannot shrink further" if (
                (edge == "end") == (direction < 0)) else "No word further that way")
        return self._do(UpdateSpan(self.doc.id, span, start=new[0], end=new[1],
                                   status="accepted"))

    def drag_boundary(self, span: Span | None, edge: str, pos: int, *,
                      exact: bool = False) -> Outcome:
        """``span``'s ``edge`` dropped at offset ``pos``: snapped to the word unless
        ``exact``. A discontinuous span has no edge to drag (nothing happens)."""
        if self.doc is None or span is None or span.is_discontinuous:
            return Outcome()
        new = review.drag_boundary(self.doc.text, span.start, span.end, edge, pos, exact=exact)
        if new is None:
            return Outcome(message="The boundary did not move (dropped where it was, or past "
                                   "the other edge)")
        return self._do(UpdateSpan(self.doc.id, span, start=new[0], end=new[1],
                                   status="accepted"))

    # ------------------------------------------------------------------ the document
    def mark(self, status: str) -> Outcome:
        """Set the document's review status (``reviewed``, ``skipped``, ``todo``, ...)."""
        if self.doc is None or self.doc.review_status == status:
            return Outcome()
        return self._do(MarkDocument(self.doc.id, self.doc.review_status, status))

    # ------------------------------------------------------------------ undo / redo
    @property
    def can_undo(self) -> bool:
        return self.history.can_undo

    @property
    def can_redo(self) -> bool:
        return self.history.can_redo

    @property
    def undo_text(self) -> str:
        return self.history.undo_text

    @property
    def redo_text(self) -> str:
        return self.history.redo_text

    def undo(self) -> Outcome:
        """Undo the newest edit of the session (on whichever document it was made)."""
        if not self.history.done:
            return Outcome()
        edit = self.history.done.pop()
        try:
            change = edit.undo(self)
        except SpanGoneError as exc:
            return self._gone(exc)
        except Exception:
            self.history.done.append(edit)  # not undone: it stays where it was
            raise
        self.history.undone.append(edit)
        return self._applied(change)

    def redo(self) -> Outcome:
        if not self.history.undone:
            return Outcome()
        edit = self.history.undone.pop()
        try:
            change = edit.do(self)
        except SpanGoneError as exc:
            return self._gone(exc)
        except Exception:
            self.history.undone.append(edit)
            raise
        self.history.done.append(edit)
        return self._applied(change)

    # ------------------------------------------------------------------ running edits
    def _do(self, edit: Edit) -> Outcome:
        """Make a new edit; the first edit of a 'to do' document marks it in progress."""
        edit.text = self.describe(edit)
        if self.doc.review_status == "todo" and not isinstance(edit, MarkDocument):
            edit = Steps(MarkDocument(self.doc.id, "todo", "in_progress"), edit)
        try:
            change = edit.do(self)
        except SpanGoneError as exc:
            return self._gone(exc)
        self.history.record(edit)
        return self._applied(change)

    def _applied(self, change: Change) -> Outcome:
        """Bring the open document up to date with ``change`` (open its document when it is
        another one)."""
        out = Outcome(doc_id=change.doc_id, upserted=change.upserted, removed=change.removed,
                      review_status=change.review_status, reload=change.reload,
                      current_id=change.current_id)
        if self.doc is None or self.doc.id != change.doc_id:
            opened = self.open(change.doc_id)  # undo/redo follows the change to its document
            out.opened, out.message = True, opened.message
        elif change.reload:
            self._reread()
        else:
            if change.review_status is not None:
                self.doc.review_status = change.review_status
            if change.upserted or change.removed:
                gone = {*change.removed, *(s.id for s in change.upserted)}
                spans = [s for s in self.doc.spans if s.id not in gone]
                for s in change.upserted:
                    insort(spans, s, key=_order)
                self.doc.spans = spans
        return out

    def _gone(self, error: SpanGoneError) -> Outcome:
        """An edit found its span(s) gone: nothing was written or recorded. The redo history
        (which would repeat it) is dropped and the open document read again."""
        self.history.undone.clear()
        if self.doc is None:
            return Outcome(span_gone=error, message=SPAN_GONE_MESSAGE)
        self._reread()
        return Outcome(doc_id=self.doc.id, reload=True, span_gone=error,
                       message=SPAN_GONE_MESSAGE)

    # ------------------------------------------------------------------ descriptions
    def label_name(self, key: str) -> str:
        lab = self.schema.get(key) if self.schema else None
        return lab.name if lab else key

    def quote(self, sp: Span) -> str:
        """``sp``'s text in quotes, cut at 40 characters."""
        text = self.doc.text if self.doc else ""
        words = " … ".join(text[a:b] for a, b in sp.parts)
        return f"'{words[:37]}…'" if len(words) > 40 else f"'{words}'"

    def describe(self, edit: Edit) -> str:
        """What an edit does, in words: "accept 'pneumonie' as Disease"."""
        if isinstance(edit, CreateSpan):
            return f"label {self.quote(edit.span)} as {self.label_name(edit.span.label)}"
        if isinstance(edit, DeleteSpan):
            return f"delete {self.quote(edit.span)} ({self.label_name(edit.span.label)})"
        if isinstance(edit, UpdateSpan):
            sp, b, a = edit.span, edit.before, edit.after
            if "start" in a and (a["start"], a["end"]) != (b["start"], b["end"]):
                new = dataclasses.replace(sp, start=a["start"], end=a["end"], fragments=None)
                return f"resize {self.quote(sp)} to {self.quote(new)}"
            name = self.label_name(a["label"])
            if a["label"] != b["label"]:
                return f"relabel {self.quote(sp)} as {name}"
            verb = {"accepted": "accept", "rejected": "reject",
                    "proposed": "reopen"}.get(a["status"], a["status"])
            return f"{verb} {self.quote(sp)} as {name}"
        if isinstance(edit, SourceStatus):
            verb = "accept" if edit.status == "accepted" else "reject"
            return f"{verb} all suggestions of {edit.source}"
        if isinstance(edit, MarkDocument):
            return f"mark the document {edit.new.replace('_', ' ')}"
        return edit.text


__all__ = ["NO_SPAN", "Outcome", "ReviewSession", "SPAN_GONE_MESSAGE"]
