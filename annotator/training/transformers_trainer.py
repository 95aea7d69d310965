"""The ``transformers`` trainer: fine-tune a Hugging Face token classifier
(``AutoModelForTokenClassification``) on the project's BIO export (``bio``).

A base whose labels differ from the schema's BIO labels gets a freshly initialised head.
Training is a plain torch loop (AdamW, linear decay, grad-norm clip 1.0); the encoder learns
at ``lr``, the classification head at ``task_lr``. One ``Progress`` per optimizer step;
closing the job stops at the next step and saves nothing. Both evaluations go through the
real pre-labelling path (``TransformersPrelabeler`` on a saved folder: the base is saved to a
temporary one). torch/transformers load inside the functions.
"""

from __future__ import annotations

import math
import random
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from annotator.errors import AnnotatorError, ModelNotFoundError
from annotator.evaluate import Report, evaluate
from annotator.jobs import Job, Progress
from annotator.model import Document, LabelSchema

from .base import Trainer, TrainOptions
from .bio import IGNORE, bio_label_list, bio_records, encode, max_positions
from .data import TrainingData


def _collate(feats: Sequence[dict], pad_id: int) -> dict[str, Any]:
    import torch

    width = max(len(f["input_ids"]) for f in feats)
    pads = {"input_ids": pad_id, "attention_mask": 0, "token_type_ids": 0, "labels": IGNORE}
    return {k: torch.tensor([f[k] + [v] * (width - len(f[k])) for f in feats])
            for k, v in pads.items() if k in feats[0]}


def load_token_classifier(base_model: str, labels: Sequence[str]) -> tuple[Any, Any, bool]:
    """``(model, fast tokenizer, head re-initialised?)`` with ``labels`` as its label set."""
    from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer

    from annotator.prelabel.loading import load_model

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
    and score against the gold spans (strict)."""
    from annotator.prelabel.transformers_backend import TransformersPrelabeler

    labeler = TransformersPrelabeler(model_dir, schema_keys=schema.keys, threshold=threshold,
                                     device=device)
    preds = labeler.predict([d.text for d in docs])
    return evaluate({d.id: list(d.spans) for d in docs},
                    {d.id: p for d, p in zip(docs, preds)}, labels=schema.keys)


class TransformersTrainer(Trainer):
    name = "transformers"
    title = "Transformers"
    help = ("fine-tune a token classifier (any AutoModelForTokenClassification base with a "
            "fast tokenizer) on the BIO export; labels O/B-/I- of the project schema, so "
            "`prelabel --backend transformers --model DIR` needs no label map")
    prelabel_backend = "transformers"

    def __init__(self, base_model: str, options: TrainOptions) -> None:
        super().__init__(base_model, options)
        self.model: Any = None
        self.tokenizer: Any = None
        self.features: list[dict] = []
        self.saved: Path | None = None
        self._extra: dict[str, Any] = {}

    def prepare(self, data: TrainingData) -> Job:
        import torch

        self.eval_split = data.eval_split
        records, export = bio_records(data.train, max_words=self.options.chunk_words)
        labels = bio_label_list(data.schema)
        yield Progress(0, None, "loading base model")
        torch.manual_seed(self.options.seed)
        self.model, self.tokenizer, fresh = load_token_classifier(self.base_model, labels)
        positions = max_positions(self.model, self.tokenizer)
        self.features = encode(self.tokenizer, records, self.model.config.label2id, positions)
        if not any(x != IGNORE for f in self.features for x in f["labels"]):
            raise AnnotatorError("no training tokens: the training documents are empty")
        self._extra = {"labels": labels, "fresh_head": fresh, "max_positions": positions,
                       "windows": len(self.features), "bio_export": export}
        return records

    def evaluate(self, docs: Sequence[Document], schema: LabelSchema) -> Job:
        o = self.options
        which = "base" if self.saved is None else "new"
        yield Progress(0, None, f"evaluating the {which} model on {len(docs)} "
                                f"{self.eval_split} docs")
        if self.saved is not None:
            return evaluate_saved(str(self.saved), docs, schema, o.threshold, o.device)
        with tempfile.TemporaryDirectory(prefix="annotator-train-") as work:
            _save(self.model, self.tokenizer, work)
            return evaluate_saved(work, docs, schema, o.threshold, o.device)

    def train(self) -> Job:
        import torch
        from transformers import get_linear_schedule_with_warmup

        o, model, feats = self.options, self.model, self.features
        model.to(o.device)
        per_epoch = math.ceil(len(feats) / o.batch_size)
        total = o.max_steps if o.max_steps > 0 else max(1, o.epochs) * per_epoch
        head = [p for n, p in model.named_parameters() if n.startswith("classifier")]
        body = [p for n, p in model.named_parameters() if not n.startswith("classifier")]
        opt = torch.optim.AdamW([{"params": body, "lr": o.lr}, {"params": head, "lr": o.task_lr}],
                                weight_decay=0.01)
        sched = get_linear_schedule_with_warmup(opt, 0, total)
        rng = random.Random(o.seed)
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        model.train()
        step = 0
        while step < total:
            order = list(range(len(feats)))
            rng.shuffle(order)
            for i in range(0, len(order), o.batch_size):
                batch = {k: v.to(o.device) for k, v in
                         _collate([feats[j] for j in order[i:i + o.batch_size]], pad_id).items()}
                loss = model(**batch).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                sched.step()
                opt.zero_grad(set_to_none=True)
                step += 1
                yield Progress(step, total, "training", {"loss": round(loss.item(), 4)})
                if step >= total:
                    break
        return step

    def save(self, out: Path) -> None:
        self.model.eval()
        _save(self.model, self.tokenizer, out)
        self.saved = out

    def params(self) -> dict[str, Any]:
        return dict(self._extra)


__all__ = ["TransformersTrainer", "evaluate_saved", "load_token_classifier"]
