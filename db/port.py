"""``db.Store``'s side of the core's store port (``annotator.ports.StorePort``): the queries
that live in this package's modules, as methods of the store, so that the core and the GUI
call ``store.iter_span_batches(...)`` instead of importing ``db``."""

from __future__ import annotations

import importlib
from typing import Any


def _delegate(module: str, func: str) -> Any:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(f"db.{module}"), func)(self, *args, **kwargs)

    method.__name__ = method.__qualname__ = func
    method.__doc__ = f"``db.{module}.{func}`` on this store."
    return method


class QueriesMixin:
    """The store port's query methods (see ``annotator.ports.StorePort``)."""

    # documents
    import_documents_fast = _delegate("bulk_import", "import_documents_fast")
    # spans
    set_span_statuses = _delegate("gui_queries", "set_span_statuses")
    # runs
    doc_run_marks = _delegate("run_queries", "doc_run_marks")
    done_doc_runs = _delegate("run_queries", "done_doc_runs")
    # models
    register_model = _delegate("registry", "register_model")
    list_models = _delegate("registry", "list_models")
    # LLM audit
    add_llm_calls = _delegate("llm_audit", "add_calls")
    llm_calls = _delegate("llm_audit", "calls")
    # streaming reads (export)
    doc_ids_and_hashes = _delegate("export_queries", "doc_ids_and_hashes")
    iter_export_documents = _delegate("export_queries", "iter_export_documents")
    iter_span_tuples = _delegate("export_queries", "iter_span_tuples")
    iter_span_batches = _delegate("export_queries", "iter_span_batches")
    export_span_counts = _delegate("export_queries", "span_counts")
    # counts and lists (statistics, review desk)
    overview_span_counts = _delegate("overview", "span_counts")
    reference_doc_ids = _delegate("overview", "reference_doc_ids")
    density_inputs = _delegate("gui_queries", "density_inputs")
    document_rows = _delegate("gui_queries", "document_rows")
    span_counts = _delegate("gui_queries", "span_counts")
    all_span_counts = _delegate("gui_queries", "all_span_counts")
    span_sources_and_labels = _delegate("gui_queries", "span_sources_and_labels")
    matching_doc_ids = _delegate("gui_queries", "matching_doc_ids")
    proposed_counts = _delegate("gui_queries", "proposed_counts")
    span_extents = _delegate("gui_queries", "span_extents")
    # bulk decisions
    list_batches = _delegate("review_queries", "list_batches")
    undo_batch = _delegate("review_queries", "undo_batch")
    # team layers
    shared_store = _delegate("team_queries", "shared_store")
    layer_owner = _delegate("team_queries", "layer_owner")
    layer_store = _delegate("team_queries", "layer_store")
    annotators = _delegate("team_queries", "annotators")
    team_view = _delegate("team_queries", "team_view")
    gold_state = _delegate("team_queries", "gold_state")
    gold_states = _delegate("team_queries", "gold_states")
    resolve = _delegate("team_queries", "resolve")
    adjudicate_auto_agree = _delegate("team_queries", "adjudicate_auto_agree")
    agreement_by_annotator = _delegate("team_queries", "agreement_by_annotator")
