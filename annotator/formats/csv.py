"""CSV: a text column plus columns of ``;``-separated span strings, each mapped to a label
(the NER-pipeline card's ``mydata.csv``: ``ori_review``, ``minor_col``, ``gender_col``).

Each string is located in the text: every occurrence, word-boundary aware (``"il"`` is not
found inside ``"fil"``), case-sensitive first, else ignoring case; a string found nowhere
is an error naming the row. The text cell is never stripped; the span strings are (they are
search keys, not text).
Export writes the text column and one column per label with the distinct surfaces.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from annotator.errors import AnnotatorError
from annotator.model import Document
from annotator.text import find_all

from .base import Errors, Parsed, Report, iter_files, make_span, read_text_checked

DEFAULT_TEXT_COL = "ori_review"
DEFAULT_LABEL_COLS = {"minor_col": "MinorChild", "gender_col": "GenderIndication"}


# a cell may be as long as a document (the csv module's default limit is 131,072 characters)
FIELD_SIZE_LIMIT = 2**31 - 1


def label_columns(values: Any) -> dict[str, str] | None:
    """``--csv-label-col`` values (``COL=LABEL`` strings, a list of them or one text of them
    separated by ';') as ``{column: label}``; None for none."""
    if not values:
        return None
    if isinstance(values, str):
        values = [v for v in values.split(";")]
    out = {}
    for v in (str(x).strip() for x in values):
        if not v:
            continue
        col, sep, label = v.partition("=")
        if not sep or not col.strip() or not label.strip():
            raise AnnotatorError(f"--csv-label-col {v!r}: expected COLUMN=LABEL")
        out[col.strip()] = label.strip()
    return out or None


def read(path: Path, errors: Errors, *, csv_text_col: str | None = None,
         csv_label_col: Any = None, csv_label_cols: dict[str, str] | None = None,
         **_: Any) -> Iterator[Parsed]:
    csv_text_col = csv_text_col or DEFAULT_TEXT_COL
    csv_label_cols = csv_label_cols or label_columns(csv_label_col)
    if csv.field_size_limit() < FIELD_SIZE_LIMIT:
        csv.field_size_limit(FIELD_SIZE_LIMIT)
    for f in iter_files(path, ".csv"):
        content = read_text_checked(f, errors)  # names the file when it is not UTF-8
        if content is None:
            continue
        reader = csv.DictReader(io.StringIO(content, newline=""))
        try:
            yield from _read_rows(reader, f, errors, csv_text_col, csv_label_cols)
        except csv.Error as exc:
            errors.add(f"cannot read the CSV: {exc}", file=str(f), line=reader.line_num or 1)


def _read_rows(reader: csv.DictReader, f: Path, errors: Errors, csv_text_col: str,
               csv_label_cols: dict[str, str] | None) -> Iterator[Parsed]:
    cols = reader.fieldnames or []
    label_cols = csv_label_cols or {c: lab for c, lab in DEFAULT_LABEL_COLS.items()
                                    if c in cols}
    missing = [c for c in [csv_text_col, *label_cols] if c not in cols]
    if missing:
        errors.add(f"missing column(s) {', '.join(missing)}; columns are "
                   f"{', '.join(cols)} (use --csv-text-col / --csv-label-col)",
                   file=str(f), line=1)
        return
    row_start = 2
    for k, row in enumerate(reader, 1):
        where = f"{f}:{row_start}"
        row_start = reader.line_num + 1
        text = row[csv_text_col] or ""
        if not text:
            continue
        parsed = Parsed(Document(text=text, name=f"{f.stem}:{k}", meta={"csv_row": k}),
                        origin=where)
        keys: set[tuple] = set()
        for col, label in label_cols.items():
            for needle in (s.strip() for s in (row.get(col) or "").split(";")):
                if not needle:
                    continue
                hits = find_all(text, needle) or find_all(text, needle, ignore_case=True)
                if not hits:
                    errors.add_at(where, f"row {k}: {col} string {needle!r} not found "
                                         f"in the {csv_text_col} text")
                for s, e in hits:
                    sp = make_span(text, [(s, e)], label, where, errors, source="import")
                    if sp is not None and sp.key() not in keys:
                        keys.add(sp.key())
                        parsed.add(sp, where)
        yield parsed


class CsvWriter:
    def __init__(self, out: Path, *, csv_text_col: str = DEFAULT_TEXT_COL,
                 csv_label_cols: dict[str, str] | None = None, **_: Any) -> None:
        self.out = Path(out)
        self.text_col = csv_text_col
        self.col_of = {lab: col for col, lab in (csv_label_cols or DEFAULT_LABEL_COLS).items()}
        self.rows: list[dict[str, str]] = []
        self.report = Report()

    def write(self, doc: Document) -> None:
        row: dict[str, str] = {self.text_col: doc.text}
        for sp in doc.spans:
            if sp.fragments:
                self.report.dropped["discontinuous"] += 1
                continue
            surface = doc.text[sp.start:sp.end]
            if ";" in surface or surface != surface.strip():
                self.report.dropped["not_expressible_as_csv_string"] += 1
                continue
            col = self.col_of.setdefault(sp.label, sp.label)
            items = row.get(col, "").split(";") if row.get(col) else []
            if surface not in items:
                items.append(surface)
            row[col] = ";".join(items)
            self.report.spans += 1
        self.rows.append(row)
        self.report.documents += 1

    def close(self) -> dict[str, Any]:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        cols = [self.text_col, *dict.fromkeys(self.col_of.values())]
        with open(self.out, "w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=cols)
            w.writeheader()
            w.writerows(self.rows)
        return self.report.as_dict()
