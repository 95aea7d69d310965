"""Pre-labeling on Ray Data: ``annotator prelabel --engine ray``.

The driver (this process, the only one that opens the store) builds the pre-labeler once to
learn its run key, reads the documents still to do from the store in chunks and hands them to
the Ray object store, and streams them through ``map_batches`` over an actor pool: each actor
builds the same pre-labeler (loads the model once) and predicts one batch per call. The driver
writes each returned batch back in ONE transaction, with the local engine's own storing
function (:func:`annotator.prelabel.job._store_prediction`), so the spans, the done marks and
the run key are those of the local engine: a run of either engine resumes the other.

Failures: an actor whose process dies is restarted and its batch retried (Ray's
``max_restarts`` / ``max_task_retries``); a batch's results are written once (the driver skips
a document it already wrote in this run, and the write itself replaces that source's proposals
and sets the done mark in one transaction, so repeating it would change nothing). Ctrl-C or a
cancel keeps the written batches; the same command continues where it stopped.

Ray is imported here, inside the job, never by ``import annotator``.
"""

from __future__ import annotations

import inspect
import logging
import os
import pickle
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from annotator.errors import AnnotatorError
from annotator.jobs import Job, Progress

from .base import Prelabeler
from .job import (
    _MODEL_ERRORS,
    KIND,
    _predict_one,
    _store_prediction,
    build_prelabeler,
    reviewable_doc_ids,
)

log = logging.getLogger(__name__)

# documents read from the store at a time; they go to the object store as blocks of one
# batch each (one block = one actor call = one output batch = one transaction)
READ_CHUNK = 1000
MAX_RESTARTS = 3
MAX_TASK_RETRIES = 3


class RayEngineError(AnnotatorError):
    """Ray is missing, unreachable, or the run failed on the cluster."""


@dataclass
class StoreView:
    """What :func:`build_prelabeler` reads from a store for a model backend (schema and
    settings), so that an actor on another machine builds the same pre-labeler."""

    schema: Any
    settings: dict[str, Any] = field(default_factory=dict)

    def get_schema(self) -> Any:
        return self.schema

    def get_setting(self, key: str, default: Any = None) -> Any:
        return self.settings.get(key, default)


@dataclass
class PrelabelerSpec:
    """How an actor gets its pre-labeler: ``prelabeler`` itself (shipped pickled: the lexicon,
    or one given by the caller), else ``build_prelabeler(view, **kwargs)``."""

    run_key: str
    prelabeler: Prelabeler | None = None
    view: StoreView | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)

    def build(self) -> Prelabeler:
        pl = self.prelabeler or build_prelabeler(self.view, **self.kwargs)
        if pl.run_key() != self.run_key:
            raise RayEngineError(
                f"the Ray worker on {os.uname().nodename} built a different configuration "
                f"(run key {pl.run_key()} instead of the driver's {self.run_key}): are the "
                "model files the same on every node?")
        return pl


class PrelabelActor:
    """A Ray Data actor: builds the pre-labeler once, then predicts a batch per call.

    In: a pyarrow table with ``id`` and ``text``. Out: ``id``, ``pred`` (the pickled
    :class:`DocPrediction`, null on failure) and ``error`` (null on success)."""

    def __init__(self, spec: PrelabelerSpec):
        self.pl = spec.build()

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        ids = batch.column("id").to_pylist()
        texts = batch.column("text").to_pylist()
        try:
            preds: list[Any] = self.pl.predict_docs(texts)
        except AnnotatorError:
            raise
        except _MODEL_ERRORS as exc:  # a document the model fails on: that one, not the batch
            log.warning("batch failed (%s); retrying document by document", exc)
            preds = [_predict_one(self.pl, t) for t in texts]
        blobs = [None if isinstance(p, BaseException) else pickle.dumps(p) for p in preds]
        errors = [str(p)[:2000] if isinstance(p, BaseException) else None for p in preds]
        return pa.table({"id": pa.array(ids, pa.int64()), "pred": pa.array(blobs, pa.binary()),
                         "error": pa.array(errors, pa.string())})


