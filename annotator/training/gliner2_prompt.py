"""Make GLiNER2 training records fit the encoder before training starts.

gliner2 puts the label prompt (every label, plus descriptions when training with them) in
front of each text and never truncates subwords; an encoder with absolute position
embeddings (BERT, RoBERTa/XLM-R, ModernBERT-style tables) then fails deep inside the forward
pass with a size mismatch. DeBERTa-v2/v3 (relative positions, no position table) has no hard
limit and is not checked.

Policy (chosen: shrink, error only when shrinking cannot help):
* the prompt alone leaves fewer than ``MIN_TEXT_TOKENS`` positions -> ``AnnotatorError``
  with the token counts (fewer labels, shorter descriptions, or no ``--descriptions``);
* a chunk whose prompt + text overflow is cut again (``data.chunk_document``, a word budget
  scaled to the room left) until every piece fits; a piece that cannot be cut (a span longer
  than the room) -> ``AnnotatorError`` naming the document and the token counts.

Lengths are measured with gliner2's own processor (``transform_record``, the exact encoder
input at inference) on the record and on its training-time variant with synthetic label
names (gliner2's trainer renames labels to ``entity 1..n`` in 20% of the samples, which can
be longer than short keys such as ``DISO``); the longer one counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from annotator.errors import AnnotatorError
from annotator.evaluate import tokenize
from annotator.model import Document, LabelSchema

from .data import chunk_document

# a training chunk must keep at least this many text tokens after the label prompt
MIN_TEXT_TOKENS = 32


def encoder_positions(model: Any) -> int | None:
    """Input positions of a GLiNER2 model's encoder, or ``None`` when it has no absolute
    position table. RoBERTa-style embeddings reserve ``padding_idx + 1`` positions."""
    emb = getattr(getattr(model, "encoder", None), "embeddings", None)
    pos = getattr(emb, "position_embeddings", None)
    if pos is None or not hasattr(pos, "num_embeddings"):
        return None
    pad = getattr(emb, "padding_idx", None)
    return int(pos.num_embeddings) - (int(pad) + 1 if pad is not None else 0)


def _synthetic(output: dict) -> dict:
    """``output`` with labels renamed as gliner2's training sampler does (``entity i``)."""
    names = {k: f"entity {i}" for i, k in enumerate(output.get("entities", {}), 1)}
    out = dict(output)
    out["entities"] = {names[k]: v for k, v in output.get("entities", {}).items()}
    if "entity_descriptions" in output:
        out["entity_descriptions"] = {names.get(k, k): v
                                      for k, v in output["entity_descriptions"].items()}
    return out


def input_length(model: Any, record: dict) -> int:
    """Longest encoder input (prompt + text + the '.' gliner2 may append) that gliner2's
    training may build for a record: real or synthetic label names."""
    proc = model.processor
    return max(len(proc.transform_record(record["input"], out).input_ids)
               for out in (record["output"], _synthetic(record["output"])))


def _name(doc: Document) -> str:
    return f"{doc.name!r} (id {doc.id})" if doc.name else f"id {doc.id}"


def fit_records(model: Any, docs: Sequence[Document], schema: LabelSchema, *,
                descriptions: bool = False, max_words: int = 128) -> tuple[list[dict], int]:
    """``(GLiNER2 training records, number of chunks that were cut again)``: like
    ``data.to_records`` but every record fits the encoder (see module doc)."""
    from annotator.formats.gliner2 import to_record

    pieces = [p for d in docs for p in chunk_document(d, max_words)]
    limit = encoder_positions(model)
    if limit is None:
        return [to_record(p, schema, descriptions=descriptions) for p in pieces], 0
    prompt = input_length(model, to_record(Document(text=""), schema,
                                           descriptions=descriptions))
    what = f"{len(schema.keys)} labels{' with descriptions' if descriptions else ''}"
    if limit - prompt < MIN_TEXT_TOKENS:
        raise AnnotatorError(
            f"the GLiNER2 training prompt ({what}) takes {prompt} of the encoder's {limit} "
            f"positions, leaving {max(limit - prompt, 0)} for text (at least "
            f"{MIN_TEXT_TOKENS} needed): use fewer labels or shorter descriptions"
            + (", or train without --descriptions" if descriptions else ""))
    records, recut = [], 0
    todo = list(reversed(pieces))
    while todo:
        piece = todo.pop()
        rec = to_record(piece, schema, descriptions=descriptions)
        n = input_length(model, rec)
        if n <= limit:
            records.append(rec)
            continue
        words = len(tokenize(piece.text))
        budget = max(1, int(words * (limit - prompt) / max(1, n - prompt) * 0.9))
        sub = chunk_document(piece, budget) if budget < words else [piece]
        if len(sub) < 2:
            raise AnnotatorError(
                f"document {_name(piece)}: a training chunk of {n - prompt} text tokens "
                f"after the {prompt}-token GLiNER2 prompt ({what}) needs {n} positions; the "
                f"encoder has {limit}, and the chunk cannot be cut smaller (a span is longer "
                "than the room left): shorten the prompt or split that span's text")
        recut += 1
        todo.extend(reversed(sub))
    return records, recut


__all__ = ["MIN_TEXT_TOKENS", "encoder_positions", "fit_records", "input_length"]
