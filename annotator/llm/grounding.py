"""Locate LLM-returned entity texts in the document.

Tier 1: exact occurrences of the text, all of them, word-boundary aware (words as
``annotator.text`` defines them). Tier 2 (only when tier 1 finds nothing): whitespace- and
case-tolerant match, also tolerant of composed/decomposed accents (NFC vs NFD) and of
zero-width characters (U+200B ...) in the document. Offsets are code-point ``[start, end)``
indices into the text exactly as given; every span returned satisfies ``text[start:end]``
being the mention. A text found nowhere is a hallucination: returned separately, never as a
span.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from annotator.text import ZERO_WIDTH, bounded, find_all


def exact_matches(text: str, needle: str) -> list[tuple[int, int]]:
    """All non-overlapping, word-bounded exact occurrences of ``needle``
    (``annotator.text.find_all``)."""
    return find_all(text, needle)


def _fold(s: str) -> str:
    return unicodedata.normalize("NFD", s).casefold()


def _key(needle: str) -> str:
    """``needle`` as :class:`FoldedText` folds text: folded, zero-width characters dropped,
    whitespace runs as one space."""
    return " ".join("".join(ch for ch in _fold(needle) if ch not in ZERO_WIDTH).split())


class FoldedText:
    """The text case-folded, NFD-decomposed, zero-width characters dropped (an LLM does not
    repeat them), whitespace runs collapsed to one space, with a map from each folded
    character back to its original index."""

    def __init__(self, text: str):
        chars: list[str] = []
        index: list[int] = []
        prev_space = False
        for i, ch in enumerate(text):
            if ch in ZERO_WIDTH:
                continue
            if ch.isspace():
                if not prev_space:
                    chars.append(" ")
                    index.append(i)
                prev_space = True
                continue
            prev_space = False
            for f in _fold(ch):
                chars.append(f)
                index.append(i)
        self.text, self.folded, self.index = text, "".join(chars), index

    def find_all(self, needle: str) -> list[tuple[int, int]]:
        key = _key(needle)
        if not key:
            return []
        out, pos = [], self.folded.find(key)
        while pos != -1:
            start = self.index[pos]
            end = self.index[pos + len(key) - 1] + 1
            if start < end and bounded(self.text, start, end):
                out.append((start, end))
                pos = self.folded.find(key, pos + len(key))
            else:
                pos = self.folded.find(key, pos + 1)
        return out


@dataclass
class Grounded:
    start: int
    end: int
    label: str
    match: str  # "exact" or "tolerant"


@dataclass
class GroundingResult:
    spans: list[Grounded] = field(default_factory=list)
    hallucinations: list[dict[str, str]] = field(default_factory=list)


def ground(text: str, entities: Iterable[dict[str, str]], *, offset: int = 0,
           folded: FoldedText | None = None, tolerant: bool = True) -> GroundingResult:
    """Ground ``{"text", "label"}`` items in ``text``; spans are shifted by ``offset``.

    Every word-bounded occurrence of a text becomes a span; each distinct (start, end, label)
    is returned once. ``tolerant=False`` keeps tier 1 only (exact occurrences: FineMed's rule).
    """
    res = GroundingResult()
    seen: set[tuple[int, int, str]] = set()
    for ent in entities:
        needle, label = ent["text"], ent["label"]
        hits, how = exact_matches(text, needle), "exact"
        if not hits and tolerant:
            folded = folded or FoldedText(text)
            hits, how = folded.find_all(needle), "tolerant"
        if not hits:
            reason = "not in the document"
            if needle in text or (tolerant and _fold(needle) in _fold(text)):
                reason = "only found inside other words"
            elif not tolerant and _key(needle) in FoldedText(text).folded:
                reason = "not verbatim (case, accents or spacing differ)"
            res.hallucinations.append({"text": needle, "label": label, "reason": reason})
            continue
        for s, e in hits:
            key = (s + offset, e + offset, label)
            if key not in seen:
                seen.add(key)
                res.spans.append(Grounded(key[0], key[1], label, how))
    return res
