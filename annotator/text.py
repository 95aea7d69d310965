"""What a word is, once: word characters, words, tokens, word boundaries and word snapping.

Every part of the tool that asks "is this a word?" asks here: importers locating strings
(``find_all``: CSV, GLiNER2), the CoNLL exporter and token-level agreement (``tokens``), the
lexicon pre-labeler (``lookarounds``), LLM grounding (``bounded``) and the GUI (``snap_to_words``,
``word_step``). Offsets are ``[start, end)`` Python code-point indices into the text exactly as
stored; nothing here normalises text.

The definition:

- A **word character** is a Unicode letter or digit (``str.isalnum``), a combining mark
  (category ``M*``, so ``"e\\u0301"`` -- é written as e + U+0301 -- stays one word) or the
  underscore. The underscore is a word character because it joins the pieces of one unit in
  clinical exports (MIMIC's ``___`` de-identification blanks, ``NOM_PATIENT`` placeholders) and
  because Python's ``\\w`` -- what CSV import, the lexicon and evaluation already used -- counts
  it. The modifier-letter apostrophe U+02BC is a letter to Unicode but an apostrophe to a French
  reader, so it is *not* a word character.
- **Apostrophes** (``'``, U+2019, U+02BC) separate words: French elision ``l'infection``,
  ``d’une`` is ``l`` + ``'`` + ``infection``, so ``infection`` is word-bounded inside it.
- **Hyphens** separate words too: ``anti-inflammatoire`` is two words joined by ``-``. A lexicon
  entry or LLM mention ``anti-inflammatoire`` matches whole, and ``inflammatoire`` also matches
  inside it (as all string matching here always did: a clinician's lexicon entry is a proposal
  to review, and an import must find ``COVID`` in ``COVID-19`` when a CSV says so). Snapping a
  selection inside one part gives that part; a selection that crosses or stops on the hyphen
  gives the whole compound (see ``snap_to_words``).
- **Whitespace** is ``str.isspace``: ASCII spaces, CR and LF (so CRLF is never at a snapped
  span's edge), NBSP U+00A0, U+2005 and the other Unicode spaces, U+202F.
- **Zero-width characters** (``ZERO_WIDTH``: soft hyphen U+00AD, U+200B, U+200C, U+200D,
  U+2060, U+FEFF) are invisible: neither word characters nor tokens. They separate words, are
  trimmed from a snapped selection's edges and are never a token of their own.
- A **token** is a word (a maximal run of word characters) or any other single character that
  is neither whitespace nor zero-width (punctuation, symbols, each on its own).

Not ours, and deliberately left alone: ``annotator.formats.trainer_words`` (``GLINER_WORD_RE``,
``gliner2_word_re``) reproduces how the gliner/gliner2 trainers split text -- a data contract
with those trainers, not our notion of a word -- and ``annotator.llm.finemed`` cuts text at
``\\S+``, FineMed's published ``text.split()`` protocol.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import cache, lru_cache

ZERO_WIDTH = frozenset("\u00ad\u200b\u200c\u200d\u2060\ufeff")
APOSTROPHES = frozenset("'\u2019\u02bc")
HYPHENS = frozenset("-\u2010\u2011")
# punctuation trimmed from the edges of a selection before snapping (besides whitespace and
# zero-width characters)
EDGE_PUNCT = frozenset(",;:!?\"()[]{}«»\u201c\u201d") | APOSTROPHES

_NOT_WORD_LETTERS = "\u02bc"  # isalnum() but an apostrophe to a reader
# Combining marks exist only in planes 0-1 and in plane 14 (variation selectors); the test
# suite checks that this scan finds every mark Python's unicodedata knows.
_MARK_PLANES = (range(0x0, 0x20000), range(0xE0000, 0xE1000))
_BASIC_MARKS = (0x300, 0x36F)  # Combining Diacritical Marks: all a French text needs


def is_word_char(ch: str) -> bool:
    """True for a letter or digit (``str.isalnum``, except U+02BC), a combining mark
    (category ``M*``) or ``_``."""
    if ch.isalnum():
        return ch not in _NOT_WORD_LETTERS
    return ch == "_" or unicodedata.category(ch)[0] == "M"


def is_blank(ch: str) -> bool:
    """True for whitespace (``str.isspace``: CR, LF, NBSP, U+2005 ...) and zero-width
    characters: what separates words and is never part of a token."""
    return ch.isspace() or ch in ZERO_WIDTH


# ---------------------------------------------------------------------- regex building blocks
@cache
def _mark_ranges() -> tuple[tuple[int, int], ...]:
    """Every combining mark (category ``M*``) as inclusive code-point ranges."""
    out: list[list[int]] = []
    cat = unicodedata.category
    for plane in _MARK_PLANES:
        for cp in plane:
            if cat(chr(cp))[0] == "M":
                if out and out[-1][1] == cp - 1:
                    out[-1][1] = cp
                else:
                    out.append([cp, cp])
    return tuple((a, b) for a, b in out)


def _esc(cp: int) -> str:
    """``cp`` as a regex escape (readable where the character itself is a combining mark)."""
    return f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"


def _class_body(ranges: Iterable[tuple[int, int]]) -> str:
    return "".join(_esc(a) if a == b else f"{_esc(a)}-{_esc(b)}" for a, b in ranges)


@cache
def _word_char_re() -> str:
    """A regex matching exactly one word character (``is_word_char``)."""
    apos = _class_body((ord(c), ord(c)) for c in _NOT_WORD_LETTERS)
    return rf"(?:[^\W{apos}]|[{_class_body(_mark_ranges())}])"


@cache
def _rare_mark_re() -> re.Pattern[str]:
    lo, hi = _BASIC_MARKS
    return re.compile(f"[{_class_body(r for r in _mark_ranges() if not lo <= r[0] <= hi)}]")


@cache
def _word_run_re() -> re.Pattern[str]:
    return re.compile(_word_char_re() + "+")


@cache
def _token_re() -> re.Pattern[str]:
    blank = _class_body((ord(c), ord(c)) for c in sorted(ZERO_WIDTH))
    return re.compile(rf"{_word_char_re()}+|[^\s{blank}]")


def rare_marks(text: str) -> frozenset[str]:
    """The combining marks of ``text`` outside U+0300-U+036F (see :func:`lookarounds`)."""
    return frozenset(_rare_mark_re().findall(text))


@lru_cache(maxsize=64)
def lookarounds(marks: frozenset[str] = frozenset()) -> tuple[str, str]:
    """``(NOT_BEFORE, NOT_AFTER)``: regex fragments asserting that no word character
    (``is_word_char``) precedes / follows, exact for any text whose combining marks outside
    U+0300-U+036F are among ``marks`` (``rare_marks(text)``; none in ordinary French).

    Short on purpose: a lexicon repeats them around each of thousands of alternatives, where
    the full class of every combining mark would make the pattern megabytes long.
    """
    extra = _class_body((ord(m), ord(m)) for m in sorted(marks))
    word = rf"[\w{_class_body([_BASIC_MARKS])}{extra}]"
    apos = _class_body((ord(c), ord(c)) for c in _NOT_WORD_LETTERS)
    return rf"(?:(?<!{word})|(?<=[{apos}]))", rf"(?:(?!{word})|(?=[{apos}]))"


# ---------------------------------------------------------------------- words and tokens
def words(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every word: maximal runs of word characters."""
    return [m.span() for m in _word_run_re().finditer(text)]


