"""What an export (or a training run) would take, before anything is written.

``preview_job`` runs the real export into a temporary folder that is removed afterwards (a
dry run through the same writers, so "what the format cannot carry" is exactly what the
export would drop), and adds the span counts per label and per source after the same
filters. The GUI's Export and Train dialogs show it before writing; ``annotator export
--dry-run`` prints it.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from annotator.formats import get_format
from annotator.jobs import Job
from annotator.ports import StorePort


@dataclass
class GoldPreview:
    format: str
    documents: int = 0  # documents the export writes (after the document filters)
    spans: int = 0  # spans the format carries
    records: int = 0  # gliner v1: records (long documents give several)
    by_label: dict[str, int] = field(default_factory=dict)  # spans selected, per label
    by_source: dict[str, int] = field(default_factory=dict)  # spans selected, per source
    dropped: dict[str, int] = field(default_factory=dict)  # not carried by the format
    warnings: dict[str, int] = field(default_factory=dict)  # read differently by a trainer
    span_status: list[str] | None = None  # the filters applied (None = every status)
    review_status: list[str] | None = None
    sources: list[str] | None = None
    splits: dict[str, int] = field(default_factory=dict)  # documents per split

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """The preview in plain words, one fact per line (the dialogs show these)."""
        docs = "every document" if self.review_status is None else (
            "documents " + " or ".join(self.review_status))
        spans = "every span" if self.span_status is None else (
            "spans " + " or ".join(self.span_status))
        src = "" if not self.sources else " from " + ", ".join(self.sources)
        selected = sum(self.by_label.values())
        written = "" if self.format == "training" else " written" + (
            f" of {selected:,} selected" if selected != self.spans else "")
        out = [f"Takes {docs}, {spans}{src}.",
               f"{self.documents:,} documents, {self.spans:,} spans{written}"
               + (f" in {self.records:,} records" if self.records > self.documents else "")]
        if self.splits:
            out.append("Split: " + ", ".join(f"{k} {v:,}" for k, v in self.splits.items()))
        if self.by_label:
            out.append("Selected per label: " + ", ".join(f"{k} {v:,}"
                                                          for k, v in self.by_label.items()))
        if self.by_source:
            out.append("Selected per source: " + ", ".join(f"{k} {v:,}"
                                                  for k, v in self.by_source.items()))
        if self.format == "training":
            pass
        elif self.dropped:
            out.append("Not carried by the format: " + ", ".join(
                f"{v:,} {k.replace('_', ' ')}" for k, v in sorted(self.dropped.items())))
        else:
            out.append("Everything selected is carried by the format.")
        if self.warnings:
            out.append("Read differently by the trainer: " + ", ".join(
                f"{v:,} {k.replace('_', ' ')}" for k, v in sorted(self.warnings.items())))
        if not self.documents:
            out.append("Nothing to write: no document matches. The default is the gold "
                       "(accepted spans of reviewed documents); widen the filters.")
        return out


def preview_job(store: StorePort, *, fmt: str, status: str | None = None,
                review_status: str | None = None, source: str | None = None,
                split: str | None = None, seed: int = 42, descriptions: bool = False,
                mentions: str = "offsets",
                writer_options: dict[str, Any] | None = None, **format_options: Any) -> Job:
    """A dry run of ``annotator.io.export_job`` with the same arguments (``out`` aside);
    returns a ``GoldPreview``. Nothing outside a temporary folder is written."""
    from .io import export_job, export_options, status_filters

    descriptions, mentions, writer_options = export_options(
        fmt, format_options, descriptions=descriptions, mentions=mentions,
        writer_options=writer_options)
    spec = get_format(fmt)
    span_status, reviews = status_filters(status, fmt, review_status)
    sources = [s for s in (source or "").split(",") if s] or None
    with tempfile.TemporaryDirectory(prefix="annotator-preview-") as tmp:
        out = Path(tmp) / ("preview" if split else "preview" + (spec.ext or ""))
        summary = yield from export_job(store, fmt=fmt, out=out, status=status,
                                        review_status=review_status, source=source,
                                        split=split, seed=seed, descriptions=descriptions,
                                        mentions=mentions, writer_options=writer_options)
    counts = store.export_span_counts(review_status=reviews, span_status=span_status,
                                      span_source=sources)
    by_label: dict[str, int] = {}
    by_source: dict[str, int] = {}
    for (label, src), n in sorted(counts.items()):
        by_label[label] = by_label.get(label, 0) + n
        by_source[src] = by_source.get(src, 0) + n
    return GoldPreview(
        format=fmt, documents=summary.documents, spans=summary.spans,
        records=summary.records, by_label=dict(sorted(by_label.items(), key=lambda kv: -kv[1])),
        by_source=by_source, dropped=dict(summary.dropped), warnings=dict(summary.warnings),
        span_status=span_status, review_status=reviews, sources=sources,
        splits={k: v.get("documents", 0) for k, v in summary.splits.items()})


def train_preview_job(store: StorePort, *, status: str | None = "accepted",
                      review_status: str | None = "reviewed", split: str | None = None,
                      seed: int = 42) -> Job:
    """What ``annotator.train.train_job`` would train and evaluate on with these filters
    (the same ``gold_documents`` and split): documents per split and spans per label."""
    from .io import status_filters
    from .jobs import Progress
    from .train import DEFAULT_SPLIT, gold_documents, split_documents

    span_status, reviews = status_filters(status, None, review_status)
    yield Progress(0, None, "reading the gold")
    docs = gold_documents(store, status, review_status)
    parts = split_documents(docs, split or DEFAULT_SPLIT, seed) if docs else {}
    by_label: dict[str, int] = {}
    by_source: dict[str, int] = {}
    for doc in docs:
        for s in doc.spans:
            by_label[s.label] = by_label.get(s.label, 0) + 1
            by_source[s.source] = by_source.get(s.source, 0) + 1
    yield Progress(1, 1, "done")
    return GoldPreview(
        format="training", documents=len(docs), spans=sum(by_label.values()),
        by_label=dict(sorted(by_label.items(), key=lambda kv: -kv[1])),
        by_source=dict(sorted(by_source.items())), span_status=span_status,
        review_status=reviews, splits={k: len(v) for k, v in parts.items()})
