"""Label every occurrence of strings already accepted in the project ("label all occurrences").

Matching is on whole words: an entry that begins (ends) with a word character must not be
preceded (followed) by a word character or a combining mark, Unicode-aware, so accented
French words match as words ("rénale" does not match inside "surrénale"). Longer entries win
where entries overlap at one position; matches do not overlap each other. Case-insensitive
matching is optional (simple case folding, as ``re.IGNORECASE``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from annotator.model import Source, Span, Status

from .base import DocPrediction, Prelabeler

_WORDCHAR = re.compile(r"[\w\u0300-\u036f]")
_NOT_BEFORE = r"(?<![\w\u0300-\u036f])"
_NOT_AFTER = r"(?![\w\u0300-\u036f])"


def _key(s: str, ci: bool) -> str:
    return s.lower() if ci else s


class LexiconPrelabeler(Prelabeler):
    """Proposes ``label`` for every whole-word occurrence of each ``surface`` in ``entries``.

    ``entries`` maps a surface string to its label. Score is 1.0.
    """

    source = Source.LEXICON.value

    def __init__(self, entries: Mapping[str, str], *, case_insensitive: bool = False):
        self.case_insensitive = bool(case_insensitive)
        self.entries: dict[str, str] = {}  # matching key -> label
        surfaces: list[str] = []
        for surface, label in entries.items():
            k = _key(surface, self.case_insensitive)
            if surface.strip() == surface and surface and k not in self.entries:
                self.entries[k] = label
                surfaces.append(surface)
        surfaces.sort(key=lambda s: (-len(s), s))  # longest first: it wins at one position
        parts = [(_NOT_BEFORE if _WORDCHAR.match(s[0]) else "") + re.escape(s)
                 + (_NOT_AFTER if _WORDCHAR.match(s[-1]) else "") for s in surfaces]
        flags = re.IGNORECASE if self.case_insensitive else 0
        self.pattern = re.compile("|".join(parts), flags) if parts else None
        blob = json.dumps(sorted(self.entries.items()), ensure_ascii=False)
        digest = hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]
        self.source_version = (f"lexicon@{digest};entries={len(self.entries)};"
                               f"case_insensitive={int(self.case_insensitive)}")

    @classmethod
    def from_spans(cls, items: Iterable[tuple[str, str]], *,
                   case_insensitive: bool = False) -> LexiconPrelabeler:
        """Build from ``(surface, label)`` pairs; a surface seen with several labels gets its
        most frequent one (ties: alphabetical)."""
        counts: dict[str, Counter] = defaultdict(Counter)
        display: dict[str, str] = {}
        for surface, label in items:
            surface = surface.strip()
            if surface:
                k = _key(surface, case_insensitive)
                counts[k][label] += 1
                display.setdefault(k, surface)
        entries = {display[k]: min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0]
                   for k, c in counts.items()}
        return cls(entries, case_insensitive=case_insensitive)

    @classmethod
    def from_store(cls, store: Any, *, case_insensitive: bool = False) -> LexiconPrelabeler:
        """Entries = the surfaces of every accepted continuous span in the project."""
        pairs = []
        for doc in store.iter_documents(span_status="accepted"):
            for sp in doc.spans:
                if not sp.is_discontinuous:
                    pairs.append((doc.text[sp.start:sp.end], sp.label))
        return cls.from_spans(pairs, case_insensitive=case_insensitive)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "entries": len(self.entries)}

    def predict_docs(self, texts: Sequence[str]) -> list[DocPrediction]:
        out = []
        for text in texts:
            spans = []
            if self.pattern is not None:
                for m in self.pattern.finditer(text):
                    label = self.entries.get(_key(m.group(), self.case_insensitive))
                    if label is None:  # case folding changed the length: look it up slowly
                        continue
                    spans.append(Span(m.start(), m.end(), label, source=self.source,
                                      source_version=self.source_version, score=1.0,
                                      status=Status.PROPOSED.value))
            out.append(DocPrediction(spans=spans, windows=1 if text else 0, tokens=0,
                                     covered=(0, len(text))))
        return out
