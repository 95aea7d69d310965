"""Compare what the sources said about a document, and rank documents by disagreement.

No Qt and no SQL: functions over ``annotator.model`` spans, plus store-driven helpers that only
use the public ``db.Store`` API.

Source families (the columns of the compare view), in display order:

* ``gliner2``, ``transformers``, ``lexicon``, ``llm_pass1``, ``llm_pass2``: the spans of that
  source, whatever their review status (a reviewed suggestion is still what the source said).
* ``people``: the spans a person stands behind: every ``accepted`` span (drawn by a human,
  accepted from an import, or a suggestion a reviewer accepted).

Disagreement only looks at non-rejected spans (a rejected suggestion is settled) and at the
families that hold at least one such span in the document (a source that did not run, or
found nothing, is not counted as disagreeing). Spans match exactly: same label and same
fragments (``Span.key()``), the ``strict`` mode of ``annotator.evaluate``.

A region is a maximal run of overlapping spans (over all families): the rows of the compare
table. A region is a disagreement when the available families do not all hold the same set
of spans in it (a family with nothing there holds the empty set).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from .jobs import Job, Progress
from .model import Document, Span


@dataclass(frozen=True)
class Family:
    key: str
    title: str
    sources: tuple[str, ...]


FAMILIES: tuple[Family, ...] = (
    Family("gliner2", "GLiNER2", ("gliner2",)),
    Family("transformers", "Transformers", ("transformers",)),
    Family("lexicon", "Lexicon", ("lexicon",)),
    Family("llm_pass1", "LLM pass 1", ("llm_pass1",)),
    Family("llm_pass2", "LLM pass 2", ("llm_pass2",)),
    Family("people", "People", ("human", "import")),
)
FAMILY_KEYS = tuple(f.key for f in FAMILIES)
PEOPLE = "people"


def families_of(span: Span) -> list[str]:
    """The families a span belongs to: its model source, and ``people`` when accepted."""
    out = [span.source] if span.source in FAMILY_KEYS else []
    if span.status == "accepted":
        out.append(PEOPLE)
    return out


def group_by_family(spans: Iterable[Span], *, include_rejected: bool = False
                    ) -> dict[str, list[Span]]:
    """``{family: spans}`` for the families holding at least one span, in display order."""
    groups: dict[str, list[Span]] = {}
    for sp in spans:
        if sp.status == "rejected" and not include_rejected:
            continue
        for fam in families_of(sp):
            groups.setdefault(fam, []).append(sp)
    return {k: sorted(groups[k], key=_order) for k in FAMILY_KEYS if k in groups}


def _order(sp: Span) -> tuple:
    return (sp.start, sp.end, sp.label, sp.id if sp.id is not None else -1)


def _spans_of(doc_or_spans: Document | Iterable[Span]) -> list[Span]:
    return list(doc_or_spans.spans if isinstance(doc_or_spans, Document) else doc_or_spans)


# ---------------------------------------------------------------------------- regions
@dataclass
class Region:
    """One row of the compare table: ``[start, end)`` and what each family holds there.

    ``cells`` maps every family key of the comparison to its spans in the region (rejected
    ones included when asked, for display); ``dissenters`` are the families whose set
    differs from the most common one (empty when the region agrees).
    """

    start: int
    end: int
    cells: dict[str, list[Span]]
    agreed: bool
    dissenters: frozenset[str] = frozenset()
    text: str = ""


def _cluster(spans: Sequence[Span]) -> Iterator[list[Span]]:
    cluster: list[Span] = []
    c_end = -1
    for sp in sorted(spans, key=_order):
        if cluster and sp.start >= c_end:
            yield cluster
            cluster, c_end = [], -1
        cluster.append(sp)
        c_end = max(c_end, sp.end)
    if cluster:
        yield cluster


def _keyset(spans: Iterable[Span]) -> frozenset:
    return frozenset(sp.key() for sp in spans if sp.status != "rejected")


def regions(
    doc_or_spans: Document | Iterable[Span],
    *,
    families: Sequence[str] | None = None,
    include_rejected: bool = True,
) -> list[Region]:
    """The regions of a document in text order (see the module docstring).

    ``families`` fixes the compared families (default: those holding a non-rejected span).
    With ``include_rejected`` rejected spans are listed in the cells (not compared).
    """
    spans = _spans_of(doc_or_spans)
    text = doc_or_spans.text if isinstance(doc_or_spans, Document) else ""
    live = group_by_family(spans)
    fams = list(families) if families is not None else list(live)
    shown = [sp for sp in spans if include_rejected or sp.status != "rejected"]
    shown = [sp for sp in shown if any(f in fams for f in families_of(sp))]
    out = []
    for cluster in _cluster(shown):
        cells: dict[str, list[Span]] = {f: [] for f in fams}
        for sp in cluster:
            for fam in families_of(sp):
                if fam in cells:
                    cells[fam].append(sp)
        sets = {f: _keyset(cells[f]) for f in fams}
        dissenters: frozenset[str] = frozenset()
        agreed = len(set(sets.values())) <= 1
        if not agreed:
            counts = Counter(sets.values())
            modal = max(counts, key=lambda s: (counts[s], len(s)))
            dissenters = frozenset(f for f in fams if sets[f] != modal)
        start, end = min(s.start for s in cluster), max(s.end for s in cluster)
        out.append(Region(start, end, cells, agreed and len(fams) > 0, dissenters,
                          text[start:end] if text else ""))
    return out


def disagreement_regions(spans: Iterable[Span]) -> list[tuple[int, int]]:
    """``(start, end)`` of the regions where the families disagree (used by
    ``annotator.review.next_disagreement``)."""
    live = [sp for sp in spans if sp.status != "rejected"]
    if len(group_by_family(live)) < 2:
        return []
    return [(r.start, r.end) for r in regions(live, include_rejected=False) if not r.agreed]


def next_disagreement(doc_or_spans: Document | Iterable[Span], pos: int, *,
                      backward: bool = False) -> Region | None:
    """The first disagreeing region starting after ``pos`` (pass ``-1`` to include one at 0),
    or the last one starting before ``pos`` when ``backward``; None when there is none."""
    live = [sp for sp in _spans_of(doc_or_spans) if sp.status != "rejected"]
    if len(group_by_family(live)) < 2:
        return None
    text = doc_or_spans.text if isinstance(doc_or_spans, Document) else ""
    found = [r for r in regions(live, include_rejected=False) if not r.agreed]
    for r in found:
        r.text = text[r.start:r.end] if text else ""
    if backward:
        before = [r for r in found if r.start < pos]
        return before[-1] if before else None
    return next((r for r in found if r.start > pos), None)


# ---------------------------------------------------------------------------- scores
def _f1(a: Sequence[Span], b: Sequence[Span]) -> float:
    """Strict micro span F1 between two span lists (symmetric)."""
    try:
        from .evaluate import count_document
    except ImportError:  # pragma: no cover - evaluate is part of the core
        ka, kb = Counter(s.key() for s in a), Counter(s.key() for s in b)
        tp = sum((ka & kb).values())
        return 2 * tp / (len(a) + len(b)) if (a or b) else 1.0
    counts = count_document(a, b, "strict").values()
    tp = sum(c.tp for c in counts)
    den = 2 * tp + sum(c.fp + c.fn for c in counts)
    return 2 * tp / den if den else 1.0


@dataclass
class DocDisagreement:
    """``score`` = 1 - mean pairwise strict span F1 between the available families (0 when
    fewer than two); ``pairs`` holds each pair's F1."""

    doc_id: int | None
    score: float
    n_regions: int
    n_disagreements: int
    families: tuple[str, ...]
    pairs: dict[tuple[str, str], float] = field(default_factory=dict)
    name: str = ""


