"""Medical-entity density of a document, by two definitions (``METHODS``).

- ``union`` (the FineMed-fr card's wording, stored per document): characters covered by the
  union of its entity spans / characters of the document. Overlapping spans (one stretch of
  text with two labels, nested spans) count once; a discontinuous span counts its fragments
  only. Always in [0, 1].
- ``finemed`` (the FineMed code as published): over the unique extracted strings (across
  labels), sum ``text.count(string) * len(string)``, divided by the characters of the document.
  ``str.count`` counts every non-overlapping occurrence of the string, inside other words too
  and whether or not it was extracted there, and nested strings ("cancer", "cancer du sein")
  both count, so the value can exceed 1.

An empty document has no density (``None``).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from typing import Any

from annotator.model import Span

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
METHODS = ("union", "finemed")


def covered_chars(spans: Iterable[Span], length: int) -> int:
    """Characters of ``[0, length)`` inside at least one span (union of intervals)."""
    parts = sorted((max(0, s), min(length, e)) for sp in spans for s, e in sp.parts)
    total, cur_s, cur_e = 0, None, None
    for s, e in parts:
        if s >= e:
            continue
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total


def density(length: int, spans: Iterable[Span]) -> float | None:
    """``covered_chars / length`` in [0, 1]; ``None`` for an empty document."""
    if length <= 0:
        return None
    return covered_chars(spans, length) / length


def span_strings(text: str, spans: Iterable[Span]) -> set[str]:
    """The unique strings of ``spans`` in ``text`` (each fragment of a discontinuous span)."""
    return {text[s:e] for sp in spans for s, e in sp.parts if e > s}


def finemed_density(text: str, spans: Iterable[Span]) -> float | None:
    """FineMed's published density: sum over the unique span strings of
    ``text.count(string) * len(string)``, over ``len(text)``; ``None`` for an empty text."""
    if not text:
        return None
    return sum(text.count(s) * len(s) for s in span_strings(text, spans)) / len(text)


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default) of already sorted values."""
    if not sorted_values:
        return math.nan
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summarize(values: Iterable[float | None], bins: int = 10) -> dict[str, Any]:
    """Corpus summary: count, mean, median, min, max, standard deviation, quantiles and a
    histogram of ``bins`` equal bins over [0, 1] (the last bin includes 1.0 and any value
    above 1, also counted as ``above_one``). ``None``
    values (empty documents) are left out and counted as ``missing``."""
    values = list(values)
    vals = sorted(v for v in values if v is not None)
    missing = len(values) - len(vals)
    hist = [0] * bins
    for v in vals:
        hist[min(bins - 1, max(0, int(v * bins)))] += 1
    out: dict[str, Any] = {
        "count": len(vals),
        "missing": missing,
        "mean": statistics.fmean(vals) if vals else None,
        "median": statistics.median(vals) if vals else None,
        "min": vals[0] if vals else None,
        "max": vals[-1] if vals else None,
        "stdev": statistics.pstdev(vals) if vals else None,
        "quantiles": {f"p{round(q * 100)}": quantile(vals, q) for q in QUANTILES} if vals else {},
        "histogram": [{"lo": i / bins, "hi": (i + 1) / bins, "count": c}
                      for i, c in enumerate(hist)],
        "above_one": sum(1 for v in vals if v > 1),  # only the finemed method goes above 1
    }
    return out
