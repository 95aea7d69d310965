"""Format registry: name -> reader / writer.

A reader is ``read(path, errors, **options) -> Iterator[Parsed]``: it collects problems in
``errors`` (``file:line: what``) and keeps going where it safely can. A writer is a class
``Writer(out, *, schema, **options)`` with ``write(doc)`` and ``close() -> report``.
Folder formats (``ext == ""``) write a folder; the others one file.
Modules are imported when a format is first used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from annotator.errors import AnnotatorError


@dataclass(frozen=True)
class FormatSpec:
    name: str
    module: str
    writer_class: str | None
    ext: str  # output file extension; "" = a folder
    default_schema: str | None = None
    keeps_provenance: bool = False  # the file carries span source/status (native jsonl)
    description: str = ""

    def _mod(self) -> Any:
        return importlib.import_module(f"annotator.formats.{self.module}")

    @property
    def read(self) -> Callable[..., Any]:
        return self._mod().read

    def writer(self, out: Any, **options: Any) -> Any:
        if self.writer_class is None:
            raise AnnotatorError(f"format {self.name!r} cannot be exported")
        return getattr(self._mod(), self.writer_class)(out, **options)


FORMATS: dict[str, FormatSpec] = {f.name: f for f in (
    FormatSpec("text", "text", "TextWriter", "", description="a .txt file or folder, no spans"),
    FormatSpec("jsonl", "jsonl", "JsonlWriter", ".jsonl", keeps_provenance=True,
               description="native lossless JSON lines"),
    FormatSpec("brat", "brat", "BratWriter", "", description="brat standoff folder"),
    FormatSpec("corona2", "corona2", "Corona2Writer", ".json",
               description="LightTag export (Kaggle medical-ner Corona2.json)"),
    FormatSpec("csv", "csv", "CsvWriter", ".csv",
               description="text column + ';'-separated span-string columns"),
    FormatSpec("pubtator", "pubtator", "PubtatorWriter", ".txt",
               default_schema="medmentions-st21pv", description="PubTator (MedMentions)"),
    FormatSpec("gliner", "gliner", "GlinerWriter", ".json",
               description="GLiNER v1 training JSON (tokenized_text + ner)"),
    FormatSpec("gliner2", "gliner2", "Gliner2Writer", ".jsonl",
               description="GLiNER2 training JSONL (input + output.entities)"),
    FormatSpec("conll", "conll", "ConllWriter", ".conll", description="BIO, one token a line"),
)}


def get_format(name: str) -> FormatSpec:
    try:
        return FORMATS[name]
    except KeyError:
        raise AnnotatorError(
            f"unknown format {name!r}; known formats: {', '.join(FORMATS)}") from None


__all__ = ["FORMATS", "FormatSpec", "get_format"]
