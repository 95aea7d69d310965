"""Fine-tune a Hugging Face token classifier (``AutoModelForTokenClassification``) on the
project's BIO export: the ``--backend transformers`` branch of ``annotator.train.train_job``.

Data: the gold documents are cut with ``train.chunk_document`` and BIO-tagged on word tokens
with the CoNLL exporter's ``formats.conll.bio_tags`` (so the training data is exactly the
CoNLL export: discontinuous, off-token and overlapped spans are dropped and counted). A record
is ``{"text", "tags": [[start, end, tag], ...]}`` with code-point offsets into ``text``.

Encoding: each record is tokenized with the model's *fast* tokenizer (offset mapping),
windows of at most the model's positions (``return_overflowing_tokens``, stride 32);
the first sub-token of each tokenizer word gets ``B-X``/``I-X``/``O`` from the spans
(``B`` when the word covers the span start), every other position ``-100``. This matches the
pre-labeler's default ``aggregation="first"``.

Labels: ``O`` then ``B-k``, ``I-k`` for each schema key in schema order; saved in
``config.id2label``/``label2id``, so ``annotator prelabel --backend transformers --model DIR``
needs no label map. A base whose labels differ gets a freshly initialised head.

Training: a plain torch loop (AdamW, linear decay, grad-norm clip 1.0); the encoder learns at
``lr``, the classification head at ``task_lr``. One ``Progress`` per optimizer step; closing
the job stops at the next step and saves nothing. torch/transformers load lazily.
"""

from __future__ import annotations

import math
import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import AnnotatorError, ModelNotFoundError
from .evaluate import Report, evaluate
from .jobs import Job, Progress
from .model import Document, LabelSchema

IGNORE = -100
STRIDE = 32


def bio_label_list(schema: LabelSchema) -> list[str]:
    """``["O", "B-k1", "I-k1", ...]`` in schema order (the saved ``id2label``)."""
    return ["O"] + [f"{p}-{k}" for k in schema.keys for p in ("B", "I")]


def bio_records(docs: Sequence[Document], *, max_words: int = 128) -> tuple[list[dict], dict]:
    """The BIO (CoNLL) export of ``docs`` as records, plus the exporter's report (spans
    written, dropped by reason)."""
    from .formats.base import Report as ExportReport
    from .formats.conll import bio_tags
    from .train import chunk_document

    report = ExportReport()
    records = []
    for doc in docs:
        for piece in chunk_document(doc, max_words):
            tags = bio_tags(piece, report)
            records.append({"text": piece.text, "tags": [[s, e, t] for s, e, t in tags]})
        report.documents += 1
    return records, report.as_dict()


def tag_spans(tags: Sequence[Sequence]) -> list[tuple[int, int, str]]:
    """``[start, end, B-/I-/O tag]`` word tags -> ``(start, end, label)`` char spans."""
    spans: list[list] = []
    prev_inside = False
    for s, e, tag in tags:
        if tag == "O":
            prev_inside = False
            continue
        prefix, label = tag[0], tag[2:]
        if prefix == "I" and prev_inside and spans[-1][2] == label:
            spans[-1][1] = e
        else:
            spans.append([s, e, label])
        prev_inside = True
    return [tuple(sp) for sp in spans]


def max_positions(model: Any, tokenizer: Any) -> int:
    """Input positions the model accepts (special tokens included): the tokenizer's
    ``model_max_length`` capped by absolute position embeddings (RoBERTa-style embeddings
    reserve ``padding_idx + 1`` of them), 512 when neither says."""
    limit = getattr(tokenizer, "model_max_length", None) or 512
    limit = int(limit) if limit < 1_000_000 else 512
    emb = getattr(getattr(model, "base_model", model), "embeddings", None)
    pos = getattr(emb, "position_embeddings", None)
    if pos is not None and hasattr(pos, "num_embeddings"):
        pad = getattr(emb, "padding_idx", None)
        limit = min(limit, int(pos.num_embeddings) - (int(pad) + 1 if pad is not None else 0))
    return limit


def encode(tokenizer: Any, records: Sequence[dict], label2id: dict[str, int],
           max_len: int) -> list[dict[str, list[int]]]:
    """Model features (``input_ids``, ``attention_mask``[, ``token_type_ids``], ``labels``)
    per window of at most ``max_len`` positions; see the module doc for the labelling."""
    feats = []
    for rec in records:
        spans = tag_spans(rec["tags"])
        enc = tokenizer(rec["text"], return_offsets_mapping=True, truncation=True,
                        max_length=max_len, stride=STRIDE, return_overflowing_tokens=True)
        for w in range(len(enc["input_ids"])):
            offsets, word_ids = enc["offset_mapping"][w], enc.word_ids(w)
            words: dict[int, list[int]] = {}
            for t, wid in enumerate(word_ids):
                if wid is not None and offsets[t][1] > offsets[t][0]:
                    words.setdefault(wid, []).append(t)
            labels = [IGNORE] * len(word_ids)
            for toks in words.values():
                ws, we = offsets[toks[0]][0], offsets[toks[-1]][1]
                tag = "O"
                for s, e, lab in spans:
                    if ws < e and we > s:
                        tag = ("B-" if ws <= s else "I-") + lab
                        break
                labels[toks[0]] = label2id.get(tag, 0)
            feat = {k: list(enc[k][w]) for k in ("input_ids", "attention_mask",
                                                  "token_type_ids") if k in enc}
            feat["labels"] = labels
            feats.append(feat)
    return feats


