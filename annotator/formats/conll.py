"""CoNLL-style BIO: ``token<TAB>tag`` per line, a blank line between sentences (text lines),
``-DOCSTART-<TAB>O`` before each document.

Export tokenizes with ``annotator.text.tokens``. BIO cannot carry overlaps or gaps:
discontinuous spans, spans not on token boundaries and spans overlapping a longer kept span
(longest first, then leftmost) are dropped and counted in the report. Import joins tokens
with single spaces and sentences with ``\\n``.
"""

from __future__ import annotations

import bisect
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from annotator.model import Document
from annotator.text import tokens

from .base import Errors, Parsed, Report, iter_files, make_span, read_text_checked

DOCSTART = "-DOCSTART-"


def bio_tags(doc: Document, report: Report) -> list[tuple[int, int, str]]:
    toks = tokens(doc.text)
    starts, ends = [s for s, _ in toks], [e for _, e in toks]
    tags = ["O"] * len(toks)
    taken = [False] * len(toks)
    for sp in sorted(doc.spans, key=lambda s: (-(s.end - s.start), s.start)):
        if sp.fragments:
            report.dropped["discontinuous"] += 1
            continue
        i, j = bisect.bisect_left(starts, sp.start), bisect.bisect_left(ends, sp.end)
        if i >= len(toks) or j >= len(toks) or starts[i] != sp.start or ends[j] != sp.end:
            report.dropped["not_on_token_boundaries"] += 1
            continue
        if any(taken[i:j + 1]):
            report.dropped["overlapping"] += 1
            continue
        for k in range(i, j + 1):
            taken[k] = True
            tags[k] = ("B-" if k == i else "I-") + sp.label
        report.spans += 1
    return [(s, e, t) for (s, e), t in zip(toks, tags)]


class ConllWriter:
    def __init__(self, out: Path, **_: Any) -> None:
        self.out = Path(out)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.out, "w", encoding="utf-8", newline="")  # noqa: SIM115 (closed in close())
        self.report = Report()

    def write(self, doc: Document) -> None:
        lines = [f"{DOCSTART}\tO", ""]
        prev_end = 0
        for s, e, tag in bio_tags(doc, self.report):
            if "\n" in doc.text[prev_end:s] and lines[-1] != "":
                lines.append("")
            lines.append(f"{doc.text[s:e]}\t{tag}")
            prev_end = e
        if lines[-1] != "":
            lines.append("")
        self.fh.write("\n".join(lines) + "\n")
        self.report.documents += 1

    def close(self) -> dict[str, Any]:
        self.fh.close()
        return self.report.as_dict()


def read(path: Path, errors: Errors, **_: Any) -> Iterator[Parsed]:
    for f in iter_files(path, ".conll"):
        docs: list[list[list[tuple[str, str, int]]]] = []
        sent: list[tuple[str, str, int]] = []
        content = read_text_checked(f, errors)  # names the file when it is not UTF-8
        if content is None:
            continue
        with io.StringIO(content, newline="") as fh:
            for lineno, line in enumerate(fh, 1):
                line = line.rstrip("\r\n")
                if not line.strip():
                    if sent:
                        docs[-1].append(sent) if docs else docs.append([sent])
                    sent = []
                    continue
                tok, _, tag = line.rpartition("\t") if "\t" in line else line.rpartition(" ")
                if tok == DOCSTART:
                    docs.append([])
                    continue
                if not tok or not (tag == "O" or (tag[:2] in ("B-", "I-") and tag[2:])):
                    errors.add(f"expected 'token<TAB>B-/I-/O tag', got {line!r}", file=str(f),
                               line=lineno)
                    continue
                sent.append((tok, tag, lineno))
        if sent:
            docs[-1].append(sent) if docs else docs.append([sent])
        for n, sentences in enumerate(d for d in docs if d):
            yield _build(sentences, f, n, errors)


def _build(sentences: list[list[tuple[str, str, int]]], f: Path, n: int,
           errors: Errors) -> Parsed:
    parts: list[str] = []
    pos = 0
    spans: list[tuple[int, int, str, int]] = []
    for si, sent in enumerate(sentences):
        if si:
            parts.append("\n")
            pos += 1
        for ti, (tok, tag, lineno) in enumerate(sent):
            if ti:
                parts.append(" ")
                pos += 1
            if tag.startswith("B-") or (tag.startswith("I-") and
                                        (not spans or spans[-1][2] != tag[2:] or
                                         spans[-1][1] != pos - 1)):
                spans.append((pos, pos + len(tok), tag[2:], lineno))
            elif tag.startswith("I-"):
                s, _, lab, ln = spans[-1]
                spans[-1] = (s, pos + len(tok), lab, ln)
            parts.append(tok)
            pos += len(tok)
    text = "".join(parts)
    parsed = Parsed(Document(text=text, name=f"{f.stem}:{n}"),
                    origin=f"{f}:{sentences[0][0][2]}")
    for s, e, lab, ln in spans:
        sp = make_span(text, [(s, e)], lab, f"{f}:{ln}", errors, source="import")
        if sp is not None:
            parsed.add(sp, f"{f}:{ln}")
    return parsed
