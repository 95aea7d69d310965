"""Split a document into overlapping windows measured in the model's own tokens.

Encoders see a fixed number of positions (512 for the FineMed extractor and the seed token
classifiers). A document is tokenized once; its tokens carry character offsets into the
document, and word ids so that a window never starts or ends inside a word. Windows hold at
most ``max_tokens`` text tokens (the caller subtracts special tokens and, for GLiNER2, the
label prompt) and overlap by about ``overlap`` tokens. Predictions are mapped back to
document offsets and duplicates from overlaps are merged (:func:`merge_spans`).

``mode="full"`` covers every token (never truncates); ``mode="middle"`` keeps only the
``middle_tokens`` tokens in the middle of the document (FineMed's density protocol) and
says so (``WindowPlan.truncated``).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

MODES = ("full", "middle")


@dataclass(frozen=True)
class TokenOffsets:
    """Character offsets ``[start, end)`` of each token of a document and the word it belongs
    to (tokens of one word share a word id; ``None`` = its own word)."""

    starts: list[int]
    ends: list[int]
    word_ids: list[int | None]

    def __len__(self) -> int:
        return len(self.starts)

    def is_word_start(self, i: int) -> bool:
        if i <= 0 or i >= len(self.starts):
            return True
        w = self.word_ids[i]
        return w is None or w != self.word_ids[i - 1]


@dataclass(frozen=True)
class Window:
    """Tokens ``[tok_start, tok_end)`` = characters ``[start, end)`` of the document."""

    index: int
    tok_start: int
    tok_end: int
    start: int
    end: int
    left_cut: bool   # another window (or a truncation) lies before; the left edge is a cut
    right_cut: bool  # same on the right

    @property
    def n_tokens(self) -> int:
        return self.tok_end - self.tok_start


@dataclass(frozen=True)
class WindowPlan:
    windows: list[Window]
    n_tokens: int
    truncated: bool
    covered: tuple[int, int]


def fast_token_offsets(tokenizer: Any, text: str) -> tuple[list[int], TokenOffsets]:
    """Token ids and offsets of ``text`` from a fast tokenizer's ``offset_mapping``
    (no special tokens). Tokens with an empty offset range (pure markers) are kept with
    the offsets of their neighbour so that ids and offsets stay aligned."""
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True,
                    truncation=False, verbose=False)
    ids = list(enc["input_ids"])
    try:
        word_ids = list(enc.word_ids())
    except (AttributeError, ValueError):  # slow tokenizer: no word ids
        word_ids = [None] * len(ids)
    starts, ends = [], []
    for s, e in enc["offset_mapping"]:
        starts.append(int(s))
        ends.append(int(e))
    return ids, TokenOffsets(starts, ends, word_ids)


def word_token_offsets(words: Iterable[tuple[int, int, int]]) -> TokenOffsets:
    """Offsets for models that tokenize word by word (GLiNER2): ``words`` yields
    ``(start, end, n_subword_tokens)``; each subword gets its word's offsets."""
    starts: list[int] = []
    ends: list[int] = []
    wids: list[int | None] = []
    for w, (s, e, k) in enumerate(words):
        for _ in range(max(k, 1)):  # a word with no subword still holds a slot in GLiNER2
            starts.append(s)
            ends.append(e)
            wids.append(w)
    return TokenOffsets(starts, ends, wids)


def _snap_down(tok: TokenOffsets, i: int, lo: int) -> int:
    """Largest word start in ``(lo, i]``, or ``i`` if the word is longer than the window."""
    j = i
    while j > lo and not tok.is_word_start(j):
        j -= 1
    return j if j > lo else i


