"""GLiNER2 training JSONL: ``{"input": text, "output": {"entities": {label: [mention, ...]},
"entity_descriptions": {label: description}}}``, one record per line.

A mention is ``{"text", "start", "end"}`` (exact code-point offsets; gliner2 2.x checks
``text[start:end] == mention["text"]``) or, with ``plain_strings``, the surface string
(gliner2 then matches every occurrence). Every schema label is listed, with ``[]`` when the
document has none, so that documents without a label are negatives for it.
``entity_descriptions`` is written only on request (the FineMed card trains without).
Discontinuous spans cannot be expressed: dropped and counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from annotator.model import Document, LabelSchema
from annotator.text import find_all

from .base import (
    INVALID,
    Errors,
    Parsed,
    Report,
    decode_json_line,
    iter_jsonl,
    make_span,
)
from .trainer_words import (
    contains_words,
    gliner2_word_re,
    lowered_words,
    on_word_boundaries,
    snapped,
)
from .validate import list_problem, offset_problem, show


def to_record(doc: Document, schema: LabelSchema | None, *, descriptions: bool = False,
              plain_strings: bool = False, dropped: Counter | None = None) -> dict[str, Any]:
    """The gliner2 training record of a document (spans as given: filter them first).

    ``dropped`` (optional) receives counts of spans that could not be written."""
    return record_from_spans(doc.text, ((sp.start, sp.end, sp.label, sp.fragments is not None)
                                        for sp in doc.spans),
                             schema, descriptions=descriptions, plain_strings=plain_strings,
                             dropped=dropped)


def record_from_spans(text: str, spans: Iterable[tuple[int, int, str, bool]],
                      schema: LabelSchema | None, *, descriptions: bool = False,
                      plain_strings: bool = False,
                      dropped: Counter | None = None) -> dict[str, Any]:
    """``to_record`` from ``(start, end, label, is_discontinuous)`` tuples (the fast export
    path reads these straight from the database)."""
    entities: dict[str, list[Any]] = {k: [] for k in (schema.keys if schema else [])}
    for start, end, label, disc in spans:
        if disc:
            if dropped is not None:
                dropped["discontinuous"] += 1
            continue
        mentions = entities.setdefault(label, [])
        surface = text[start:end]
        if plain_strings:
            if surface not in mentions:
                mentions.append(surface)
        else:
            mentions.append({"text": surface, "start": start, "end": end})
    output: dict[str, Any] = {"entities": entities}
    if descriptions and schema is not None:
        output["entity_descriptions"] = {k: d for k, d in schema.descriptions().items()
                                         if d and k in entities}
    return {"input": text, "output": output}


def read(path: Path, errors: Errors, **_: Any) -> Iterator[Parsed]:
    return iter_jsonl(path, parse_line, errors)


def parse_line(raw: bytes, file: str, lineno: int, errors: Errors) -> Parsed | None:
    obj = decode_json_line(raw, file, lineno, errors)
    if obj is INVALID:
        return None
    text = obj.get("input", obj.get("text")) if isinstance(obj, dict) else None
    output = obj.get("output", {}) if isinstance(obj, dict) else None
    if not isinstance(text, str) or not isinstance(output, dict):
        errors.add('expected {"input": text, "output": {"entities": {...}}}', file=file,
                   line=lineno)
        return None
    where = f"{file}:{lineno}"
    parsed = Parsed(Document(text=text, name=f"{Path(file).stem}:{lineno}"), origin=where)
    seen: set[tuple] = set()
    entities = output.get("entities") or {}
    if not isinstance(entities, dict):
        errors.add('"entities" must be an object {label: [mentions]}', file=file, line=lineno)
        return None
    for label, mentions in entities.items():
        if mentions is None:
            continue
        if type(mentions) is not list:
            errors.add(f"entities.{label}: {list_problem(mentions)}", file=file, line=lineno)
            continue
        if not label:
            if mentions:
                errors.add("entities: a label must not be empty", file=file, line=lineno)
            continue
        for m in mentions:
            if isinstance(m, dict):
                problems = [f"{key}: {why}" for key, why in
                            (("start", offset_problem(m.get("start"))),
                             ("end", offset_problem(m.get("end")))) if why]
                if problems or "start" not in m or "end" not in m:
                    errors.add(f"entities.{label}: mention {show(m)} needs text, start and "
                               f"end ({'; '.join(problems) or 'missing'})", file=file,
                               line=lineno)
                    continue
                found = [(m["start"], m["end"])]
                if text[found[0][0]:found[0][1]] != m.get("text"):
                    errors.add(f"{label}: mention {m.get('text')!r} != text[{found[0][0]}:"
                               f"{found[0][1]}]", file=file, line=lineno)
                    continue
            elif isinstance(m, str):
                found = find_all(text, m) or find_all(text, m, word_boundary=False)
                if not found:
                    errors.add(f"{label}: mention {m!r} not found in the input", file=file,
                               line=lineno)
                    continue
            else:
                errors.add(f"{label}: mention {m!r} is neither a string nor an object",
                           file=file, line=lineno)
                continue
            for s, e in found:
                sp = make_span(text, [(s, e)], label, where, errors, source="import")
                if sp is not None and sp.key() not in seen:
                    seen.add(sp.key())
                    parsed.add(sp, where)
    return parsed


class Gliner2Writer:
    """Writes one record per document. Records are serialised with orjson and written in
    chunks of ``CHUNK`` records (one ``write`` call each); ``close`` writes the rest."""

    CHUNK = 2000

    def __init__(self, out: Path, *, schema: LabelSchema | None = None,
                 descriptions: bool = False, plain_strings: bool = False, **_: Any) -> None:
        self.out = Path(out)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.out, "wb")  # noqa: SIM115 (closed in close())
        self.schema, self.descriptions, self.plain = schema, descriptions, plain_strings
        self.report = Report()
        self._keys = tuple(schema.keys) if schema else ()
        self._desc = ({k: d for k, d in schema.descriptions().items() if d}
                      if descriptions and schema is not None else None)
        self._buf: list[bytes] = []

    def write(self, doc: Document) -> None:
        self.write_spans(doc.text, ((sp.start, sp.end, sp.label, sp.fragments is not None)
                                    for sp in doc.spans))

    def write_spans(self, text: str, spans: Iterable[tuple[int, int, str, bool]]) -> None:
        """Write one record from ``(start, end, label, is_discontinuous)`` tuples."""
        if self.plain:  # de-duplicated surface strings: the general builder
            rec = record_from_spans(text, spans, self.schema, descriptions=self.descriptions,
                                    plain_strings=True, dropped=self.report.dropped)
            n = sum(len(v) for v in rec["output"]["entities"].values())
            self._check_strings(text, rec["output"]["entities"], self.report.documents + 1)
        else:  # offsets: the same record as record_from_spans, built inline
            entities: dict[str, list[Any]] = {k: [] for k in self._keys}
            n = 0
            for start, end, label, disc in spans:
                if disc:
                    self.report.dropped["discontinuous"] += 1
                    continue
                mentions = entities.get(label)
                if mentions is None:
                    mentions = entities[label] = []
                mentions.append({"text": text[start:end], "start": start, "end": end})
                n += 1
                if not ((start == 0 or text[start - 1].isspace())
                        and (end == len(text) or text[end].isspace())):
                    self._check(text, start, end, label, self.report.documents + 1)
            output: dict[str, Any] = {"entities": entities}
            if self._desc is not None:
                output["entity_descriptions"] = {k: d for k, d in self._desc.items()
                                                 if k in entities}
            rec = {"input": text, "output": output}
        self._buf.append(orjson.dumps(rec, option=orjson.OPT_APPEND_NEWLINE))
        if len(self._buf) >= self.CHUNK:
            self._flush()
        self.report.documents += 1
        self.report.spans += n

    def write_batch(self, docs: Sequence[tuple[int, str]],
                    span_rows: Iterable[tuple[int, int, int, str, int]]) -> None:
        """Write one record per ``(doc_id, text)`` of ``docs``, in order, from ``span_rows``
        = ``(doc_id, start, end, label, is_discontinuous)`` sorted by doc_id (then start,
        end, id); rows of documents absent from ``docs`` are skipped. The same records as
        ``write_spans`` per document, in one pass over the rows."""
        if self.plain:
            grouped: dict[int, list] = {}
            for doc_id, start, end, label, disc in span_rows:
                grouped.setdefault(doc_id, []).append((start, end, label, disc))
            for doc_id, text in docs:
                self.write_spans(text, grouped.get(doc_id, ()))
            return
        keys, texts = self._keys, dict(docs)
        line_of = {doc_id: self.report.documents + k + 1 for k, (doc_id, _) in enumerate(docs)}
        by_doc: dict[int, dict[str, list[Any]]] = {}
        group_id, entities, text = None, None, ""
        n = dropped = 0
        for doc_id, start, end, label, disc in span_rows:
            if doc_id != group_id:
                group_id = doc_id
                text = texts.get(doc_id)
                entities = None if text is None else by_doc.setdefault(
                    doc_id, {k: [] for k in keys})
            if entities is None:
                continue
            if disc:
                dropped += 1
                continue
            mentions = entities.get(label)
            if mentions is None:
                mentions = entities[label] = []
            mentions.append({"text": text[start:end], "start": start, "end": end})
            n += 1
            if not ((start == 0 or text[start - 1].isspace())
                    and (end == len(text) or text[end].isspace())):
                self._check(text, start, end, label, line_of[doc_id])
        buf, dumps, opt, desc = self._buf, orjson.dumps, orjson.OPT_APPEND_NEWLINE, self._desc
        for doc_id, text in docs:
            entities = by_doc.get(doc_id)
            if entities is None:
                entities = {k: [] for k in keys}
            output: dict[str, Any] = {"entities": entities}
            if desc is not None:
                output["entity_descriptions"] = {k: d for k, d in desc.items() if k in entities}
            buf.append(dumps({"input": text, "output": output}, option=opt))
        if dropped:
            self.report.dropped["discontinuous"] += dropped
        self.report.documents += len(docs)
        self.report.spans += n
        if len(buf) >= self.CHUNK:
            self._flush()

    def _check(self, text: str, start: int, end: int, label: str, line: int) -> None:
        """Count (and keep an example of) a mention whose ends are not on gliner2's word
        boundaries: its trainer moves it to the words holding them."""
        pattern = gliner2_word_re()
        if on_word_boundaries(text, start, end, pattern):
            return
        self.report.warnings["not_on_word_boundaries"] += 1
        s, e = snapped(text, start, end, pattern)
        self.report.detail({"line": line, "label": label, "start": start, "end": end,
                            "text": text[start:end], "trainer_reads": text[s:e]})

    def _check_strings(self, text: str, entities: dict[str, list[Any]], line: int) -> None:
        """Count plain-string mentions gliner2's trainer cannot find as a word sequence."""
        pattern = gliner2_word_re()
        haystack: list[str] | None = None
        for label, mentions in entities.items():
            for m in mentions:
                if haystack is None:
                    haystack = lowered_words(text, pattern)
                if not contains_words(haystack, lowered_words(m, pattern)):
                    self.report.warnings["plain_string_not_found"] += 1
                    self.report.detail({"line": line, "label": label, "text": m,
                                        "why": "not a sequence of whole words of the text"})

    def _flush(self) -> None:
        self.fh.write(b"".join(self._buf))
        self._buf.clear()

    def close(self) -> dict[str, Any]:
        try:
            self._flush()
        finally:
            self.fh.close()
        w = self.report.warnings
        if w.get("not_on_word_boundaries"):
            self.report.notes.append(
                f"{w['not_on_word_boundaries']} mentions do not fall on gliner2's word "
                "boundaries: its trainer moves them to the whole words holding their ends")
        if w.get("plain_string_not_found"):
            self.report.notes.append(
                f"{w['plain_string_not_found']} plain-string mentions are not a sequence of "
                "whole words of their text: gliner2's trainer cannot find them")
        return self.report.as_dict()
