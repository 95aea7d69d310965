"""Deterministic document splits (``train=0.8,dev=0.1,test=0.1``).

A document's split depends only on the seed and its content hash, never on the order or the
number of other documents: documents are ranked by ``sha256(f"{seed}:{hash}")`` and the
ranking is cut by the ratios (largest-remainder rounding, so the sizes sum to the total).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from annotator.errors import AnnotatorError


def parse_split(spec: str) -> dict[str, float]:
    """``"train=0.8,dev=0.1,test=0.1"`` -> ordered ``{name: ratio}`` (ratios sum to 1)."""
    out: dict[str, float] = {}
    for part in spec.split(","):
        name, sep, value = part.strip().partition("=")
        try:
            ratio = float(value)
        except ValueError:
            ratio = -1.0
        if not sep or not name or ratio < 0 or name in out:
            raise AnnotatorError(f"bad --split {spec!r}: expected name=ratio,name=ratio,...")
        out[name] = ratio
    total = sum(out.values())
    if total <= 0:
        raise AnnotatorError(f"bad --split {spec!r}: ratios sum to 0")
    return {k: v / total for k, v in out.items()}


def split_sizes(n: int, ratios: dict[str, float]) -> dict[str, int]:
    raw = {k: n * r for k, r in ratios.items()}
    sizes = {k: int(v) for k, v in raw.items()}
    rest = n - sum(sizes.values())
    for k in sorted(raw, key=lambda k: raw[k] - sizes[k], reverse=True)[:rest]:
        sizes[k] += 1
    return sizes


def assign_splits(hashes: Sequence[str], ratios: dict[str, float], seed: int = 42) -> list[str]:
    """The split name of each document (same order as ``hashes``)."""
    order = sorted(range(len(hashes)),
                   key=lambda i: hashlib.sha256(f"{seed}:{hashes[i]}".encode()).digest())
    names: list[str] = [""] * len(hashes)
    pos = 0
    for name, size in split_sizes(len(hashes), ratios).items():
        for i in order[pos:pos + size]:
            names[i] = name
        pos += size
    return names
