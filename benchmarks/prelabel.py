"""Pre-labeling throughput: the engine vs a naive loop calling ``extract_entities`` window by
window, with the bare encoder forward pass over the same windows as the floor.

Both paths use the same windows (the engine's planner) and the same merge, so in the exact
mode their spans must be identical; the script counts the differing spans and the span F1.
The faster modes (``quantize="int8"``: dynamic int8 quantization of the encoder's Linear
layers; ``quantize="bf16"``: the encoder under bfloat16 autocast) are measured against the
exact mode (span F1, target >= 0.98).

Documents are French clinical prose (the test sentences, shuffled per document) of about
``--tokens`` model tokens each; the corpus is generated once and cached under
``.cache/bench-corpus/``. The default model is the MiniLM GLiNER2 trained for a few dozen
steps by ``benchmarks/prelabel_model.py`` (random heads put every span score near 0.5, which
turns the benchmark into one of Python decoding); ``--model`` takes any local GLiNER2 folder.

Run: python benchmarks/prelabel.py [--docs 200] [--tokens 2000] [--batch-size 8]
                                   [--model PATH] [--skip naive,int8,bf16,floor]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time

from _paths import ROOT  # first: the repository and tests on the path, no model hub

from annotator.prelabel.gliner2_backend import GLiNER2Prelabeler
from annotator.prelabel.windows import (
    Candidate,
    edge_distance,
    merge_spans,
    plan_windows,
)
from annotator.schemas import load_schema

Key = tuple[int, int, str]


# ---------------------------------------------------------------------------- corpus
def corpus(engine: GLiNER2Prelabeler, n_docs: int, tokens: int, seed: int = 0) -> list[str]:
    """``n_docs`` French clinical documents of about ``tokens`` model tokens (cached)."""
    from conftest import FR_SENTENCES

    path = ROOT / ".cache" / "bench-corpus" / f"fr-{tokens}tok-s{seed}.json"
    if path.is_file():  # one corpus per (tokens, seed), grown when more documents are asked
        docs = json.loads(path.read_text(encoding="utf-8"))
        if len(docs) >= n_docs:
            return docs[:n_docs]
    rng = random.Random(seed)
    per_sentence = sum(len(engine.token_offsets(s)) for s in FR_SENTENCES) / len(FR_SENTENCES)
    docs = []
    for i in range(max(n_docs, 200)):
        parts = [f"Dossier {i}."]
        n = len(engine.token_offsets(parts[0]))
        day = 1
        while n < tokens - per_sentence / 2:
            s = rng.choice(FR_SENTENCES)
            if rng.random() < 0.15:
                s = f"J{day} : {s}\n\n"
                day += 1
            parts.append(s)
            n += len(engine.token_offsets(s))
        docs.append(" ".join(parts))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(docs, ensure_ascii=False), encoding="utf-8")
    return docs[:n_docs]


# ---------------------------------------------------------------------------- paths
def naive(engine: GLiNER2Prelabeler, texts: list[str]) -> list[set[Key]]:
    """One ``extract_entities`` call per window, same windows and merge as the engine."""
    out = []
    for text in texts:
        plan = plan_windows(engine.token_offsets(text), engine.text_budget,
                            overlap=engine.overlap)
        cands = []
        for w in plan.windows:
            s = 0 if not w.left_cut else w.start
            e = len(text) if not w.right_cut else w.end
            res = engine.extractor.extract_entities(text[s:e], engine.labels,
                                                    threshold=engine.threshold,
                                                    include_spans=True, include_confidence=True)
            for label, items in res["entities"].items():
                for it in items:
                    if it["start"] >= e - s:
                        continue
                    a, b = s + it["start"], s + min(it["end"], e - s)
                    while b > a and text[b - 1].isspace():  # clipped at the appended '.'
                        b -= 1
                    cands.append(Candidate(a, b, label, it["confidence"], w.index,
                                           edge_distance(a, b, w)))
        out.append({(c.start, c.end, c.label) for c in merge_spans(cands)})
    return out


def engine_run(engine: GLiNER2Prelabeler, texts: list[str], step: int) -> list[set[Key]]:
    """The engine as ``prelabel_job`` drives it: ``step`` documents per ``predict_docs``."""
    out = []
    for i in range(0, len(texts), step):
        for p in engine.predict_docs(texts[i:i + step]):
            out.append({(s.start, s.end, s.label) for s in p.spans})
    return out


def encoder_floor(engine: GLiNER2Prelabeler, texts: list[str], batch_size: int) -> float:
    """Seconds of bare encoder forward passes over the engine's windows (collation excluded)."""
    import torch
    from gliner2.training.trainer import ExtractorCollator

    schema = engine.extractor.create_schema().entities(engine.labels).build()
    windows = []
    for text in texts:
        plan = plan_windows(engine.token_offsets(text), engine.text_budget,
                            overlap=engine.overlap)
        windows += [text[w.start:w.end] for w in plan.windows]
    windows.sort(key=len, reverse=True)
    collate = ExtractorCollator(engine.extractor.processor, is_training=False,
                                architecture=engine.extractor.architecture)
    batches = [collate([(t, schema) for t in windows[i:i + batch_size]])
               for i in range(0, len(windows), batch_size)]
    t0 = time.perf_counter()
    with torch.inference_mode():
        for b in batches:
            engine.extractor.encoder(input_ids=b.input_ids, attention_mask=b.attention_mask)
    return time.perf_counter() - t0


def compare(pred: list[set[Key]], ref: list[set[Key]]) -> tuple[int, float]:
    """(spans in one set but not the other, summed over documents; micro span F1)."""
    diff = sum(len(p ^ r) for p, r in zip(pred, ref))
    tp = sum(len(p & r) for p, r in zip(pred, ref))
    n = sum(len(p) for p in pred) + sum(len(r) for r in ref)
    return diff, (2 * tp / n if n else 1.0)


