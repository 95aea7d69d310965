"""Throughput of ``annotator silver`` against a local OpenAI-compatible server with a fixed
latency L per request (the fault-injecting fake server, a separate process, threading: its
capacity grows with connections).

For each concurrency C, N documents are silver-labelled (both passes) into a fresh database;
the stored spans must be identical to the sequential run (C = 1). Target: at least
0.8 x C / L requests/s, i.e. 0.8 x C / L documents/s per pass, up to the server's capacity:
the same number of bare chat-completion requests sent by the ``openai`` client alone at
concurrency C (no prompts, grounding or storage) measures what the server and this machine can
serve, and the target is 0.8 x min(C / L, capacity).

Run: python benchmarks/silver.py [--docs 48] [--latency 0.2] [--concurrency 1 4 8 16]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotator.jobs import drive
from annotator.llm.silver import silver_job
from annotator.model import Document
from db import Store

SENTENCES = [
    "Patient hospitalisé pour une pneumonie traitée par amoxicilline.",
    "Diabète de type 2 sous insuline, glycémie instable.",
    "L'IRM montre une tumeur ; le scanner thoracique est normal.",
    "Fièvre persistante malgré le paracétamol, hypertension connue.",
    "Douleur au niveau du rein droit, cœur de taille normale.",
]


def corpus(n: int) -> list[Document]:
    return [Document(text=f"Observation {i}. " + " ".join(SENTENCES[(i + k) % 5]
                                                            for k in range(1 + i % 4)),
                     name=f"doc{i}") for i in range(n)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_fake(latency: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "annotator.llm.fake_server", "--port",
                             str(port), "--latency", str(latency)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return proc, f"http://127.0.0.1:{port}/v1"
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit("fake server did not start")


def run_once(url: str, docs: list[Document], concurrency: int, passes: int, tmp: str):
    db = os.path.join(tmp, f"c{concurrency}.db")
    with Store(db) as st:
        st.import_documents([Document(text=d.text, name=d.name) for d in docs])
        t0 = time.perf_counter()
        res = drive(silver_job(st, base_url=url, model="fake", schema="finemed-fr",
                               passes=passes, concurrency=concurrency))
        wall = time.perf_counter() - t0
        assert res.failed == 0 and res.done == len(docs), res.failures
        spans = sorted((d.name, s.start, s.end, s.label, s.source)
                       for d in st.iter_documents() for s in d.spans)
    return wall, spans, res


def raw_capacity(url: str, concurrency: int, n: int) -> float:
    """Requests/s of ``n`` bare chat completions at ``concurrency`` through the openai client."""
    import asyncio

    from openai import AsyncOpenAI

    async def go() -> float:
        client = AsyncOpenAI(base_url=url, api_key="none", max_retries=0)
        sem = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with sem:
                await client.chat.completions.create(
                    model="fake", messages=[{"role": "user", "content": SENTENCES[0]}])

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        dt = time.perf_counter() - t0
        await client.close()
        return n / dt

    return asyncio.run(go())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=48)
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8, 16])
    a = ap.parse_args()
    docs = corpus(a.docs)
    proc, url = start_fake(a.latency)
    rows, ref, ok = [], None, True
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for c in a.concurrency:
                wall, spans, res = run_once(url, docs, c, a.passes, tmp)
                if ref is None:
                    ref = spans
                same = spans == ref
                per_pass = a.docs * a.passes / wall  # document-passes per second
                capacity = raw_capacity(url, c, a.docs * a.passes)
                target = 0.8 * min(c / a.latency, capacity)
                ok &= same and per_pass >= target
                rows.append((c, wall, a.docs / wall, per_pass, capacity, target, res.calls,
                             same))
    finally:
        proc.terminate()  # the server we started, by its pid
        proc.wait()
    print(f"silver benchmark: {a.docs} documents x {a.passes} passes, fake server latency "
          f"L = {a.latency} s per request")
    print(f"{'C':>3} {'wall s':>8} {'docs/s':>8} {'docs/s/pass':>12} {'C/L':>6} "
          f"{'capacity':>9} {'target':>8} {'calls':>6} {'speedup':>8} same-output")
    base = rows[0][1]
    for c, wall, dps, pp, cap, target, calls, same in rows:
        print(f"{c:>3} {wall:>8.2f} {dps:>8.2f} {pp:>12.2f} {c / a.latency:>6.1f} {cap:>9.1f} "
              f"{target:>8.1f} {calls:>6} {base / wall:>7.1f}x {'yes' if same else 'NO'}")
    print("capacity = bare openai-client requests/s at concurrency C against the same server; "
          "target = 0.8 x min(C/L, capacity)")
    print("PASS" if ok else "BELOW TARGET or outputs differ")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