def tokens(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every token: the words, and each other character that is neither
    whitespace nor zero-width, on its own (``"l'état."`` -> ``l``, ``'``, ``état``, ``.``)."""
    return [m.span() for m in _token_re().finditer(text)]


def bounded(text: str, start: int, end: int) -> bool:
    """True unless ``[start, end)`` cuts a word at either edge: an edge is only checked
    where the span itself begins (ends) with a word character."""
    if start > 0 and is_word_char(text[start]) and is_word_char(text[start - 1]):
        return False
    return not (end < len(text) and is_word_char(text[end - 1]) and is_word_char(text[end]))


def find_all(text: str, needle: str, *, word_boundary: bool = True,
             ignore_case: bool = False) -> list[tuple[int, int]]:
    """All non-overlapping occurrences of ``needle``, leftmost first (code-point offsets).
    With ``word_boundary`` an occurrence must be :func:`bounded` (``"il"`` is not found
    inside ``"fil"``, ``"infection"`` is found in ``"l'infection"``); ``ignore_case`` folds
    letters as ``re.IGNORECASE`` does."""
    if not needle:
        return []
    out: list[tuple[int, int]] = []
    if ignore_case:
        pat = re.compile(re.escape(needle), re.IGNORECASE)

        def search(pos: int) -> tuple[int, int] | None:
            m = pat.search(text, pos)
            return m.span() if m else None
    else:
        def search(pos: int) -> tuple[int, int] | None:
            i = text.find(needle, pos)
            return (i, i + len(needle)) if i != -1 else None
    pos = 0
    while (hit := search(pos)) is not None:
        s, e = hit
        if not word_boundary or bounded(text, s, e):
            out.append(hit)
            pos = e
        else:
            pos = s + 1
    return out


# ---------------------------------------------------------------------- snapping (GUI)
def _joint(text: str, i: int) -> bool:
    """True when ``text[i]`` is a hyphen between two word characters (a compound's joint)."""
    return (0 < i < len(text) - 1 and text[i] in HYPHENS
            and is_word_char(text[i - 1]) and is_word_char(text[i + 1]))


def _trimmed(ch: str) -> bool:
    return is_blank(ch) or ch in EDGE_PUNCT


def snap_to_words(text: str, start: int, end: int) -> tuple[int, int]:
    """Trim whitespace (CR and LF included), zero-width characters and edge punctuation from
    ``[start, end)``, then grow each end to the boundary of the word it cuts.

    A hyphen is a boundary, so a selection inside ``inflammatoire`` of ``anti-inflammatoire``
    gives ``inflammatoire``; an edge that crosses or stops on the compound's hyphen takes in
    the part beyond it (``"nti-"`` gives ``anti-inflammatoire``). An apostrophe is a boundary
    (``snap_to_words("l'hypertension", 3, 7) == (2, 14)``). Returns ``(start, end)``;
    ``start == end`` when nothing but whitespace/punctuation was selected.
    """
    start, end = max(0, min(start, end)), min(len(text), max(start, end))
    while start < end and _trimmed(text[start]):
        start += 1
    while end > start and _trimmed(text[end - 1]):
        end -= 1
    if start == end:
        return start, start
    if _joint(text, start):
        start -= 1
    if is_word_char(text[start]):
        while start > 0 and is_word_char(text[start - 1]):
            start -= 1
    if _joint(text, end - 1):
        end += 1
    if is_word_char(text[end - 1]):
        while end < len(text) and is_word_char(text[end]):
            end += 1
    return start, end


def word_step(text: str, pos: int, direction: int, *, edge: str = "end") -> int:
    """The next word boundary from ``pos`` going ``direction`` (+1 right, -1 left).

    ``edge="end"`` lands on the end of a word (where a span may end), ``edge="start"`` on the
    start of one (where a span may begin); words are those of :func:`words` (a hyphen and an
    apostrophe are boundaries, combining marks belong to their letter, zero-width characters
    are gaps). When no word lies that way, ``pos`` is returned unchanged.
    ``word_step("la fièvre aiguë", 2, +1) == 9`` (end of "fièvre").
    """
    n = len(text)
    pos = max(0, min(pos, n))
    w = is_word_char
    i = pos
    if direction > 0:
        if edge == "end":  # over the gap, then over the next word
            while i < n and not w(text[i]):
                i += 1
            if i == n:
                return pos
            while i < n and w(text[i]):
                i += 1
            return i
        while i < n and w(text[i]):  # start: past this word, then the gap
            i += 1
        while i < n and not w(text[i]):
            i += 1
        return i if i < n else pos
    if edge == "start":  # back over the gap, then over the previous word
        while i > 0 and not w(text[i - 1]):
            i -= 1
        if i == 0:
            return pos
        while i > 0 and w(text[i - 1]):
            i -= 1
        return i
    while i > 0 and w(text[i - 1]):  # end: back over this word, then the gap
        i -= 1
    while i > 0 and not w(text[i - 1]):
        i -= 1
    return i if i > 0 else pos
