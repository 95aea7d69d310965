"""What every format module shares: parsed records, error collection, writer protocol and
file walking (locating strings and tokenizing are ``annotator.text``'s ``find_all`` and
``tokens``).

Invariants: readers never strip or normalise text (files are read with ``newline=""`` and
UTF-8), every span they build is checked against ``text[start:end]`` before it is handed on,
and they report problems as ``file:line: what is wrong`` through ``Errors``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson

from annotator.errors import FormatError
from annotator.model import Document, Span, SpanError

MAX_LISTED_ERRORS = 5


@dataclass
class Parsed:
    """One document read from a file, with the ``file:line`` each span came from
    (``where[i]`` belongs to ``doc.spans[i]``) so that later checks (labels) can name it, and
    ``origin``: where the document itself came from (``file:line`` or ``file (record)``)."""

    doc: Document
    where: list[str] = field(default_factory=list)
    origin: str = ""

    def add(self, span: Span, where: str) -> None:
        self.doc.spans.append(span)
        self.where.append(where)


class Errors:
    """Collects ``file:line: message`` problems; ``raise_if_any`` raises one FormatError
    listing the first few (parsing goes on where it safely can)."""

    def __init__(self) -> None:
        self.items: list[FormatError] = []

    def add(self, message: str, *, file: str | None = None, line: int | None = None,
            record: str | None = None) -> None:
        self.items.append(FormatError(message, file=file, line=line, record=record))

    def add_at(self, where: str, message: str) -> None:
        """Record a problem at ``where`` = ``"file:line"`` (or a record description)."""
        file, _, rest = where.rpartition(":")
        if rest.isdigit() and file:
            self.add(message, file=file, line=int(rest))
        else:
            self.add(message, record=where)

    def __len__(self) -> int:
        return len(self.items)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        if len(self.items) == 1:
            raise self.items[0]
        shown = "\n  ".join(str(e) for e in self.items[:MAX_LISTED_ERRORS])
        more = len(self.items) - MAX_LISTED_ERRORS
        tail = f"\n  ... and {more} more" if more > 0 else ""
        first = self.items[0]
        err = FormatError(f"{len(self.items)} problems in the input:\n  {shown}{tail}")
        err.file, err.line, err.record = first.file, first.line, first.record
        err.errors = list(self.items)  # type: ignore[attr-defined]
        raise err


def make_span(parsed_text: str, frags: list[tuple[int, int]], label: str, where: str,
              errors: Errors, *, field: str = "", **kw: Any) -> Span | None:
    """A span checked against the text, or None after recording why it is not valid
    (prefixed with ``field``, e.g. ``spans[3]``, when given)."""
    try:
        if len(frags) == 1:  # the common case, without from_fragments' sorting
            sp = Span(frags[0][0], frags[0][1], label, **kw)
        else:
            sp = Span.from_fragments(frags, label, **kw)
        if sp.end > len(parsed_text):
            sp.check(parsed_text)
        return sp
    except SpanError as exc:
        errors.add_at(where, f"{field}: {exc}" if field else str(exc))
        return None


def read_text_file(path: Path) -> str:
    """The exact file contents: UTF-8, no newline translation (``UnicodeDecodeError``
    positions are byte offsets into the whole file)."""
    with open(path, "rb") as fh:
        return fh.read().decode("utf-8")


def not_utf8(exc: UnicodeDecodeError) -> str:
    """``not UTF-8: <reason> at byte N (line L)`` for an error decoding a whole file."""
    line = exc.object.count(b"\n", 0, exc.start) + 1
    return f"not UTF-8: {exc.reason} at byte {exc.start} (line {line})"


def read_text_checked(path: Path, errors: Errors) -> str | None:
    """``read_text_file``, or None after recording ``file:line: not UTF-8 ...`` (so that a
    folder import names the file at fault, not the folder)."""
    try:
        return read_text_file(path)
    except UnicodeDecodeError as exc:
        errors.add(not_utf8(exc), file=str(path))
        return None


JSON_MAX_DEPTH = 1024  # orjson's own nesting limit


def load_json_file(path: Path, errors: Errors) -> Any:
    """The JSON value of a whole file (orjson: strict JSON, no NaN/Infinity, nesting limited to
    ``JSON_MAX_DEPTH`` levels, UTF-8 checked), or ``INVALID`` after recording why not."""
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        errors.add(not_utf8(exc), file=str(path))
        return INVALID
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        errors.add(json_problem(exc), file=str(path), line=exc.lineno)
        return INVALID
    except MemoryError:
        errors.add(f"too large to load ({len(raw):,} bytes); split it into several files",
                   file=str(path))
        return INVALID


def write_text_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)


def safe_relpath(name: str, fallback: str) -> Path:
    """A relative output path from a document name, never escaping the output folder."""
    parts = [p for p in Path(name).parts if p not in ("", ".", "..", "/")] if name else []
    return Path(*parts) if parts else Path(fallback)


def doc_name(doc: Document, i: int) -> str:
    return doc.name or (f"doc{doc.id}" if doc.id is not None else f"doc{i}")


# ---------------------------------------------------------------------- writers
class Writer(Protocol):
    """Streams documents to ``out``; ``close`` returns a report (counts, what was dropped)."""

    def write(self, doc: Document) -> None: ...

    def close(self) -> dict[str, Any]: ...


class Report:
    """Counts for an export: documents, spans written, spans dropped by reason, spans written
    that a trainer will read differently (``warnings``, with up to ``MAX_DETAILS``
    examples in ``details``), records when a document may give several."""

    MAX_DETAILS = 1000

    def __init__(self) -> None:
        self.documents = 0
        self.spans = 0
        self.records = 0
        self.dropped: Counter[str] = Counter()
        self.warnings: Counter[str] = Counter()
        self.details: list[dict[str, Any]] = []
        self.notes: list[str] = []

    def detail(self, item: dict[str, Any]) -> None:
        if len(self.details) < self.MAX_DETAILS:
            self.details.append(item)

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"documents": self.documents, "spans": self.spans,
                             "dropped": dict(self.dropped)}
        if self.records:
            d["records"] = self.records
        if self.warnings:
            d["warnings"] = dict(self.warnings)
        if self.details:
            d["details"] = self.details
        if self.notes:
            d["notes"] = self.notes
        return d


def iter_files(root: Path, suffix: str) -> Iterator[Path]:
    """``root`` itself if it is a file, else every ``*suffix`` below it, sorted."""
    if root.is_file():
        yield root
        return
    if not root.exists():
        raise FormatError("no such file or folder", file=str(root))
    yield from sorted(p for p in root.rglob(f"*{suffix}") if p.is_file())


def iter_jsonl(root: Path, parse_line: Any, errors: Errors) -> Iterator[Any]:
    """Parse every non-blank line of the ``.jsonl`` files at ``root`` with
    ``parse_line(raw_bytes, file, lineno, errors)``, yielding what it returns (None = skipped)."""
    for f in iter_files(root, ".jsonl"):
        with open(f, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                if raw.strip():
                    parsed = parse_line(raw, str(f), lineno, errors)
                    if parsed is not None:
                        yield parsed


class _Invalid:
    """The value of JSON that could not be decoded (``None`` is JSON ``null``)."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()


def json_problem(exc: Any) -> str:
    """The wording of an orjson decoding error (without its position, given separately)."""
    msg = getattr(exc, "msg", None) or str(exc)
    if "depth limit" in msg or "recursion" in msg:
        return f"invalid JSON: nested deeper than {JSON_MAX_DEPTH} levels"
    if "surrogate" in msg:
        return f"invalid JSON: {msg} (a lone surrogate is not valid Unicode text)"
    if isinstance(exc, orjson.JSONDecodeError) and exc.colno:
        return f"invalid JSON: {msg} (column {exc.colno})"
    return f"invalid JSON: {msg}"


def decode_json_line(raw: bytes, file: str, lineno: int, errors: Errors) -> Any:
    """The JSON value of one line (``None`` for ``null``), or ``INVALID`` after recording
    ``file:line: invalid JSON ...``."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as uexc:
            errors.add(f"not UTF-8: {uexc.reason} at byte {uexc.start} of the line", file=file,
                       line=lineno)
            return INVALID
        errors.add(json_problem(exc), file=file, line=lineno)
        return INVALID
