"""Compare what the sources said about a document, and rank documents by disagreement.

No Qt and no SQL: functions over ``annotator.model`` spans, plus store-driven helpers that only
use the public ``db.Store`` API and ``annotator.runs``.

Source families (the columns of the compare view), in display order:

* ``gliner2``, ``transformers``, ``lexicon``, ``llm_pass1``, ``llm_pass2``: the spans of that
  source, whatever their review status (a reviewed suggestion is still what the source said).
* ``people``: the spans a person stands behind: every ``accepted`` span (drawn by a human,
  accepted from an import, or a suggestion a reviewer accepted).

Disagreement is only computed among the families that *ran* on the document
(``annotator.runs``: a done batch-job mark for the document, or any span of the source
there; people: an accepted span, or the document is reviewed). A source that never ran is
not counted as disagreeing; one that ran and found nothing is. Only non-rejected spans are
compared (a rejected suggestion is settled). Spans match exactly: same label and same
fragments (``Span.key()``), the ``strict`` mode of ``annotator.evaluate``.

Pre-label never proposes a (label, span) already decided on the document, so a span accepted
before a pre-label source's last run there is one that source was not asked about
(``annotator.runs.not_asked``): it counts as agreed for that source, not as a miss.

A region is a maximal run of overlapping spans (over all compared families): the rows of the
compare table. A region is a disagreement when the compared families do not all hold the same
set of spans in it (a family with nothing there holds the empty set).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from annotator.ports import StorePort

from .jobs import Job, Progress
from .model import Document, Span, source_info, sources
from .runs import SourceRun, not_asked, source_runs, sources_that_ran


@dataclass(frozen=True)
class Family:
    key: str
    title: str
    sources: tuple[str, ...]


PEOPLE = "people"


@functools.cache
def _families(machine: tuple[str, ...]) -> tuple[tuple[Family, ...], tuple[str, ...]]:
    fams = (*(Family(s, source_info(s).title, (s,)) for s in machine),
            Family(PEOPLE, "People", tuple(sources(("person", "import")))))
    return fams, tuple(f.key for f in fams)


def families() -> tuple[Family, ...]:
    """One family per machine source of the registry (pre-labelers, plugins' included, and
    LLM passes: ``annotator.model.sources``), then ``people``."""
    return _families(sources(("model", "llm")))[0]


def family_keys() -> tuple[str, ...]:
    return _families(sources(("model", "llm")))[1]


def families_of(span: Span) -> list[str]:
    """The families a span belongs to: its model source, and ``people`` when accepted."""
    out = [span.source] if span.source in family_keys() else []
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
    return {k: sorted(groups[k], key=_order) for k in family_keys() if k in groups}


def _order(sp: Span) -> tuple:
    return (sp.start, sp.end, sp.label, sp.id if sp.id is not None else -1)


def _spans_of(doc_or_spans: Document | Iterable[Span]) -> list[Span]:
    return list(doc_or_spans.spans if isinstance(doc_or_spans, Document) else doc_or_spans)


def _is_reviewed(doc_or_spans: Document | Iterable[Span], reviewed: bool | None) -> bool:
    if reviewed is not None:
        return reviewed
    return isinstance(doc_or_spans, Document) and doc_or_spans.review_status == "reviewed"


def available_families(spans: Sequence[Span], runs: Mapping[str, SourceRun] | None = None,
                       *, reviewed: bool = False) -> list[str]:
    """The families compared on a document, in display order: the model sources that ran
    there (``annotator.runs.sources_that_ran``), and ``people`` when a span is accepted or the
    document is reviewed (a reviewed document without spans says "nothing here")."""
    ran = sources_that_ran(spans, runs)
    people = reviewed or any(sp.status == "accepted" for sp in spans)
    return [k for k in family_keys()
            if (k == PEOPLE and people) or (k != PEOPLE and k in ran)]


def not_asked_by_family(spans: Sequence[Span], runs: Mapping[str, SourceRun] | None,
                        families: Iterable[str]) -> dict[str, list[Span]]:
    """``{family: accepted spans that source was not asked about}`` (non-empty ones)."""
    out = {}
    for fam in families:
        if fam != PEOPLE and runs:
            blind = not_asked(runs.get(fam), spans, fam)
            if blind:
                out[fam] = blind
    return out


# ---------------------------------------------------------------------------- regions
@dataclass
class Region:
    """One row of the compare table: ``[start, end)`` and what each family holds there.

    ``cells`` maps every family key of the comparison to its spans in the region (rejected
    ones included when asked, for display); ``dissenters`` are the families whose set
    differs from the most common one (empty when the region agrees); ``not_asked`` holds,
    per family, the accepted spans of the region that source could not propose.
    """

    start: int
    end: int
    cells: dict[str, list[Span]]
    agreed: bool
    dissenters: frozenset[str] = frozenset()
    text: str = ""
    not_asked: dict[str, list[Span]] = field(default_factory=dict)
    sets: dict[str, frozenset] = field(default_factory=dict)


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
    runs: Mapping[str, SourceRun] | None = None,
    reviewed: bool | None = None,
) -> list[Region]:
    """The regions of a document in text order (see the module docstring).

    ``families`` fixes the compared families (default: ``available_families`` from the spans,
    ``runs`` and ``reviewed``, which defaults to the document's review status). With
    ``include_rejected`` rejected spans are listed in the cells (not compared).
    """
    spans = _spans_of(doc_or_spans)
    text = doc_or_spans.text if isinstance(doc_or_spans, Document) else ""
    fams = (list(families) if families is not None else
            available_families(spans, runs, reviewed=_is_reviewed(doc_or_spans, reviewed)))
    blind = not_asked_by_family(spans, runs, fams)
    blind_ids: dict[int, list[str]] = {}
    for fam, sps in blind.items():
        for sp in sps:
            blind_ids.setdefault(id(sp), []).append(fam)
    shown = [sp for sp in spans if include_rejected or sp.status != "rejected"]
    shown = [sp for sp in shown if any(f in fams for f in families_of(sp))]
    out = []
    for cluster in _cluster(shown):
        cells: dict[str, list[Span]] = {f: [] for f in fams}
        unasked: dict[str, list[Span]] = {}
        for sp in cluster:
            for fam in families_of(sp):
                if fam in cells:
                    cells[fam].append(sp)
            for fam in blind_ids.get(id(sp), ()):
                unasked.setdefault(fam, []).append(sp)
        # a family whose spans here were all rejected is settled here: not compared
        compared = [f for f in fams
                    if not (cells[f] and all(sp.status == "rejected" for sp in cells[f]))]
        sets = {f: _keyset(cells[f] + unasked.get(f, [])) for f in compared}
        dissenters: frozenset[str] = frozenset()
        agreed = len(set(sets.values())) <= 1
        if not agreed:
            counts = Counter(sets.values())
            modal = max(counts, key=lambda s: (counts[s], len(s)))
            dissenters = frozenset(f for f in compared if sets[f] != modal)
        start, end = min(s.start for s in cluster), max(s.end for s in cluster)
        out.append(Region(start, end, cells, agreed and len(fams) > 0, dissenters,
                          text[start:end] if text else "", unasked, sets))
    return out


def disagreement_regions(spans: Iterable[Span], runs: Mapping[str, SourceRun] | None = None,
                         *, reviewed: bool = False) -> list[tuple[int, int]]:
    """``(start, end)`` of the regions where the families disagree (used by
    ``annotator.review.next_disagreement``)."""
    spans = list(spans)
    fams = available_families(spans, runs, reviewed=reviewed)
    if len(fams) < 2:
        return []
    return [(r.start, r.end) for r in regions(spans, families=fams, include_rejected=False,
                                              runs=runs) if not r.agreed]


def next_disagreement(doc_or_spans: Document | Iterable[Span], pos: int, *,
                      backward: bool = False, runs: Mapping[str, SourceRun] | None = None
                      ) -> Region | None:
    """The first disagreeing region starting after ``pos`` (pass ``-1`` to include one at 0),
    or the last one starting before ``pos`` when ``backward``; None when there is none."""
    spans = _spans_of(doc_or_spans)
    fams = available_families(spans, runs, reviewed=_is_reviewed(doc_or_spans, None))
    if len(fams) < 2:
        return None
    text = doc_or_spans.text if isinstance(doc_or_spans, Document) else ""
    found = [r for r in regions(spans, families=fams, include_rejected=False, runs=runs)
             if not r.agreed]
    for r in found:
        r.text = text[r.start:r.end] if text else ""
    if backward:
        before = [r for r in found if r.start < pos]
        return before[-1] if before else None
    return next((r for r in found if r.start > pos), None)


# ---------------------------------------------------------------------------- scores
def _pair_f1(regs: Sequence[Region], a: str, b: str) -> float:
    """Strict span F1 between families ``a`` and ``b`` over the regions where both are
    compared (1.0 when neither holds a span there)."""
    tp = other = 0
    for r in regs:
        if a in r.sets and b in r.sets:
            tp += len(r.sets[a] & r.sets[b])
            other += len(r.sets[a] ^ r.sets[b])
    return 2 * tp / (2 * tp + other) if tp or other else 1.0


@dataclass
class DocDisagreement:
    """``score`` = 1 - mean pairwise strict span F1 between the families that ran (0 when
    fewer than two; a pair is scored over the regions where both are compared);
    ``pairs`` holds each pair's F1, ``n_regions`` counts regions with a non-rejected span."""

    doc_id: int | None
    score: float
    n_regions: int
    n_disagreements: int
    families: tuple[str, ...]
    pairs: dict[tuple[str, str], float] = field(default_factory=dict)
    name: str = ""


def doc_disagreement(doc_or_spans: Document | Iterable[Span],
                     doc_id: int | None = None, *,
                     runs: Mapping[str, SourceRun] | None = None,
                     reviewed: bool | None = None) -> DocDisagreement:
    """Score one document among the families that ran on it (see the module docstring)."""
    all_spans = _spans_of(doc_or_spans)
    if doc_id is None and isinstance(doc_or_spans, Document):
        doc_id = doc_or_spans.id
    fams = tuple(available_families(all_spans, runs,
                                    reviewed=_is_reviewed(doc_or_spans, reviewed)))
    regs = regions(all_spans, families=fams, include_rejected=True, runs=runs)
    pairs = {(a, b): _pair_f1(regs, a, b) for a, b in combinations(fams, 2)}
    score = 1.0 - sum(pairs.values()) / len(pairs) if pairs else 0.0
    n_dis = sum(1 for r in regs if not r.agreed) if len(fams) >= 2 else 0
    n_live = sum(1 for r in regs if any(sp.status != "rejected"
                                        for cell in r.cells.values() for sp in cell))
    name = doc_or_spans.name if isinstance(doc_or_spans, Document) else ""
    return DocDisagreement(doc_id, round(score, 6), n_live, n_dis, fams, pairs, name)


def _sort_key(d: DocDisagreement) -> tuple:
    return (-d.score, -d.n_disagreements, d.doc_id if d.doc_id is not None else 0)


_QUEUE_STATUSES = ["todo", "in_progress", "skipped"]
_CHUNK = 500


def document_disagreement(store: StorePort, doc_id: int) -> DocDisagreement:
    """One stored document, scored with what its runs know."""
    doc = store.get_document(doc_id)
    return doc_disagreement(doc, runs=source_runs(store, [doc_id]).get(doc_id, {}))


def disagreement_scores(store: StorePort, *, include_reviewed: bool = False,
                        ids: Sequence[int] | None = None) -> Iterator[DocDisagreement]:
    """Score every document of the store (reviewed ones only with ``include_reviewed``)."""
    statuses = None if include_reviewed else _QUEUE_STATUSES
    all_ids = list(ids) if ids is not None else store.document_ids(statuses)
    for i in range(0, len(all_ids), _CHUNK):
        chunk = all_ids[i:i + _CHUNK]
        runs = source_runs(store, chunk)
        for doc in store.iter_documents(ids=chunk):
            if ids is not None and not include_reviewed and doc.review_status == "reviewed":
                continue
            yield doc_disagreement(doc, runs=runs.get(doc.id, {}))


def rank(scores: Iterable[DocDisagreement], *, only_disagreeing: bool = True
         ) -> list[DocDisagreement]:
    """Most disagreement first (score, then disagreeing regions, then document id)."""
    kept = [d for d in scores if not only_disagreeing or is_queued(d)]
    return sorted(kept, key=_sort_key)


def is_queued(d: DocDisagreement) -> bool:
    """Whether a scored document belongs in the disagreement queue."""
    return bool(d.n_disagreements or d.score > 0)


def requeue(rows: Sequence[DocDisagreement], fresh: DocDisagreement, *,
            review_status: str, include_reviewed: bool = False) -> list[DocDisagreement]:
    """The ranked queue ``rows`` with one document rescored (``fresh``): it moves to its new
    place, or leaves the queue when it no longer disagrees or is now reviewed."""
    kept = [r for r in rows if r.doc_id != fresh.doc_id]
    if is_queued(fresh) and (include_reviewed or review_status != "reviewed"):
        kept.append(fresh)
    return sorted(kept, key=_sort_key)


def disagreement_queue(store: StorePort, *, include_reviewed: bool = False,
                       only_disagreeing: bool = True) -> list[int]:
    """Document ids ordered by disagreement, for reviewers to walk (not yet reviewed
    documents with some disagreement, unless told otherwise)."""
    return [d.doc_id for d in rank(disagreement_scores(store, include_reviewed=include_reviewed),
                                   only_disagreeing=only_disagreeing)]


def disagreement_queue_job(store: StorePort, *, include_reviewed: bool = False,
                           only_disagreeing: bool = True, every: int = 500) -> Job:
    """The queue as a job (large projects): yields progress, returns ranked
    ``DocDisagreement`` rows."""
    statuses = None if include_reviewed else _QUEUE_STATUSES
    total = store.count_documents(statuses)
    rows = []
    for i, d in enumerate(disagreement_scores(store, include_reviewed=include_reviewed), 1):
        rows.append(d)
        if i % every == 0:
            yield Progress(i, total, "scoring disagreement")
    yield Progress(total, total, "ranking")
    return rank(rows, only_disagreeing=only_disagreeing)
