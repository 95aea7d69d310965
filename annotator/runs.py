"""Which sources ran on a document, and which spans they were never asked about.

A source *ran* on a document when a batch job marked the document ``done`` for it (kind
``prelabel``, run key ``<source>:<hash>``; kind ``silver``, sources ``llm_pass1`` and, for a
two-pass run, ``llm_pass2``) or when the document holds a span from it (any status).

Pre-label never proposes a (label, span) a person already decided on the document
(``annotator.prelabel.job._store_prediction``; the lexicon, built from accepted spans, is the
extreme case: on a document with gold it proposes only what is not gold). A span accepted
before a pre-label source's last run on the document is therefore one that source was *not
asked about*: it is neither a miss (compare) nor a false negative it could have avoided
(evaluate). The silver job has no such rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from annotator.ports import StorePort

from .model import Span


@dataclass(frozen=True)
class SourceRun:
    """The last ``done`` run of one source on one document; ``skips_decided`` when that job
    never proposes a (label, span) already decided there."""

    at: datetime | None
    skips_decided: bool


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


# the ``doc_runs.kind`` of the two batch jobs that propose spans (their modules use these)
PRELABEL = "prelabel"
SILVER = "silver"


def _sources_of_mark(kind: str, run_key: str, stats: dict[str, Any] | None) -> list[str]:
    if kind == PRELABEL:
        return [run_key.split(":", 1)[0]]
    if kind == SILVER:
        passes = sorted((stats or {}).get("spans") or {"1": 0, "2": 0})
        return ["llm_pass1" if p == "1" else "llm_pass2" for p in passes if p in ("1", "2")]
    return []


def runs_from_marks(marks: Iterable[tuple[str, str, dict[str, Any] | None, datetime | None]]
                    ) -> dict[str, SourceRun]:
    """``{source: SourceRun}`` from a document's ``done`` marks (latest run per source)."""
    out: dict[str, SourceRun] = {}
    for kind, run_key, stats, at in marks:
        for src in _sources_of_mark(kind, run_key, stats):
            old = out.get(src)
            if old is None or (at is not None and (old.at is None or _utc(at) > _utc(old.at))):
                out[src] = SourceRun(at, kind == PRELABEL)
    return out


def source_runs(store: StorePort, doc_ids: Sequence[int]) -> dict[int, dict[str, SourceRun]]:
    """``{doc_id: {source: SourceRun}}`` for the documents with at least one done run."""
    return {doc_id: runs_from_marks(marks)
            for doc_id, marks in store.done_doc_runs(doc_ids).items()}


def sources_that_ran(spans: Iterable[Span], runs: Mapping[str, SourceRun] | None) -> set[str]:
    """The sources that ran on a document: a done run, or any span of theirs there."""
    return set(runs or ()) | {sp.source for sp in spans}


def not_asked(run: SourceRun | None, spans: Iterable[Span], source: str) -> list[Span]:
    """The accepted spans (of other sources) decided before ``run``, which a job that skips
    decided (label, span) pairs could not propose."""
    if run is None or not run.skips_decided or run.at is None:
        return []
    at = _utc(run.at)
    return [sp for sp in spans if sp.status == "accepted" and sp.source != source
            and sp.updated_at is not None and _utc(sp.updated_at) <= at]
