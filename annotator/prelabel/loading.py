"""Loading models by hub id or local path, with one clear error when they cannot be found."""

from __future__ import annotations

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


def load_model(model: str, what: str, loader: Callable[[str], Any]) -> Any:
    """Call ``loader(model)``; turn 'cannot find/read it' errors into ModelNotFoundError.

    ``what`` names the backend in the message (``GLiNER2``, ``token-classification``).
    """
    if not model:
        raise ModelNotFoundError(f"no {what} model given")
    p = Path(model).expanduser()
    if looks_like_path(model) and not p.exists():
        raise _not_found(model, what)
    try:
        from huggingface_hub.errors import HfHubHTTPError, HFValidationError
    except ImportError:  # pragma: no cover - huggingface_hub always ships with transformers
        HFValidationError = HfHubHTTPError = OSError  # type: ignore[misc,assignment]
    if p.exists():  # a local folder that is not (fully) a model of this kind
        try:
            return loader(str(p))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise _not_found(model, what, exc) from exc
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
