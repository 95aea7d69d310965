"""The native JSON-lines format: lossless, one document per line.

``{"id", "name", "text", "meta", "review_status", "spans": [{"start", "end", "label",
"fragments", "source", "source_version", "status", "score", "annotator", "meta"}]}``.
Import keeps source and status as given (``id`` is informative and not reused).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from annotator.model import REVIEW_STATUSES, STATUSES, Document, Span, is_source, sources

from .base import INVALID, Errors, Parsed, Report, decode_json_line, iter_jsonl, make_span
from .validate import (
    label_problem,
    list_problem,
    object_problem,
    offset_problem,
    optional_str_problem,
    score_problem,
    show,
)


def doc_to_dict(doc: Document) -> dict[str, Any]:
    return {
        "id": doc.id,
        "name": doc.name,
        "text": doc.text,
        "meta": doc.meta,
        "review_status": doc.review_status,
        "spans": [span_to_dict(sp) for sp in doc.spans],
    }


def span_to_dict(sp: Span) -> dict[str, Any]:
    return {
        "start": sp.start, "end": sp.end, "label": sp.label,
        "fragments": [list(f) for f in sp.fragments] if sp.fragments else None,
        "source": sp.source, "source_version": sp.source_version, "status": sp.status,
        "score": sp.score, "annotator": sp.annotator, "meta": sp.meta or {},
    }


_SPAN_KW = ("source", "source_version", "status", "score", "annotator", "meta")
_STATUSES = frozenset(STATUSES)


def read(path: Path, errors: Errors, **_: Any) -> Iterator[Parsed]:
    return iter_jsonl(path, parse_line, errors)


def parse_line(raw: bytes, file: str, lineno: int, errors: Errors) -> Parsed | None:
    obj = decode_json_line(raw, file, lineno, errors)
    if obj is INVALID:
        return None
    if type(obj) is not dict:
        errors.add(f'expected an object with a "text" string, not {show(obj)}', file=file,
                   line=lineno)
        return None
    text = obj.get("text")
    if type(text) is not str:
        errors.add(f"text: must be a string, not {show(text)}", file=file, line=lineno)
        return None
    status = obj.get("review_status") or "todo"
    if type(status) is not str or status not in REVIEW_STATUSES:
        errors.add(f"review_status: unknown {show(status)}; known: "
                   f"{', '.join(REVIEW_STATUSES)}", file=file, line=lineno)
        return None
    name = obj.get("name")
    if name is not None and type(name) is not str:
        errors.add(f"name: must be a string or null, not {show(name)}", file=file, line=lineno)
        return None
    meta = obj.get("meta")
    where = f"{file}:{lineno}"
    # meta is checked with the rest of the record (annotator.formats.validate)
    parsed = Parsed(Document(text=text, name=name or "", meta={} if meta is None else meta,
                             review_status=status), origin=where)
    raw_spans = obj.get("spans")
    if raw_spans is None:
        return parsed
    if type(raw_spans) is not list:
        errors.add(f"spans: {list_problem(raw_spans)}", file=file, line=lineno)
        return None
    n = len(text)
    spans, wheres = parsed.doc.spans, parsed.where
    for k, s in enumerate(raw_spans):
        # fast path: the common, well-formed continuous span, checked here with plain type
        # comparisons (the same rules as annotator.formats.validate); anything else
        # (fragments, odd values) goes through the checking path below, which words the error
        if type(s) is dict and not s.get("fragments"):
            start, end, label = s.get("start"), s.get("end"), s.get("label")
            source, st, score = s.get("source"), s.get("status"), s.get("score")
            version, annotator, smeta = s.get("source_version"), s.get("annotator"), s.get("meta")
            if source is None:
                source = "import"
            if st is None:
                st = "accepted"
            if (type(start) is int and type(end) is int and 0 <= start < end <= n
                    and type(label) is str and label and type(source) is str
                    and is_source(source) and type(st) is str and st in _STATUSES
                    and (score is None or type(score) is float or type(score) is int)
                    and (smeta is None or type(smeta) is dict)
                    and (version is None or type(version) is str)
                    and (annotator is None or type(annotator) is str)):
                spans.append(Span.trusted(start, end, label, source, st, score, version,
                                          annotator, smeta))
                wheres.append(where)
                continue
        sp = _checked_span(s, k, text, where, errors)
        if sp is not None:
            parsed.add(sp, where)
    return parsed


_CHECKS = (("label", label_problem), ("score", score_problem),
           ("source_version", optional_str_problem), ("annotator", optional_str_problem))


def _checked_span(s: Any, k: int, text: str, where: str, errors: Errors) -> Span | None:
    """A span from ``spans[k]`` with every field checked, or None after recording
    ``file:line: spans[k].field: what is wrong`` for each problem."""
    field = f"spans[{k}]"
    if type(s) is not dict or "label" not in s:
        got = f"no label in {show(s)}" if type(s) is dict else f"not {show(s)}"
        errors.add_at(where, f"{field}: expected an object with start, end, label, {got}")
        return None
    problems = []
    for key, check in _CHECKS:
        why = check(s.get(key))
        if why:
            problems.append(f"{field}.{key}: {why}")
    smeta = s.get("meta")
    if smeta is not None and type(smeta) is not dict:
        problems.append(f"{field}.meta: {object_problem(smeta)}")
    for key, known in (("source", sources()), ("status", STATUSES)):
        v = s.get(key)
        if v is not None and (type(v) is not str or v not in known):
            problems.append(f"{field}.{key}: unknown span {key} {show(v)}; known: "
                            f"{', '.join(known)}")
    frags = s.get("fragments")
    if frags:
        if type(frags) is not list or not all(type(f) is list and len(f) == 2 for f in frags):
            problems.append(f"{field}.fragments: must be a list of [start, end] pairs, not "
                            f"{show(frags)}")
            frags = None
    else:
        frags = [[s.get("start"), s.get("end")]]
    for i, f in enumerate(frags or ()):
        for j, v in enumerate(f):
            why = offset_problem(v)
            if why:
                name = (("start", "end")[j] if not s.get("fragments")
                        else f"fragments[{i}][{j}]")
                problems.append(f"{field}.{name}: {why}")
    if problems:
        for why in problems:
            errors.add_at(where, why)
        return None
    kw = {key: s[key] for key in _SPAN_KW if s.get(key) is not None}
    kw.setdefault("source", "import")
    sp = make_span(text, [(a, b) for a, b in frags], s["label"], where, errors,
                   field=field, **kw)
    if sp is not None and (s.get("start"), s.get("end")) != (sp.start, sp.end):
        errors.add_at(where, f"{field}: start/end {s.get('start')}, {s.get('end')} do not "
                             f"match its fragments")
        return None
    return sp


class JsonlWriter:
    def __init__(self, out: Path, **_: Any) -> None:
        self.out = Path(out)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.out, "wb")  # noqa: SIM115 (closed in close())
        self.report = Report()

    def write(self, doc: Document) -> None:
        self.fh.write(orjson.dumps(doc_to_dict(doc)) + b"\n")
        self.report.documents += 1
        self.report.spans += len(doc.spans)

    def close(self) -> dict[str, Any]:
        self.fh.close()
        return self.report.as_dict()
