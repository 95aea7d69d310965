"""Label every occurrence of strings already accepted in the project ("label all occurrences").

Matching is on whole words as ``annotator.text`` defines them: an entry that begins (ends)
with a word character (letter, digit, combining mark, ``_``) must not be preceded (followed) by
one, so accented French words match as words ("rénale" does not match inside "surrénale", nor
"e" before a combining accent) and an elided word is a word ("infection" matches in
"l'infection" and "d’infection"; "inflammatoire" in "anti-inflammatoire", a hyphen being a
boundary). Longer entries win where entries overlap at one position; matches do not overlap
each other.

Case: by default the first letter matches in either case and the rest exactly, so
"paracétamol" also finds "Paracétamol" at a sentence start (and "Parkinson" finds
"parkinson"), while "AVC" does not match "avc". ``case_insensitive`` folds every letter
(``re.IGNORECASE``); ``exact_case`` turns the first-letter rule off.

Score: the share of the people's decisions on that string that accepted this label, smoothed
(Laplace): ``(accepted with this label + 1) / (decisions + 2)``, where decisions are the
accepted and rejected spans of the project whose text is that string (any label, any
source). One acceptance gives 0.67, five give 0.86, three acceptances and one rejection give
0.67, one acceptance and three rejections 0.33: the reviewer sees how settled a string is.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from annotator.model import Source, Span, Status
from annotator.ports import StorePort
from annotator.text import is_word_char, lookarounds, rare_marks

from .base import DocPrediction, Prelabeler

_MAX_PATTERNS = 8  # alternations kept for texts with rare combining marks, one per set


def _key(s: str, ci: bool, first: bool = True) -> str:
    """The matching key: all letters folded (``ci``), else the first one (``first``)."""
    if ci:
        return s.lower()
    return s[:1].lower() + s[1:] if first else s


def smoothed_share(accepted: int, decisions: int) -> float:
    """``(accepted + 1) / (decisions + 2)``: Laplace's rule of succession."""
    return (accepted + 1) / (decisions + 2)


def _first_letter_either_case(s: str) -> str:
    head, tail = s[:1], re.escape(s[1:])
    lo, up = head.lower(), head.upper()
    if lo == up or len(lo) != 1 or len(up) != 1:
        return re.escape(head) + tail
    return f"[{re.escape(lo)}{re.escape(up)}]" + tail


