"""brat standoff: a folder (recursive) of ``.txt`` files with sibling ``.ann`` files.

Reading rules (from the real MACCROBAT and QUAERO files):
- ``.txt`` read as UTF-8 with ``newline=""``: offsets are code points into the raw text.
- A missing or empty ``.ann`` means no spans; ``.conf`` files are ignored.
- ``T`` lines are split on the first two TABs only (the surface may hold a TAB); the middle
  column is ``LABEL s e[;s e...]``; several fragments make a discontinuous span.
- Offsets are trusted over the surface column; a mismatch is counted in
  ``meta["brat"]["surface_mismatches"]``, never an error.
- ``#n AnnotatorNotes Tk note`` goes to that span's ``meta["notes"]``; every other non-T line
  (``E R A * #``, also with trailing whitespace) is kept verbatim in
  ``meta["brat"]["other"]`` and written back on export when the T ids it names still exist.
- The T id is kept in ``span.meta["brat_id"]`` so that kept E/R/A lines stay valid.

Document name = path relative to the import root, without extension.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from annotator.model import Document

from .base import (
    Errors,
    Parsed,
    Report,
    iter_files,
    make_span,
    read_text_checked,
    write_text_file,
)
from .text import TextWriter, relative_name

_TID = re.compile(r"(?<=[:\s])T\d+\b")


def read(path: Path, errors: Errors, **_: Any) -> Iterator[Parsed]:
    for txt in iter_files(path, ".txt"):
        text = read_text_checked(txt, errors)
        if text is None:
            continue
        ann = txt.with_suffix(".ann")
        parsed = Parsed(Document(text=text, name=relative_name(txt, path)), origin=str(txt))
        if ann.exists():
            content = read_text_checked(ann, errors)
            if content is None:
                continue
            parse_ann(content, str(ann), parsed, errors)
        yield parsed


def parse_ann(content: str, file: str, parsed: Parsed, errors: Errors) -> None:
    text = parsed.doc.text
    other: list[str] = []
    notes: list[tuple[str, str, str]] = []  # (target id, note, raw line)
    mismatches: list[str] = []
    by_id: dict[str, int] = {}
    # split on LF only: str.splitlines would also break at U+2028, U+0085, ...
    for lineno, raw in enumerate(content.split("\n"), 1):
        line = raw.removesuffix("\r")
        if not line.strip():
            continue
        if not line.startswith("T"):
            cols = line.split("\t", 2)
            head = cols[1].split() if len(cols) > 1 else []
            if (line.startswith("#") and len(head) == 2 and head[0] == "AnnotatorNotes"
                    and head[1].startswith("T")):
                notes.append((head[1], cols[2] if len(cols) > 2 else "", line))
            else:
                other.append(line)
            continue
        cols = line.split("\t", 2)
        if len(cols) < 2:
            errors.add("T line without a TAB-separated label and offsets", file=file,
                       line=lineno)
            continue
        tid, middle = cols[0], cols[1]
        surface = cols[2] if len(cols) > 2 else None
        label, _, offsets = middle.strip().partition(" ")
        try:
            frags = [(_offset(a), _offset(b)) for a, b in
                     (frag.split() for frag in offsets.split(";"))]
        except ValueError:
            errors.add(f"{tid}: cannot read offsets {offsets!r} (expected 's e[;s e]')",
                       file=file, line=lineno)
            continue
        sp = make_span(text, frags, label, f"{file}:{lineno}", errors, source="import",
                       meta={"brat_id": tid})
        if sp is None:
            continue
        if surface is not None and sp.surface(text) != surface:
            mismatches.append(tid)
        by_id[tid] = len(parsed.doc.spans)
        parsed.add(sp, f"{file}:{lineno}")
    for target, note, raw in notes:
        if target in by_id:
            parsed.doc.spans[by_id[target]].meta.setdefault("notes", []).append(note)
        else:
            other.append(raw)
    brat: dict[str, Any] = {}
    if other:
        brat["other"] = other
    if mismatches:
        brat["surface_mismatches"] = mismatches
    if brat:
        parsed.doc.meta["brat"] = brat


def _offset(s: str) -> int:
    """A brat offset: ASCII digits only (``int`` would also take ``+3``, ``1_0``, ``٣``)."""
    if not (s.isascii() and s.isdigit()):
        raise ValueError(s)
    return int(s)


def format_ann(doc: Document, report: Report | None = None) -> str:
    """The ``.ann`` content for a document: T lines (original ids kept where possible),
    AnnotatorNotes, then the kept E/R/A/* lines whose T references all still exist."""
    used = {sp.meta.get("brat_id") for sp in doc.spans if sp.meta.get("brat_id")}
    next_t = 1 + max((int(t[1:]) for t in used if t[1:].isdigit()), default=0)
    next_note = 1 + max((int(line[1:].split("\t")[0]) for line in
                         doc.meta.get("brat", {}).get("other", [])
                         if line.startswith("#") and line[1:].split("\t")[0].isdigit()),
                        default=0)
    lines: list[str] = []
    note_lines: list[str] = []
    seen: set[str] = set()
    for sp in doc.spans:
        tid = sp.meta.get("brat_id")
        if not tid or tid in seen:
            tid = f"T{next_t}"
            next_t += 1
        seen.add(tid)
        offs = ";".join(f"{s} {e}" for s, e in sp.parts)
        surface = sp.surface(doc.text).replace("\r", " ").replace("\n", " ")
        lines.append(f"{tid}\t{sp.label} {offs}\t{surface}")
        for note in sp.meta.get("notes", []):
            note_lines.append(f"#{next_note}\tAnnotatorNotes {tid}\t{note}")
            next_note += 1
    for line in doc.meta.get("brat", {}).get("other", []):
        if all(t in seen for t in _TID.findall(line.split("\t", 1)[-1])):
            lines.append(line)
        elif report is not None:
            report.dropped["brat_lines_with_missing_T"] += 1
    lines.extend(note_lines)
    return "".join(line + "\n" for line in lines)


class BratWriter(TextWriter):
    """Writes ``<name>.txt`` (byte-identical) and ``<name>.ann`` under ``out``."""

    def write(self, doc: Document) -> None:
        stem = self.write_text(doc)
        write_text_file(stem.with_name(stem.name + ".ann"), format_ann(doc, self.report))
        self.report.documents += 1
        self.report.spans += len(doc.spans)
