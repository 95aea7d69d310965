"""Pre-labeling throughput: the engine vs a naive loop calling ``extract_entities`` window by
window, with the bare encoder forward pass over the same windows as the floor.

Both paths use the same windows (the engine's planner) and the same merge, so their spans
must be identical; the script checks it and reports documents/s of each, their ratio, and
the floor. Documents are French clinical prose of about ``--words`` words.

Run: python benchmarks/prelabel.py --model PATH [--docs 200] [--words 700] [--batch-size 8]
     (a local GLiNER2 folder, e.g. one built by tests/tiny_models.py)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "annotator"))

from conftest import french_medical_text

from annotator.prelabel.gliner2_backend import GLiNER2Prelabeler
from annotator.prelabel.windows import Candidate, edge_distance, merge_spans, plan_windows
from annotator.schemas import load_schema


def naive(engine: GLiNER2Prelabeler, texts: list[str]) -> list[set]:
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


def encoder_floor(engine: GLiNER2Prelabeler, texts: list[str], batch_size: int) -> float:
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--docs", type=int, default=200)
    ap.add_argument("--words", type=int, default=700)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--schema", default="finemed-fr")
    args = ap.parse_args()
    labels = load_schema(args.schema).descriptions()
    texts = [f"Dossier {i}. " + french_medical_text(args.words + i % 50) for i in range(args.docs)]
    engine = GLiNER2Prelabeler(args.model, labels, batch_size=args.batch_size)
    one = GLiNER2Prelabeler(args.model, labels, batch_size=1, extractor=engine.extractor)

    t0 = time.perf_counter()
    preds = engine.predict_docs(texts)
    t_engine = time.perf_counter() - t0
    t0 = time.perf_counter()
    exact = one.predict_docs(texts)
    t_engine1 = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = naive(engine, texts)
    t_naive = time.perf_counter() - t0
    t_floor = encoder_floor(engine, texts, args.batch_size)

    windows = sum(p.windows for p in preds)
    tokens = sum(p.tokens for p in preds)
    same1 = all({(s.start, s.end, s.label) for s in p.spans} == r for p, r in zip(exact, ref))
    tp = sum(len({(s.start, s.end, s.label) for s in p.spans} & r) for p, r in zip(preds, ref))
    n_pred, n_ref = sum(len(p.spans) for p in preds), sum(len(r) for r in ref)
    f1 = 2 * tp / (n_pred + n_ref) if n_pred + n_ref else 1.0
    n = len(texts)
    print(f"{n} documents, {tokens / n:.0f} model tokens each, {windows} windows, "
          f"prompt {engine.prompt_tokens} tokens, text budget {engine.text_budget}")
    print(f"naive loop      : {n / t_naive:7.2f} docs/s")
    print(f"engine (batch 1): {n / t_engine1:7.2f} docs/s  x{t_naive / t_engine1:.2f}  "
          f"identical spans: {same1}")
    print(f"engine (batch {args.batch_size}): {n / t_engine:7.2f} docs/s  "
          f"x{t_naive / t_engine:.2f}  span F1 vs naive: {f1:.4f}")
    print(f"encoder floor   : {n / t_floor:7.2f} docs/s ({t_floor:.2f}s of forward passes)")


if __name__ == "__main__":
    main()
