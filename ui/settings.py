"""What the GUI's dialogs start from, and where each value is kept.

* The user's preferences (annotator name, pre-label threshold and batch size, device, the LLM
  endpoint URL and model name, the NAME of the API key's environment variable): the user
  settings, ``annotator.settings`` (the settings file, overridden by ``ANNOTATOR_*``
  variables), the same the command line reads.
* The project's default pre-labelling model and its backend: the project's database settings
  ``default_model`` / ``default_backend`` (what ``annotator models set-default`` and ``train``
  set and pre-label reads); nowhere else.
* The API key: ONLY the environment or the OS keyring (``annotator.settings.api_key``); never
  the database, the settings file or a log line.

Window geometry and state, where kept, are Qt's (``QSettings``); nothing here is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from annotator import settings as user_settings
from annotator.errors import AnnotatorError
from annotator.prelabel.registry import get_backend
from annotator.settings import (
    DEFAULT_API_KEY_ENV,
    DEFAULT_LLM_URL,
    DEFAULT_THRESHOLD,
    KeyringUnavailableError,
    api_key_source,
    keyring_available,
    set_api_key,
)

DEFAULT_ENV = DEFAULT_API_KEY_ENV
DEFAULT_MODEL_SETTING = "default_model"
DEFAULT_BACKEND_SETTING = "default_backend"
DEFAULT_BACKEND = "gliner2"

__all__ = ["AnnotatorError", "DEFAULT_ENV", "DEFAULT_LLM_URL", "DEFAULT_THRESHOLD",
           "KeyringUnavailableError", "Settings", "api_key_source", "get_api_key",
           "get_settings", "keyring_available", "save_settings", "set_api_key"]


@dataclass
class Settings:
    """What a dialog shows: the user's settings and, given a store, the project's default
    model and backend (without one: the backend's own default model)."""

    annotator: str = ""
    model: str = ""
    backend: str = DEFAULT_BACKEND
    threshold: float = DEFAULT_THRESHOLD
    batch_size: int = 8
    device: str = "auto"
    llm_base_url: str = DEFAULT_LLM_URL
    llm_model: str = ""
    api_key_env: str = DEFAULT_ENV
    user: Any = None  # annotator.settings.Settings: what a job parameter's `setting` reads


def _project_default(store: Any) -> tuple[str, str]:
    """``(model, backend)`` the project pre-labels with by default."""
    backend = DEFAULT_BACKEND
    model = ""
    if store is not None:
        backend = str(store.get_setting(DEFAULT_BACKEND_SETTING) or DEFAULT_BACKEND)
        model = str(store.get_setting(DEFAULT_MODEL_SETTING) or "")
    return model or (get_backend(backend).default_model or ""), backend


def get_settings(store: Any = None) -> Settings:
    """The settings a dialog starts from (raises ``SettingsError`` naming the file and the
    key when the settings file holds a bad value)."""
    u = user_settings.load_settings()
    model, backend = _project_default(store)
    return Settings(
        annotator=u.annotator_name(), model=model, backend=backend,
        threshold=DEFAULT_THRESHOLD if u.prelabel_threshold is None else u.prelabel_threshold,
        batch_size=u.prelabel_batch_size, device=u.device or "auto",
        llm_base_url=u.llm_base_url, llm_model=u.llm_model, api_key_env=u.llm_api_key_env,
        user=u)


def save_settings(s: Settings, store: Any = None) -> None:
    """Keep what changed from :func:`get_settings`: the user's values in the settings file,
    the default model and backend in the project (never the API key: see
    :func:`set_api_key`)."""
    before = get_settings(store)
    fields = {"annotator": "annotator", "threshold": "prelabel_threshold",
              "batch_size": "prelabel_batch_size", "device": "device",
              "llm_base_url": "llm_base_url", "llm_model": "llm_model",
              "api_key_env": "llm_api_key_env"}
    changes = {key: getattr(s, attr) for attr, key in fields.items()
               if getattr(s, attr) != getattr(before, attr)}
    if "prelabel_threshold" in changes:
        changes["prelabel_threshold"] = float(changes["prelabel_threshold"])
    if changes:
        user_settings.save_settings(changes)
    if store is not None and s.model and (s.model, s.backend) != (before.model, before.backend):
        store.set_setting(DEFAULT_MODEL_SETTING, s.model)
        store.set_setting(DEFAULT_BACKEND_SETTING, s.backend)


def get_api_key(env_name: str | None = None) -> str | None:
    """The key for LLM calls (the environment, then the keyring), or None."""
    return user_settings.api_key(env_name)
