"""Pre-labeling throughput, local engine vs ``--engine ray`` on a local Ray of this machine.

Both engines run the same job on two copies of one SQLite project (French clinical prose of
about ``--tokens`` model tokens per document, the corpus of ``benchmarks/prelabel.py``) with
the MiniLM GLiNER2 of ``benchmarks/prelabel_model.py``. Printed per engine: wall time of the
whole job (Ray: the actors starting and loading the model included, ``ray.init`` excluded and
printed apart) and documents per second once the first batch is written. Then whether the two
databases hold the same proposals: offsets and labels, and the largest score difference (zero
when torch runs as many threads in both: ``--local-threads`` = CPUs per actor = 1).

Run: python benchmarks/prelabel_ray.py [--docs 64] [--tokens 1000] [--batch-size 8]
                                       [--workers 2] [--local-threads N] [--model PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from annotator.jobs import Progress, drive
from annotator.model import Document
from annotator.prelabel.gliner2_backend import GLiNER2Prelabeler
from annotator.prelabel.job import prelabel_job
from annotator.prelabel.ray_engine import ray_prelabel_job
from annotator.schemas import load_schema
from db import Store


def timed_job(job) -> tuple[dict, float, float | None, int]:
    """Drive ``job``; (totals, wall seconds, seconds from the first written batch to the end,
    documents written after that first batch)."""
    t0 = time.perf_counter()
    first: list[tuple[float, int]] = []

    def seen(p: Progress) -> None:
        if p.done and not first:
            first.append((time.perf_counter(), p.done))

    totals = drive(job, on_progress=seen)
    end = time.perf_counter()
    if not first:
        return totals, end - t0, None, 0
    return totals, end - t0, end - first[0][0], totals["docs"] - first[0][1]


def proposals(path: str) -> dict[int, dict[tuple, float]]:
    with Store(path) as store:
        return {d.id: {(sp.start, sp.end, sp.label): sp.score for sp in d.spans
                       if sp.status == "proposed"} for d in store.iter_documents()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="local GLiNER2 folder (default: the trained "
                                                  "MiniLM of benchmarks/prelabel_model.py)")
    ap.add_argument("--docs", type=int, default=64)
    ap.add_argument("--tokens", type=int, default=1000, help="model tokens per document")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2, help="Ray actors (1 CPU each)")
    ap.add_argument("--local-threads", type=int, default=None,
                    help="torch threads of the local engine (default: torch's, all cores)")
    ap.add_argument("--threshold", type=float, default=0.12)
    args = ap.parse_args()

    import ray
    import torch
    from prelabel import corpus

    if args.local_threads:
        torch.set_num_threads(args.local_threads)
    if args.model is None:
        from prelabel_model import build

        args.model = str(build())
    schema = load_schema("finemed-fr")
    sizer = GLiNER2Prelabeler(args.model, schema.descriptions(), threshold=args.threshold)
    texts = corpus(sizer, args.docs, args.tokens)
    del sizer

    work = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    ray_temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: AF_UNIX path limit
    try:
        local_db, ray_db = str(work / "local.sqlite"), str(work / "ray.sqlite")
        with Store(local_db) as store:
            store.set_schema(schema)
            store.import_documents([Document(text=t, name=f"doc-{i}")
                                    for i, t in enumerate(texts)])
        shutil.copy(local_db, ray_db)
        kw = {"model": args.model, "threshold": args.threshold, "batch_size": args.batch_size}

        with Store(local_db) as store:
            local, local_s, local_steady, local_n = timed_job(prelabel_job(store, **kw))
        t = time.perf_counter()
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, _temp_dir=ray_temp,
                 log_to_driver=False)
        init_s = time.perf_counter() - t
        try:
            with Store(ray_db) as store:
                got, ray_s, ray_steady, ray_n = timed_job(
                    ray_prelabel_job(store, workers=args.workers, **kw))
        finally:
            ray.shutdown()

        a, b = proposals(local_db), proposals(ray_db)
        same_keys = all(a[i].keys() == b[i].keys() for i in a)
        diff = max((abs(a[i][k] - b[i][k]) for i in a for k in a[i].keys() & b[i].keys()),
                   default=0.0)
        n = len(texts)
        print(f"{n} documents x ~{args.tokens} tokens, batch {args.batch_size}, "
              f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; "
              f"local engine on {torch.get_num_threads()} torch threads, Ray {ray.__version__} "
              f"with {args.workers} actors x 1 CPU")
        print(f"local  {local_s:7.1f} s  {n / local_s:6.2f} docs/s"
              + (f"  (after the first batch: {local_n / local_steady:6.2f} docs/s)"
                 if local_steady else ""))
        print(f"ray    {ray_s:7.1f} s  {n / ray_s:6.2f} docs/s"
              + (f"  (after the first batch: {ray_n / ray_steady:6.2f} docs/s)"
                 if ray_steady else "")
              + f"   + ray.init {init_s:.1f} s")
        print(f"ray / local, whole job: x{local_s / ray_s:.2f}")
        print(f"spans: {local['spans']} local, {got['spans']} ray; same offsets and labels: "
              f"{same_keys}; largest score difference {diff:.2g}; run keys equal: "
              f"{local['run_key'] == got['run_key']}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(ray_temp, ignore_errors=True)


if __name__ == "__main__":
    main()
