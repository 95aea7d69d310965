"""Batch silver labels at corpus scale: export the requests of N documents, answer them, import
the answers; times, rates and peak memory, with the I/O floor measured in the same run.

    python benchmarks/silver_batch.py [--docs 100000] [--passes 1] [--workdir DIR]

* export: ``annotator.llm.batch.batch_export_job`` (prompts rendered, one request line per
  window, sharded at 50,000 lines), documents/s;
* engine (not timed as ours): every request line answered in-process with the fake server's
  deterministic ``answer`` (the offline engine's part: vLLM's run_batch in production);
* import: ``batch_import_job`` over the output files (index, then a document at a time:
  parse, ground, one transaction per document), documents/s;
* floor: reading and parsing the same output lines with orjson, nothing else — the part of
  the import no code of ours can avoid.
Peak memory: the process's peak RSS after each phase (``resource.getrusage``).
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from pathlib import Path

import orjson

WORDS = ("patient", "traitement", "pneumonie", "amoxicilline", "fièvre", "depuis", "jours",
         "diabète", "insuline", "glycémie", "scanner", "thoracique", "normal", "hypertension",
         "artérielle", "suivi", "cardiologue", "rein", "fonction", "IRM", "cérébrale")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--passes", type=int, default=1, choices=(1, 2))
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args(argv)

    from annotator.jobs import drive
    from annotator.llm.batch import batch_export_job, batch_import_job
    from annotator.llm.fake_server import _completion, answer
    from annotator.model import Document
    from db import Store

    work = Path(args.workdir or tempfile.mkdtemp(prefix="silver-batch-"))
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(3)
    store = Store(str(work / "batch.sqlite"))
    if store.count_documents() != args.docs:
        docs = [Document(text=" ".join(rng.choice(WORDS) for _ in range(60)) + ".",
                         name=f"d{i}") for i in range(args.docs)]
        t = time.perf_counter()
        store.import_documents(docs)
        print(f"built {args.docs:,} documents in {time.perf_counter() - t:.1f} s")
        del docs
    opts = {"model": "fake", "schema": "finemed-fr", "passes": args.passes}
    times: dict[str, float] = {}
    files: list[Path] = []
    for pass_no in range(1, args.passes + 1):
        t = time.perf_counter()
        exp = drive(batch_export_job(store, pass_no=pass_no, out=work / f"p{pass_no}.jsonl",
                                     **opts))
        times[f"export pass {pass_no}"] = time.perf_counter() - t
        print(f"export pass {pass_no}: {exp.requests:,} requests, {exp.documents:,} documents,"
              f" {len(exp.files)} files in {times[f'export pass {pass_no}']:.1f} s "
              f"({exp.documents / times[f'export pass {pass_no}']:,.0f} docs/s), "
              f"peak RSS {rss_mb():.0f} MB")
        outs = []
        for f in map(Path, exp.files):  # the engine
            o = f.with_suffix(".out.jsonl")
            with open(f, "rb") as src, open(o, "wb") as dst:
                for i, line in enumerate(src):
                    req = orjson.loads(line)
                    content = orjson.dumps(answer(req["body"])).decode()
                    dst.write(orjson.dumps({"id": f"b{i}", "custom_id": req["custom_id"],
                                            "response": {"status_code": 200,
                                                         "request_id": f"r{i}",
                                                         "body": _completion(req["body"],
                                                                             content)},
                                            "error": None}) + b"\n")
            outs.append(o)
        files += outs
        t = time.perf_counter()
        for o in outs:
            with open(o, "rb") as fh:
                for line in fh:
                    orjson.loads(line)
        times[f"floor pass {pass_no}"] = time.perf_counter() - t
        t = time.perf_counter()
        imp = drive(batch_import_job(store, paths=outs))
        times[f"import pass {pass_no}"] = time.perf_counter() - t
        n = imp.done + imp.pass1_done
        print(f"import pass {pass_no}: {imp.lines:,} lines, {n:,} documents "
              f"({imp.spans:,} spans, {imp.failed} failed) in "
              f"{times[f'import pass {pass_no}']:.1f} s ({n / times[f'import pass {pass_no}']:,.0f}"
              f" docs/s); floor (read + parse only) {times[f'floor pass {pass_no}']:.1f} s; "
              f"peak RSS {rss_mb():.0f} MB")
    size = sum(f.stat().st_size for f in files)
    print(f"output files: {size / 1e6:,.0f} MB; database {Path(work / 'batch.sqlite').stat().st_size / 1e6:,.0f} MB")
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
