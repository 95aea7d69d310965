"""GLiNER v1 training JSON: ``[{"tokenized_text": [...], "ner": [[start_tok, end_tok, label]]}]``
with ``end_tok`` inclusive.

Import rebuilds the text by joining the tokens with single spaces and maps token indices to
character offsets. Export tokenizes with ``base.tokenize`` (words and punctuation) and maps
spans back; a span whose ends do not fall on token boundaries, or a discontinuous one, is
dropped and counted.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from annotator.model import Document

from .base import Errors, Parsed, Report, iter_files, make_span, read_text_file, tokenize


def read(path: Path, errors: Errors, **_: Any) -> Iterator[Parsed]:
    for f in iter_files(path, ".json"):
        try:
            data = json.loads(read_text_file(f))
        except json.JSONDecodeError as exc:
            errors.add(f"invalid JSON: {exc.msg}", file=str(f), line=exc.lineno)
            continue
        if not isinstance(data, list):
            errors.add("expected a JSON list of records", file=str(f))
            continue
        for i, rec in enumerate(data):
            where = f"{f} (record {i})"
            toks = rec.get("tokenized_text") if isinstance(rec, dict) else None
            if not isinstance(toks, list) or not all(isinstance(t, str) for t in toks):
                errors.add_at(where, 'expected "tokenized_text": a list of strings')
                continue
            offsets, pos = [], 0
            for t in toks:
                offsets.append((pos, pos + len(t)))
                pos += len(t) + 1
            parsed = Parsed(Document(text=" ".join(toks), name=f"{f.stem}:{i}"))
            for j, ent in enumerate(rec.get("ner") or []):
                w = f"{f} (record {i}, ner {j})"
                try:
                    s_tok, e_tok, label = int(ent[0]), int(ent[1]), str(ent[2])
                except (TypeError, ValueError, IndexError):
                    errors.add_at(w, f"expected [start_token, end_token, label], got {ent!r}")
                    continue
                if not (0 <= s_tok <= e_tok < len(toks)):
                    errors.add_at(w, f"token range [{s_tok}, {e_tok}] outside the "
                                     f"{len(toks)} tokens")
                    continue
                sp = make_span(parsed.doc.text, [(offsets[s_tok][0], offsets[e_tok][1])],
                               label, w, errors, source="import")
                if sp is not None:
                    parsed.add(sp, w)
            yield parsed


def to_record(doc: Document, report: Report | None = None) -> dict[str, Any]:
    toks = tokenize(doc.text)
    starts = [s for s, _ in toks]
    ends = [e for _, e in toks]
    ner = []
    for sp in doc.spans:
        if sp.fragments:
            if report is not None:
                report.dropped["discontinuous"] += 1
            continue
        i = bisect.bisect_left(starts, sp.start)
        j = bisect.bisect_left(ends, sp.end)
        if i >= len(toks) or j >= len(toks) or starts[i] != sp.start or ends[j] != sp.end:
            if report is not None:
                report.dropped["not_on_token_boundaries"] += 1
            continue
        ner.append([i, j, sp.label])
    if report is not None:
        report.spans += len(ner)
    return {"tokenized_text": [doc.text[s:e] for s, e in toks], "ner": ner}


class GlinerWriter:
    """Streams a JSON list (one record per document)."""

    def __init__(self, out: Path, **_: Any) -> None:
        self.out = Path(out)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.out, "w", encoding="utf-8", newline="")  # noqa: SIM115 (closed in close())
        self.fh.write("[")
        self.report = Report()

    def write(self, doc: Document) -> None:
        if self.report.documents:
            self.fh.write(", ")
        self.fh.write(json.dumps(to_record(doc, self.report)))
        self.report.documents += 1

    def close(self) -> dict[str, Any]:
        self.fh.write("]")
        self.fh.close()
        return self.report.as_dict()


__all__ = ["GlinerWriter", "read", "to_record"]
