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

from annotator.model import REVIEW_STATUSES, SOURCES, STATUSES, Document, Span

from .base import Errors, Parsed, Report, decode_json_line, iter_jsonl, make_span


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
_SOURCES, _STATUSES = frozenset(SOURCES), frozenset(STATUSES)


def read(path: Path, errors: Errors, **_: Any) -> Iterator[Parsed]:
    return iter_jsonl(path, parse_line, errors)


def parse_line(raw: bytes, file: str, lineno: int, errors: Errors) -> Parsed | None:
    obj = decode_json_line(raw, file, lineno, errors)
    if obj is None:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        errors.add('expected an object with a "text" string', file=file, line=lineno)
        return None
    status = obj.get("review_status") or "todo"
    if status not in REVIEW_STATUSES:
        errors.add(f"unknown review_status {status!r}", file=file, line=lineno)
        return None
    text = obj["text"]
    n = len(text)
    parsed = Parsed(Document(text=text, name=str(obj.get("name") or ""),
                             meta=obj.get("meta") or {}, review_status=status))
    where = f"{file}:{lineno}"
    spans, wheres = parsed.doc.spans, parsed.where
    for k, s in enumerate(obj.get("spans") or []):
        # fast path: the common, well-formed continuous span, checked here with plain ints
        # (the same checks as Span.__post_init__ + make_span); anything else (fragments,
        # non-int offsets, odd values) goes through the validating path below, which also
        # words the error
        if type(s) is dict and not s.get("fragments"):
            start, end, label = s.get("start"), s.get("end"), s.get("label")
            source, st = s.get("source"), s.get("status")
            if source is None:
                source = "import"
            if st is None:
                st = "accepted"
            if (type(start) is int and type(end) is int and 0 <= start < end <= n
                    and type(label) is str and label and type(source) is str
                    and source in _SOURCES and type(st) is str and st in _STATUSES):
                spans.append(Span.trusted(start, end, label, source, st, s.get("score"),
                                          s.get("source_version"), s.get("annotator"),
                                          s.get("meta")))
                wheres.append(where)
                continue
        if not isinstance(s, dict) or "label" not in s:
            errors.add(f"span {k}: expected an object with start, end, label",
                       file=file, line=lineno)
            continue
        frags = s.get("fragments") or [(s.get("start"), s.get("end"))]
        kw = {key: s[key] for key in _SPAN_KW if s.get(key) is not None}
        kw.setdefault("source", "import")
        try:
            frags = [(int(a), int(b)) for a, b in frags]
        except (TypeError, ValueError):
            errors.add(f"span {k}: offsets must be integers", file=file, line=lineno)
            continue
        sp = make_span(text, frags, str(s["label"]), where, errors, **kw)
        if sp is not None:
            if (s.get("start"), s.get("end")) != (sp.start, sp.end):
                errors.add(f"span {k}: start/end {s.get('start')}, {s.get('end')} do not match "
                           f"its fragments", file=file, line=lineno)
                continue
            parsed.add(sp, where)
    return parsed


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
