"""Deterministic document splits (``train=0.8,dev=0.1,test=0.1``).

A document's split depends only on the seed and its content hash, never on the order or the
number of other documents: documents are ranked by ``sha256(f"{seed}:{hash}")`` and the
ranking is cut by the ratios (largest-remainder rounding, so the sizes sum to the total).
Ratios must sum to 1 (nothing is rescaled); a split export writes into a named folder.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from annotator.errors import AnnotatorError

RATIO_TOLERANCE = 1e-6
DEFAULT_SPLIT = "train=0.8,dev=0.1,test=0.1"  # what train holds out, and evaluate --ratios


def parse_split(spec: str) -> dict[str, float]:
    """``"train=0.8,dev=0.1,test=0.1"`` -> ordered ``{name: ratio}``.

    The ratios must sum to 1 (within 1e-6): nothing is rescaled, so ``train=0.8,test=0.3``
    and a lone ``train=0.5`` (which would leave half of the documents out) are refused.
    """
    out: dict[str, float] = {}
    for part in spec.split(","):
        name, sep, value = part.strip().partition("=")
        name = name.strip()
        try:
            ratio = float(value)
        except ValueError:
            ratio = -1.0
        if not sep or not name or not 0 <= ratio <= 1 or name in out:
            raise AnnotatorError(f"bad --split {spec!r}: expected name=ratio,name=ratio,... "
                                 "with ratios between 0 and 1")
        out[name] = ratio
    total = sum(out.values())
    if abs(total - 1) > RATIO_TOLERANCE:
        if len(out) == 1:
            name, ratio = next(iter(out.items()))
            raise AnnotatorError(
                f"bad --split {spec!r}: a single split of {ratio:g} would leave "
                f"{1 - ratio:.0%} of the documents out; name the rest "
                f"({name}={ratio:g},test={1 - ratio:g}) or use {name}=1")
        raise AnnotatorError(f"bad --split {spec!r}: the ratios sum to {total:g}, not 1 "
                             "(they are not rescaled)")
    return out


# what an export file name ends with: --split writes into a folder, never to one of these
_FILE_SUFFIXES = {".jsonl", ".json", ".txt", ".ann", ".conll", ".bio", ".iob", ".tsv",
                  ".csv", ".spacy", ".gz", ".zip", ".xml"}


def check_split_folder(out: str | Path, file_suffixes: Iterable[str] = ()) -> Path:
    """The folder a split export writes into (one file or folder per split inside it).

    Refused: an existing file, and a path that does not exist yet and ends like a file name
    (``.jsonl``, the format's own extension, ...): ``--split`` would otherwise make a folder
    called ``train.jsonl``.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise AnnotatorError(f"--split writes one file per split into a folder, and {out} is "
                             "an existing file: give --out a folder")
    suffixes = _FILE_SUFFIXES | {s.lower() for s in file_suffixes if s}
    if not out.exists() and out.suffix.lower() in suffixes:
        raise AnnotatorError(f"--split writes one file per split into a folder, and {out} "
                             f"looks like a file name ({out.suffix}): give --out a folder, "
                             f"e.g. {out.with_suffix('')}")
    return out


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
