"""Pre-labeling end to end: ``annotator prelabel`` as a process vs gliner2's own loop.

Both paths are timed from process start to exit, on the same documents with the same labels
and descriptions and the same threshold:

- **tool**: ``annotator --db COPY prelabel --backend gliner2 --model M`` on a fresh copy of a
  SQLite project holding the documents (Python start, imports, model load, windowing, the
  encoder, merging and the database writes: what a user waits for);
- **gliner2 loop**: a Python process that loads ``GLiNER2.from_pretrained(M)`` and calls
  ``extract_entities_long(text, labels, threshold=..., include_spans=True,
  include_confidence=True)`` once per document, keeping the results in memory (no storage).

The rounds alternate the order of the two paths, so a change in the machine's load hits both
alike; the figures are the medians. The documents are those of ``benchmarks/prelabel.py``
(French clinical prose of about ``--tokens`` model tokens each), the model the MiniLM
GLiNER2 of ``benchmarks/prelabel_model.py`` unless ``--model`` names another local folder.

Run: python benchmarks/prelabel_e2e.py [--docs 48] [--tokens 2000] [--rounds 3]
                                       [--batch-size 8] [--model PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _paths import ROOT  # first: the repository and tests on the path, no model hub

LOOP = r"""
import json, sys
from gliner2 import GLiNER2
model_path, docs_path, labels_path, threshold, chunk, overlap = sys.argv[1:7]
texts = json.load(open(docs_path, encoding="utf-8"))
labels = json.load(open(labels_path, encoding="utf-8"))
model = GLiNER2.from_pretrained(model_path)
model.eval()
n = 0
for text in texts:
    res = model.extract_entities_long(text, labels, threshold=float(threshold),
                                      chunk_size=int(chunk), chunk_overlap=int(overlap),
                                      include_spans=True, include_confidence=True)
    n += sum(len(v) for v in res["entities"].values())
print(json.dumps({"spans": n}))
"""


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd[:4])} … failed ({done.returncode}):\n{done.stderr}")
    return dt, done.stdout


def loop_chunking(sizer, texts: list[str]) -> tuple[int, int]:
    """gliner2's ``chunk_size`` (words) for the loop: the largest with which no chunk of these
    documents overflows the encoder's positions (the default 384 crashes a 512-position
    encoder under the 8 FineMed descriptions), and the overlap of the tool's 64 tokens
    converted to words at these documents' tokens per word."""
    from gliner2.inference.chunking import iter_word_offsets, split_text_into_chunks
    from gliner2.processing.word_splitter import word_splitter_from

    splitter = word_splitter_from(sizer.extractor)
    n_words = sum(len(list(iter_word_offsets(t, word_splitter=splitter))) for t in texts[:4])
    n_tokens = sum(len(sizer.token_offsets(t)) for t in texts[:4])
    overlap = max(1, round(64 * n_words / n_tokens))
    size = sizer.text_budget
    while size > overlap + 1:
        if all(sizer.input_length(c.text) <= sizer.positions
               for t in texts for c in split_text_into_chunks(
                   t, chunk_size=size, chunk_overlap=overlap, word_splitter=splitter)):
            return size, overlap
        size -= 4
    raise SystemExit("no gliner2 chunk size fits the encoder")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--docs", type=int, default=48)
    ap.add_argument("--tokens", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threshold", type=float, default=None,
                    help="default 0.12 for the benchmark model (see benchmarks/prelabel.py)")
    args = ap.parse_args()

    from prelabel import corpus

    from annotator.model import Document
    from annotator.prelabel.gliner2_backend import GLiNER2Prelabeler, entity_types
    from annotator.schemas import load_schema
    from db import Store

    if args.model is None:
        from prelabel_model import build

        args.model = str(build())
        threshold = 0.12 if args.threshold is None else args.threshold
    else:
        threshold = 0.5 if args.threshold is None else args.threshold
    schema = load_schema("finemed-fr")
    labels = schema.descriptions()
    sizer = GLiNER2Prelabeler(args.model, labels, threshold=threshold)
    texts = corpus(sizer, args.docs, args.tokens)
    tool_budget = sizer.text_budget
    chunk, overlap = loop_chunking(sizer, texts)
    del sizer

    work = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    try:
        seed_db = work / "seed.sqlite"
        with Store(str(seed_db)) as store:
            store.set_schema(schema)
            store.import_documents([Document(text=t, name=f"doc-{i}")
                                    for i, t in enumerate(texts)])
        (work / "docs.json").write_text(json.dumps(texts, ensure_ascii=False), "utf-8")
        (work / "labels.json").write_text(json.dumps(entity_types(labels), ensure_ascii=False),
                                          "utf-8")
        (work / "loop.py").write_text(LOOP, "utf-8")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        exe = str(Path(sys.executable).with_name("annotator"))
        times: dict[str, list[float]] = {"tool": [], "gliner2 loop": []}
        spans: dict[str, int] = {}
        for r in range(args.rounds):
            order = list(times) if r % 2 == 0 else list(times)[::-1]
            for name in order:
                if name == "tool":
                    db = work / f"round{r}.sqlite"
                    shutil.copy(seed_db, db)
                    dt, out = run([exe, "--db", str(db), "prelabel", "--backend", "gliner2",
                                   "--model", args.model, "--threshold", str(threshold),
                                   "--batch-size", str(args.batch_size), "--json"], env)
                    spans[name] = json.loads(out)["spans"]
                    db.unlink()
                else:
                    dt, out = run([sys.executable, str(work / "loop.py"), args.model,
                                   str(work / "docs.json"), str(work / "labels.json"),
                                   str(threshold), str(chunk), str(overlap)], env)
                    spans[name] = json.loads(out.strip().splitlines()[-1])["spans"]
                times[name].append(dt)
                print(f"  round {r + 1}: {name} {dt:.1f} s", file=sys.stderr, flush=True)
        import torch

        print(f"model {args.model}")
        print(f"{len(texts)} documents x ~{args.tokens} model tokens, threshold {threshold:g}, "
              f"tool batch {args.batch_size}, {os.cpu_count()} CPUs, torch threads "
              f"{torch.get_num_threads()}, load {os.getloadavg()[0]:.2f}, "
              f"{args.rounds} rounds; gliner2 loop chunk_size {chunk} words, overlap {overlap} "
              f"words (tool: {tool_budget} tokens per window, overlap 64 tokens)")
        base = statistics.median(times["gliner2 loop"])
        for name, ts in times.items():
            med = statistics.median(ts)
            print(f"{name:<14}{med:8.1f} s median ({', '.join(f'{t:.1f}' for t in ts)})  "
                  f"{len(texts) / med:6.3f} docs/s  x{base / med:.2f} the gliner2 loop  "
                  f"{spans[name]} spans")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
