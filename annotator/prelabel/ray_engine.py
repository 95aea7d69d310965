"""Pre-labeling on Ray Data: ``annotator prelabel --engine ray``.

The driver (this process) builds the pre-labeler once to learn its run key and lists the ids
of the documents still to do; their text is never gathered here. A Ray Data datasource streams
them from the store: one read task per batch of ids, run on the driver's node (a SQLite file
lives on its disk), opens the store read-only with a connection of its own and yields that
batch as one block. Ray Data's streaming executor runs the read tasks as the pipeline
consumes them, a few at a time, and its backpressure (its object-store budget) bounds what
waits in the object store. The blocks go through ``map_batches`` over an actor pool: each
actor builds the same pre-labeler (loads the model once) and predicts one batch per call.
The driver writes each returned batch back in ONE transaction, with the local engine's own
storing function (:func:`annotator.prelabel.job._store_prediction`), so the spans, the done
marks and the run key are those of the local engine: a run of either engine resumes the
other.

Failures: an exception a model raises on a document marks that document ``failed``
(:class:`PrelabelActor`); any other exception on a worker (an :class:`AnnotatorError`, a bug, a
store that cannot be read) comes back to the driver in the batch's ``fatal`` column and stops
the run. A worker process that dies is restarted and its batch retried
(``max_task_retries``); a batch whose worker died on every try is skipped (Ray Data's
``max_errored_blocks``, set for the run only: up to ``MAX_LOST_BATCHES``, then the run
fails). At the end the documents that never came back are predicted again, each alone and
one at a time per worker, and a document that still kills its worker is marked ``failed``
with the reason, so that the same command retries exactly those. The driver kills each
pass's actors when it ends (see :func:`_kill_pool`). A batch's results are written once
(the driver skips a document it already wrote in this run, and the write itself replaces
that source's proposals and sets the done mark in one transaction, so repeating it would
change nothing). Ctrl-C or a cancel keeps the written batches; the same command continues
where it stopped.

What runs on the workers (the read tasks, the actor) is in :mod:`.ray_workers`; reaching the
cluster and fitting the run to it in :mod:`.ray_cluster`; the job and the driver's side of
the pipeline here. Ray is imported inside the job, never by ``import annotator``.
"""

from __future__ import annotations

import functools
import inspect
import logging
import pickle
import warnings
from collections.abc import Sequence
from typing import Annotated, Any

from annotator.jobs import Job, Progress
from annotator.params import Param

from .base import Prelabeler
from .job import (
    KIND,
    IncludeReviewed,
    Limit,
    _store_prediction,
    build_prelabeler,
    reviewable_doc_ids,
)
from .ray_cluster import (
    _actor_device,
    _check_resources,
    _connect,
    _import_ray,
    _restart_args,
    _user_error,
)
from .ray_workers import (
    PrelabelActor,
    PrelabelerSpec,
    RayEngineError,
    StoreView,
    _store_datasource_class,
)

log = logging.getLogger(__name__)

# read tasks running at once on the driver's node, each with a store connection of its own
READ_TASKS_IN_FLIGHT = 2
# -1: an actor whose process dies is always restarted (Ray Data's default; with a bound, a pool
# whose actors used their restarts up would have no worker left for the other batches); the
# bound is on the retries of one batch
MAX_RESTARTS = -1
MAX_TASK_RETRIES = 3
# batches skipped because their worker died on every try, before the run gives up (workers
# that die on every batch: the model does not fit, say)
MAX_LOST_BATCHES = 20


RayAddress = Annotated[str | None, Param(
    help="the cluster's head, HOST:6379 (or auto: the cluster this machine is a node of; "
         "default: RAY_ADDRESS, else a new local Ray)", metavar="ADDR")]
Workers = Annotated[int, Param(help="actors, each loading the model once (default 2)",
                               metavar="N")]
GpusPerWorker = Annotated[float, Param(
    help="GPUs per actor (e.g. 1 with --device cuda; default 0)", metavar="G")]
CpusPerWorker = Annotated[float, Param(help="CPUs per actor (default 1)", metavar="C")]


