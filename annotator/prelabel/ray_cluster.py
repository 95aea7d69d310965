"""Reaching a Ray cluster for ``annotator prelabel --engine ray`` and fitting the run to it:
importing Ray, connecting (an unreachable head fails in seconds), the actors' device and
resources, their restart parameters, and the user's error found in Ray's wrapping of it.
"""

from __future__ import annotations

import inspect
import logging
import os
import warnings
from typing import Any

from annotator.errors import AnnotatorError

from .ray_workers import RayEngineError

log = logging.getLogger(__name__)


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
