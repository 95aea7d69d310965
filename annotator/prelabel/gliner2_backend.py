"""GLiNER2 pre-labeler over whole documents (never silently truncated).

gliner2 2.1 facts this module is built on: the encoder input is the label prompt (labels and
their descriptions) followed by the text, with no special tokens added; the text is split
into words (``processor.word_splitter``, lower-cased) and *each word* is tokenized on its own;
``max_len`` counts words and there is no subword truncation, so a BERT encoder with 512
positions crashes on a long text. We therefore count each document in exactly those tokens,
give each window ``positions - prompt tokens - the '.' gliner2 appends`` tokens, run the
windows in batches, and map the character offsets back.

Performance (measured by ``benchmarks/prelabel.py``): on CPU the encoder forward pass is
almost all of the engine's time once the model's scores are meaningful; the engine builds the
label schema once, runs windows longest first in batches (little padding) and calls gliner2's
batched path once per ``predict_docs``. ``quantize`` selects a faster, approximate encoder
(CPU only; scores change slightly, so it is part of ``source_version``): ``"int8"`` = dynamic
int8 quantization (``torch.ao.quantization.quantize_dynamic``) of the encoder's Linear layers;
``"bf16"`` = the encoder run under ``torch.autocast(bfloat16)`` (weights stay float32, its
output is cast back to float32 for the span heads).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from annotator.errors import AnnotatorError
from annotator.model import Source, Span, Status

from .align import AlignStats, check_or_repair
from .base import DocPrediction, Prelabeler, model_version
from .loading import load_model, resolve_device
from .windows import Candidate, edge_distance, merge_spans, plan_windows, word_token_offsets

log = logging.getLogger(__name__)

# a window must keep at least this many text tokens after the label prompt
MIN_TEXT_TOKENS = 32
QUANTIZE_MODES = ("int8", "bf16")


def load_gliner2(model: str, device: str = "cpu") -> Any:
    """``GLiNER2.from_pretrained(model)`` on ``device``; ModelNotFoundError if missing."""
    from gliner2 import GLiNER2

    dev = resolve_device(device)
    extractor = load_model(model, "GLiNER2", GLiNER2.from_pretrained)
    extractor.to(dev)
    extractor.eval()
    return extractor


def _autocast_encoder(encoder: Any) -> Any:
    """``encoder`` run under CPU bfloat16 autocast, returning float32 hidden states."""
    import torch

    class AutocastEncoder(torch.nn.Module):
        def __init__(self, inner: Any):
            super().__init__()
            self.inner = inner
            self.config = getattr(inner, "config", None)

        def forward(self, *args: Any, **kwargs: Any) -> Any:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = self.inner(*args, **kwargs)
            out.last_hidden_state = out.last_hidden_state.float()
            return out

    return AutocastEncoder(encoder)


def quantize_encoder(extractor: Any, mode: str, *, copy: bool = True) -> Any:
    """A copy of ``extractor`` with a faster, approximate encoder (see ``QUANTIZE_MODES``).

    ``"int8"``: the encoder's Linear layers dynamically quantized (int8 weights, activations
    quantized per batch at run time); ``"bf16"``: the encoder under bfloat16 autocast. CPU
    only; the span/count heads stay in float32. With ``copy`` (default) the given extractor
    is left untouched and a deep copy is changed; else it is changed in place.
    """
    import copy as copying
    import warnings

    import torch

    if mode not in QUANTIZE_MODES:
        raise AnnotatorError(f"unknown quantization {mode!r}; expected one of "
                             f"{', '.join(QUANTIZE_MODES)}")
    if next(extractor.parameters()).device.type != "cpu":
        raise AnnotatorError(f"--quantize {mode} runs on the CPU only (use --device cpu)")
    q = copying.deepcopy(extractor) if copy else extractor
    if mode == "bf16":
        q.encoder = _autocast_encoder(q.encoder)
    else:
        from torch.ao.quantization import quantize_dynamic

        with warnings.catch_warnings():  # torch deprecates eager-mode quantization (works)
            warnings.simplefilter("ignore")
            q.encoder = quantize_dynamic(q.encoder, {torch.nn.Linear}, dtype=torch.qint8)
    q.eval()
    return q


def entity_types(labels: Mapping[str, str] | Sequence[str]) -> dict[str, Any]:
    """gliner2 ``entity_types``: key -> description (labels without one get no description)."""
    if isinstance(labels, Mapping):
        return {k: (d if d else {}) for k, d in labels.items()}
    return {k: {} for k in labels}


class GLiNER2Prelabeler(Prelabeler):
    """Proposes spans with a GLiNER2 model; labels are passed with their descriptions."""

    source = Source.GLINER2.value

    def __init__(self, model: str, labels: Mapping[str, str] | Sequence[str], *,
                 threshold: float = 0.5, batch_size: int = 8, window: str = "full",
                 device: str = "cpu", max_tokens: int = 512, overlap: int = 64,
                 middle_tokens: int = 512, extractor: Any = None,
                 quantize: str | None = None):
        if not labels:
            raise AnnotatorError("no labels to extract: the project schema has no labels")
        self.model_ref = model
        self.labels = entity_types(labels)
        self.threshold = float(threshold)
        self.batch_size = int(batch_size)
        self.window = window
        self.overlap = int(overlap)
        self.middle_tokens = int(middle_tokens)
        self.quantize = quantize or None
        if self.quantize is not None and self.quantize not in QUANTIZE_MODES:
            raise AnnotatorError(f"unknown quantization {quantize!r}; expected one of "
                                 f"{', '.join(QUANTIZE_MODES)}")
        self.extractor = extractor if extractor is not None else load_gliner2(model, device)
        if self.quantize:  # a shared extractor is copied, one loaded here changed in place
            self.extractor = quantize_encoder(self.extractor, self.quantize,
                                              copy=extractor is not None)
        proc = self.extractor.processor
        self._proc = proc
        self._cache: dict[str, int] = {}
        enc_cfg = getattr(getattr(self.extractor, "encoder", None), "config", None)
        positions = getattr(enc_cfg, "max_position_embeddings", None) or max_tokens
        self.positions = min(int(max_tokens), int(positions))
        self._schema = self.extractor.create_schema().entities(self.labels)
        schema = self._schema.build()
        dot = self._n_subwords(".")
        self.prompt_tokens = len(proc.transform_record(".", schema).input_ids) - dot
        self.text_budget = self.positions - self.prompt_tokens - dot
        if self.text_budget < MIN_TEXT_TOKENS:
            raise AnnotatorError(
                f"the label prompt takes {self.prompt_tokens} of the model's {self.positions} "
                f"token positions, leaving {max(self.text_budget, 0)} for text; use fewer "
                "labels or shorter label descriptions")
        self.source_version = (f"{model_version(model)};threshold={self.threshold:g};"
                               f"window={window};max_tokens={self.positions};"
                               f"overlap={self.overlap}"
                               + (f";quantize={self.quantize}" if self.quantize else ""))

    def config(self) -> dict[str, Any]:
        return {**super().config(), "labels": self.labels, "middle_tokens": self.middle_tokens}

    # ------------------------------------------------------------------ tokens
    def _n_subwords(self, word: str) -> int:
        n = self._cache.get(word)
        if n is None:
            special = getattr(self._proc, "_token_cache", {})
            if word in special:
                n = len(special[word])
            else:
                tok = getattr(self._proc, "_tokenize_cached", self._proc.tokenizer.tokenize)
                n = len(tok(word))
            self._cache[word] = n
        return n

    def token_offsets(self, text: str):
        """The document in the model's own tokens (gliner2's words, then their subwords)."""
        return word_token_offsets(
            (s, e, self._n_subwords(w)) for w, s, e in self._proc.word_splitter(text, lower=True))

    def input_length(self, window_text: str) -> int:
        """Encoder input length gliner2 builds for ``window_text`` (prompt included)."""
        return len(self._proc.transform_record(self._proc._normalize_text(window_text),
                                               self._schema.build()).input_ids)

    # ------------------------------------------------------------------ prediction
    def predict_docs(self, texts: Sequence[str]) -> list[DocPrediction]:
        plans, jobs = [], []  # jobs: (doc index, window, window text, char offset)
        for d, text in enumerate(texts):
            plan = plan_windows(self.token_offsets(text), self.text_budget,
                                overlap=self.overlap, mode=self.window,
                                middle_tokens=self.middle_tokens)
            plans.append(plan)
            for w in plan.windows:
                s = 0 if not w.left_cut and not plan.truncated else w.start
                e = len(text) if not w.right_cut and not plan.truncated else w.end
                jobs.append((d, w, text[s:e], s))
        results = self._run([j[2] for j in jobs])
        cands: list[list[Candidate]] = [[] for _ in texts]
        stats = [AlignStats() for _ in texts]
        for (d, w, wtext, off), res in zip(jobs, results):
            for label, items in (res.get("entities") or {}).items():
                for it in items or []:
                    start, end = int(it["start"]), int(it["end"])
                    surface = it.get("text")
                    if start >= len(wtext):  # only the '.' gliner2 appended to the window
                        continue
                    if end > len(wtext):  # span ran into that '.': keep the real part
                        end = len(wtext)
                        surface = wtext[start:end]
                    got = check_or_repair(wtext, start, end, surface, stats[d])
                    if got is None:
                        continue
                    s, e = got[0] + off, got[1] + off
                    cands[d].append(Candidate(s, e, label, float(it.get("confidence", 0.0)),
                                              w.index, edge_distance(s, e, w)))
        out = []
        for d, text in enumerate(texts):
            spans = [Span(c.start, c.end, c.label, source=self.source,
                          source_version=self.source_version, score=round(c.score, 6),
                          status=Status.PROPOSED.value)
                     for c in merge_spans(cands[d])]
            plan = plans[d]
            out.append(DocPrediction(spans=spans, windows=len(plan.windows), tokens=plan.n_tokens,
                                     truncated=plan.truncated, covered=plan.covered,
                                     dropped=stats[d].dropped, repaired=stats[d].repaired))
        return out

    def _run(self, window_texts: list[str]) -> list[dict]:
        """``batch_extract_entities`` over the windows, longest first (less padding)."""
        if not window_texts:
            return []
        order = sorted(range(len(window_texts)), key=lambda i: -len(window_texts[i]))
        # batch_extract with the schema built once (batch_extract_entities rebuilds it)
        res = self.extractor.batch_extract(
            [window_texts[i] for i in order], self._schema, batch_size=self.batch_size,
            threshold=self.threshold, include_confidence=True, include_spans=True)
        out: list[dict | None] = [None] * len(window_texts)
        for i, r in zip(order, res):
            out[i] = r
        return out  # type: ignore[return-value]