def ray_prelabel_job(store: Any, *, ray_address: RayAddress = None, workers: Workers = 2,
                     gpus_per_worker: GpusPerWorker = 0.0,
                     cpus_per_worker: CpusPerWorker = 1.0, limit: Limit = None,
                     doc_ids: Sequence[int] | None = None,
                     include_reviewed: IncludeReviewed = False,
                     prelabeler: Prelabeler | None = None, max_restarts: int = MAX_RESTARTS,
                     max_task_retries: int = MAX_TASK_RETRIES,
                     **build_kwargs: Any) -> Job:
    """:func:`annotator.prelabel.job.prelabel_job` on Ray Data: the same documents, spans,
    done marks and run key, predicted by ``workers`` actors (``gpus_per_worker`` GPUs and
    ``cpus_per_worker`` CPUs each) on the Ray cluster at ``ray_address`` (``HEAD:6379``, or
    ``auto`` for the one this machine belongs to; None: RAY_ADDRESS, else a new local Ray).
    This process must reach the cluster as a driver (run it on one of its nodes) and is the
    only process that writes to the store (its read tasks, on this node, only read).

    ``build_kwargs`` are :func:`build_prelabeler`'s (model, backend, threshold, batch_size,
    window, device, ...). A batch is retried ``max_task_retries`` times when its worker
    process dies (the worker restarted ``max_restarts`` times, -1: always); the documents of
    batches that never came back are tried again one by one, and those that still kill
    their worker are marked failed (counted in ``failed`` and ``lost``). Yields a Progress
    per written batch. Returns the local engine's totals plus ``engine``, ``workers``,
    ``duplicates_skipped`` and ``lost``.
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
        "unmapped": 0, "windows": 0, "truncated_docs": 0, "failed": 0, "done_concurrently": 0,
        "engine": "ray", "workers": int(workers), "duplicates_skipped": 0, "lost": 0,
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
            run = functools.partial(
                _stream, ray, store, spec=spec, gpus=float(gpus_per_worker),
                cpus=float(cpus_per_worker), max_restarts=max_restarts,
                max_task_retries=max_task_retries)
            written: set[int] = set()
            lost = todo
            # then the documents lost with a worker that died on every try (with the batch
            # that killed it, or in flight on it), again, each alone and one at a time per
            # worker: only a document that kills its worker by itself stays lost
            for isolate in (False, True):
                batches = run(lost, batch_size=1 if isolate else batch_size,
                              workers=min(int(workers), len(lost)), isolate=isolate)
                for batch in _reraise_user_errors(batches):
                    _raise_fatal(batch)
                    n = _write_batch(store, run_key, source, batch, written, totals)
                    yield Progress(totals["docs"], len(todo), f"{n} documents written",
                                   dict(totals))
                lost = [i for i in lost if i not in written]
                if not lost:
                    break
                if not isolate:
                    yield Progress(totals["docs"], len(todo),
                                   f"{len(lost)} documents lost with their worker: "
                                   "retrying them one at a time", dict(totals))
            if lost:
                n = _mark_lost(store, run_key, lost, totals, retries=max_task_retries)
                yield Progress(totals["docs"], len(todo),
                               f"{n} documents failed: they kill their worker", dict(totals))
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


def _stream(ray: Any, store: Any, todo: list[int], *, spec: PrelabelerSpec, batch_size: int,
            workers: int, gpus: float, cpus: float, max_restarts: int,
            max_task_retries: int, isolate: bool = False) -> Any:
    """Iterator over the actors' output tables (one per predicted batch), the documents
    streamed from the store as the actors need them. A batch whose worker process died
    through its retries does not come back, and nor do the ones in flight on that worker
    with it; up to ``MAX_LOST_BATCHES`` of them (any number with ``isolate``, which gives
    each worker one batch at a time), then the run fails."""
    roster = _roster_class(ray).remote()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = ray.data.DataContext.get_current()
    saved = {k: getattr(ctx, k) for k in
             ("enable_progress_bars", "print_on_execution_start", "max_errored_blocks")
             if hasattr(ctx, k)}
    ctx.enable_progress_bars = False  # the job's own Progress drives the bar
    ctx.print_on_execution_start = False
    # skip (rather than fail the run on) a batch that failed through its retries: only a
    # dead worker process gets there, every exception coming back in the data instead
    ctx.max_errored_blocks = -1 if isolate else MAX_LOST_BATCHES
    try:
        ds = _read_documents(ray, store, todo, batch_size)
        remote = _restart_args(ds.map_batches, max_restarts, max_task_retries)
        if gpus > 0:
            remote["num_gpus"] = gpus
        pool: dict[str, Any] = {"size": workers}
        if isolate and "max_tasks_in_flight_per_actor" in inspect.signature(
                ray.data.ActorPoolStrategy).parameters:
            pool["max_tasks_in_flight_per_actor"] = 1
        with warnings.catch_warnings():  # restarts as **ray_remote_args: deprecated in 2.60
            warnings.simplefilter("ignore", DeprecationWarning)
            ds = ds.map_batches(
                PrelabelActor, fn_constructor_args=(spec, roster), batch_size=batch_size,
                batch_format="pyarrow", compute=ray.data.ActorPoolStrategy(**pool),
                num_cpus=cpus, **remote)
        yield from ds.iter_batches(batch_size=None, batch_format="pyarrow", prefetch_batches=1)
    finally:
        for key, value in saved.items():
            setattr(ctx, key, value)
        _kill_pool(ray, roster)


@functools.lru_cache(maxsize=1)
def _roster_class(ray: Any) -> Any:
    """A Ray actor (no resources) that keeps the handles of a pool's actors."""

    @ray.remote(num_cpus=0)
    class Roster:
        def __init__(self) -> None:
            self.actors: list[Any] = []

        def add(self, actor: Any) -> None:
            self.actors.append(actor)

        def take(self) -> list[Any]:
            actors, self.actors = self.actors, []
            return actors

    return Roster


