"""The trainer interface: what ``train_job`` asks of each training backend.

A :class:`Trainer` subclass is one backend (``gliner2``, ``transformers``, a plugin's); the
job makes one object per run, with the base model and the options, and calls, in order::

    records = yield from trainer.prepare(data)        # load the base, build its records
    base = yield from trainer.evaluate(held, schema)   # the base model (before)
    steps = yield from trainer.train()                 # one Progress per optimizer step
    trainer.save(out)                                  # a folder the pre-labeler loads
    new = yield from trainer.evaluate(held, schema)    # the saved model (after)

Every method that takes time is a job (yields ``Progress``); closing it stops the work at
the next step. Nothing here touches the store: the job selects the data, compares the two
evaluations and registers the model under ``prelabel_backend`` with ``params()``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from annotator.errors import AnnotatorError
from annotator.jobs import Job
from annotator.model import Document, LabelSchema

from .data import TrainingData


@dataclass(frozen=True)
class TrainOptions:
    """The hyper-parameters of one run. ``lr``: the encoder's learning rate; ``task_lr``:
    the heads' (and LoRA weights'); ``max_steps`` > 0 overrides ``epochs``; ``max_len``:
    gliner2's token cap per record (None: the model's); ``threshold``: for the evaluations;
    ``chunk_words``: training pieces of at most ~this many words; ``device``: resolved
    (``cpu``, ``cuda:N``, ``mps``), never ``auto``."""

    epochs: int = 3
    lr: float = 5e-5
    task_lr: float = 5e-4
    batch_size: int = 8
    seed: int = 42
    max_steps: int = -1
    max_len: int | None = None
    lora: bool = False
    descriptions: bool = False
    threshold: float = 0.5
    chunk_words: int = 128
    device: str = "cpu"


class Trainer(ABC):
    """One training backend (see the module doc for the order of the calls).

    Class attributes: ``name`` (the registry key, ``train --backend NAME``), ``title`` and
    ``help`` (for the CLI and the GUI), ``prelabel_backend`` (the pre-labeling backend that
    runs the saved folder: the model is registered under it, so a default model made here is
    what ``prelabel --backend`` of that name picks up), ``supports_lora``.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    help: ClassVar[str] = ""
    prelabel_backend: ClassVar[str] = ""
    supports_lora: ClassVar[bool] = False

    def __init__(self, base_model: str, options: TrainOptions) -> None:
        self.base_model = base_model
        self.options = options
        self.warnings: list[str] = []          # shown to the user after the run
        self.calibration: dict[str, Any] | None = None  # how to pre-label with the new model
        self.eval_split = "held-out"           # named in progress messages (set by prepare)
        self.check()

    def check(self) -> None:
        """Refuse options this backend cannot honour, before any work."""
        if self.options.lora and not self.supports_lora:
            raise AnnotatorError(f"--lora is not implemented for the {self.name} trainer")

    @abstractmethod
    def prepare(self, data: TrainingData) -> Job:
        """Load the base model and build the training records from ``data.train``; returns
        the records (``list[dict]``, the data ``data_hash`` fingerprints)."""

    @abstractmethod
    def evaluate(self, docs: Sequence[Document], schema: LabelSchema) -> Job:
        """Score the current model on ``docs`` (their spans are the gold; strict match;
        nothing stored): the base model before :meth:`save`, the saved folder after it, as
        ``prelabel`` will run it (a trainer may first record next to it how to run it:
        ``calibration``). Yields what it is doing; returns a ``Report``."""

    @abstractmethod
    def train(self) -> Job:
        """Train on the prepared records: one ``Progress(step, total, "training",
        {"loss": ...})`` per optimizer step; returns the number of steps."""

    @abstractmethod
    def save(self, out: Path) -> None:
        """Write the trained model to the folder ``out`` (created)."""

    def params(self) -> dict[str, Any]:
        """What this run adds to the parameters recorded with the model."""
        return {}


__all__ = ["TrainOptions", "Trainer"]
