"""GLiNER2 plumbing for training: load a base model, pin its count head, run gliner2's
trainer on a worker thread with per-step progress (used by ``gliner2_trainer``).

torch and gliner2 are imported inside the functions (``import annotator`` stays light).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from annotator.errors import ModelNotFoundError

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------- count head
def pin_count_head(model: Any, n: int = 1, margin: float = 10.0) -> Any:
    """Make the span count head (``model.count_pred``) predict ``n`` instances for every
    input.

    Why: GLiNER2 decodes an entity label only when ``argmax(count_pred(prompt)) > 0``; a
    model built from a bare encoder has a random count head that may answer 0 and silence
    every entity, and gliner2's trainer never trains it on entity tasks (the count loss is
    skipped for ``entities``). Entity decoding only reads structural instance 0, so a
    constant count of 1 loses nothing for NER (it would change relation/structure counts,
    which this tool does not use). The last Linear gets weight 0 and bias ``+margin`` for
    class ``n``, ``-margin`` elsewhere; a LoRA-wrapped Linear is pinned via ``base_layer``.
    """
    import torch

    head = getattr(model, "count_pred", None)
    if head is None:
        head = next((m for name, m in model.named_modules()
                     if name == "count_pred" or name.endswith(".count_pred")), None)
    if head is None:
        raise TypeError(f"{type(model).__name__} has no count_pred head (span GLiNER2 only)")
    last = head[-1] if isinstance(head, torch.nn.Sequential) else head
    last = getattr(last, "base_layer", last)
    if not isinstance(last, torch.nn.Linear) or last.bias is None:
        raise TypeError(f"unexpected count head layer {type(last).__name__}")
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(-float(margin))
        last.bias[n] = float(margin)
    for p in head.parameters():
        p.requires_grad_(False)
    return model


# ---------------------------------------------------------------------------- loading
def _is_bare_encoder(path: Path) -> bool:
    cfg = path / "config.json"
    if not path.is_dir() or not cfg.exists() or (path / "encoder_config").is_dir():
        return False
    try:
        return json.loads(cfg.read_text(encoding="utf-8")).get("model_type") != "extractor"
    except (OSError, ValueError):
        return False


def load_base_model(base_model: str) -> tuple[Any, bool]:
    """``(model, from_bare_encoder)``: a GLiNER2 checkpoint (folder or hub id in the local
    cache) or a bare transformers encoder folder (random GLiNER2 heads on top)."""
    from gliner2 import ExtractorConfig, GLiNER2

    path = Path(base_model).expanduser()
    try:
        if _is_bare_encoder(path):
            return GLiNER2(ExtractorConfig(model_name=str(path))), True
        return GLiNER2.from_pretrained(str(path) if path.is_dir() else base_model), False
    except (OSError, ValueError, KeyError) as exc:
        raise ModelNotFoundError(
            f"cannot load base model {base_model!r}: {exc}. Give a local GLiNER2 folder, a "
            "bare encoder folder, or a hub id that is in the local cache") from exc


# ---------------------------------------------------------------------------- training
@dataclass
class StepInfo:
    step: int
    total: int
    loss: float


class _Stop(Exception):
    """Raised inside the trainer thread when the job is closed (cancel)."""


def train_in_thread(model: Any, records: list[dict], *, epochs: int, lr: float,
                    task_lr: float, batch_size: int, seed: int, lora: bool,
                    max_steps: int = -1, max_len: int | None = None,
                    work_dir: str, device: str = "cpu") -> Iterator[StepInfo]:
    """Train ``model`` on GLiNER2 records with gliner2's ``ExtractorTrainer``; yields one
    ``StepInfo`` per optimizer step and returns the trained model (LoRA merged).

    Training runs on a worker thread; closing this generator stops it at the next step.
    """
    import torch
    from gliner2.training.trainer import ExtractorTrainer, TrainingConfig

    events: queue.Queue = queue.Queue()
    stop = threading.Event()

    class Trainer(ExtractorTrainer):
        # We drive progress, logging and saving ourselves: no tqdm bar, no checkpoints,
        # no root-logger configuration at INFO level.
        @property
        def is_main_process(self) -> bool:
            return False

        def _save_checkpoint(self, name: str) -> None:
            return None

        def _setup_device(self) -> None:
            # gliner2 takes CUDA whenever torch sees it; the caller's device wins
            super()._setup_device()
            if not self.is_distributed and self.device != torch.device(device):
                self.device = torch.device(device)
                self.model.to(self.device)

        def _optimizer_step(self) -> bool:
            if stop.is_set():
                raise _Stop()
            return super()._optimizer_step()

        def _log_metrics(self, metrics: Any, prefix: str = "") -> None:
            super()._log_metrics(metrics, prefix)
            if prefix == "train":
                m = metrics if isinstance(metrics, dict) else metrics.to_dict()
                events.put(("step", StepInfo(int(m.get("step", self.global_step)),
                                             int(getattr(self, "_planned_max_steps", 0)),
                                             float(m.get("loss", float("nan"))))))

    config = TrainingConfig(
        output_dir=work_dir, num_epochs=epochs, max_steps=max_steps, batch_size=batch_size,
        encoder_lr=lr, task_lr=task_lr, seed=seed, eval_strategy="no", save_best=False,
        logging_steps=1, num_workers=0, pin_memory=False, fp16=False, bf16=False,
        warmup_ratio=0.0, use_lora=lora, save_adapter_only=False, max_len=max_len,
        # the count head stays pinned: no LoRA on it
        lora_target_modules=["encoder", "span_rep", "classifier", "count_embed"],
        validate_data=True, fused_optimizer=False,
    )
    trainer = Trainer(model=model, config=config)

    def work() -> None:
        try:
            summary = trainer.train(train_data=records)
            events.put(("done", summary))
        except _Stop:
            events.put(("stopped", None))
        except Exception as exc:  # noqa: BLE001 - re-raised in the consumer thread
            events.put(("error", exc))

    thread = threading.Thread(target=work, name="gliner2-train", daemon=True)
    thread.start()
    try:
        while True:
            kind, payload = events.get()
            if kind == "step":
                yield payload
            elif kind == "error":
                raise payload
            elif kind in ("done", "stopped"):
                break
    finally:
        stop.set()
        thread.join()
    trained = trainer.model
    if lora:
        trained = trained.merge_and_unload()
    return trained


__all__ = ["StepInfo", "load_base_model", "pin_count_head", "train_in_thread"]