def timed(fn, *a):
    t0 = time.perf_counter()
    out = fn(*a)
    return out, time.perf_counter() - t0


# ---------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="local GLiNER2 folder (default: the trained "
                                                  "MiniLM of benchmarks/prelabel_model.py)")
    ap.add_argument("--docs", type=int, default=200)
    ap.add_argument("--tokens", type=int, default=2000, help="model tokens per document")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threshold", type=float, default=None,
                    help="span threshold (default: 0.12 for the default benchmark model, whose "
                         "few training steps leave its scores between 0 and 0.2; else 0.5)")
    ap.add_argument("--schema", default="finemed-fr")
    ap.add_argument("--skip", default="", help="comma-separated: naive,int8,bf16,floor")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = ap.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.model is None:
        from prelabel_model import build

        args.model = str(build())
        threshold = 0.12 if args.threshold is None else args.threshold
    else:
        threshold = 0.5 if args.threshold is None else args.threshold
    labels = load_schema(args.schema).descriptions()
    exact = GLiNER2Prelabeler(args.model, labels, batch_size=args.batch_size,
                              threshold=threshold)
    texts = corpus(exact, args.docs, args.tokens)
    fast = {m: GLiNER2Prelabeler(args.model, labels, batch_size=args.batch_size,
                                 threshold=threshold, extractor=exact.extractor, quantize=m)
            for m in ("int8", "bf16") if m not in skip}

    # warm-up (first-call allocations, tokenizer caches) on one document, outside the timing
    warm = texts[:1]
    naive(exact, warm)
    engine_run(exact, warm, args.batch_size)
    for eng in fast.values():
        engine_run(eng, warm, args.batch_size)

    # Interleaved: every chunk of ``batch`` documents goes through each path in turn (order
    # rotated per chunk), so a change in the machine's load hits all paths alike.
    paths = {"naive loop": lambda c: naive(exact, c),
             "engine exact (fp32)": lambda c: engine_run(exact, c, args.batch_size)}
    for m, eng in fast.items():
        paths[f"engine {m}"] = lambda c, eng=eng: engine_run(eng, c, args.batch_size)
    if "naive" in skip:
        del paths["naive loop"]
    floors = {} if "floor" in skip else {"encoder floor (fp32)": exact}
    if floors:
        floors.update({f"encoder floor ({m})": eng for m, eng in fast.items()})
    n = len(texts)
    chunks = [texts[i:i + args.batch_size] for i in range(0, n, args.batch_size)]
    secs = {k: 0.0 for k in [*paths, *floors]}
    per_chunk: dict[str, list[float]] = {k: [] for k in secs}
    out: dict[str, list[set[Key]]] = {k: [] for k in paths}
    load0 = os.getloadavg()
    t_start = time.perf_counter()
    for j, chunk in enumerate(chunks):
        names = list(paths)
        names = names[j % len(names):] + names[:j % len(names)]
        for name in names:
            res, dt = timed(paths[name], chunk)
            out[name] += res
            secs[name] += dt
            per_chunk[name].append(dt)
        for name, eng in floors.items():
            dt = encoder_floor(eng, chunk, args.batch_size)
            secs[name] += dt
            per_chunk[name].append(dt)
        print(f"  chunk {j + 1}/{len(chunks)}: "
              + ", ".join(f"{k} {per_chunk[k][-1]:.1f}s" for k in secs), file=sys.stderr,
              flush=True)
    wall = time.perf_counter() - t_start
    load1 = os.getloadavg()
    rows = []
    for name, total in secs.items():
        note = None
        if name == "engine exact (fp32)" and "naive loop" in out:
            diff, f1 = compare(out[name], out["naive loop"])
            note = f"vs naive: {diff} differing spans, span F1 {f1:.4f}"
        elif name in ("engine int8", "engine bf16"):
            diff, f1 = compare(out[name], out["engine exact (fp32)"])
            note = f"vs exact: {diff} differing spans, span F1 {f1:.4f}"
        rows.append((name, total, note))
    res_exact = out["engine exact (fp32)"]

    plans = [plan_windows(exact.token_offsets(t), exact.text_budget, overlap=exact.overlap)
             for t in texts]
    spans = sum(len(s) for s in res_exact)
    print(f"model {args.model}")
    print(f"{n} documents, {sum(p.n_tokens for p in plans) / n:.0f} model tokens each, "
          f"{sum(len(p.windows) for p in plans)} windows, prompt {exact.prompt_tokens} tokens, "
          f"text budget {exact.text_budget}/window, {spans / n:.1f} spans/doc; "
          f"threshold {threshold:g}, batch {args.batch_size}, "
          f"torch threads {torch.get_num_threads()}")
    print(f"load average (1 min) before {load0[0]:.2f}, after {load1[0]:.2f} "
          f"({os.cpu_count()} CPUs); {wall / 60:.1f} min in all")
    base = per_chunk.get("naive loop")
    print(f"{'path':<22}{'seconds':>9}{'docs/s':>9}{'x naive':>9}{'median':>8}  check")
    for name, t, note in rows:
        if base:
            med = statistics.median(b / c for b, c in zip(base, per_chunk[name]))
            ratio = f"{sum(base) / t:8.2f}x{med:7.2f}x"
        else:
            ratio = f"{'-':>9}{'-':>8}"
        print(f"{name:<22}{t:9.1f}{n / t:9.3f}{ratio}  {note or ''}")
    print("x naive: total naive seconds / total seconds; median: median over chunks of "
          f"{args.batch_size} documents of the same ratio (robust to load changes)")


if __name__ == "__main__":
    main()
