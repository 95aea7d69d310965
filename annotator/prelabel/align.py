"""Check that predicted offsets point at the predicted surface; repair whitespace slips.

Models report ``(start, end, surface)``. A span is stored only when
``text[start:end] == surface`` holds. Slips are repaired when the fix is unambiguous:
surrounding whitespace included in the offsets or the surface, or offsets shifted by a few
characters around whitespace. Anything else is dropped and counted, never stored wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

# how far (in characters) a repair may move an offset
MAX_SHIFT = 2


@dataclass
class AlignStats:
    kept: int = 0
    repaired: int = 0
    dropped: int = 0

    def add(self, other: AlignStats) -> None:
        self.kept += other.kept
        self.repaired += other.repaired
        self.dropped += other.dropped


def align_span(text: str, start: int, end: int,
               surface: str | None = None) -> tuple[int, int] | None:
    """Return ``(start, end)`` such that ``text[start:end]`` is the (stripped) surface.

    ``surface=None`` means the model gave no surface: the offsets are only trimmed of
    surrounding whitespace. Returns ``None`` when no safe repair exists (the caller drops
    the span). The returned span is never empty nor whitespace-only.
    """
    n = len(text)
    if surface is None:
        s, e = max(0, start), min(n, end)
        if s >= e:
            return None
        surface = text[s:e]
    if start is not None and end is not None and 0 <= start < end <= n \
            and text[start:end] == surface and surface.strip() == surface and surface:
        return start, end
    target = surface.strip()
    if not target:
        return None
    s, e = max(0, min(start, n)), max(0, min(end, n))
    # 1) whitespace around the offsets or around the surface
    if s < e:
        seg = text[s:e]
        if seg.strip() == target:
            s2 = s + (len(seg) - len(seg.lstrip()))
            return s2, s2 + len(target)
    # 2) offsets shifted by up to MAX_SHIFT characters: nearest exact occurrence
    lo, hi = max(0, s - MAX_SHIFT), min(n, s + MAX_SHIFT + len(target))
    best: int | None = None
    i = text.find(target, lo, hi)
    while i != -1 and i <= s + MAX_SHIFT:
        if abs(i - s) <= MAX_SHIFT and abs(i + len(target) - e) <= MAX_SHIFT \
                and (best is None or abs(i - s) < abs(best - s)):
            best = i
        i = text.find(target, i + 1, hi)
    if best is not None:
        return best, best + len(target)
    return None


def check_or_repair(text: str, start: int, end: int, surface: str | None,
                    stats: AlignStats) -> tuple[int, int] | None:
    """:func:`align_span` that counts the outcome in ``stats`` (kept, repaired or dropped)."""
    got = align_span(text, start, end, surface)
    if got is None:
        stats.dropped += 1
    elif got == (start, end) and (surface is None or text[start:end] == surface):
        stats.kept += 1
    else:
        stats.repaired += 1
    return got