def _collate(feats: Sequence[dict], pad_id: int) -> dict[str, Any]:
    import torch

    width = max(len(f["input_ids"]) for f in feats)
    pads = {"input_ids": pad_id, "attention_mask": 0, "token_type_ids": 0, "labels": IGNORE}
    return {k: torch.tensor([f[k] + [v] * (width - len(f[k])) for f in feats])
            for k, v in pads.items() if k in feats[0]}


def load_token_classifier(base_model: str, labels: Sequence[str]) -> tuple[Any, Any, bool]:
    """``(model, fast tokenizer, head re-initialised?)`` with ``labels`` as its label set."""
    from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer

    from .prelabel.loading import load_model

    id2label = dict(enumerate(labels))
    label2id = {lab: i for i, lab in id2label.items()}
    tok = load_model(base_model, "token-classification", AutoTokenizer.from_pretrained)
    if not getattr(tok, "is_fast", False):
        raise ModelNotFoundError(f"model {base_model!r}: a fast tokenizer (tokenizer.json) is "
                                 "needed for character offsets")
    cfg = load_model(base_model, "token-classification", AutoConfig.from_pretrained)
    old = {int(k): v for k, v in (getattr(cfg, "id2label", None) or {}).items()}
    fresh = old != id2label
    model = load_model(base_model, "token-classification", lambda p: (
        AutoModelForTokenClassification.from_pretrained(
            p, id2label=id2label, label2id=label2id, ignore_mismatched_sizes=True)))
    head = getattr(model, "classifier", None)
    if fresh and head is not None and hasattr(head, "reset_parameters"):
        # same number of labels but other names: the loaded head means nothing here
        std = getattr(model.config, "initializer_range", 0.02)
        import torch

        with torch.no_grad():
            head.weight.normal_(0.0, std)
            if head.bias is not None:
                head.bias.zero_()
    return model, tok, fresh


def _save(model: Any, tokenizer: Any, out: str | Path) -> None:
    Path(out).mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))


def evaluate_saved(model_dir: str, docs: Sequence[Document], schema: LabelSchema,
                   threshold: float, device: str = "cpu") -> Report:
    """Predict with the saved model through the real pre-labelling path (nothing stored)
    and score against the gold spans (strict), like the GLiNER2 branch."""
    from .prelabel.transformers_backend import TransformersPrelabeler

    labeler = TransformersPrelabeler(model_dir, schema_keys=schema.keys, threshold=threshold,
                                     device=device)
    preds = labeler.predict([d.text for d in docs])
    return evaluate({d.id: list(d.spans) for d in docs},
                    {d.id: p for d, p in zip(docs, preds)}, labels=schema.keys)


def train_token_classifier(
    result: Any, *, base_model: str, records: list[dict], held: Sequence[Document],
    schema: LabelSchema, epochs: int, lr: float, task_lr: float, batch_size: int, seed: int,
    max_steps: int, threshold: float, device: str = "cpu",
) -> Job:
    """Evaluate the base (random head), train, save to ``result.out``, evaluate the saved
    model; fills ``result`` (steps, seconds, reports). Returns extra registry params."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    labels = bio_label_list(schema)
    yield Progress(0, None, "loading base model")
    torch.manual_seed(seed)
    model, tok, fresh = load_token_classifier(base_model, labels)
    positions = max_positions(model, tok)
    feats = encode(tok, records, model.config.label2id, positions)
    if not any(x != IGNORE for f in feats for x in f["labels"]):
        raise AnnotatorError("no training tokens: the training documents are empty")
    with tempfile.TemporaryDirectory(prefix="annotator-train-") as work:
        if held:
            yield Progress(0, None, f"evaluating the base model on {len(held)} "
                                    f"{result.eval_split} docs")
            _save(model, tok, work)
            result.base_report = evaluate_saved(work, held, schema, threshold, device)

    model.to(device)
    per_epoch = math.ceil(len(feats) / batch_size)
    total = max_steps if max_steps > 0 else max(1, epochs) * per_epoch
    head = [p for n, p in model.named_parameters() if n.startswith("classifier")]
    body = [p for n, p in model.named_parameters() if not n.startswith("classifier")]
    opt = torch.optim.AdamW([{"params": body, "lr": lr}, {"params": head, "lr": task_lr}],
                            weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(opt, 0, total)
    rng = random.Random(seed)
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
    model.train()
    started = time.perf_counter()
    step = 0
    while step < total:
        order = list(range(len(feats)))
        rng.shuffle(order)
        for i in range(0, len(order), batch_size):
            batch = {k: v.to(device) for k, v in
                     _collate([feats[j] for j in order[i:i + batch_size]], pad_id).items()}
            loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            result.steps = step
            yield Progress(step, total, "training", {"loss": round(loss.item(), 4)})
            if step >= total:
                break
    result.seconds = time.perf_counter() - started
    result.seconds_per_step = result.seconds / max(1, step)

    model.eval()
    _save(model, tok, result.out)
    if held:
        yield Progress(0, None, f"evaluating the new model on {len(held)} "
                                f"{result.eval_split} docs")
        result.new_report = evaluate_saved(result.out, held, schema, threshold, device)
    return {"labels": labels, "fresh_head": fresh, "max_positions": positions,
            "windows": len(feats)}


__all__ = ["bio_label_list", "bio_records", "encode", "evaluate_saved", "load_token_classifier",
           "max_positions", "tag_spans", "train_token_classifier"]
