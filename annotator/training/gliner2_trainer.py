"""The ``gliner2`` trainer: fine-tune a GLiNER2 extractor on the project's gold.

The training documents become GLiNER2 records (``annotator.formats.gliner2.to_record``;
per-class descriptions OFF by default: the FineMed extractor trained best without them and
is used with them at inference), cut until prompt + text fit the encoder
(``gliner2_prompt.fit_records``), and are trained with gliner2's own trainer on a worker
thread (``gliner2_loop``). The count head is pinned before and after training. The saved
folder is what ``GLiNER2.from_pretrained(out)`` and ``prelabel --backend gliner2`` load.

Evaluation: the base model in memory, through the real pre-labelling path (windows, labels
with their descriptions; label names only when the descriptions do not fit its encoder).
The saved model is first calibrated on the held-out documents (prompt style and threshold,
``annotator.calibrate``, recorded next to the model) and scored as ``prelabel --model DIR``
will run it. torch and gliner2 load inside the methods.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from annotator.errors import AnnotatorError
from annotator.evaluate import Report, evaluate
from annotator.jobs import Job, Progress
from annotator.model import Document, LabelSchema

from .base import Trainer, TrainOptions
from .data import TrainingData


def predict(model: Any, model_ref: str, texts: Sequence[str], schema: LabelSchema,
            threshold: float = 0.5, descriptions: bool = True) -> list[list]:
    """Spans per text from an in-memory GLiNER2 model through the real pre-labelling path
    (windows over long texts, labels with their descriptions unless ``descriptions`` is
    False, offsets checked)."""
    from annotator.prelabel.gliner2_backend import GLiNER2Prelabeler

    labels: Any = schema.descriptions() if descriptions else list(schema.keys)
    labeler = GLiNER2Prelabeler(model_ref, labels, threshold=threshold, extractor=model)
    return labeler.predict(list(texts))


def evaluate_model(model: Any, model_ref: str, docs: Sequence[Document], schema: LabelSchema,
                   threshold: float, descriptions: bool = True) -> Report:
    """Predict in memory (nothing is stored) and score against the gold spans (strict)."""
    model.eval()
    preds = predict(model, model_ref, [d.text for d in docs], schema, threshold, descriptions)
    return evaluate({d.id: list(d.spans) for d in docs},
                    {d.id: p for d, p in zip(docs, preds)}, labels=schema.keys)


class GLiNER2Trainer(Trainer):
    name = "gliner2"
    title = "GLiNER2"
    help = ("a GLiNER2 extractor (a GLiNER2 folder, a cached hub id, or a bare encoder folder "
            "that gets fresh GLiNER2 heads) trained on the GLiNER2 export")
    prelabel_backend = "gliner2"
    supports_lora = True

    def __init__(self, base_model: str, options: TrainOptions) -> None:
        super().__init__(base_model, options)
        self.model: Any = None
        self.records: list[dict] = []
        self.saved: Path | None = None
        self._extra: dict[str, Any] = {}

    def prepare(self, data: TrainingData) -> Job:
        from .gliner2_loop import load_base_model, pin_count_head
        from .gliner2_prompt import fit_records

        self.eval_split = data.eval_split
        yield Progress(0, None, "loading base model")
        model, bare = load_base_model(self.base_model)
        pin_count_head(model)
        self.model = model.to(self.options.device)
        self.records, recut = fit_records(self.model, data.train, data.schema,
                                          descriptions=self.options.descriptions,
                                          max_words=self.options.chunk_words)
        self._extra = {"base_from_bare_encoder": bare, "chunks_recut_to_fit": recut}
        return self.records

    def evaluate(self, docs: Sequence[Document], schema: LabelSchema) -> Job:
        threshold = self.options.threshold
        if self.saved is None:  # the base model, in memory
            yield Progress(0, None, f"evaluating the base model on {len(docs)} "
                                    f"{self.eval_split} docs")
            try:
                return evaluate_model(self.model, self.base_model, docs, schema, threshold)
            except AnnotatorError as exc:  # descriptions too long for this encoder
                self.warnings.append(f"base model evaluated with label names only: {exc}")
                return evaluate_model(self.model, self.base_model, docs, schema, threshold,
                                      descriptions=False)
        from gliner2 import GLiNER2

        from annotator.calibrate import calibrate, write_settings

        yield Progress(0, None, f"checking the new model's prompt style and threshold on "
                                f"{len(docs)} {self.eval_split} docs")
        saved = GLiNER2.from_pretrained(str(self.saved)).to(self.options.device)
        cal = calibrate(saved, str(self.saved), docs, schema)
        write_settings(self.saved, cal)
        self.calibration = cal.as_dict()
        self._extra["prelabel"] = {"descriptions": cal.descriptions, "threshold": cal.threshold}
        if cal.predicts_nothing:
            self.warnings.append(
                f"the new model predicts nothing on the {len(docs)} {self.eval_split} "
                "documents, with or without descriptions, at any threshold: train longer, "
                "on more gold, or from a pretrained GLiNER2")
        # the new model is scored as `prelabel --model DIR` will run it: recorded settings
        return evaluate_model(saved, str(self.saved), docs, schema, cal.threshold,
                              cal.descriptions)

    def train(self) -> Job:
        from .gliner2_loop import pin_count_head, train_in_thread

        o = self.options
        steps_done = 0
        with tempfile.TemporaryDirectory(prefix="annotator-train-") as work:
            steps = train_in_thread(self.model, self.records, epochs=o.epochs, lr=o.lr,
                                    task_lr=o.task_lr, batch_size=o.batch_size, seed=o.seed,
                                    lora=o.lora, max_steps=o.max_steps, max_len=o.max_len,
                                    work_dir=work, device=o.device)
            while True:
                try:
                    st = next(steps)
                except StopIteration as stop:
                    self.model = stop.value
                    break
                steps_done = st.step
                yield Progress(st.step, st.total or None, "training",
                               {"loss": round(st.loss, 4)})
        pin_count_head(self.model)
        return steps_done

    def save(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.model.eval()
        self.model.save_pretrained(str(out))
        self.saved = out

    def params(self) -> dict[str, Any]:
        return dict(self._extra)


__all__ = ["GLiNER2Trainer", "evaluate_model", "predict"]