def doc_disagreement(doc_or_spans: Document | Iterable[Span],
                     doc_id: int | None = None) -> DocDisagreement:
    spans = [sp for sp in _spans_of(doc_or_spans) if sp.status != "rejected"]
    if doc_id is None and isinstance(doc_or_spans, Document):
        doc_id = doc_or_spans.id
    groups = group_by_family(spans)
    fams = tuple(groups)
    regs = regions(spans, include_rejected=False) if spans else []
    pairs = {(a, b): _f1(groups[a], groups[b]) for a, b in combinations(fams, 2)}
    score = 1.0 - sum(pairs.values()) / len(pairs) if pairs else 0.0
    n_dis = sum(1 for r in regs if not r.agreed) if len(fams) >= 2 else 0
    name = doc_or_spans.name if isinstance(doc_or_spans, Document) else ""
    return DocDisagreement(doc_id, round(score, 6), len(regs), n_dis, fams, pairs, name)


def _sort_key(d: DocDisagreement) -> tuple:
    return (-d.score, -d.n_disagreements, d.doc_id if d.doc_id is not None else 0)


def disagreement_scores(store: Any, *, include_reviewed: bool = False,
                        ids: Sequence[int] | None = None) -> Iterator[DocDisagreement]:
    """Score every document of the store (reviewed ones only with ``include_reviewed``)."""
    statuses = None if include_reviewed else ["todo", "in_progress", "skipped"]
    for doc in store.iter_documents(ids=ids, review_status=statuses if ids is None else None):
        if ids is not None and not include_reviewed and doc.review_status == "reviewed":
            continue
        yield doc_disagreement(doc)


def rank(scores: Iterable[DocDisagreement], *, only_disagreeing: bool = True
         ) -> list[DocDisagreement]:
    """Most disagreement first (score, then disagreeing regions, then document id)."""
    kept = [d for d in scores if not only_disagreeing or d.n_disagreements or d.score > 0]
    return sorted(kept, key=_sort_key)


def disagreement_queue(store: Any, *, include_reviewed: bool = False,
                       only_disagreeing: bool = True) -> list[int]:
    """Document ids ordered by disagreement, for reviewers to walk (not yet reviewed
    documents with some disagreement, unless told otherwise)."""
    return [d.doc_id for d in rank(disagreement_scores(store, include_reviewed=include_reviewed),
                                   only_disagreeing=only_disagreeing)]


def disagreement_queue_job(store: Any, *, include_reviewed: bool = False,
                           only_disagreeing: bool = True, every: int = 500) -> Job:
    """The queue as a job (large projects): yields progress, returns ranked
    ``DocDisagreement`` rows."""
    statuses = None if include_reviewed else ["todo", "in_progress", "skipped"]
    total = store.count_documents(statuses)
    rows = []
    for i, d in enumerate(disagreement_scores(store, include_reviewed=include_reviewed), 1):
        rows.append(d)
        if i % every == 0:
            yield Progress(i, total, "scoring disagreement")
    yield Progress(total, total, "ranking")
    return rank(rows, only_disagreeing=only_disagreeing)