def _import_ray() -> Any:
    try:
        with warnings.catch_warnings():  # Ray Data's own DataContext deprecation notices
            warnings.simplefilter("ignore", DeprecationWarning)
            import ray
            import ray.data  # noqa: F401
    except ImportError as exc:
        raise RayEngineError(
            f"--engine ray needs Ray Data ({exc}): pip install 'medannotator[scale]' "
            "(scripts/setup.sh installs it)") from exc
    return ray


def _connect(ray: Any, address: str | None) -> bool:
    """Connect to ``address`` (None: a new local Ray, or RAY_ADDRESS); True when this call
    started the connection (and must shut it down)."""
    if ray.is_initialized():
        return False
    _check_reachable(address or os.environ.get("RAY_ADDRESS"))
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = address or os.environ.get("RAY_ADDRESS") or "a new local Ray"
        raise RayEngineError(f"cannot start or reach Ray at {where}: "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                             ) from exc
    return True


def _check_reachable(address: str | None, timeout: float = 10.0) -> None:
    """A ``HOST:PORT`` address that takes no TCP connection fails here, in seconds
    (``ray.init`` would wait on it without end); a Ray Client one (``ray://``) is refused."""
    import socket

    if not address or address in ("auto", "local"):
        return
    if address.startswith("ray://"):
        raise RayEngineError(
            f"--ray-address {address}: Ray Data does not run through Ray Client (ray://); run "
            "annotator on a machine of the cluster (the head node, say) with --ray-address "
            "HEAD:6379")
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise RayEngineError(f"--ray-address {address!r}: expected HOST:PORT (the head's GCS "
                             "port, 6379 by default) or auto")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise RayEngineError(
            f"cannot reach the Ray head at {hostport} ({exc.strerror or exc}): is `ray start "
            "--head` running there, and is the port open from this machine?") from exc


def _actor_device(device: str | None, gpus: float) -> str:
    """The device the actors put the model on: ``cuda`` only with GPUs reserved for them
    (``auto`` follows ``--gpus-per-worker``; ``cuda:N`` is ``cuda``, since Ray shows each
    actor only the GPUs it reserved)."""
    dev = (device or "cpu").lower()
    if dev == "auto":
        return "cuda" if gpus > 0 else "cpu"
    if gpus > 0 and dev == "cpu":
        raise RayEngineError(f"--gpus-per-worker {gpus:g} reserves GPUs that --device cpu "
                             "would not use: add --device cuda (or auto)")
    if gpus <= 0 and dev.startswith("cuda"):
        raise RayEngineError(f"--device {device} on Ray needs --gpus-per-worker (e.g. 1): an "
                             "actor that reserved no GPU must not use one")
    return "cuda" if dev.startswith("cuda") else dev


def _check_resources(ray: Any, cpus: float, gpus: float) -> None:
    """Fail now, rather than wait forever, when no node could host even one actor."""
    have = ray.cluster_resources()
    for name, need in (("GPU", gpus), ("CPU", cpus)):
        if need > 0 and have.get(name, 0) < need:
            flag = " (--gpus-per-worker)" if name == "GPU" else ""
            raise RayEngineError(
                f"a worker needs {need:g} {name}{flag} but the Ray cluster has "
                f"{have.get(name, 0):g} in all ({len(ray.nodes())} nodes): none could start")


def _restart_args(map_batches: Any, max_restarts: int, max_task_retries: int) -> dict:
    """``max_restarts`` / ``max_task_retries`` for the actors, as this Ray version takes them:
    extra keyword arguments, which Ray 2.60 deprecates (to be removed in 2.64, it says), or
    named parameters should a later version add them."""
    params = inspect.signature(map_batches).parameters
    if "max_restarts" in params or any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return {"max_restarts": max_restarts, "max_task_retries": max_task_retries}
    log.warning("this Ray takes no max_restarts for map_batches: Ray Data's default restarts "
                "apply (a document that kills every worker is retried without end)")
    return {}


def _user_error(exc: BaseException) -> AnnotatorError | None:
    """The AnnotatorError a worker raised, found in Ray's wrapping of it."""
    seen = set()
    todo: list[Any] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, AnnotatorError):
            return e
        todo += [getattr(e, "cause", None), e.__cause__, e.__context__]
    return None


