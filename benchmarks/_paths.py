"""Imported first by the benchmarks (their folder is on ``sys.path`` when one runs as a
script): the repository, its tests' helpers (tiny models, fixtures) and this folder on the
path, and no model hub."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / "tests", ROOT / "tests" / "annotator", ROOT / "benchmarks"):  # last first
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
