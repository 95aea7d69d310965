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
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from annotator.model import Document, LabelSchema

from .base import Errors, Parsed, Report, find_all, iter_files, make_span


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
    for f in iter_files(path, ".jsonl"):
        with open(f, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                if raw.strip():
                    p = parse_line(raw, str(f), lineno, errors)
                    if p is not None:
                        yield p


def parse_line(raw: bytes, file: str, lineno: int, errors: Errors) -> Parsed | None:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        errors.add(f"invalid JSON: {exc}", file=file, line=lineno)
        return None
    text = obj.get("input", obj.get("text")) if isinstance(obj, dict) else None
    output = obj.get("output", {}) if isinstance(obj, dict) else None
    if not isinstance(text, str) or not isinstance(output, dict):
        errors.add('expected {"input": text, "output": {"entities": {...}}}', file=file,
                   line=lineno)
        return None
    where = f"{file}:{lineno}"
    parsed = Parsed(Document(text=text, name=f"{Path(file).stem}:{lineno}"))
    seen: set[tuple] = set()
    entities = output.get("entities") or {}
    if not isinstance(entities, dict):
        errors.add('"entities" must be an object {label: [mentions]}', file=file, line=lineno)
        return None
    for label, mentions in entities.items():
        for m in mentions or []:
            if isinstance(m, dict):
                try:
                    found = [(int(m["start"]), int(m["end"]))]
                except (KeyError, TypeError, ValueError):
                    errors.add(f"{label}: mention {m!r} needs text, start and end", file=file,
                               line=lineno)
                    continue
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
                sp = make_span(text, [(s, e)], str(label), where, errors, source="import")
                if sp is not None and sp.key() not in seen:
                    seen.add(sp.key())
                    parsed.add(sp, where)
    return parsed


class Gliner2Writer:
    def __init__(self, out: Path, *, schema: LabelSchema | None = None,
                 descriptions: bool = False, plain_strings: bool = False, **_: Any) -> None:
        self.out = Path(out)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.out, "wb")  # noqa: SIM115 (closed in close())
        self.schema, self.descriptions, self.plain = schema, descriptions, plain_strings
        self.report = Report()

    def write(self, doc: Document) -> None:
        self.write_spans(doc.text, ((sp.start, sp.end, sp.label, sp.fragments is not None)
                                    for sp in doc.spans))

    def write_spans(self, text: str, spans: Iterable[tuple[int, int, str, bool]]) -> None:
        """Write one record from ``(start, end, label, is_discontinuous)`` tuples."""
        rec = record_from_spans(text, spans, self.schema, descriptions=self.descriptions,
                                plain_strings=self.plain, dropped=self.report.dropped)
        self.fh.write(orjson.dumps(rec) + b"\n")
        self.report.documents += 1
        self.report.spans += sum(len(v) for v in rec["output"]["entities"].values())

    def close(self) -> dict[str, Any]:
        self.fh.close()
        return self.report.as_dict()
