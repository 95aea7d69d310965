"""``train_job``: retrain from the project's own reviewed data and register the model.

One job for every trainer (``registry``): select the gold and split it (``data``), build the
chosen trainer, let it load the base and build its records, evaluate the base on the
held-out split, train, save a folder the pre-labeler loads, evaluate the saved model on the
same documents, write what was done next to the model (``TRAINING_INFO``) and register it.
It refuses to make the new model the project default when any label's F1 drops by more than
``max_regression`` (absolute) unless ``force``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from annotator.evaluate import Report, regressions
from annotator.jobs import Job, Progress

from .base import TrainOptions
from .data import DEFAULT_SPLIT, data_hash, prepare_data
from .registry import get_trainer

TRAINING_INFO = "annotator_training.json"


@dataclass
class TrainResult:
    """What ``train_job`` did. ``base``/``new`` are ``Report.to_dict()`` on ``eval_split``."""

    out: str
    model_id: int | None = None
    steps: int = 0
    seconds: float = 0.0
    seconds_per_step: float = 0.0
    n_train: int = 0
    n_eval: int = 0
    eval_split: str = ""
    data_hash: str = ""
    base: dict | None = None
    new: dict | None = None
    regressed: dict[str, list[float]] = field(default_factory=dict)
    made_default: bool = False
    note: str = ""
    # gliner2: the prompt style / threshold sweep on the held-out split (annotator.calibrate)
    calibration: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    base_report: Report | None = field(default=None, repr=False)
    new_report: Report | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("base_report")
        d.pop("new_report")
        return d


def decide_default(base: Report | None, new: Report | None, *, max_regression: float,
                   force: bool) -> tuple[bool, dict[str, tuple[float, float]], str]:
    """``(make it default?, regressed labels, note)``. Labels whose F1 drops by more than
    ``max_regression`` block the default unless ``force``; without an evaluation nothing
    blocks it."""
    if base is None or new is None:
        return True, {}, "no held-out documents: not evaluated"
    bad = regressions(base, new, max_regression)
    if not bad:
        return True, {}, ""
    lines = ", ".join(f"{lab} {b:.3f}->{a:.3f}" for lab, (b, a) in sorted(bad.items()))
    if force:
        return True, bad, f"labels regressed ({lines}); made default anyway (--force)"
    return False, bad, (f"labels regressed by more than {max_regression}: {lines}; not made "
                        "the default (use --force, or `annotator models set-default ID`)")


def train_job(
    store: Any, *, base_model: str, out: str, epochs: int = 3, lr: float = 5e-5,
    task_lr: float = 5e-4, batch_size: int = 8, lora: bool = False, status: str = "accepted",
    review_status: str = "reviewed",
    split: str = DEFAULT_SPLIT, seed: int = 42, descriptions: bool = False,
    backend: str = "gliner2", max_regression: float = 0.05, make_default: bool = True,
    force: bool = False, eval_split: str = "test", max_steps: int = -1,
    max_len: int | None = None, threshold: float = 0.5, chunk_words: int = 128,
    device: str = "auto",
) -> Job:
    """Train, evaluate, save and register a model (see module doc). Returns ``TrainResult``.

    ``backend`` names the trainer (``registry.trainers()``). Progress: one ``Progress`` per
    optimizer step (``stats["loss"]``), plus loading and evaluation phases. Closing the job
    stops training at the next step and saves nothing.
    """
    from annotator.prelabel.loading import resolve_device

    trainer_class = get_trainer(backend)
    device = resolve_device(device)  # an unavailable device fails before any work
    trainer = trainer_class(base_model, TrainOptions(
        epochs=epochs, lr=lr, task_lr=task_lr, batch_size=batch_size, seed=seed,
        max_steps=max_steps, max_len=max_len, lora=lora, descriptions=descriptions,
        threshold=threshold, chunk_words=chunk_words, device=device))
    data = prepare_data(store, status=status, review_status=review_status, split=split,
                        seed=seed, eval_split=eval_split)
    held = data.held
    result = TrainResult(out=str(Path(out).expanduser().resolve()), n_train=len(data.train),
                         n_eval=len(held), eval_split=eval_split)
    out_dir = Path(result.out)

    records = yield from trainer.prepare(data)
    result.data_hash = data_hash(records)
    if held:
        result.base_report = yield from trainer.evaluate(held, data.schema)
    started = time.perf_counter()
    result.steps = yield from trainer.train()
    result.seconds = time.perf_counter() - started
    result.seconds_per_step = result.seconds / max(1, result.steps)
    out_dir.mkdir(parents=True, exist_ok=True)
    trainer.save(out_dir)
    if held:
        result.new_report = yield from trainer.evaluate(held, data.schema)
    result.calibration = trainer.calibration
    result.warnings.extend(trainer.warnings)

    result.base = result.base_report.to_dict() if result.base_report else None
    result.new = result.new_report.to_dict() if result.new_report else None
    ok, bad, result.note = decide_default(result.base_report, result.new_report,
                                          max_regression=max_regression, force=force)
    result.regressed = {k: list(v) for k, v in bad.items()}
    schema = data.schema
    params = {"epochs": epochs, "lr": lr, "task_lr": task_lr, "batch_size": batch_size,
              "lora": lora, "status": status, "review_status": review_status, "split": split,
              "seed": seed,
              "descriptions": descriptions, "max_steps": max_steps, "max_len": max_len,
              "eval_split": eval_split, "threshold": threshold, "steps": result.steps,
              "chunk_words": chunk_words, "n_train_docs": len(data.train),
              "seconds": round(result.seconds, 3), "schema": schema.name,
              "schema_version": schema.version, "backend": backend, "device": device,
              **trainer.params()}
    metrics = {"base": result.base, "new": result.new, "eval_split": eval_split,
               "n_eval": len(held), "regressed": result.regressed}
    (out_dir / TRAINING_INFO).write_text(json.dumps(
        {"base_model": base_model, "data_hash": result.data_hash, "data_size": len(records),
         "params": params, "metrics": metrics}, indent=2, ensure_ascii=False), "utf-8")

    from annotator.model import ModelInfo

    info = store.register_model(ModelInfo(
        path=result.out, base_model=base_model, backend=trainer.prelabel_backend,
        data_hash=result.data_hash, data_size=len(records), params=params, metrics=metrics),
        make_default=make_default and ok)
    result.model_id, result.made_default = info.id, info.is_default
    yield Progress(result.steps, result.steps, "done")
    return result


__all__ = ["TRAINING_INFO", "TrainResult", "decide_default", "train_job"]
