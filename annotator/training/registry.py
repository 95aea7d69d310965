"""The trainers: one entry per training backend, ``name -> Trainer`` subclass.

``annotator train --backend`` offers ``trainers()``, the GUI's Train dialog too, and
``train_job`` builds the one it is asked for with ``get_trainer``. Each pre-labeling backend
names the trainer that produces its models (``annotator.prelabel.registry``,
``Backend.trainer``); each trainer names the pre-labeling backend its models are registered
under (``Trainer.prelabel_backend``). Adding one is a :func:`register_trainer` call.

Built-ins: ``gliner2`` (a GLiNER2 extractor) and ``transformers`` (a token classifier).
"""

from __future__ import annotations

from annotator.errors import AnnotatorError

from .base import Trainer
from .gliner2_trainer import GLiNER2Trainer
from .transformers_trainer import TransformersTrainer

_TRAINERS: dict[str, type[Trainer]] = {}


def register_trainer(trainer: type[Trainer]) -> type[Trainer]:
    """Add a :class:`Trainer` subclass under its ``name`` (usable as a class decorator)."""
    if not (isinstance(trainer, type) and issubclass(trainer, Trainer)) or not trainer.name:
        raise AnnotatorError(f"{trainer!r} is not a Trainer subclass with a name")
    known = _TRAINERS.get(trainer.name)
    if known is not None and known is not trainer:
        raise AnnotatorError(f"trainer {trainer.name!r} is registered twice")
    _TRAINERS[trainer.name] = trainer
    return trainer


def trainers() -> tuple[str, ...]:
    """Names of the registered trainers, the built-in ones first."""
    return tuple(_TRAINERS)


def get_trainer(name: str) -> type[Trainer]:
    try:
        return _TRAINERS[name]
    except KeyError:
        raise AnnotatorError(f"unknown training backend {name!r}; expected one of "
                             f"{', '.join(_TRAINERS)}") from None


register_trainer(GLiNER2Trainer)
register_trainer(TransformersTrainer)

__all__ = ["get_trainer", "register_trainer", "trainers"]