def ray_prelabel_job(store: Any, *, ray_address: str | None = None, workers: int = 2,
                     gpus_per_worker: float = 0.0, cpus_per_worker: float = 1.0,
                     limit: int | None = None, doc_ids: Sequence[int] | None = None,
                     include_reviewed: bool = False, prelabeler: Prelabeler | None = None,
                     max_restarts: int = MAX_RESTARTS,
                     max_task_retries: int = MAX_TASK_RETRIES,
                     **build_kwargs: Any) -> Job:
    """:func:`annotator.prelabel.job.prelabel_job` on Ray Data: the same documents, spans,
    done marks and run key, predicted by ``workers`` actors (``gpus_per_worker`` GPUs and
    ``cpus_per_worker`` CPUs each) on the Ray cluster at ``ray_address`` (``HEAD:6379``, or
    ``auto`` for the one this machine belongs to; None: RAY_ADDRESS, else a new local Ray).
    This process must reach the cluster as a driver (run it on one of its nodes) and is the
    only one that opens the store.

    ``build_kwargs`` are :func:`build_prelabeler`'s (model, backend, threshold, batch_size,
    window, device, ...). Yields a Progress per written batch. Returns the local engine's
    totals plus ``engine``, ``workers`` and ``duplicates_skipped``.
    """
    if int(workers) < 1:
        raise RayEngineError(f"--workers must be at least 1 (got {workers})")
    if float(gpus_per_worker) < 0:
        raise RayEngineError(f"--gpus-per-worker must be >= 0 (got {gpus_per_worker})")
    batch_size = max(1, int(build_kwargs.get("batch_size", 8)))
    if prelabeler is None and build_kwargs.get("backend", "gliner2") != "lexicon":
        build_kwargs["device"] = _actor_device(build_kwargs.get("device"), gpus_per_worker)
    if prelabeler is not None:
        spec = PrelabelerSpec(prelabeler.run_key(), prelabeler=prelabeler)
        pl = prelabeler
    else:
        # built here on the CPU for its run key (and to fail early on a bad configuration);
        # the actors build their own on the requested device
        pl = build_prelabeler(store, **{**build_kwargs, "device": "cpu"})
        if build_kwargs.get("backend", "gliner2") == "lexicon":
            spec = PrelabelerSpec(pl.run_key(), prelabeler=pl)
        else:
            view = StoreView(store.get_schema(), {
                k: store.get_setting(k) for k in ("default_model", "default_backend")
                if store.get_setting(k) is not None})
            spec = PrelabelerSpec(pl.run_key(), view=view, kwargs=dict(build_kwargs))
    run_key, source, config = pl.run_key(), pl.source, pl.config()
    source_version = pl.source_version
    if spec.prelabeler is None:
        del pl  # the driver's copy of the model is not needed any more
    ids = reviewable_doc_ids(store, doc_ids, include_reviewed)
    done = store.done_doc_ids(KIND, run_key)
    todo = [i for i in ids if i not in done]
    if limit is not None:
        todo = todo[:max(0, int(limit))]
    totals: dict[str, Any] = {
        "run_key": run_key, "source": source, "source_version": source_version,
        "docs": 0, "already_done": len(ids) - len([i for i in ids if i not in done]),
        "reviewed_left_alone": (len(doc_ids) if doc_ids is not None
                                else store.count_documents()) - len(ids),
        "spans": 0, "dropped_misaligned": 0, "repaired": 0, "skipped_existing": 0,
        "unmapped": 0, "windows": 0, "truncated_docs": 0, "failed": 0,
        "engine": "ray", "workers": int(workers), "duplicates_skipped": 0,
    }
    ray = _import_ray() if todo else None
    run_id = store.start_run(KIND, {"backend": source, **config, "limit": limit,
                                    "engine": "ray", "workers": int(workers),
                                    "gpus_per_worker": float(gpus_per_worker)},
                             run_key=run_key)
    status = "failed"
    started = False
    batches = None
    try:
        yield Progress(0, len(todo), f"{source} on Ray: {len(todo)} documents", dict(totals))
        if todo:
            started = _connect(ray, ray_address)
            _check_resources(ray, float(cpus_per_worker), float(gpus_per_worker))
            batches = _stream(ray, store, todo, spec, batch_size=batch_size,
                              workers=int(workers), gpus=float(gpus_per_worker),
                              cpus=float(cpus_per_worker), max_restarts=max_restarts,
                              max_task_retries=max_task_retries)
            written: set[int] = set()
            for batch in _reraise_user_errors(batches):
                n = _write_batch(store, run_key, source, batch, written, totals)
                yield Progress(totals["docs"], len(todo), f"{n} documents written",
                               dict(totals))
        status = "done"
        return totals
    except (GeneratorExit, KeyboardInterrupt):
        status = "cancelled"
        raise
    finally:
        if batches is not None:
            batches.close()
        if started:
            ray.shutdown()
        store.finish_run(run_id, totals, status=status)


