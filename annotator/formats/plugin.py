"""Third-party import/export formats, through the ``medannotator.formats`` entry point group.

The public contract (README, "Writing a plugin"): an entry point ``NAME = module:Class``; the
class (built with no arguments) has an attribute ``name: str`` and ``read(path: str) ->
Iterable[dict]`` and/or ``write(records: Iterable[dict], path: str) -> None``, records in the
native jsonl shape (``annotator.formats.jsonl``). Optional: ``extension`` (the output file's
suffix, default ``.txt``) and ``description``.

Reading goes through the native format's own checks (each record as one jsonl line would
be: text, spans against the text, sources, statuses) and the same all-or-nothing import; a
reader may raise ``ValueError("FILE:LINE: what is wrong")``, reported as such. Writing goes
through the same staging and atomic publish as every export: the records stream from a
temporary file the writer fills, so memory stays flat.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import orjson

from annotator.errors import AnnotatorError
from annotator.plugins import distribution, group_entry_points, load_entry_point

from .base import Errors, Parsed, Report

GROUP = "medannotator.formats"


def format_entry_points() -> list[EntryPoint]:
    return group_entry_points(GROUP)


def load_class(ep: EntryPoint) -> Any:
    cls = load_entry_point(ep, "format plugin")
    name = getattr(cls, "name", None)
    if name != ep.name:
        raise AnnotatorError(f"format plugin {ep.value} ({distribution(ep)}): its name "
                             f"attribute {name!r} differs from the entry point {ep.name!r}")
    if not callable(getattr(cls, "read", None)) and not callable(getattr(cls, "write", None)):
        raise AnnotatorError(f"format plugin {ep.name!r}: {ep.value} has neither read() nor "
                             "write()")
    return cls


def reader(ep: EntryPoint):
    """``read(path, errors, **options) -> Iterator[Parsed]`` over the plugin's records."""
    from .jsonl import parse_line

    def read(path: Path, errors: Errors, **_: Any) -> Iterator[Parsed]:
        impl = load_class(ep)()
        if not callable(getattr(impl, "read", None)):
            raise AnnotatorError(f"format {ep.name!r} cannot be imported (its plugin has no "
                                 "read())")
        file = str(path)
        n = 0
        try:
            for n, record in enumerate(impl.read(file), 1):
                try:
                    raw = orjson.dumps(record)
                except TypeError as exc:
                    errors.add(f"record {n}: not JSON data ({exc})", file=file)
                    continue
                parsed = parse_line(raw, file, n, errors)
                if parsed is not None:
                    parsed.origin = f"{file} (record {n})"
                    yield parsed
        except ValueError as exc:  # the reader's own "FILE:LINE: what is wrong"
            msg = str(exc)
            head, sep, rest = msg.partition(": ")
            where_file, _, line = head.rpartition(":")
            if sep and where_file and line.isdigit():
                errors.add(rest, file=where_file, line=int(line))
            else:
                errors.add(f"after record {n}: {msg}", file=file)
    return read


class PluginWriter:
    """A writer whose ``close`` hands the documents, as native records, to the plugin's
    ``write(records, path)`` (``out`` is the staged path the export publishes)."""

    def __init__(self, ep: EntryPoint, out: Path, **_: Any) -> None:
        self.impl = load_class(ep)()
        if not callable(getattr(self.impl, "write", None)):
            raise AnnotatorError(f"format {ep.name!r} cannot be exported (its plugin has no "
                                 "write())")
        self.out = Path(out)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".records-", suffix=".jsonl", dir=self.out.parent)
        self.tmp = Path(tmp)
        self.fh = os.fdopen(fd, "wb")
        self.report = Report()

    def write(self, doc: Any) -> None:
        from .jsonl import doc_to_dict

        self.fh.write(orjson.dumps(doc_to_dict(doc)) + b"\n")
        self.report.documents += 1
        self.report.spans += len(doc.spans)

    def _records(self) -> Iterator[dict[str, Any]]:
        with open(self.tmp, "rb") as fh:
            for line in fh:
                yield orjson.loads(line)

    def close(self) -> dict[str, Any]:
        self.fh.close()
        try:
            self.impl.write(self._records(), str(self.out))
        finally:
            self.tmp.unlink(missing_ok=True)
        return self.report.as_dict()
