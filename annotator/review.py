"""Review logic behind the GUI, free of Qt: word snapping, navigation between suggestions and
disagreements, and the annotator's identity.

Offsets are half-open ``[start, end)`` Python code-point indices into the document text exactly
as stored (the same convention as ``annotator.model.Span``).
"""

from __future__ import annotations

import getpass
import json
import os
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

from .model import Span

# characters joining two word characters into one word (compounds: "anti-inflammatoire")
HYPHENS = frozenset("-\u2010\u2011")
# apostrophes: a boundary (French elision "l'hypertension" -> "l'" + "hypertension")
APOSTROPHES = frozenset("'\u2019\u02bc")
# punctuation trimmed from the edges of a selection before snapping
EDGE_PUNCT = frozenset(",;:!?\"()[]{}«»\u201c\u201d") | APOSTROPHES


def is_word_char(ch: str) -> bool:
    """Unicode letters, digits and combining marks (``é`` written as ``e`` + U+0301)."""
    return ch.isalnum() or unicodedata.category(ch).startswith("M")


def _joins(text: str, i: int) -> bool:
    """True when ``text[i]`` is a hyphen between two word characters."""
    return (text[i] in HYPHENS and 0 < i < len(text) - 1
            and is_word_char(text[i - 1]) and is_word_char(text[i + 1]))


def snap_to_words(text: str, start: int, end: int) -> tuple[int, int]:
    """Trim whitespace and edge punctuation from ``[start, end)``, then grow each end to the
    word boundary. Hyphenated compounds count as one word, an apostrophe is a boundary.

    Returns ``(start, end)``; ``start == end`` when nothing but whitespace/punctuation was
    selected. ``snap_to_words("l'hypertension", 3, 7) == (2, 14)``.
    """
    start, end = max(0, min(start, end)), min(len(text), max(start, end))
    while start < end and (text[start].isspace() or text[start] in EDGE_PUNCT):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in EDGE_PUNCT):
        end -= 1
    if start == end:
        return start, start
    if is_word_char(text[start]) or _joins(text, start):
        while start > 0 and (is_word_char(text[start - 1]) or _joins(text, start - 1)):
            start -= 1
    if is_word_char(text[end - 1]) or _joins(text, end - 1):
        while end < len(text) and (is_word_char(text[end]) or _joins(text, end)):
            end += 1
    return start, end


def _in_word(text: str, i: int) -> bool:
    return is_word_char(text[i]) or _joins(text, i)


def word_step(text: str, pos: int, direction: int, *, edge: str = "end") -> int:
    """The next word boundary from ``pos`` going ``direction`` (+1 right, -1 left).

    ``edge="end"`` lands on the end of a word (where a span may end), ``edge="start"`` on
    the start of one (where a span may begin); words are those of :func:`snap_to_words`
    (hyphenated compounds are one word, an apostrophe is a boundary, combining marks belong
    to their letter). When no word lies that way, ``pos`` is returned unchanged.
    ``word_step("la fièvre aiguë", 2, +1) == 9`` (end of "fièvre").
    """
    n = len(text)
    pos = max(0, min(pos, n))
    if direction > 0:
        i = pos
        if edge == "end":  # over the gap, then over the next word
            while i < n and not _in_word(text, i):
                i += 1
            if i == n:
                return pos
            while i < n and _in_word(text, i):
                i += 1
            return i
        while i < n and _in_word(text, i):  # start: past this word, then the gap
            i += 1
        while i < n and not _in_word(text, i):
            i += 1
        return i if i < n else pos
    i = pos
    if edge == "start":  # back over the gap, then over the previous word
        while i > 0 and not _in_word(text, i - 1):
            i -= 1
        if i == 0:
            return pos
        while i > 0 and _in_word(text, i - 1):
            i -= 1
        return i
    while i > 0 and _in_word(text, i - 1):  # end: back over this word, then the gap
        i -= 1
    while i > 0 and not _in_word(text, i - 1):
        i -= 1
    return i if i > 0 else pos


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
def _config_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "medannotator" / "identity.json"


def get_annotator() -> str:
    """Who is annotating: ``$ANNOTATOR_ANNOTATOR``, else the identity file written by
    :func:`set_annotator`, else the login."""
    name = os.environ.get("ANNOTATOR_ANNOTATOR")
    if name:
        return name
    try:
        name = json.loads(_config_file().read_text(encoding="utf-8")).get("annotator")
    except (OSError, ValueError):
        name = None
    if name:
        return str(name)
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "annotator"


def set_annotator(name: str) -> Path:
    """Remember the annotator's name for this user; returns the file written."""
    path = _config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"annotator": name.strip()}), encoding="utf-8")
    return path
