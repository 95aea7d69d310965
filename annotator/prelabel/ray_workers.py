"""What runs on the Ray workers of ``annotator prelabel --engine ray`` (see
:mod:`annotator.prelabel.ray_engine`): the read tasks that stream documents from the store
(:func:`_read_batch`, the datasource) and the actor that predicts a batch per call
(:class:`PrelabelActor`), with what they need to build the driver's pre-labeler.

Ray and pyarrow are imported inside the functions, never by ``import annotator``.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import pickle
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from annotator.errors import AnnotatorError

from .base import Prelabeler
from .job import _MODEL_ERRORS, _predict_one, build_prelabeler

log = logging.getLogger(__name__)


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

    In: a pyarrow table with ``id``, ``text`` and ``read_error`` (see :func:`_read_batch`).
    Out: ``id``, ``pred`` (the pickled :class:`DocPrediction`, null on failure), ``error``
    (why the model failed on that document, null on success) and ``fatal`` (null, or the
    pickled exception that must stop the run: returned rather than raised, since a batch
    that raises would be skipped like one whose worker died)."""

    def __init__(self, spec: PrelabelerSpec, roster: Any = None):
        if roster is not None:  # on each (re)start: the driver kills the pool when done
            import ray

            ray.get(roster.add.remote(ray.get_runtime_context().current_actor))
        self.pl = spec.build()

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        ids = batch.column("id").to_pylist()
        read_errors = [e for e in batch.column("read_error").to_pylist() if e]
        if read_errors:
            return _fatal_table(ids, RayEngineError(
                f"reading the documents from the store failed: {read_errors[0]}"))
        texts = batch.column("text").to_pylist()
        try:
            try:
                preds: list[Any] = self.pl.predict_docs(texts)
            except AnnotatorError:
                raise
            except _MODEL_ERRORS as exc:  # a document the model fails on: that one, not all
                log.warning("batch failed (%s); retrying document by document", exc)
                preds = [_predict_one(self.pl, t) for t in texts]
        except Exception as exc:  # noqa: BLE001 - any other error stops the run, on the driver
            log.exception("batch failed on %s", os.uname().nodename)
            return _fatal_table(ids, exc)
        blobs = [None if isinstance(p, BaseException) else pickle.dumps(p) for p in preds]
        errors = [str(p)[:2000] if isinstance(p, BaseException) else None for p in preds]
        return pa.table({"id": pa.array(ids, pa.int64()), "pred": pa.array(blobs, pa.binary()),
                         "error": pa.array(errors, pa.string()),
                         "fatal": pa.array([None] * len(ids), pa.binary())})


def _fatal_table(ids: list[int], exc: BaseException) -> Any:
    """An output batch that carries ``exc`` to the driver (pickled; an exception that would
    not unpickle there travels as a RayEngineError with its text)."""
    import pyarrow as pa

    if not isinstance(exc, AnnotatorError):
        exc = RayEngineError(f"the Ray run failed on {os.uname().nodename}: "
                             f"{type(exc).__name__}: {exc}")
    try:
        blob = pickle.dumps(exc)
        pickle.loads(blob)
    except Exception:  # noqa: BLE001
        blob = pickle.dumps(RayEngineError(f"{type(exc).__name__}: {exc}"))
    n = len(ids)
    return pa.table({"id": pa.array(ids, pa.int64()), "pred": pa.array([None] * n, pa.binary()),
                     "error": pa.array([None] * n, pa.string()),
                     "fatal": pa.array([blob] + [None] * (n - 1), pa.binary())})


def _read_batch(opener: Any, ids: list[int]) -> Iterator[Any]:
    """A read task's body (run on the driver's node): open the store (``opener``, the
    driver's ``store.opener(create=False)``: a connection of its own), and yield the
    documents ``ids`` as one pyarrow block (``id``, ``text``, ``read_error``). A store that
    fails yields a block whose ``read_error`` says why (the driver stops the run on it)
    instead of raising, which would count as a lost batch."""
    import pyarrow as pa

    def block(rows: list[tuple[int, str]], error: str | None = None) -> Any:
        return pa.table({"id": pa.array([r[0] for r in rows], pa.int64()),
                         "text": pa.array([r[1] for r in rows], pa.string()),
                         "read_error": pa.array([error] * len(rows), pa.string())})

    try:
        with opener() as store:
            rows = [(d.id, d.text) for d in store.iter_documents(ids=ids, with_spans=False)]
    except Exception as exc:  # noqa: BLE001 - reported to the driver, in the data
        log.exception("reading documents %s failed", ids)
        rows, error = [(ids[0], "")], f"{type(exc).__name__}: {exc}"[:2000]
    else:
        error = None
    if rows:  # none: all deleted meanwhile
        yield block(rows, error)


@functools.lru_cache(maxsize=1)
def _store_datasource_class() -> type:
    """:class:`ray.data.Datasource` over the documents of a store, defined on first use so
    that importing this module does not import Ray."""
    import pyarrow as pa
    from ray.data import Datasource, ReadTask
    from ray.data.block import BlockMetadata

    schema = pa.schema([("id", pa.int64()), ("text", pa.string()), ("read_error", pa.string())])
    meta_params = inspect.signature(BlockMetadata).parameters
    task_params = inspect.signature(ReadTask).parameters

    class StoreDatasource(Datasource):
        """The documents ``ids`` of the store ``opener`` opens: one read task, run on the
        driver's node, per ``batch_size`` ids.

        One task per batch, because Ray Data merges the blocks that one task yields (up to
        ``DataContext.target_max_block_size``) and an actor call takes a whole block: a
        task reading more than one batch would make the actors predict, and lose when their
        process dies, several batches at once."""

        def __init__(self, opener: Any, ids: Sequence[int], batch_size: int):
            self.opener, self.ids = opener, list(ids)
            self.batch_size = max(1, int(batch_size))

        def get_name(self) -> str:
            return "AnnotatorStore"

        @property
        def supports_distributed_reads(self) -> bool:
            return False  # Ray Data pins the read tasks to the driver's node

        def estimate_inmemory_data_size(self) -> int | None:
            return None

        def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None,
                           data_context: Any = None, **_: Any) -> list[Any]:
            tasks = []
            for i in range(0, len(self.ids), self.batch_size):
                part = self.ids[i:i + self.batch_size]
                meta = {"num_rows": len(part), "size_bytes": None, "input_files": None,
                        "exec_stats": None, "schema": schema}
                extra = {"schema": schema, "per_task_row_limit": per_task_row_limit}
                tasks.append(ReadTask(
                    functools.partial(_read_batch, self.opener, part),
                    BlockMetadata(**{k: v for k, v in meta.items() if k in meta_params}),
                    **{k: v for k, v in extra.items() if k in task_params and v is not None}))
            return tasks

    return StoreDatasource
