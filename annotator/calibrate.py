"""Check how a trained GLiNER2 model should be prompted, instead of assuming it.

FineMed's recipe trains without label descriptions and predicts with them; that holds for a
pretrained GLiNER2 checkpoint, not for every model (heads trained from scratch on a few
documents may only answer to the label names they saw). After training, the new model is
evaluated on the held-out split with and without descriptions over a threshold sweep; the
best prompt style and threshold are written next to the model (``PRELABEL_SETTINGS``, a small
JSON that travels with the folder) and into the registry, and ``prelabel --model DIR`` uses
them unless told otherwise.

The sweep predicts once per prompt style at the lowest threshold and keeps, for each higher
threshold, the spans scoring at least that: gliner2 keeps overlapping candidates greedily by
score, so the spans kept above a threshold do not depend on the candidates below it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import AnnotatorError
from .evaluate import evaluate
from .model import Document, LabelSchema

PRELABEL_SETTINGS = "annotator_prelabel.json"
THRESHOLDS = tuple(round(0.1 * i, 1) for i in range(1, 10))


@dataclass
class Calibration:
    """The prompt style and threshold that scored best on the held-out documents."""

    descriptions: bool
    threshold: float
    micro_f1: float
    n_docs: int
    predicts_nothing: bool = False
    sweep: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # prompt styles that could not run

    def as_dict(self) -> dict[str, Any]:
        return {"descriptions": self.descriptions, "threshold": self.threshold,
                "micro_f1": self.micro_f1, "n_docs": self.n_docs,
                "predicts_nothing": self.predicts_nothing, "sweep": self.sweep,
                "skipped": self.skipped}


def calibrate(model: Any, model_ref: str, docs: Sequence[Document], schema: LabelSchema,
              thresholds: Sequence[float] = THRESHOLDS) -> Calibration:
    """Sweep prompt style (with / without descriptions) x ``thresholds`` on ``docs`` (their
    spans are the gold) and return the best setting by strict micro-F1. Ties go to the
    published recipe (descriptions on), then to the threshold nearest 0.5."""
    from .prelabel.gliner2_backend import GLiNER2Prelabeler

    gold = {d.id if d.id is not None else i: list(d.spans) for i, d in enumerate(docs)}
    keys = list(gold)
    texts = [d.text for d in docs]
    lowest = min(thresholds)
    has_descriptions = any(lab.description for lab in schema.labels)
    styles = (True, False) if has_descriptions else (False,)
    model.eval()
    sweep: list[dict[str, Any]] = []
    any_prediction = False
    skipped: list[str] = []
    for with_desc in styles:
        labels: Any = schema.descriptions() if with_desc else list(schema.keys)
        try:
            labeler = GLiNER2Prelabeler(model_ref, labels, threshold=lowest, extractor=model)
            preds = labeler.predict(texts)
        except AnnotatorError as exc:  # e.g. descriptions that leave no room for text
            if not with_desc:
                raise
            skipped.append(f"with descriptions: {exc}")
            continue
        any_prediction = any_prediction or any(preds)
        for t in thresholds:
            kept = {k: [s for s in p if s.score is None or s.score >= t]
                    for k, p in zip(keys, preds)}
            micro = evaluate(gold, kept, labels=schema.keys).micro
            sweep.append({"descriptions": with_desc, "threshold": float(t),
                          "micro_f1": round(micro.f1, 4), "predicted": micro.tp + micro.fp})
    best = max(sweep, key=lambda r: (r["micro_f1"], r["descriptions"],
                                     -abs(r["threshold"] - 0.5)))
    return Calibration(descriptions=best["descriptions"], threshold=best["threshold"],
                       micro_f1=best["micro_f1"], n_docs=len(docs),
                       predicts_nothing=not any_prediction, sweep=sweep, skipped=skipped)


def write_settings(model_dir: str | Path, cal: Calibration) -> Path:
    """Record the calibration next to the model (``PRELABEL_SETTINGS``)."""
    path = Path(model_dir) / PRELABEL_SETTINGS
    path.write_text(json.dumps({"descriptions": cal.descriptions, "threshold": cal.threshold,
                                "micro_f1": cal.micro_f1, "n_docs": cal.n_docs,
                                "predicts_nothing": cal.predicts_nothing}, indent=2),
                    encoding="utf-8")
    return path


def read_settings(model: str | None) -> dict[str, Any] | None:
    """The recorded pre-label settings of a model folder, or None (hub ids, older models)."""
    if not model:
        return None
    path = Path(model).expanduser() / PRELABEL_SETTINGS
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    out: dict[str, Any] = {}
    if isinstance(data.get("descriptions"), bool):
        out["descriptions"] = data["descriptions"]
    t = data.get("threshold")
    if isinstance(t, (int, float)) and not isinstance(t, bool) and 0 < t < 1:
        out["threshold"] = float(t)
    return out or None
