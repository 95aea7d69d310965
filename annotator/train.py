"""Kept for existing imports: training lives in :mod:`annotator.training` (one trainer per
backend behind ``annotator.training.registry``, one ``train_job``). New code imports from
there."""

from annotator.training.data import (
    DEFAULT_SPLIT,
    chunk_document,
    data_hash,
    gold_documents,
    split_documents,
    to_records,
)
from annotator.training.job import TRAINING_INFO, TrainResult, decide_default, train_job

__all__ = ["DEFAULT_SPLIT", "TRAINING_INFO", "TrainResult", "chunk_document", "data_hash",
           "decide_default", "gold_documents", "split_documents", "to_records", "train_job"]
