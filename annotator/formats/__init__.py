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

    def can_read(self) -> bool:
        return callable(getattr(self._mod(), "read", None))

    def can_write(self) -> bool:
        return bool(self.writer_class) and callable(
            getattr(self._mod(), self.writer_class, None))


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


@dataclass(frozen=True)
class PluginFormatSpec(FormatSpec):
    """A format from a ``medannotator.formats`` entry point (``annotator.formats.plugin``):
    its class is imported when the format is first used."""

    entry_point: Any = None

    def _mod(self) -> Any:
        raise AnnotatorError(f"format {self.name!r} is a plugin's, not a module of the tool")

    @property
    def read(self) -> Callable[..., Any]:
        from .plugin import reader

        return reader(self.entry_point)

    def writer(self, out: Any, **options: Any) -> Any:
        from .plugin import PluginWriter

        return PluginWriter(self.entry_point, out, **options)

    def can_read(self) -> bool:
        from .plugin import load_class

        return callable(getattr(load_class(self.entry_point), "read", None))

    def can_write(self) -> bool:
        from .plugin import load_class

        return callable(getattr(load_class(self.entry_point), "write", None))


_plugins_loaded = False


def load_plugins() -> None:
    """Add every installed ``medannotator.formats`` entry point to :data:`FORMATS` (once per
    process; names only: a plugin is imported when its format is used)."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    from .plugin import GROUP, format_entry_points

    for ep in format_entry_points():
        if ep.name in FORMATS:
            raise AnnotatorError(f"the {GROUP} entry point {ep.name!r} ({ep.value}) has the "
                                 "name of a format that exists already")
        FORMATS[ep.name] = PluginFormatSpec(
            ep.name, module="", writer_class="write", ext=".txt",
            description=f"plugin: {ep.value}", entry_point=ep)


def format_names() -> tuple[str, ...]:
    """Every format, the tool's own first, then the plugins'."""
    load_plugins()
    return tuple(FORMATS)


def get_format(name: str) -> FormatSpec:
    load_plugins()
    try:
        return FORMATS[name]
    except KeyError:
        raise AnnotatorError(
            f"unknown format {name!r}; known formats: {', '.join(FORMATS)}") from None


__all__ = ["FORMATS", "FormatSpec", "PluginFormatSpec", "format_names", "get_format",
           "load_plugins"]
