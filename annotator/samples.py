"""The sample project a newcomer sees on first run (resources/samples, see its README.md).

``seed_sample_project(store)`` imports the QUAERO sample (GFDL, mapped to FineMed-fr) and the
fictional clinical notes in brat format, sets the ``finemed-fr`` schema, and runs the lexicon
pre-labeler so that real proposals exist to review. Spans are never invented here: accepted
spans come from the shipped ``.ann`` files (source ``import``), proposals from the lexicon
pre-labeler (source ``lexicon``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from annotator.ports import StorePort

from .jobs import drive
from .schemas import load_schema, resource_path

SCHEMA = "finemed-fr"


def samples_dir() -> Path:
    return resource_path("samples")


@dataclass
class SeedResult:
    documents: int = 0
    imported_spans: int = 0
    proposals: int = 0
    notes: list[str] = field(default_factory=list)


def seed_sample_project(store: StorePort) -> SeedResult:
    """Fill an empty project with the samples; a project with documents is left as it is.

    Each import is one transaction (all or nothing); the pre-label job commits per document.
    """
    result = SeedResult()
    if store.count_documents() > 0:
        result.notes.append("project not empty: nothing seeded")
        return result
    if store.get_schema() is None:
        store.set_schema(load_schema(SCHEMA))
    root = samples_dir()
    from .io import import_job

    for sub, label_map in (("quaero/MEDLINE", "quaero__finemed-fr"),
                           ("quaero/EMEA", "quaero__finemed-fr"), ("notes", None)):
        summary = drive(import_job(store, fmt="brat", path=root / sub, schema=SCHEMA,
                                   label_map=label_map))
        result.documents += summary.added
        result.imported_spans += summary.spans
    from .prelabel.job import prelabel_job

    totals = drive(prelabel_job(store, backend="lexicon"))
    result.proposals = int((totals or {}).get("spans", 0))
    return result
