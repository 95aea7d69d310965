"""Locate LLM-returned entity texts in the document.

Tier 1: exact occurrences of the text, all of them, word-boundary aware. Tier 2 (only when tier
1 finds nothing): whitespace- and case-tolerant match, also tolerant of composed/decomposed
accents (NFC vs NFD). Offsets are code-point ``[start, end)`` indices into the text exactly as
given; every span returned satisfies ``text[start:end]`` being the mention. A text found nowhere
is a hallucination: returned separately, never as a span.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field


def _is_word(ch: str) -> bool:
    return ch.isalnum() or unicodedata.category(ch).startswith("M") or ch == "_"


def _bounded(text: str, start: int, end: int) -> bool:
    """True unless the match cuts a word at either edge (edges only checked when the mention
    itself starts/ends with a word character)."""
    if _is_word(text[start]) and start > 0 and _is_word(text[start - 1]):
        return False
    return not (_is_word(text[end - 1]) and end < len(text) and _is_word(text[end]))


def exact_matches(text: str, needle: str) -> list[tuple[int, int]]:
    """All non-overlapping, word-bounded exact occurrences of ``needle``."""
    out, i = [], text.find(needle)
    while i != -1:
        j = i + len(needle)
        if _bounded(text, i, j):
            out.append((i, j))
            i = text.find(needle, j)
        else:
            i = text.find(needle, i + 1)
    return out


def _fold(s: str) -> str:
    return unicodedata.normalize("NFD", s).casefold()


class FoldedText:
    """The text case-folded, NFD-decomposed, whitespace runs collapsed to one space, with a
    map from each folded character back to its original index."""

    def __init__(self, text: str):
        chars: list[str] = []
        index: list[int] = []
        prev_space = False
        for i, ch in enumerate(text):
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
        key = " ".join(_fold(needle).split())
        if not key:
            return []
        out, pos = [], self.folded.find(key)
        while pos != -1:
            start = self.index[pos]
            end = self.index[pos + len(key) - 1] + 1
            if start < end and _bounded(self.text, start, end):
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
            elif not tolerant and " ".join(_fold(needle).split()) in FoldedText(text).folded:
                reason = "not verbatim (case, accents or spacing differ)"
            res.hallucinations.append({"text": needle, "label": label, "reason": reason})
            continue
        for s, e in hits:
            key = (s + offset, e + offset, label)
            if key not in seen:
                seen.add(key)
                res.spans.append(Grounded(key[0], key[1], label, how))
    return res
