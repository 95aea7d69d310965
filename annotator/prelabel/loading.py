"""Loading models by hub id or local path, with one clear error when they cannot be found.

Offline first: a hub id is looked up in the local Hugging Face cache before the network. When
it is not cached and the hub is off (``HF_HUB_OFFLINE=1``) or cannot be reached (one TCP
connection to the endpoint, ``PROBE_TIMEOUT_S``), the error comes at once instead of after
the hub client's retries (about 45 s with the default settings).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from annotator.errors import AnnotatorError, ModelNotFoundError

from .base import looks_like_path


def _not_found(model: str, what: str, exc: BaseException | None = None) -> ModelNotFoundError:
    if looks_like_path(model) and not Path(model).expanduser().exists():
        return ModelNotFoundError(f"{what} model {model!r} not found: no such local folder")
    if Path(model).expanduser().is_dir():
        detail = f" ({type(exc).__name__}: {str(exc).splitlines()[0]})" if exc else ""
        return ModelNotFoundError(
            f"{what} model {model!r}: the folder is not a loadable {what} model{detail}")
    return ModelNotFoundError(
        f"{what} model {model!r} not found: not a local folder, and not in the Hugging Face "
        "cache while the hub is unreachable (offline) or has no such repository")


PROBE_TIMEOUT_S = 1.0
_TRUE = {"1", "on", "yes", "true"}


def hub_offline() -> bool:
    """``HF_HUB_OFFLINE`` (read now, not when huggingface_hub was imported) says offline."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def hub_endpoint() -> str:
    """The hub's URL: ``HF_ENDPOINT`` as set now, else huggingface_hub's default."""
    env = os.environ.get("HF_ENDPOINT", "").strip()
    if env:
        return env.rstrip("/")
    from huggingface_hub import constants  # a dependency of transformers

    return str(constants.ENDPOINT).rstrip("/")


def hub_reachable(endpoint: str | None = None, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """One TCP connection to the hub's host and port (no HTTP, no retry)."""
    from urllib.parse import urlsplit

    url = urlsplit(endpoint or hub_endpoint())
    proxy = next((os.environ[k] for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                                          "all_proxy", "HTTP_PROXY", "http_proxy")
                  if os.environ.get(k)), None)
    if proxy and "://" in proxy:  # through a proxy: the proxy is what must answer
        url = urlsplit(proxy)
    host = url.hostname
    if not host:
        return False
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def cached_snapshot(model: str) -> str | None:
    """The local folder of hub id ``model`` in the Hugging Face cache, or None."""
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(repo_id=model, local_files_only=True)
    except Exception:  # not cached, not a valid repo id, or no huggingface_hub
        return None


def load_model(model: str, what: str, loader: Callable[[str], Any]) -> Any:
    """Call ``loader(model)``; turn 'cannot find/read it' errors into ModelNotFoundError.

    ``what`` names the backend in the message (``GLiNER2``, ``token-classification``).
    """
    if not model:
        raise ModelNotFoundError(f"no {what} model given")
    p = Path(model).expanduser()
    if looks_like_path(model) and not p.exists():
        raise _not_found(model, what)
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError
    if p.exists():  # a local folder that is not (fully) a model of this kind
        try:
            return loader(str(p))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise _not_found(model, what, exc) from exc
    snapshot = cached_snapshot(model)
    if snapshot is not None:  # offline first: the cached copy, no request to the hub
        try:
            return loader(snapshot)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # an incomplete snapshot: let the hub client fetch what is missing
    if hub_offline() or not hub_reachable():
        raise _not_found(model, what)
    try:
        return loader(model)
    except (OSError, HFValidationError, HfHubHTTPError) as exc:
        raise _not_found(model, what, exc) from exc


def resolve_device(device: str) -> str:
    """``cpu``, ``cuda``, ``cuda:N`` or ``mps``; a clear error if it is not available.
    ``auto``: ``cuda`` when torch sees a CUDA device, else ``cpu``."""
    import torch

    dev = (device or "cpu").lower()
    if dev == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if dev.startswith("cuda") and not torch.cuda.is_available():
        raise AnnotatorError(f"device {device!r} requested but CUDA is not available")
    if dev == "mps" and not (getattr(torch.backends, "mps", None)
                             and torch.backends.mps.is_available()):
        raise AnnotatorError("device 'mps' requested but it is not available")
    return dev
