"""Words as the GLiNER trainers split them, so exports can say what a trainer will read.

gliner (v1) and gliner2 split text into words with a regular expression before subword
tokenization, and a training mention is mapped onto those words: a mention whose ends fall
inside a word is moved to that word's boundaries by gliner2 (``char_span_to_word_boundaries``),
and a plain-string mention is found as a sequence of lower-cased words. The patterns below are
the trainers' own (``gliner.data_processing.tokenizer.WhitespaceTokenSplitter`` and
``gliner2.processing.word_splitter.WhitespaceTokenSplitter``), used here as data so that an
export does not import torch; ``tests/annotator/test_trainer_words.py`` checks them against
gliner2's splitter.

Neither pattern can match whitespace, so the words of a whitespace-delimited chunk depend on
that chunk only: a mention is checked by splitting just the chunks it touches.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Iterator
from functools import cache

# gliner v1: words joined by - or _, else any single non-space character
GLINER_WORD_RE = re.compile(r"\w+(?:[-_]\w+)*|\S")


@cache
def gliner2_word_re() -> re.Pattern[str]:
    """gliner2's default word pattern (URLs, e-mails, @handles, words with combining marks
    and zero-width joiners joined by - or _, else one non-space character)."""
    marks = "".join(chr(c) for c in range(sys.maxunicode + 1)
                    if unicodedata.category(chr(c)).startswith("M"))
    word = rf"[\w{marks}\u200c\u200d]"
    return re.compile(
        rf"""(?:https?://[^\s]+|www\.[^\s]+)
        |[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{{2,}}
        |@[a-z0-9_]+
        |{word}+(?:[-_]{word}+)*
        |\S""",
        re.VERBOSE | re.IGNORECASE,
    )


def words(text: str, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    """``(start, end)`` of every word of ``text`` under ``pattern``."""
    return [(m.start(), m.end()) for m in pattern.finditer(text)]


def _chunk(text: str, start: int, end: int) -> tuple[int, int]:
    """The whitespace-delimited stretch of ``text`` around ``[start, end)``."""
    a = start
    while a > 0 and not text[a - 1].isspace():
        a -= 1
    b = end
    n = len(text)
    while b < n and not text[b].isspace():
        b += 1
    return a, b


def on_word_boundaries(text: str, start: int, end: int, pattern: re.Pattern[str]) -> bool:
    """True when ``[start, end)`` starts at the start of a word and ends at the end of one."""
    a, b = _chunk(text, start, end)
    starts, ends = set(), set()
    for m in pattern.finditer(text, a, b):
        starts.add(m.start())
        ends.add(m.end())
    return start in starts and end in ends


def snapped(text: str, start: int, end: int, pattern: re.Pattern[str]) -> tuple[int, int]:
    """The word boundaries a trainer moves ``[start, end)`` to: from the start of the word
    holding ``start`` to the end of the word holding ``end - 1``."""
    a, b = _chunk(text, start, end)
    toks = [(m.start(), m.end()) for m in pattern.finditer(text, a, b)]
    s = next((ts for ts, te in toks if ts <= start < te), start)
    e = next((te for ts, te in reversed(toks) if ts < end <= te), end)
    return s, e


def lowered_words(text: str, pattern: re.Pattern[str]) -> list[str]:
    return [m.group().lower() for m in pattern.finditer(text)]


def contains_words(haystack: list[str], needle: list[str]) -> bool:
    """True when the word sequence ``needle`` occurs in ``haystack`` (gliner2's sublist
    search for plain-string mentions)."""
    n = len(needle)
    if not n:
        return False
    first = needle[0]
    return any(haystack[i:i + n] == needle
               for i in range(len(haystack) - n + 1) if haystack[i] == first)


def windows(n_words: int, max_words: int, overlap: int) -> Iterator[tuple[int, int]]:
    """Word-index windows ``[a, b)`` of at most ``max_words`` covering ``n_words``, each
    starting ``max_words - overlap`` after the previous one."""
    if n_words <= max_words:
        yield 0, n_words
        return
    step = max(1, max_words - overlap)
    a = 0
    while True:
        b = min(a + max_words, n_words)
        yield a, b
        if b >= n_words:
            return
        a += step
