"""The training data every trainer starts from: the project's gold, split, cut into pieces.

Gold documents (``gold_documents``): by default the ``reviewed`` documents with their
``accepted`` spans (a reviewed document without spans is a negative example), so nothing a
machine proposed and nobody decided reaches training; ``status`` and ``review_status`` widen
it explicitly. The split is by document and deterministic for a seed (``annotator.split``);
``prepare_data`` returns the training part and the held-out part that base and new model are
compared on. Each trainer turns the training documents into its own records (GLiNER2 JSON,
BIO tags), cutting long documents with ``chunk_document``; ``data_hash`` fingerprints them.
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from annotator.errors import AnnotatorError
from annotator.evaluate import tokenize
from annotator.model import Document, LabelSchema
from annotator.split import DEFAULT_SPLIT, assign_splits, parse_split


@dataclass
class TrainingData:
    """What a trainer trains on (``train``) and is evaluated on (``held``, the ``eval_split``
    part of the split), with the project's schema. ``n_gold``: gold documents before the
    split."""

    schema: LabelSchema
    train: list[Document]
    held: list[Document]
    eval_split: str
    n_gold: int


def gold_documents(store: Any, status: str | Sequence[str] | None = "accepted",
                   review_status: str | Sequence[str] | None = "reviewed") -> list[Document]:
    """Gold documents with ``spans`` = their spans of ``status`` (never ``rejected``).

    Default: the ``reviewed`` documents, each with its ``accepted`` spans; a reviewed document
    without one is a negative example. Widened (``review_status`` other statuses, or
    ``"all"``), a document of those statuses counts when it holds at least one such span.
    Arguments are comma-separated strings or lists, as ``export --status/--review-status``.
    """
    from annotator.io import status_filters

    span_status, reviews = status_filters(status, None, review_status)
    docs = []
    for doc in store.iter_documents(review_status=reviews, span_status=span_status):
        doc.spans = [s for s in doc.spans if s.status != "rejected"]
        if doc.spans or doc.review_status == "reviewed":
            docs.append(doc)
    return docs


def split_documents(docs: Sequence[Document], split: str, seed: int) -> dict[str, list[Document]]:
    """``{split name: documents}``, deterministic for ``seed`` (see ``annotator.split``)."""
    ratios = parse_split(split)
    out: dict[str, list[Document]] = {name: [] for name in ratios}
    for doc, name in zip(docs, assign_splits([d.hash for d in docs], ratios, seed)):
        out[name].append(doc)
    return out


def prepare_data(store: Any, *, status: str = "accepted", review_status: str = "reviewed",
                 split: str = DEFAULT_SPLIT, seed: int = 42,
                 eval_split: str = "test") -> TrainingData:
    """The project's gold, split: refuses a project without a schema or without a training
    document (with what to do about it)."""
    schema = store.get_schema()
    if schema is None:
        raise AnnotatorError(f"project {store.project!r} has no label schema: import data first")
    docs = gold_documents(store, status, review_status)
    parts = split_documents(docs, split, seed)
    train = parts.get("train", [])
    if not train:
        raise AnnotatorError(f"no training documents: {len(docs)} gold documents (documents "
                             f"{review_status!r} with spans {status!r}) and split {split!r}; "
                             "mark reviewed documents (`annotator review mark reviewed ...`) "
                             "or widen with --review-status")
    return TrainingData(schema=schema, train=train, held=parts.get(eval_split, []),
                        eval_split=eval_split, n_gold=len(docs))


def chunk_document(doc: Document, max_words: int) -> list[Document]:
    """Cut a long document into pieces of at most ~``max_words`` word tokens for training
    (gliner2 does not truncate subwords, so a long text would overflow the encoder).

    Cuts fall between tokens, never inside a span, preferably after a line break or a
    sentence end; span offsets are shifted into each piece and every span is kept. Where
    spans leave no cut within the budget, the piece grows until one is possible.
    """
    toks = tokenize(doc.text)
    if len(toks) <= max_words:
        return [doc]
    starts = [ts for ts, _ in toks]
    inside = [False] * len(toks)  # a cut before token i would fall inside a span's hull
    for sp in doc.spans:
        for i in range(bisect_right(starts, sp.start), bisect_left(starts, sp.end)):
            inside[i] = True
    pieces, first = [], 0
    while first < len(toks):
        last = min(first + max_words, len(toks))
        cut = last
        if last < len(toks):
            ok = [i for i in range(first + 1, last + 1) if not inside[i]]
            good = [i for i in ok if doc.text[toks[i - 1][0]:toks[i][0]].count("\n")
                    or doc.text[toks[i - 1][0]:toks[i - 1][1]] in ".;!?"]
            if good or ok:
                cut = (good or ok)[-1]
            else:  # a span longer than the budget: the piece grows until it ends
                cut = next((i for i in range(last + 1, len(toks)) if not inside[i]), len(toks))
        start = toks[first][0] if pieces else 0
        end = toks[cut][0] if cut < len(toks) else len(doc.text)
        spans = [replace(sp, start=sp.start - start, end=sp.end - start, id=None,
                         fragments=tuple((a - start, b - start) for a, b in sp.fragments)
                         if sp.fragments else None)
                 for sp in doc.spans if start <= sp.start and sp.end <= end]
        pieces.append(Document(text=doc.text[start:end], name=f"{doc.name}#{len(pieces)}",
                               spans=spans, id=doc.id))
        first = cut
    return pieces


def to_records(docs: Sequence[Document], schema: LabelSchema, *, descriptions: bool = False,
               max_words: int = 128) -> list[dict]:
    """GLiNER2 training records (exact-offset mentions, every schema label listed) via
    ``annotator.formats.gliner2``, long documents cut with ``chunk_document``."""
    from annotator.formats.gliner2 import to_record

    return [to_record(piece, schema, descriptions=descriptions)
            for d in docs for piece in chunk_document(d, max_words)]


def data_hash(records: Sequence[dict]) -> str:
    """SHA-256 over the canonical JSON of the training records, in order."""
    h = hashlib.sha256()
    for r in records:
        h.update(json.dumps(r, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n")
    return h.hexdigest()


__all__ = ["DEFAULT_SPLIT", "TrainingData", "chunk_document", "data_hash", "gold_documents",
           "prepare_data", "split_documents", "to_records"]
