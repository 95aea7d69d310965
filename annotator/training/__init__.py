"""Retrain the extractor from the project's own reviewed data.

Layout (no module here imports one that imports it back; ``tests/annotator/
test_training_registry.py`` checks it, imports inside functions included)::

    data.py                  gold documents, the split, chunking, the data hash
    base.py                  TrainOptions and the Trainer interface
    registry.py              name -> Trainer subclass (register_trainer, get_trainer, trainers)
    job.py                   train_job: data, trainer, before/after evaluation, registration
    gliner2_trainer.py       the gliner2 trainer (GLiNER2Trainer)
      gliner2_prompt.py      make GLiNER2 records fit the encoder
      gliner2_loop.py        load a base, pin the count head, gliner2's trainer on a thread
    transformers_trainer.py  the transformers trainer (TransformersTrainer, a token classifier)
      bio.py                 the BIO records and their encoding

Importing the package loads no torch, transformers or gliner2: trainers load them when
they run.
"""

from .base import Trainer, TrainOptions
from .data import (
    DEFAULT_SPLIT,
    TrainingData,
    chunk_document,
    data_hash,
    gold_documents,
    prepare_data,
    split_documents,
    to_records,
)
from .job import TRAINING_INFO, TrainResult, decide_default, train_job
from .registry import get_trainer, register_trainer, trainers

__all__ = ["DEFAULT_SPLIT", "TRAINING_INFO", "TrainOptions", "TrainResult", "Trainer",
           "TrainingData", "chunk_document", "data_hash", "decide_default", "get_trainer",
           "gold_documents", "prepare_data", "register_trainer", "split_documents",
           "to_records", "train_job", "trainers"]