def _stream(ray: Any, store: Any, todo: list[int], spec: PrelabelerSpec, *, batch_size: int,
            workers: int, gpus: float, cpus: float, max_restarts: int,
            max_task_retries: int) -> Any:
    """Iterator over the actors' output tables (one per predicted batch)."""
    import pyarrow as pa

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # the job's own Progress drives the bar
    ctx.print_on_execution_start = False
    # Every batch is in the object store before the pipeline starts (from_arrow_refs takes a
    # fixed list): the corpus' text once, spilled to the nodes' disks past the store's size.
    refs = []
    for i in range(0, len(todo), READ_CHUNK):
        docs = list(store.iter_documents(ids=todo[i:i + READ_CHUNK], with_spans=False))
        for j in range(0, len(docs), batch_size):
            part = docs[j:j + batch_size]
            refs.append(ray.put(pa.table({
                "id": pa.array([d.id for d in part], pa.int64()),
                "text": pa.array([d.text for d in part], pa.string())})))
    ds = ray.data.from_arrow_refs(refs)
    remote = _restart_args(ds.map_batches, max_restarts, max_task_retries)
    if gpus > 0:
        remote["num_gpus"] = gpus
    with warnings.catch_warnings():  # restarts as **ray_remote_args: deprecated in Ray 2.60
        warnings.simplefilter("ignore", DeprecationWarning)
        ds = ds.map_batches(
            PrelabelActor, fn_constructor_args=(spec,), batch_size=batch_size,
            batch_format="pyarrow", compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=cpus, **remote)
    yield from ds.iter_batches(batch_size=None, batch_format="pyarrow", prefetch_batches=1)


def _reraise_user_errors(batches: Any) -> Any:
    """``batches``, with an AnnotatorError raised on a worker re-raised as itself and any other
    failure of the Ray run as one RayEngineError line."""
    from ray.exceptions import RayActorError, RayError

    try:
        yield from batches
    except RayError as exc:
        user = _user_error(exc)
        if user is not None:
            raise user from None
        first = next((ln for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
        hint = ""
        if isinstance(exc, RayActorError):
            hint = (" (a worker process kept dying on the same batch, through its restarts: "
                    "out of memory on a long document?); the batches written are kept")
        raise RayEngineError(f"the Ray run failed: {first}{hint}") from exc


def _write_batch(store: Any, run_key: str, source: str, batch: Any, written: set[int],
                 totals: dict[str, Any]) -> int:
    """Store one output batch in ONE transaction; returns the documents written."""
    rows = zip(batch.column("id").to_pylist(), batch.column("pred").to_pylist(),
               batch.column("error").to_pylist())
    n = 0
    with store.transaction() as conn:  # _store_prediction's own transaction joins this one
        for doc_id, blob, error in rows:
            if doc_id in written:  # a retried batch delivered twice: written already
                totals["duplicates_skipped"] += 1
                continue
            if blob is None:
                store.mark_doc_run(KIND, run_key, doc_id, "failed", error=error, conn=conn)
                totals["failed"] += 1
            else:
                _store_prediction(store, run_key, doc_id, source, pickle.loads(blob), totals)
            written.add(doc_id)
            totals["docs"] += 1
            n += 1
    return n
