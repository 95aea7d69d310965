"""Review logic behind the GUI, free of Qt: span edges moved by words (word snapping itself is
``annotator.text``), navigation between suggestions and disagreements, and the annotator's
identity.

Offsets are half-open ``[start, end)`` Python code-point indices into the document text exactly
as stored (the same convention as ``annotator.model.Span``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from .model import Span
from .settings import Settings, save_settings
from .text import snap_to_words, word_step  # also the GUI's ``review.snap_to_words``


# ---------------------------------------------------------------------- span edges
def move_boundary(text: str, start: int, end: int, edge: str,
                  direction: int) -> tuple[int, int] | None:
    """``[start, end)`` with its ``edge`` ("start" or "end") moved one word ``direction``
    (+1 right, -1 left); None when the span would become empty or nothing moves."""
    if edge == "end":
        new = (start, word_step(text, end, direction, edge="end"))
    else:
        new = (word_step(text, start, direction, edge="start"), end)
    if new[0] >= new[1] or new == (start, end):
        return None
    return new


def drag_boundary(text: str, start: int, end: int, edge: str, pos: int, *,
                  exact: bool = False) -> tuple[int, int] | None:
    """``[start, end)`` with its ``edge`` ("start" or "end") dragged to offset ``pos``: the
    dragged edge snaps to the word under it (``exact`` keeps the offset), the other edge
    stays. None when the span would become empty or nothing changes."""
    pos = max(0, min(len(text), pos))
    if edge == "end":
        if pos <= start:
            return None
        new = (start, pos if exact else snap_to_words(text, start, pos)[1])
    else:
        if pos >= end:
            return None
        new = (pos if exact else snap_to_words(text, pos, end)[0], end)
    if new[0] >= new[1] or new == (start, end):
        return None
    return new


def snap_fragments(text: str, ranges: Iterable[tuple[int, int]], *,
                   exact: bool = False) -> list[tuple[int, int]]:
    """The fragments of a discontinuous span from selections: each snapped to words (unless
    ``exact``), empty ones dropped, overlapping or touching ones merged, in text order."""
    parts = sorted((min(a, b), max(a, b)) if exact else snap_to_words(text, a, b)
                   for a, b in ranges)
    out: list[tuple[int, int]] = []
    for a, b in parts:
        if a >= b:
            continue
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


# ---------------------------------------------------------------------- span lookup / navigation
def _order(sp: Span) -> tuple:
    return (sp.start, sp.end, sp.id if sp.id is not None else -1)


def spans_at(spans: Iterable[Span], pos: int, *, include_rejected: bool = False) -> list[Span]:
    """Spans covering character ``pos`` (or ending right before it when nothing covers it),
    innermost (shortest) first."""
    pool = [s for s in spans if include_rejected or s.status != "rejected"]
    hits = [s for s in pool if any(a <= pos < b for a, b in s.parts)]
    if not hits:  # a caret right after a word still "touches" it
        hits = [s for s in pool if any(a < pos <= b for a, b in s.parts)]
    return sorted(hits, key=lambda s: (s.end - s.start, _order(s)))


def next_span(
    spans: Iterable[Span], pos: int, *, current: Span | None = None, backward: bool = False,
    statuses: Sequence[str] = ("proposed",),
) -> Span | None:
    """The next (or previous) span with one of ``statuses`` after ``current`` (or after the
    caret ``pos`` when there is no current span), in document order; None at the end."""
    pool = sorted((s for s in spans if s.status in statuses), key=_order)
    if current is not None:
        key = _order(current)
    else:
        key = (pos, -1, -1) if not backward else (pos, 1 << 62, 1 << 62)
    if backward:
        before = [s for s in pool if _order(s) < key]
        return before[-1] if before else None
    return next((s for s in pool if _order(s) > key), None)


def next_suggestion(spans: Iterable[Span], pos: int, *, current: Span | None = None,
                    backward: bool = False) -> Span | None:
    """The next (or previous) ``proposed`` span; see :func:`next_span`."""
    return next_span(spans, pos, current=current, backward=backward)


def disagreements(spans: Iterable[Span]) -> list[tuple[int, int]]:
    """Regions ``[start, end)`` where the sources of a document disagree: the full
    comparison of :func:`annotator.compare.disagreement_regions` over its non-rejected
    spans."""
    from .compare import disagreement_regions

    return [(int(a), int(b)) for a, b in
            disagreement_regions([s for s in spans if s.status != "rejected"])]


def next_disagreement(spans: Iterable[Span], pos: int, *,
                      backward: bool = False) -> tuple[int, int] | None:
    """The first disagreement region starting after ``pos`` (or the last one starting before
    it when ``backward``); None when there is none."""
    regions = disagreements(spans)
    if backward:
        before = [r for r in regions if r[0] < pos]
        return before[-1] if before else None
    return next((r for r in regions if r[0] > pos), None)


# ---------------------------------------------------------------------- annotator identity
def get_annotator() -> str:
    """Who is annotating: the ``annotator`` setting (``$ANNOTATOR_ANNOTATOR``, else the user's
    settings file, where :func:`set_annotator` writes it; see ``annotator.settings``), else the
    login."""
    return Settings().annotator_name()


def set_annotator(name: str) -> Path:
    """Remember the annotator's name for this user (the settings file); returns the file."""
    return save_settings({"annotator": name.strip()})
