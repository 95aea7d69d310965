"""Batch jobs: pre-label the documents of a project, compute their entity density.

Both are generators yielding :class:`annotator.jobs.Progress` and returning totals. Each
document's result is committed in ONE transaction (its new proposals replace that source's
previous proposals, and the document is marked done for the run key) before the job yields,
so a cancel or Ctrl-C loses at most the documents in flight and a rerun continues.

Run key: ``<source>:<24 hex of sha256(config)>`` where config holds the source version (model
id or path + content hash of its files, threshold, window mode and sizes) and what else shapes
the output (labels with descriptions, label map, lexicon entries). Same command, same key.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Annotated, Any

from annotator.errors import AnnotatorError
from annotator.jobs import Job, Progress
from annotator.lifecycle import decided_keys, reviewable_doc_ids
from annotator.params import Param
from annotator.ports import StorePort
from annotator.runs import PRELABEL

from .base import DEFAULT_GLINER2_MODEL, DocPrediction, Prelabeler
from .density import METHODS, density, finemed_density, summarize
from .registry import backends, get_backend

log = logging.getLogger(__name__)

KIND = PRELABEL  # doc_runs.kind of pre-label runs
DENSITY_STATUSES = ("accepted", "proposed")
# what a model raises on one bad input (torch raises RuntimeError); AnnotatorError propagates
_MODEL_ERRORS = (RuntimeError, ValueError, IndexError, KeyError)


def build_prelabeler(store: StorePort, *, model: str | None = None, backend: str = "gliner2",
                     threshold: float | None = None, batch_size: int = 8, window: str = "full",
                     device: str = "cpu", overlap: int | None = None,
                     **options: Any) -> Prelabeler:
    """The pre-labeler a job runs: the registered ``backend``'s (``annotator.prelabel.
    registry``, plugins included), configured from the project (schema, accepted spans).

    ``model`` left out takes the project's default model when it is of this backend (set
    from the model registry). ``options`` are the backend's (gliner2: ``descriptions``,
    ``quantize``, ``max_tokens``, ``overlap``, ``middle_tokens``; transformers:
    ``label_map``, ``aggregation``; lexicon: ``case_insensitive``; a plugin: ``options``, a
    dict given to its class). ``threshold`` and (gliner2) ``descriptions`` left as None take
    what training recorded next to the model (``annotator.calibrate.PRELABEL_SETTINGS``),
    else 0.5 and labels with their descriptions."""
    spec = get_backend(backend)
    if overlap is not None and spec.uses_model:  # windowing: the model backends' only
        options["overlap"] = overlap
    if window not in ("full", "middle"):
        raise AnnotatorError(f"unknown window mode {window!r}; expected full or middle")
    allowed = {o.name for o in spec.options}
    if options.get("quantize") and backend != "gliner2":
        raise AnnotatorError("--quantize is only implemented for the gliner2 backend")
    # options another backend would take, left at their defaults, are not this one's business
    options = {k: v for k, v in options.items()
               if k in allowed or k in _ENGINE_OPTIONS or v not in (None, False, {}, "")}
    unknown = sorted(set(options) - allowed - _ENGINE_OPTIONS)
    if unknown:
        raise AnnotatorError(f"backend {backend!r} takes no option "
                             f"{', '.join(repr(u) for u in unknown)}")
    typed = {o.name: o for o in spec.options}
    options = {k: typed[k].coerce(v, f"backend {backend!r}") if k in typed else v
               for k, v in options.items()}
    if not model and spec.uses_model:
        default = store.get_setting("default_model")
        if default and store.get_setting("default_backend", "gliner2") == backend:
            model = default
    return spec.build(store, model=model, threshold=threshold, batch_size=batch_size,
                      window=window, device=device, **options)


# options every model backend of the tool understands (windowing), whatever its registry entry
_ENGINE_OPTIONS = frozenset({"max_tokens", "overlap", "middle_tokens", "aggregation"})


# The parameters a person sets (annotator.params): the `prelabel` flags and the Pre-label
# dialog's fields are made from these; the Ray engine shares Limit and IncludeReviewed.
Model = Annotated[str | None, Param(
    help=f"hub id or local folder (gliner2 default: {DEFAULT_GLINER2_MODEL}; not used by "
         "lexicon; default: the project's default model when it is of this backend)",
    title="Model id or path", metavar="ID_OR_PATH", widget="dir",
    empty="the project's default model")]
BackendName = Annotated[str, Param(
    help="the tool's own (gliner2, transformers, lexicon) or an installed plugin's (entry "
         "point group medannotator.prelabelers)", choices=backends)]
Threshold = Annotated[float | None, Param(
    help="minimum span score (default: the prelabel_threshold setting, else the threshold "
         "`train` recorded with the model, else 0.5)", setting="prelabel_threshold",
    bounds=(0.0, 1.0), empty="the model's")]
BatchSize = Annotated[int, Param(
    help="documents per step and windows per forward pass (default: the prelabel_batch_size "
         "setting, 8)", metavar="N", setting="prelabel_batch_size", bounds=(1, 4096),
    advanced=True)]
Window = Annotated[str, Param(
    help="full: every token, in overlapping 512-token windows; middle: only the middle 512 "
         "tokens (FineMed's density protocol; the document is marked truncated)",
    choices=("full", "middle"))]
Overlap = Annotated[int | None, Param(
    help="tokens shared by adjacent windows (model backends; default: the backend's, 64)",
    bounds=(0, 4096), advanced=True, empty="the backend's")]
Device = Annotated[str, Param(
    help="cpu, cuda, cuda:N, mps, or auto (cuda when torch sees a GPU); default: the device "
         "setting, else cpu on the command line and auto in the GUI", setting="device")]
Limit = Annotated[int | None, Param(help="process at most N documents in this call",
                                    title="At most (documents)", metavar="N", advanced=True,
                                    empty="all")]
IncludeReviewed = Annotated[bool, Param(
    help="also add proposals to reviewed documents (left alone by default); decided spans "
         "are never touched either way", title="Also reviewed documents", advanced=True)]


def prelabel_job(store: StorePort, *, model: Model = None, backend: BackendName = "gliner2",
                 threshold: Threshold = None, batch_size: BatchSize = 8,
                 window: Window = "full", overlap: Overlap = None, device: Device = "cpu",
                 limit: Limit = None, doc_ids: Sequence[int] | None = None,
                 include_reviewed: IncludeReviewed = False,
                 prelabeler: Prelabeler | None = None, **backend_options: Any) -> Job:
    """Pre-label the project's documents not yet done for this configuration.

    Spans are stored ``proposed`` under the backend's source; that source's earlier proposals
    on the document are replaced, accepted/rejected spans are never touched, and a proposal
    identical (label, offsets) to a span a person already accepted or rejected is skipped.
    Reviewed documents are finished work and are left alone unless ``include_reviewed``.
    ``limit`` caps the documents processed by this call. ``backend_options`` are the
    backend's registered options (see :func:`build_prelabeler`).
    Returns totals: documents, spans, dropped misaligned, repaired, windows, truncated docs.
    """
    pl = prelabeler or build_prelabeler(
        store, model=model, backend=backend, threshold=threshold, batch_size=batch_size,
        window=window, device=device, overlap=overlap, **backend_options)
    run_key = pl.run_key()
    ids = reviewable_doc_ids(store, doc_ids, include_reviewed)
    done = store.done_doc_ids(KIND, run_key)
    todo = [i for i in ids if i not in done]
    if limit is not None:
        todo = todo[:max(0, int(limit))]
    totals: dict[str, Any] = {
        "run_key": run_key, "source": pl.source, "source_version": pl.source_version,
        "docs": 0, "already_done": len(ids) - len([i for i in ids if i not in done]),
        "reviewed_left_alone": (len(doc_ids) if doc_ids is not None
                                else store.count_documents()) - len(ids),
        "spans": 0, "dropped_misaligned": 0, "repaired": 0, "skipped_existing": 0,
        "unmapped": 0, "windows": 0, "truncated_docs": 0, "failed": 0,
        "done_concurrently": 0,
    }
    run_id = store.start_run(KIND, {"backend": pl.source, **pl.config(), "limit": limit},
                             run_key=run_key)
    status = "failed"
    step = max(1, int(batch_size))
    try:
        yield Progress(0, len(todo), f"{pl.source}: {len(todo)} documents", dict(totals))
        for i in range(0, len(todo), step):
            chunk = todo[i:i + step]
            docs = list(store.iter_documents(ids=chunk, with_spans=False))
            try:
                preds = pl.predict_docs([d.text for d in docs])
            except AnnotatorError:
                raise
            except _MODEL_ERRORS as exc:  # a document the model fails on: record it, go on
                log.warning("batch failed (%s); retrying document by document", exc)
                preds = [_predict_one(pl, d.text) for d in docs]
            for doc, pred in zip(docs, preds):
                if isinstance(pred, BaseException):
                    store.mark_doc_run(KIND, run_key, doc.id, "failed", error=str(pred)[:2000])
                    totals["failed"] += 1
                else:
                    _store_prediction(store, run_key, doc.id, pl.source, pred, totals)
                totals["docs"] += 1
                yield Progress(totals["docs"], len(todo), doc.name or f"document {doc.id}",
                               dict(totals))
        status = "done"
        return totals
    except (GeneratorExit, KeyboardInterrupt):
        status = "cancelled"
        raise
    finally:
        store.finish_run(run_id, totals, status=status)


def _predict_one(pl: Prelabeler, text: str) -> DocPrediction | BaseException:
    try:
        return pl.predict_docs([text])[0]
    except AnnotatorError:
        raise
    except _MODEL_ERRORS as exc:
        return exc


def _store_prediction(store: StorePort, run_key: str, doc_id: int, source: str,
                      pred: DocPrediction, totals: dict[str, Any]) -> None:
    decided = decided_keys(store, doc_id)
    spans = [sp for sp in pred.spans if (sp.label, sp.start, sp.end) not in decided]
    skipped = len(pred.spans) - len(spans)
    stats = {**pred.stats(), "spans": len(spans), "skipped_existing": skipped}
    with store.transaction() as conn:
        if not store.claim_doc_run(KIND, run_key, doc_id, conn):
            # another process running the same configuration wrote it meanwhile: its
            # proposals stand (writing these too would double them)
            totals["done_concurrently"] = totals.get("done_concurrently", 0) + 1
            return
        store.replace_proposals(doc_id, source, spans, conn=conn)
        store.set_density(doc_id, None, conn=conn)  # spans changed: density is stale
        store.mark_doc_run(KIND, run_key, doc_id, "done", stats=stats, conn=conn)
    totals["spans"] += len(spans)
    totals["skipped_existing"] += skipped
    totals["dropped_misaligned"] += pred.dropped
    totals["repaired"] += pred.repaired
    totals["unmapped"] += pred.unmapped
    totals["windows"] += pred.windows
    totals["truncated_docs"] += int(pred.truncated)


def density_job(store: StorePort, *, recompute: bool = False,
                statuses: Sequence[str] = DENSITY_STATUSES, sources: Sequence[str] | None = None,
                batch_size: int = 200, method: str = "union") -> Job:
    """Compute and store the entity density of documents lacking one (all with ``recompute``).

    Counted spans: status in ``statuses`` (default accepted + proposed, i.e. everything not
    rejected) and, if given, source in ``sources``. Returns the corpus summary
    (:func:`annotator.prelabel.density.summarize`) over every document of the project.
    ``method="finemed"`` computes FineMed's published density of every document from its
    current spans instead; it is reported, not stored (the stored density stays the union's).
    """
    if method not in METHODS:
        raise AnnotatorError(f"unknown density method {method!r}; expected one of "
                             f"{', '.join(METHODS)}")
    if method == "finemed":
        return (yield from _finemed_density_job(store, statuses, sources, batch_size))
    summaries = store.document_summaries()
    todo = [s.id for s in summaries if recompute or s.density is None]
    done = 0
    yield Progress(0, len(todo), "density")
    for i in range(0, len(todo), batch_size):
        chunk = todo[i:i + batch_size]
        docs = list(store.iter_documents(ids=chunk, span_status=list(statuses),
                                         span_source=list(sources) if sources else None))
        with store.transaction() as conn:
            for doc in docs:
                store.set_density(doc.id, density(len(doc.text), doc.spans), conn=conn)
        done += len(docs)
        yield Progress(done, len(todo), "density")
    values = [s.density for s in store.document_summaries()]
    return {"method": "union", "computed": done, "statuses": list(statuses),
            "sources": list(sources or []), **summarize(values)}


def _finemed_density_job(store: StorePort, statuses: Sequence[str], sources: Sequence[str] | None,
                         batch_size: int) -> Job:
    ids = store.document_ids()
    values: list[float | None] = []
    yield Progress(0, len(ids), "density (finemed)")
    for i in range(0, len(ids), batch_size):
        docs = store.iter_documents(ids=ids[i:i + batch_size], span_status=list(statuses),
                                    span_source=list(sources) if sources else None)
        values.extend(finemed_density(doc.text, doc.spans) for doc in docs)
        yield Progress(len(values), len(ids), "density (finemed)")
    return {"method": "finemed", "computed": len(values), "statuses": list(statuses),
            "sources": list(sources or []), **summarize(values)}
