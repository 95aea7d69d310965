"""The review lifecycle, stated once (README "Review lifecycle").

A document is ``todo`` -> ``in_progress`` (first decision) -> ``reviewed`` (a person marks
it), or ``skipped``. A machine's span is a proposal until a person accepts, rejects or edits
it; an edited suggestion becomes ``human`` and keeps ``meta["derived_from"]``
(``db.store.Store.update_span``). Gold = the accepted spans of reviewed documents
(``annotator.io.status_filters``). Batch jobs that propose spans (pre-label, silver) use the
two functions below so that a rerun never touches decided work.
"""

from __future__ import annotations

from collections.abc import Sequence

from annotator.ports import StorePort

NOT_REVIEWED = ("todo", "in_progress", "skipped")


def reviewable_doc_ids(store: StorePort, doc_ids: Sequence[int] | None,
                       include_reviewed: bool) -> list[int]:
    """The documents a batch job (pre-label, silver) may add proposals to: ``doc_ids`` (or
    every document), less the reviewed ones unless ``include_reviewed``."""
    if include_reviewed:
        return list(doc_ids) if doc_ids is not None else store.document_ids()
    allowed = store.document_ids(NOT_REVIEWED)
    if doc_ids is None:
        return allowed
    keep = set(allowed)
    return [i for i in doc_ids if i in keep]


def decided_keys(store: StorePort, doc_id: int) -> set[tuple[str, int, int]]:
    """``(label, start, end)`` a rerun must not propose: what people accepted or rejected,
    and the original of every suggestion a person edited (``meta["derived_from"]``)."""
    doc = store.get_document(doc_id, span_status=["accepted", "rejected"])
    keys = {(sp.label, sp.start, sp.end) for sp in doc.spans}
    for sp in doc.spans:
        origin = (sp.meta or {}).get("derived_from")
        if isinstance(origin, dict):
            keys.add((origin.get("label"), origin.get("start"), origin.get("end")))
    return keys