class LexiconPrelabeler(Prelabeler):
    """Proposes ``label`` for every whole-word occurrence of each ``surface`` in ``entries``.

    ``entries`` maps a surface string to its label; ``scores`` (same keys) to the score of
    its suggestions (see the module docstring; 1.0 where not given).
    """

    source = Source.LEXICON.value

    def __init__(self, entries: Mapping[str, str], *, case_insensitive: bool = False,
                 exact_case: bool = False, scores: Mapping[str, float] | None = None):
        self.case_insensitive = bool(case_insensitive)
        self.first_letter = not exact_case and not self.case_insensitive
        self.entries: dict[str, str] = {}  # matching key -> label
        self.scores: dict[str, float] = {}  # matching key -> score
        surfaces: list[str] = []
        for surface, label in entries.items():
            k = self._k(surface)
            if surface.strip() == surface and surface and k not in self.entries:
                self.entries[k] = label
                self.scores[k] = float((scores or {}).get(surface, 1.0))
                surfaces.append(surface)
        surfaces.sort(key=lambda s: (-len(s), s))  # longest first: it wins at one position
        self._surfaces = surfaces
        self.pattern = self._compile(frozenset())
        self._patterns: dict[frozenset[str], re.Pattern[str] | None] = {}
        blob = json.dumps(sorted(self.entries.items()), ensure_ascii=False)
        digest = hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]
        case = "all" if self.case_insensitive else ("first" if self.first_letter else "exact")
        self.source_version = (f"lexicon@{digest};entries={len(self.entries)};"
                               f"case_insensitive={int(self.case_insensitive)};case={case}")

    def _k(self, s: str) -> str:
        return _key(s, self.case_insensitive, self.first_letter)

    def _compile(self, marks: frozenset[str]) -> re.Pattern[str] | None:
        """The alternation of every entry, word-bounded (``annotator.text.lookarounds``) for
        texts whose rare combining marks are among ``marks``."""
        not_before, not_after = lookarounds(marks)
        body = _first_letter_either_case if self.first_letter else re.escape
        parts = [(not_before if is_word_char(s[0]) else "") + body(s)
                 + (not_after if is_word_char(s[-1]) else "") for s in self._surfaces]
        flags = re.IGNORECASE if self.case_insensitive else 0
        return re.compile("|".join(parts), flags) if parts else None

    def _pattern(self, text: str) -> re.Pattern[str] | None:
        """The pattern for ``text``: ``self.pattern`` unless the text has combining marks
        outside U+0300-U+036F (then one compiled per set of them, a few kept)."""
        marks = rare_marks(text) if self.pattern is not None else frozenset()
        if not marks:
            return self.pattern
        pattern = self._patterns.get(marks)
        if pattern is None:
            pattern = self._compile(marks)
            # a new dict rather than eviction in place: predictions may run on several threads
            patterns = dict(self._patterns) if len(self._patterns) < _MAX_PATTERNS else {}
            patterns[marks] = pattern
            self._patterns = patterns
        return pattern

    @classmethod
    def from_spans(cls, items: Iterable[tuple[str, str]], *, case_insensitive: bool = False,
                   exact_case: bool = False) -> LexiconPrelabeler:
        """Build from accepted ``(surface, label)`` pairs (see :meth:`from_decisions`)."""
        return cls.from_decisions(((s, lab, "accepted") for s, lab in items),
                                  case_insensitive=case_insensitive, exact_case=exact_case)

    @classmethod
    def from_decisions(cls, items: Iterable[tuple[str, str, str]], *,
                       case_insensitive: bool = False,
                       exact_case: bool = False) -> LexiconPrelabeler:
        """Build from ``(surface, label, status)`` decisions (``accepted``/``rejected``).

        A surface accepted at least once becomes an entry with its most accepted label
        (ties: alphabetical), scored ``(accepted with it + 1) / (decisions + 2)``."""
        first = not exact_case and not case_insensitive
        accepted: dict[str, Counter] = defaultdict(Counter)
        decisions: Counter[str] = Counter()
        display: dict[str, str] = {}
        for surface, label, status in items:
            surface = surface.strip()
            if not surface or status not in ("accepted", "rejected"):
                continue
            k = _key(surface, case_insensitive, first)
            decisions[k] += 1
            if status == "accepted":
                accepted[k][label] += 1
                display.setdefault(k, surface)
        entries: dict[str, str] = {}
        scores: dict[str, float] = {}
        for k, c in accepted.items():
            label, n = min(c.items(), key=lambda kv: (-kv[1], kv[0]))
            entries[display[k]] = label
            scores[display[k]] = smoothed_share(n, decisions[k])
        return cls(entries, case_insensitive=case_insensitive, exact_case=exact_case,
                   scores=scores)

    @classmethod
    def from_store(cls, store: StorePort, *, case_insensitive: bool = False,
                   exact_case: bool = False) -> LexiconPrelabeler:
        """Entries = the surfaces of the accepted continuous spans of the project, scored
        with every accepted and rejected span of the same text."""
        items = []
        for doc in store.iter_documents(span_status=["accepted", "rejected"]):
            for sp in doc.spans:
                if not sp.is_discontinuous:
                    items.append((doc.text[sp.start:sp.end], sp.label, sp.status))
        return cls.from_decisions(items, case_insensitive=case_insensitive,
                                  exact_case=exact_case)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "entries": len(self.entries)}

    def predict_docs(self, texts: Sequence[str]) -> list[DocPrediction]:
        out = []
        for text in texts:
            spans = []
            pattern = self._pattern(text)
            if pattern is not None:
                for m in pattern.finditer(text):
                    k = self._k(m.group())
                    label = self.entries.get(k)
                    if label is None:  # case folding changed the length: look it up slowly
                        continue
                    spans.append(Span(m.start(), m.end(), label, source=self.source,
                                      source_version=self.source_version,
                                      score=round(self.scores[k], 4),
                                      status=Status.PROPOSED.value))
            out.append(DocPrediction(spans=spans, windows=1 if text else 0, tokens=0,
                                     covered=(0, len(text))))
        return out
