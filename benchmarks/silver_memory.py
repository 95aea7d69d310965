"""Memory of ``annotator silver`` over a large corpus: the resident set sampled as documents
finish, against the process's size before the job (the baseline, same run).

    python benchmarks/silver_memory.py [--docs 100000] [--concurrency 64] [--latency 0.0]

The fake OpenAI-compatible server (a separate process) answers every request; documents are
short French clinical sentences. The job keeps at most 2 x C documents in flight and reads
the store 200 documents at a time, so the resident set must stay flat: the script prints
the RSS every tenth of the corpus and the growth from the first tenth to the end.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from silver import SENTENCES, start_fake  # noqa: E402

from annotator.jobs import drive  # noqa: E402
from annotator.llm.silver import silver_job  # noqa: E402
from annotator.model import Document  # noqa: E402
from db import Store  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--passes", type=int, default=2)
    a = ap.parse_args()
    rng = random.Random(5)
    proc, url = start_fake(a.latency)
    try:
        with tempfile.TemporaryDirectory() as tmp, Store(os.path.join(tmp, "m.db")) as st:
            st.import_documents([Document(text=" ".join(rng.sample(SENTENCES, 3)) + f" {i}",
                                          name=f"d{i}") for i in range(a.docs)])
            base = rss_mb()
            samples: list[tuple[int, float, float]] = []
            step = max(1, a.docs // 10)
            t0 = time.perf_counter()

            def seen(p) -> None:
                if p.done and (p.done % step == 0 or p.done == a.docs) and (
                        not samples or samples[-1][0] != p.done):
                    samples.append((p.done, rss_mb(), time.perf_counter() - t0))

            res = drive(silver_job(st, base_url=url, model="fake", schema="finemed-fr",
                                   passes=a.passes, concurrency=a.concurrency), seen)
            wall = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait()
    print(f"silver memory: {a.docs:,} documents x {a.passes} passes, C = {a.concurrency}, "
          f"L = {a.latency} s; {res.done:,} done, {res.failed} failed in {wall:.0f} s "
          f"({res.done * a.passes / wall:,.0f} doc-passes/s)")
    print(f"  baseline (store open, corpus imported, before the job): {base:7.1f} MB")
    for done, mb, at in samples:
        print(f"  {done:>9,} documents  {at:7.0f} s  RSS {mb:7.1f} MB")
    if len(samples) >= 2:
        print(f"  growth from the first tenth to the end: {samples[-1][1] - samples[0][1]:+.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
