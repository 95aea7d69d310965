"""Split long documents into overlapping character windows for the LLM.

Windows cut on sentence ends when possible, else on whitespace, else hard. Each window is
``(start, end)`` into the text; consecutive windows overlap by about ``overlap`` characters so
that a mention cut by one window is whole in the next. Spans found in several windows are merged
by the caller (same ``(start, end, label)`` kept once).
"""

from __future__ import annotations

import re

CHARS_PER_TOKEN = 4  # rough figure for French text with common BPE tokenizers
_SENT_END = re.compile(r"[.!?;:\n]\s+")


def _cut(text: str, lo: int, hi: int, default: int) -> int:
    """Best cut position in ``(lo, hi]``: after the last sentence end, else after the last
    whitespace, else ``default``."""
    best = -1
    for m in _SENT_END.finditer(text, lo, hi):
        best = m.end()
    if best > lo:
        return best
    ws = max(text.rfind(" ", lo, hi), text.rfind("\n", lo, hi))
    return ws + 1 if ws > lo else default


def split_windows(text: str, max_chars: int, overlap: int | None = None) -> list[tuple[int, int]]:
    """Windows of at most ``max_chars`` characters covering ``text`` (one if it fits)."""
    n = len(text)
    if max_chars <= 0:
        raise ValueError("max_chars must be positive")
    if n <= max_chars:
        return [(0, n)]
    overlap = max_chars // 10 if overlap is None else overlap
    overlap = min(overlap, max_chars // 2)
    out: list[tuple[int, int]] = []
    start = 0
    while start < n:
        hard_end = min(start + max_chars, n)
        end = hard_end if hard_end == n else _cut(text, start + max_chars // 2, hard_end, hard_end)
        out.append((start, end))
        if end >= n:
            break
        lo = max(end - overlap, start + 1)
        nxt = _cut(text, lo, end - 1, lo) if overlap else end
        start = max(nxt, start + 1)
    return out
