"""Plain text: a ``.txt`` file or a folder of them (recursive). No spans.

Document name = path relative to the import root without ``.txt`` (the file stem for a single
file). Export writes one ``<name>.txt`` per document, byte-identical to the stored text.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from annotator.model import Document

from .base import (
    Errors,
    Parsed,
    Report,
    doc_name,
    iter_files,
    read_text_checked,
    safe_relpath,
    write_text_file,
)


def relative_name(path: Path, root: Path) -> str:
    if root.is_file():
        return path.stem
    return path.relative_to(root).with_suffix("").as_posix()


def read(path: Path, errors: Errors, **_: Any) -> Iterator[Parsed]:
    for f in iter_files(path, ".txt"):
        text = read_text_checked(f, errors)
        if text is None:
            continue
        yield Parsed(Document(text=text, name=relative_name(f, path),
                              meta={"source_file": relative_name(f, path) + ".txt"}),
                     origin=str(f))


class TextWriter:
    def __init__(self, out: Path, **_: Any) -> None:
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.report = Report()

    def write(self, doc: Document) -> None:
        self.write_text(doc)
        self.report.documents += 1
        self.report.dropped["spans_not_written"] += len(doc.spans)

    def write_text(self, doc: Document) -> Path:
        """Write ``<name>.txt`` byte-identical; returns the path without its suffix."""
        rel = safe_relpath(doc_name(doc, self.report.documents), f"doc{self.report.documents}")
        write_text_file(self.out / rel.with_name(rel.name + ".txt"), doc.text)
        return self.out / rel

    def close(self) -> dict[str, Any]:
        return self.report.as_dict()
