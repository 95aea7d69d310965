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
from typing import Annotated, Any

from annotator.evaluate import Report, regressions
from annotator.jobs import Job, Progress
from annotator.params import Param

from .base import TrainOptions
from .data import DEFAULT_SPLIT, data_hash, prepare_data
from .registry import get_trainer, trainers

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


def _trainer_help() -> str:
    return "the trainer (default gliner2): " + "; ".join(
        f"{name}: {get_trainer(name).help}" for name in trainers())


# The parameters a person sets (annotator.params): the `train` flags and the Train dialog's
# fields are made from these.
def train_job(
    store: Any, *,
    base_model: Annotated[str, Param(
        help="GLiNER2 folder or cached hub id, or a bare encoder folder; with --backend "
             "transformers: any AutoModelForTokenClassification base (folder or cached hub "
             "id, fast tokenizer), e.g. DoctoBERT", metavar="ID_OR_PATH", widget="dir")],
    out: Annotated[str, Param(help="where to save the new model", metavar="DIR",
                              title="Save the model to", widget="dir")],
    epochs: Annotated[int, Param(bounds=(1, 10_000))] = 3,
    lr: Annotated[float, Param(help="encoder learning rate", title="Encoder learning rate",
                               advanced=True)] = 5e-5,
    task_lr: Annotated[float, Param(
        help="learning rate of the GLiNER2 heads (and of LoRA weights), or of the token "
             "classifier's head", title="Head learning rate", advanced=True)] = 5e-4,
    batch_size: Annotated[int, Param(metavar="N", bounds=(1, 4096), advanced=True)] = 8,
    lora: Annotated[bool, Param(help="train LoRA adapters, save merged",
                                title="LoRA adapters")] = False,
    status: Annotated[str, Param(
        help="span statuses that count as gold, comma-separated (default accepted)")
    ] = "accepted",
    review_status: Annotated[str, Param(
        help="document statuses whose documents are gold, comma-separated, or all (default "
             "reviewed)")] = "reviewed",
    split: Annotated[str, Param(help="document split (deterministic)",
                                title="Split (train, held-out)")] = DEFAULT_SPLIT,
    seed: Annotated[int, Param(advanced=True)] = 42,
    descriptions: Annotated[bool, Param(
        help="put label descriptions in the training prompts (off by default: FineMed "
             "trained without and predicts with descriptions)",
        title="Label descriptions in training prompts")] = False,
    backend: Annotated[str, Param(help=_trainer_help, choices=trainers)] = "gliner2",
    max_regression: Annotated[float, Param(
        help="largest F1 drop of any label that still lets the new model become the default "
             "(absolute, default 0.05)", title="Largest F1 drop allowed", bounds=(0.0, 1.0),
        advanced=True)] = 0.05,
    make_default: Annotated[bool, Param(
        help="make the new model the project's default pre-labelling model unless a label "
             "regresses (--no-default: only register it)", flag="no-default",
        title="Make it the project's default model", advanced=True)] = True,
    force: Annotated[bool, Param(help="make it the default even when labels regress",
                                 title="Default even when labels regress",
                                 advanced=True)] = False,
    eval_split: Annotated[str, Param(
        help="split that base and new model are evaluated on (default test)",
        title="Evaluated on split", advanced=True)] = "test",
    max_steps: Annotated[int, Param(
        help="stop after N optimizer steps (overrides --epochs; -1: no limit)", metavar="N",
        bounds=(-1, 10_000_000), advanced=True)] = -1,
    max_len: int | None = None,
    threshold: Annotated[float, Param(help="threshold for evaluation",
                                      title="Evaluation threshold", bounds=(0.0, 1.0),
                                      advanced=True)] = 0.5,
    chunk_words: int = 128,
    device: Annotated[str, Param(
        help="auto (cuda when torch sees a GPU, else cpu), cpu, cuda, cuda:N or mps: where "
             "training and the evaluations run (default: the device setting, else auto)",
        setting="device")] = "auto",
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
