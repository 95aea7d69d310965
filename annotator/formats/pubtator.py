"""PubTator (MedMentions): ``PMID|t|title``, ``PMID|a|abstract``, then
``PMID<TAB>start<TAB>end<TAB>mention<TAB>semtypes<TAB>entity id`` lines; documents are
separated by a blank line. Offsets index ``title + " " + abstract``.

Label = the semantic type (TUI, schema ``medmentions-st21pv``). A semtype column holding
several comma-separated types takes the first; all are kept in ``span.meta["semtypes"]``.
The entity id (``UMLS:C...``) goes to ``span.meta["cui"]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from annotator.model import Document

from .base import Errors, Parsed, Report, iter_files, make_span, read_text_checked


def read(path: Path, errors: Errors, **_: Any) -> Iterator[Parsed]:
    for f in iter_files(path, ".txt"):
        yield from _read_file(f, errors)


def _read_file(f: Path, errors: Errors) -> Iterator[Parsed]:
    file = str(f)
    pmid: str | None = None
    title: str | None = None
    parsed: Parsed | None = None
    content = read_text_checked(f, errors)  # names the file when it is not UTF-8
    if content is None:
        return
    for lineno, line in enumerate(content.split("\n"), 1):
        line = line.removesuffix("\r")
        if not line.strip():
            if parsed is not None:
                yield parsed
            pmid, title, parsed = None, None, None
            continue
        head = line.split("|", 2)
        if len(head) == 3 and head[1] in ("t", "a") and "\t" not in head[0]:
            if head[1] == "t":
                if parsed is not None:
                    yield parsed
                pmid, title, parsed = head[0], head[2], None
            elif title is None or head[0] != pmid:
                errors.add(f"abstract of {head[0]} without its title line", file=file,
                           line=lineno)
            else:
                text = title + " " + head[2]
                parsed = Parsed(Document(text=text, name=pmid,
                                         meta={"pmid": pmid, "title_length": len(title)}),
                                origin=f"{file}:{lineno}")
            continue
        cols = line.split("\t")
        if parsed is None or len(cols) < 5:
            errors.add("expected a mention line PMID\\tstart\\tend\\tmention\\tsemtype\\tid "
                       "after the title and abstract lines", file=file, line=lineno)
            continue
        if cols[0] != pmid:
            errors.add(f"mention of {cols[0]} inside document {pmid}", file=file, line=lineno)
            continue
        if not all(c.isascii() and c.isdigit() for c in cols[1:3]):
            errors.add(f"offsets {cols[1]!r} {cols[2]!r} are not integers", file=file,
                       line=lineno)
            continue
        start, end = int(cols[1]), int(cols[2])
        types = [t.strip() for t in cols[4].split(",") if t.strip()]
        if not types:
            errors.add("empty semantic type column", file=file, line=lineno)
            continue
        meta: dict[str, Any] = {}
        if len(cols) > 5 and cols[5]:
            meta["cui"] = cols[5]
        if len(types) > 1:
            meta["semtypes"] = types
        where = f"{file}:{lineno}"
        sp = make_span(parsed.doc.text, [(start, end)], types[0], where, errors,
                       source="import", meta=meta)
        if sp is None:
            continue
        if parsed.doc.text[start:end] != cols[3]:
            errors.add(f"mention {cols[3]!r} != text[{start}:{end}] "
                       f"{parsed.doc.text[start:end]!r}", file=file, line=lineno)
            continue
        parsed.add(sp, where)
    if parsed is not None:
        yield parsed


class PubtatorWriter:
    """Title = the first ``title_length`` characters (from a PubTator import), else the first
    line. Line breaks elsewhere become spaces (same length, so offsets hold) and are counted."""

    def __init__(self, out: Path, **_: Any) -> None:
        self.out = Path(out)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.out, "w", encoding="utf-8", newline="")  # noqa: SIM115 (closed in close())
        self.report = Report()

    def write(self, doc: Document) -> None:
        text = doc.text
        n = doc.meta.get("title_length")
        if not isinstance(n, int) or n > len(text) or (n < len(text) and text[n] != " "):
            n = text.find("\n")
            n = len(text) if n < 0 else n
        flat = text.replace("\r", " ").replace("\n", " ")
        if flat != text:
            self.report.dropped["line_breaks_flattened_docs"] += 1
        pmid = str(doc.meta.get("pmid") or doc.name or doc.id).replace("|", "_")
        lines = [f"{pmid}|t|{flat[:n]}", f"{pmid}|a|{flat[n + 1:]}"]
        for sp in doc.spans:
            if sp.fragments:
                self.report.dropped["discontinuous"] += 1
                continue
            semtypes = sp.meta.get("semtypes") or []
            types = ",".join(semtypes if semtypes[:1] == [sp.label] else [sp.label])
            lines.append(f"{pmid}\t{sp.start}\t{sp.end}\t{flat[sp.start:sp.end]}\t{types}\t"
                         f"{sp.meta.get('cui', '')}")
            self.report.spans += 1
        self.fh.write("\n".join(lines) + "\n\n")
        self.report.documents += 1

    def close(self) -> dict[str, Any]:
        self.fh.close()
        return self.report.as_dict()
