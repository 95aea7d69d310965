"""BIO training data for the ``transformers`` trainer (a token classifier).

Data: the gold documents are cut with ``data.chunk_document`` and BIO-tagged on word tokens
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
needs no label map.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from annotator.model import Document, LabelSchema

from .data import chunk_document

IGNORE = -100
STRIDE = 32


def bio_label_list(schema: LabelSchema) -> list[str]:
    """``["O", "B-k1", "I-k1", ...]`` in schema order (the saved ``id2label``)."""
    return ["O"] + [f"{p}-{k}" for k in schema.keys for p in ("B", "I")]


def bio_records(docs: Sequence[Document], *, max_words: int = 128) -> tuple[list[dict], dict]:
    """The BIO (CoNLL) export of ``docs`` as records, plus the exporter's report (spans
    written, dropped by reason)."""
    from annotator.formats.base import Report as ExportReport
    from annotator.formats.conll import bio_tags

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


__all__ = ["IGNORE", "STRIDE", "bio_label_list", "bio_records", "encode", "max_positions",
           "tag_spans"]
