"""Hugging Face token classifiers (``AutoModelForTokenClassification``) as pre-labelers.

Documents are tokenized once with the model's fast tokenizer; windows of at most
``max_tokens`` positions (special tokens included) are cut on word boundaries, each window
is re-tokenized exactly as the model will see it, and token predictions are aggregated per
word (``first``: the first sub-token decides, as the transformers pipeline's
``aggregation_strategy="first"``; ``average``: mean of the sub-token probabilities; ``max``:
the most confident sub-token), then decoded as BIO/BIOES/IO tags into spans. Scores are the
mean word probability. Model labels are mapped onto the project schema with a label map.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from annotator.errors import AnnotatorError
from annotator.model import Source, Span, Status
from annotator.schemas import LabelMap

from .align import AlignStats, check_or_repair
from .base import DocPrediction, Prelabeler, model_version
from .loading import load_model, resolve_device
from .windows import Candidate, edge_distance, fast_token_offsets, merge_spans, plan_windows

AGGREGATIONS = ("first", "average", "max")
_BEGIN, _INSIDE = ("B", "S", "U"), ("I", "E", "L")
# tokens kept free in each window for re-tokenization differences at window edges
_EDGE_MARGIN = 4


def split_tag(tag: str) -> tuple[str, str]:
    """``'B-DRUG'`` -> ``('B', 'DRUG')``; ``'O'`` -> ``('O', '')``;
    ``'DRUG'`` -> ``('I', 'DRUG')``."""
    if tag in ("O", "", None):
        return "O", ""
    if len(tag) > 2 and tag[1] in "-_" and tag[0] in "BIESLU":
        return tag[0], tag[2:]
    return "I", tag


def decode_words(tags: Sequence[tuple[str, float]]) -> list[tuple[int, int, str, float]]:
    """BIO/BIOES/IO word tags with scores -> ``(first word, last word + 1, type, mean score)``."""
    out: list[tuple[int, int, str, float]] = []
    cur: list | None = None  # [start, end, type, scores]
    for i, (tag, score) in enumerate(tags):
        prefix, typ = split_tag(tag)
        if prefix == "O":
            if cur:
                out.append(cur)
            cur = None
            continue
        if cur and prefix in _INSIDE and cur[2] == typ:
            cur[1] = i + 1
            cur[3].append(score)
        else:
            if cur:
                out.append(cur)
            cur = [i, i + 1, typ, [score]]
        if prefix in ("E", "L", "S", "U"):
            out.append(cur)
            cur = None
    if cur:
        out.append(cur)
    return [(s, e, t, sum(sc) / len(sc)) for s, e, t, sc in out]


class TransformersPrelabeler(Prelabeler):
    """Proposes spans with a token-classification model; labels go through ``label_map``
    and, when ``schema_keys`` is given, labels outside the schema are dropped (counted as
    ``unmapped``)."""

    source = Source.TRANSFORMERS.value

    def __init__(self, model: str, *, label_map: LabelMap | None = None,
                 schema_keys: Sequence[str] | None = None, threshold: float = 0.5,
                 batch_size: int = 8, window: str = "full", device: str = "cpu",
                 max_tokens: int = 512, overlap: int = 64, middle_tokens: int = 512,
                 aggregation: str = "first"):
        if aggregation not in AGGREGATIONS:
            raise AnnotatorError(f"unknown aggregation {aggregation!r}; expected one of "
                                 f"{', '.join(AGGREGATIONS)}")
        from transformers import AutoModelForTokenClassification, AutoTokenizer

        self.device = resolve_device(device)
        self.model = load_model(model, "token-classification",
                                AutoModelForTokenClassification.from_pretrained)
        self.tokenizer = load_model(model, "token-classification", AutoTokenizer.from_pretrained)
        if not getattr(self.tokenizer, "is_fast", False):
            raise AnnotatorError(f"model {model!r}: a fast tokenizer (tokenizer.json) is needed "
                                 "for character offsets")
        self.model.to(self.device).eval()
        self.id2label = {int(k): v for k, v in self.model.config.id2label.items()}
        self.label_map = label_map
        self.schema_keys = set(schema_keys) if schema_keys is not None else None
        self.threshold = float(threshold)
        self.batch_size = int(batch_size)
        self.window = window
        self.overlap = int(overlap)
        self.middle_tokens = int(middle_tokens)
        self.aggregation = aggregation
        limit = getattr(self.tokenizer, "model_max_length", max_tokens) or max_tokens
        self.positions = min(int(max_tokens), int(limit) if limit < 1_000_000 else max_tokens)
        self.n_special = self.tokenizer.num_special_tokens_to_add()
        self.text_budget = self.positions - self.n_special - _EDGE_MARGIN
        self.source_version = (f"{model_version(model)};threshold={self.threshold:g};"
                               f"window={window};max_tokens={self.positions};"
                               f"overlap={self.overlap};aggregation={aggregation}")

    def config(self) -> dict[str, Any]:
        lm = self.label_map
        return {**super().config(), "label_map": lm.mapping if lm else None,
                "schema_keys": sorted(self.schema_keys) if self.schema_keys else None,
                "middle_tokens": self.middle_tokens}

    def map_label(self, raw: str) -> str | None:
        label = self.label_map.map(raw) if self.label_map is not None else raw
        if label is None or (self.schema_keys is not None and label not in self.schema_keys):
            return None
        return label

    # ------------------------------------------------------------------ prediction
    def predict_docs(self, texts: Sequence[str]) -> list[DocPrediction]:
        plans, jobs = [], []
        for d, text in enumerate(texts):
            _, tok = fast_token_offsets(self.tokenizer, text)
            plan = plan_windows(tok, self.text_budget, overlap=self.overlap, mode=self.window,
                                middle_tokens=self.middle_tokens)
            plans.append(plan)
            jobs.extend((d, w) for w in plan.windows)
        cands: list[list[Candidate]] = [[] for _ in texts]
        stats = [AlignStats() for _ in texts]
        unmapped = [0] * len(texts)
        for i in range(0, len(jobs), self.batch_size):
            chunk = jobs[i:i + self.batch_size]
            for (d, w), ents in zip(chunk, self._run([texts[d][w.start:w.end] for d, w in chunk])):
                text = texts[d]
                for s, e, raw, score in ents:
                    label = self.map_label(raw)
                    if label is None:
                        unmapped[d] += 1
                        continue
                    if score < self.threshold:
                        continue
                    got = check_or_repair(text, s + w.start, e + w.start, None, stats[d])
                    if got is not None:
                        cands[d].append(Candidate(got[0], got[1], label, score, w.index,
                                                  edge_distance(got[0], got[1], w)))
        out = []
        for d in range(len(texts)):
            spans = [Span(c.start, c.end, c.label, source=self.source,
                          source_version=self.source_version, score=round(c.score, 6),
                          status=Status.PROPOSED.value) for c in merge_spans(cands[d])]
            p = plans[d]
            out.append(DocPrediction(spans=spans, windows=len(p.windows), tokens=p.n_tokens,
                                     truncated=p.truncated, covered=p.covered,
                                     dropped=stats[d].dropped, repaired=stats[d].repaired,
                                     unmapped=unmapped[d]))
        return out

    def _run(self, window_texts: list[str]) -> list[list[tuple[int, int, str, float]]]:
        """Entities ``(start, end, raw type, score)`` in window offsets, per window."""
        import torch

        enc = self.tokenizer(window_texts, return_offsets_mapping=True, padding=True,
                             truncation=False, return_tensors="pt")
        width = int(enc["attention_mask"].sum(dim=1).max()) if window_texts else 0
        if width > self.positions:  # never truncate: the plan's margin was too small
            raise AnnotatorError(f"internal: a window re-tokenized to {width} tokens, over the "
                                 f"model's {self.positions}")
        inputs = {k: v.to(self.device) for k, v in enc.items()
                  if k in ("input_ids", "attention_mask", "token_type_ids")}
        with torch.inference_mode():
            probs = torch.softmax(self.model(**inputs).logits.float(), dim=-1).cpu()
        out = []
        for b in range(len(window_texts)):
            offsets = enc["offset_mapping"][b].tolist()
            word_ids = enc.word_ids(b)
            words: dict[int, list[int]] = {}
            for t, wid in enumerate(word_ids):
                if wid is not None and offsets[t][1] > offsets[t][0]:
                    words.setdefault(wid, []).append(t)
            order = sorted(words)
            tags, spans = [], []
            for wid in order:
                toks = words[wid]
                p = probs[b, toks]
                if self.aggregation == "first":
                    dist = p[0]
                elif self.aggregation == "average":
                    dist = p.mean(dim=0)
                else:
                    dist = p[int(p.max(dim=-1).values.argmax())]
                k = int(dist.argmax())
                tags.append((self.id2label.get(k, "O"), float(dist[k])))
                spans.append((offsets[toks[0]][0], offsets[toks[-1]][1]))
            out.append([(spans[s][0], spans[e - 1][1], typ, sc)
                        for s, e, typ, sc in decode_words(tags)])
        return out


__all__ = ["TransformersPrelabeler", "decode_words", "split_tag"]