def _kill_pool(ray: Any, roster: Any) -> None:
    """Kill the actors of a finished pass, and its roster. Ray Data lets them go by dropping
    its handles, but an actor that was restarting then (its worker died on the last try of
    a batch) came back and held its CPU or GPU until the driver exited: the next pass, or
    the next run on a cluster, could wait for it without end."""
    try:
        for actor in ray.get(roster.take.remote(), timeout=60):
            ray.kill(actor, no_restart=True)
        ray.kill(roster)
    except Exception as exc:  # noqa: BLE001 - the run itself is over; say so and go on
        log.warning("could not stop the Ray workers of this run (%s): they end with it",
                    exc)


def _read_documents(ray: Any, store: Any, todo: list[int], batch_size: int) -> Any:
    """The dataset of the documents ``todo`` (``id``, ``text``), a block per batch, read from
    the store by read tasks on the driver's node (no CPU reserved: they wait on the
    database), at most ``READ_TASKS_IN_FLIGHT`` at a time, as the pipeline consumes them."""
    source = _store_datasource_class()(store.opener(create=False), todo, batch_size)
    params = inspect.signature(ray.data.read_datasource).parameters
    kwargs: dict[str, Any] = {}
    remote: dict[str, Any] = {}
    if "num_cpus" in params:
        kwargs["num_cpus"] = 0
    else:
        remote["num_cpus"] = 0
    # as many blocks as read tasks: no splitting of their blocks (a batch each) to reach a
    # default parallelism
    n_tasks = -(-len(todo) // batch_size)
    if "concurrency" in params:
        kwargs["concurrency"] = min(READ_TASKS_IN_FLIGHT, n_tasks)
    kwargs["override_num_blocks" if "override_num_blocks" in params else "parallelism"] = n_tasks
    if not hasattr(ray.data.Datasource, "supports_distributed_reads"):  # pin them ourselves
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        remote["scheduling_strategy"] = NodeAffinitySchedulingStrategy(
            node_id=ray.get_runtime_context().get_node_id(), soft=False)
    if remote:
        kwargs["ray_remote_args"] = remote
    return ray.data.read_datasource(source, **kwargs)


def _raise_fatal(batch: Any) -> None:
    """Raise the exception a worker returned in ``batch`` (see :class:`PrelabelActor`)."""
    if "fatal" not in batch.column_names:
        return
    blob = next((b for b in batch.column("fatal").to_pylist() if b is not None), None)
    if blob is not None:
        raise pickle.loads(blob)


def _mark_lost(store: Any, run_key: str, lost: list[int], totals: dict[str, Any], *,
               retries: int) -> int:
    """Mark ``failed`` the documents of the run that never came back, predicted alone (their
    worker died on every try), in one transaction; a document deleted meanwhile, or done by
    another run of the same configuration meanwhile, is left as it is. Returns how many."""
    alive = set(store.document_ids())
    tries = 1 + max(0, retries)
    error = (f"the Ray worker process died on this document on every try, {tries} tries with "
             f"its batch then {tries} alone (killed, out of memory, or a crash in the model on "
             "this document)")
    n = 0
    with store.transaction() as conn:
        for doc_id in lost:
            if doc_id not in alive:
                continue
            if not store.claim_doc_run(KIND, run_key, doc_id, conn):
                totals["done_concurrently"] += 1
                continue
            store.mark_doc_run(KIND, run_key, doc_id, "failed", error=error, conn=conn)
            totals["failed"] += 1
            totals["lost"] += 1
            totals["docs"] += 1
            n += 1
    log.warning("%d documents failed: %s", n, error)
    return n


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
            hint = (f" (worker processes kept dying, on more than {MAX_LOST_BATCHES} "
                    "batches through their retries or while loading the model: out of "
                    "memory?); the batches written are kept")
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
