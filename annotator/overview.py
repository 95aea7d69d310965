"""The numbers behind the statistics view: progress, span counts, density, and how well each
source agrees with the people's labels. No Qt; database access goes through ``db``.

Agreement of a source with people is measured on the *reference documents* (reviewed
documents, and documents holding accepted ``import`` spans): the reference is every
``accepted`` span there (the ``people`` family of ``annotator.compare``); the prediction is
every span of the source there, rejected ones included (a rejected suggestion is a false
positive). Matching is strict (same label and offsets), scored by ``annotator.evaluate``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from annotator.ports import StorePort

from .evaluate import evaluate
from .model import REVIEW_STATUSES, Span
from .model import sources as registered_sources


def model_sources() -> tuple[str, ...]:
    """The machine sources of the registry (pre-labelers, plugins' included, LLM passes)."""
    return registered_sources(("model", "llm"))
DENSITY_STATUSES = ("accepted", "proposed")  # as ``annotator density`` counts by default


@dataclass
class Agreement:
    """Strict span scores of one source against the people's labels."""

    source: str
    precision: float
    recall: float
    f1: float
    n_pred: int
    n_ref: int
    docs: int


@dataclass
class Overview:
    documents: int = 0
    reviewed: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    spans_by_label: dict[str, int] = field(default_factory=dict)  # non-rejected, most first
    spans_by_source_status: dict[str, dict[str, int]] = field(default_factory=dict)
    density_kind: str = ""  # where ``density`` comes from (see ``densities``)
    density: list[float] = field(default_factory=list)  # entity density per document, [0, 1]
    # ``(low, high, documents)``: equal bins over [0, 1] (the last one includes 1.0)
    histogram: list[tuple[float, float, int]] = field(default_factory=list)
    density_median: float | None = None
    agreement: dict[str, Agreement] = field(default_factory=dict)
    reference_docs: int = 0

    @property
    def progress(self) -> float:
        """Reviewed / total documents, in [0, 1]."""
        return self.reviewed / self.documents if self.documents else 0.0

    @property
    def spans_by_source(self) -> dict[str, int]:
        return {s: sum(v.values()) for s, v in self.spans_by_source_status.items()}


def histogram(values: Sequence[float], bins: int = 20) -> list[tuple[float, float, int]]:
    """Equal-width bins ``(low, high, count)`` over ``[min, max]``; the last bin is closed."""
    if not values:
        return []
    lo, hi = min(values), max(values)
    if math.isclose(lo, hi):
        return [(lo, hi, len(values))]
    width = (hi - lo) / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / width))] += 1
    return [(lo + i * width, lo + (i + 1) * width, n) for i, n in enumerate(counts)]


class _Extent:
    """The part of a span that density needs (``parts``), without building a ``Span``."""

    __slots__ = ("parts",)

    def __init__(self, start: int, end: int, fragments: Any):
        self.parts = tuple(tuple(f) for f in fragments) if fragments else ((start, end),)


def densities(store: StorePort) -> tuple[str, list[float]]:
    """``(kind, values)``: the medical-entity density of every non-empty document, in [0, 1]
    (FineMed's definition, :func:`annotator.prelabel.density.density`: characters covered by
    the union of the non-rejected spans / characters). A document's stored density
    (``annotator density``) is used when it has one, else it is computed from its spans;
    ``kind`` says which: "stored density", "computed density" or
    "stored + computed density"."""
    from .prelabel.density import density

    stored, missing = store.density_inputs(DENSITY_STATUSES)
    computed = [density(length, [_Extent(*sp) for sp in spans]) for length, spans in missing]
    values = stored + [v for v in computed if v is not None]
    kind = ("stored + computed density" if stored and computed
            else "computed density" if computed else "stored density")
    return kind, values


def _scores(ref: dict[int, list[Span]], pred: dict[int, list[Span]], docs: list[int]
            ) -> tuple[float, float, float]:
    m = evaluate(ref, pred, mode="strict", docs=docs).micro
    return m.precision, m.recall, m.f1


def agreement_with_people(store: StorePort, sources: Sequence[str] | None = None,
                          max_docs: int | None = None) -> tuple[int, dict[str, Agreement]]:
    """``(reference documents, {source: Agreement})`` for the sources with a span there."""
    sources = model_sources() if sources is None else sources
    ids = store.reference_doc_ids()
    if max_docs is not None:
        ids = ids[:max_docs]
    ref: dict[int, list[Span]] = defaultdict(list)
    pred: dict[str, dict[int, list[Span]]] = {s: defaultdict(list) for s in sources}
    for doc in store.iter_documents(ids=ids):
        for sp in doc.spans:
            if sp.status == "accepted":
                ref[doc.id].append(sp)
            if sp.source in pred:
                pred[sp.source][doc.id].append(sp)
    out = {}
    for src in sources:
        by_doc = pred[src]
        n_pred = sum(len(v) for v in by_doc.values())
        if not n_pred:
            continue
        p, r, f = _scores(ref, by_doc, ids)
        out[src] = Agreement(src, p, r, f, n_pred, sum(len(v) for v in ref.values()), len(ids))
    return len(ids), out


def compute_overview(store: StorePort, *, bins: int = 20,
                     max_reference_docs: int | None = None) -> Overview:
    """Everything the statistics view draws, from the store."""
    st = store.stats()
    by_status = {s: int(st["documents_by_status"].get(s, 0)) for s in REVIEW_STATUSES}
    labels: dict[str, int] = defaultdict(int)
    by_source: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for label, source, status, n in store.overview_span_counts():
        by_source[source][status] += n
        if status != "rejected":
            labels[label] += n
    from .prelabel.density import summarize

    kind, dens = densities(store)
    dsum = summarize(dens, bins)
    n_ref, agreement = agreement_with_people(store, max_docs=max_reference_docs)
    return Overview(
        documents=int(st["documents"]),
        reviewed=int(st["reviewed"]),
        by_status=by_status,
        spans_by_label=dict(sorted(labels.items(), key=lambda kv: (-kv[1], kv[0]))),
        spans_by_source_status={s: dict(v) for s, v in sorted(by_source.items())},
        density_kind=kind,
        density=dens,
        histogram=[(b["lo"], b["hi"], b["count"]) for b in dsum["histogram"]],
        density_median=dsum["median"],
        agreement=agreement,
        reference_docs=n_ref,
    )
