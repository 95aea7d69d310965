"""GLiNER v1 training JSON: ``[{"tokenized_text": [...], "ner": [[start_tok, end_tok, label]]}]``
with ``end_tok`` inclusive.

Import rebuilds the text by joining the tokens with single spaces and maps token indices to
character offsets. Export splits words with gliner's own pattern and windows long documents
into records of at most ``max_words`` words (see ``to_records``); a span whose ends do not
fall on word boundaries, or a discontinuous one, is dropped and counted.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from annotator.errors import AnnotatorError
from annotator.model import Document

from .base import (
    INVALID,
    Errors,
    Parsed,
    Report,
    iter_files,
    load_json_file,
    make_span,
)
from .trainer_words import GLINER_WORD_RE, windows, words
from .validate import label_problem, list_problem, offset_problem, show


def read(path: Path, errors: Errors, **_: Any) -> Iterator[Parsed]:
    for f in iter_files(path, ".json"):
        data = load_json_file(f, errors)
        if data is INVALID:
            continue
        if not isinstance(data, list):
            errors.add("expected a JSON list of records", file=str(f))
            continue
        for i, rec in enumerate(data):
            where = f"{f} (record {i})"
            toks = rec.get("tokenized_text") if isinstance(rec, dict) else None
            if not isinstance(toks, list) or not all(type(t) is str for t in toks):
                errors.add_at(where, 'expected "tokenized_text": a list of strings')
                continue
            ner = rec.get("ner")
            if ner is None:
                ner = []
            elif type(ner) is not list:
                errors.add_at(where, f"ner: {list_problem(ner)}")
                continue
            offsets, pos = [], 0
            for t in toks:
                offsets.append((pos, pos + len(t)))
                pos += len(t) + 1
            parsed = Parsed(Document(text=" ".join(toks), name=f"{f.stem}:{i}"), origin=where)
            for j, ent in enumerate(ner):
                w = f"{f} (record {i}, ner {j})"
                if type(ent) is not list or len(ent) != 3:
                    errors.add_at(w, f"expected [start_token, end_token, label], not "
                                     f"{show(ent)}")
                    continue
                problems = [f"{key}: {why}" for key, why in
                            (("start_token", offset_problem(ent[0])),
                             ("end_token", offset_problem(ent[1])),
                             ("label", label_problem(ent[2]))) if why]
                if problems:
                    for why in problems:
                        errors.add_at(w, why)
                    continue
                s_tok, e_tok, label = ent
                if not (0 <= s_tok <= e_tok < len(toks)):
                    errors.add_at(w, f"token range [{s_tok}, {e_tok}] outside the "
                                     f"{len(toks)} tokens")
                    continue
                sp = make_span(parsed.doc.text, [(offsets[s_tok][0], offsets[e_tok][1])],
                               label, w, errors, source="import")
                if sp is not None:
                    parsed.add(sp, w)
            yield parsed


MAX_WORDS = 384  # gliner's default max_len: words past it never reach training
MAX_WIDTH = 12   # gliner's default max_width: wider entities are not candidates
OVERLAP = 64     # words shared by adjacent windows of a long document


def to_records(doc: Document, report: Report | None = None, *, max_words: int = MAX_WORDS,
               overlap: int = OVERLAP, max_width: int = MAX_WIDTH) -> list[dict[str, Any]]:
    """The gliner v1 records of a document, split into words with gliner's own pattern
    (``trainer_words.GLINER_WORD_RE``) and windowed into records of at most ``max_words``
    words sharing ``overlap`` words, so that no entity lies past gliner's ``max_len``.

    Every entity goes into each window that holds it whole (an entity in an overlap appears
    in both records). Dropped and counted: discontinuous spans, spans whose ends are not on
    word boundaries, spans in no window (longer than the overlap across a cut). Spans wider
    than ``max_width`` words are kept and counted in the report's notes.
    """
    if overlap >= max_words:
        overlap = max_words // 2
    toks = words(doc.text, GLINER_WORD_RE)
    starts = [s for s, _ in toks]
    ends = [e for _, e in toks]
    ents: list[tuple[int, int, str]] = []
    for sp in doc.spans:
        if sp.fragments:
            if report is not None:
                report.dropped["discontinuous"] += 1
            continue
        i = bisect.bisect_left(starts, sp.start)
        j = bisect.bisect_left(ends, sp.end)
        if i >= len(toks) or j >= len(toks) or starts[i] != sp.start or ends[j] != sp.end:
            if report is not None:
                report.dropped["not_on_word_boundaries"] += 1
            continue
        ents.append((i, j, sp.label))
        if report is not None and j - i + 1 > max_width:
            report.warnings["wider_than_max_width"] += 1
    records: list[dict[str, Any]] = []
    placed: set[int] = set()
    for a, b in windows(len(toks), max_words, overlap):
        ner = []
        for k, (i, j, label) in enumerate(ents):
            if a <= i and j < b:
                ner.append([i - a, j - a, label])
                placed.add(k)
        records.append({"tokenized_text": [doc.text[s:e] for s, e in toks[a:b]], "ner": ner})
    if report is not None:
        report.dropped["crosses_window"] += len(ents) - len(placed)
        if not report.dropped["crosses_window"]:
            del report.dropped["crosses_window"]
        report.spans += len(placed)
        report.records += len(records)
    return records


def to_record(doc: Document, report: Report | None = None) -> dict[str, Any]:
    """One record for the whole document (no windowing): for short texts and tests."""
    return to_records(doc, report, max_words=max(1, len(doc.text)))[0]


class GlinerWriter:
    """Streams a JSON list of records (a long document gives several, see ``to_records``).
    Options: ``max_words`` (gliner's max_len, default 384), ``max_width`` (default 12)."""

    def __init__(self, out: Path, *, max_words: int | None = None,
                 max_width: int | None = None, **_: Any) -> None:
        self.out = Path(out)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.out, "w", encoding="utf-8", newline="")  # noqa: SIM115 (closed in close())
        self.fh.write("[")
        self.report = Report()
        self._written = 0
        self.max_words = MAX_WORDS if max_words is None else max_words
        self.max_width = MAX_WIDTH if max_width is None else max_width
        if self.max_words < 2:
            raise AnnotatorError(f"--max-words must be at least 2, not {self.max_words}")

    def write(self, doc: Document) -> None:
        for rec in to_records(doc, self.report, max_words=self.max_words,
                              overlap=min(OVERLAP, self.max_words // 4),
                              max_width=self.max_width):
            if self._written:
                self.fh.write(", ")
            self.fh.write(json.dumps(rec))
            self._written += 1
        self.report.documents += 1

    def close(self) -> dict[str, Any]:
        self.fh.write("]")
        self.fh.close()
        if self.report.warnings.get("wider_than_max_width"):
            self.report.notes.append(
                f"{self.report.warnings['wider_than_max_width']} spans are wider than "
                f"max_width {self.max_width} words: gliner does not train on them")
        return self.report.as_dict()


__all__ = ["GlinerWriter", "read", "to_record", "to_records"]
