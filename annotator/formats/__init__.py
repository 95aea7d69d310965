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
from annotator.options import Option


@dataclass(frozen=True)
class FormatSpec:
    name: str
    module: str
    writer_class: str | None
    ext: str  # output file extension; "" = a folder
    default_schema: str | None = None
    keeps_provenance: bool = False  # the file carries span source/status (native jsonl)
    description: str = ""
    read_options: tuple[Option, ...] = ()  # given to read(path, errors, **options)
    write_options: tuple[Option, ...] = ()  # export options (see annotator.io.export_job)

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
               description="text column + ';'-separated span-string columns",
               read_options=(
                   Option("csv_text_col", str, "ori_review", "the text column",
                          title="Text column"),
                   Option("csv_label_col", str, None,
                          "a column of ';'-separated span strings and its label, COL=LABEL "
                          "(repeatable; default minor_col=MinorChild "
                          "gender_col=GenderIndication)",
                          title="Label columns (COL=LABEL; ...)", multiple=True))),
    FormatSpec("pubtator", "pubtator", "PubtatorWriter", ".txt",
               default_schema="medmentions-st21pv", description="PubTator (MedMentions)"),
    FormatSpec("gliner", "gliner", "GlinerWriter", ".json",
               description="GLiNER v1 training JSON (tokenized_text + ner)",
               write_options=(
                   Option("max_words", int, None, "records of at most N words (gliner's "
                          "max_len; default 384); longer documents are windowed with overlap",
                          title="Words per record"),
                   Option("max_width", int, None, "report spans wider than N words "
                          "(gliner's max_width; default 12)", title="Widest span (words)"))),
    FormatSpec("gliner2", "gliner2", "Gliner2Writer", ".jsonl",
               description="GLiNER2 training JSONL (input + output.entities)",
               write_options=(
                   Option("descriptions", bool, False,
                          "include entity_descriptions from the schema",
                          title="Label descriptions"),
                   Option("plain_strings", bool, False,
                          "mentions as plain strings instead of {text, start, end}",
                          title="Mentions as plain strings"))),
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


def format_options(kind: str) -> dict[str, tuple[Option, list[str]]]:
    """``{option name: (option, [formats that take it])}`` over every format, for
    ``kind`` ``"read"`` (import) or ``"write"`` (export): one CLI flag and one GUI field
    each."""
    load_plugins()
    out: dict[str, tuple[Option, list[str]]] = {}
    for name, spec in FORMATS.items():
        for opt in spec.read_options if kind == "read" else spec.write_options:
            out.setdefault(opt.name, (opt, []))[1].append(name)
    return out


def check_options(spec: FormatSpec, kind: str, given: dict[str, Any]) -> dict[str, Any]:
    """The options of ``given`` that format ``spec`` takes, coerced to their types; another
    format's option left at its default is dropped, one that was set is refused by name."""
    mine = {o.name: o for o in (spec.read_options if kind == "read" else spec.write_options)}
    known = format_options(kind)
    out: dict[str, Any] = {}
    for key, value in given.items():
        if key in mine:
            out[key] = mine[key].coerce(value, f"format {spec.name!r}")
        elif key in known and value not in (None, False, "", [], known[key][0].default):
            raise AnnotatorError(f"--{key.replace('_', '-')} is an option of "
                                 f"{', '.join(known[key][1])}, not of format {spec.name!r}")
        elif key not in known:
            raise AnnotatorError(f"format {spec.name!r} takes no option {key!r}")
    return out


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


__all__ = ["FORMATS", "FormatSpec", "PluginFormatSpec", "check_options", "format_names",
           "format_options", "get_format", "load_plugins"]