def plan_windows(tok: TokenOffsets, max_tokens: int, *, overlap: int = 64,
                 mode: str = "full", middle_tokens: int = 512) -> WindowPlan:
    """Cover the tokens with windows of at most ``max_tokens`` tokens.

    Windows start and end on word boundaries (a word longer than a window is split, the
    only case where a window boundary falls inside a word). Consecutive windows share about
    ``overlap`` tokens. In ``middle`` mode only the central ``middle_tokens`` tokens are
    covered (then windowed the same way if they do not fit in one window).
    """
    if mode not in MODES:
        raise ValueError(f"unknown window mode {mode!r}; expected one of {', '.join(MODES)}")
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    overlap = max(0, min(overlap, max_tokens // 2))
    n = len(tok)
    lo, hi = 0, n
    if mode == "middle" and n > middle_tokens:
        lo = (n - middle_tokens) // 2
        while lo > 0 and not tok.is_word_start(lo):
            lo -= 1
        hi = min(n, lo + middle_tokens)
        hi = _snap_down(tok, hi, lo) if hi < n else hi
    truncated = lo > 0 or hi < n
    windows: list[Window] = []
    a = lo
    while a < hi:
        b = min(hi, a + max_tokens)
        if b < hi:
            b = _snap_down(tok, b, a)
        windows.append(Window(len(windows), a, b, tok.starts[a], tok.ends[b - 1],
                              left_cut=a > 0, right_cut=b < n))
        if b >= hi:
            break
        nxt = _snap_down(tok, max(b - overlap, a + 1), a) if overlap else b
        a = nxt if a < nxt <= b else b
    covered = (tok.starts[lo], tok.ends[hi - 1]) if hi > lo else (0, 0)
    return WindowPlan(windows, n, truncated, covered)


@dataclass
class Candidate:
    """A predicted span in document offsets, before merging overlaps."""

    start: int
    end: int
    label: str
    score: float
    window: int = 0
    edge: float = math.inf  # characters to the nearest cut window edge

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.label, self.start, self.end)


def edge_distance(start: int, end: int, win: Window) -> float:
    """Characters between a span and the nearest edge of ``win`` that is a cut."""
    d = math.inf
    if win.left_cut:
        d = min(d, start - win.start)
    if win.right_cut:
        d = min(d, win.end - end)
    return float(d)


def merge_spans(cands: Sequence[Candidate]) -> list[Candidate]:
    """Merge predictions from overlapping windows.

    Identical spans (same label and offsets) are kept once with the maximum score. When
    spans of one label from *different* windows overlap without being identical, the one
    farther from a cut window edge wins (a span near an edge may be truncated context);
    overlapping spans from the same window are the model's own output and all kept.
    The result is sorted by ``(start, end, label)``.
    """
    by_key: dict[tuple[str, int, int], Candidate] = {}
    windows_of: dict[tuple[str, int, int], set[int]] = {}
    for c in cands:
        k = c.key
        windows_of.setdefault(k, set()).add(c.window)
        old = by_key.get(k)
        if old is None:
            by_key[k] = Candidate(c.start, c.end, c.label, c.score, c.window, c.edge)
        else:
            old.score = max(old.score, c.score)
            if c.edge > old.edge:
                old.edge, old.window = c.edge, c.window
    order = sorted(by_key.values(), key=lambda c: (-c.edge, -c.score, c.start, c.end, c.label))
    kept: list[Candidate] = []
    starts: dict[str, list[int]] = {}  # per label: sorted starts of kept spans
    spans_at: dict[str, list[Candidate]] = {}  # per label: kept spans in the same order
    longest: dict[str, int] = {}
    for c in order:
        wins = windows_of[c.key]
        ss, cs = starts.setdefault(c.label, []), spans_at.setdefault(c.label, [])
        lo = bisect.bisect_left(ss, c.start - longest.get(c.label, 0))
        hi = bisect.bisect_left(ss, c.end)
        clash = any(k.end > c.start and not (windows_of[k.key] & wins) for k in cs[lo:hi])
        if not clash:
            kept.append(c)
            i = bisect.bisect_right(ss, c.start)
            ss.insert(i, c.start)
            cs.insert(i, c)
            longest[c.label] = max(longest.get(c.label, 0), c.end - c.start)
    kept.sort(key=lambda c: (c.start, c.end, c.label))
    return kept
