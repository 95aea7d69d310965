"""Settings the GUI remembers, and where each one lives.

* Per user (``QSettings``, organisation ``medannotator``): LLM endpoint URL, LLM model name,
  the name of the environment variable holding the API key, the last pre-label backend.
  The annotator name goes through ``annotator.review`` (``$ANNOTATOR_ANNOTATOR`` or the
  identity file), so the CLI and the GUI agree on who is annotating.
* Per project (``store.set_setting``): the default pre-label model (``default_model``, the
  setting the model registry mirrors) and the pre-label threshold.
* The API key: ONLY the environment (``$OPENAI_API_KEY`` or the variable named in settings) or
  the OS keyring (service ``medannotator``, user ``api_key``: the entries
  ``annotator.llm.keys.resolve_api_key`` reads). Never the database, QSettings or a log line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QSettings

from annotator.errors import AnnotatorError

ORGANIZATION = "medannotator"
APPLICATION = "annotator"
KEYRING_SERVICE = "medannotator"
KEYRING_USER = "api_key"
DEFAULT_ENV = "OPENAI_API_KEY"
DEFAULT_MODEL_SETTING = "default_model"
THRESHOLD_SETTING = "prelabel_threshold"
DEFAULT_THRESHOLD = 0.5
DEFAULT_LLM_URL = "http://localhost:8080/v1"


class KeyringUnavailableError(AnnotatorError):
    """No usable OS keyring: the key has to come from the environment."""


@dataclass
class Settings:
    annotator: str = ""
    model: str = ""
    backend: str = "gliner2"
    threshold: float = DEFAULT_THRESHOLD
    llm_base_url: str = DEFAULT_LLM_URL
    llm_model: str = ""
    api_key_env: str = DEFAULT_ENV


def qsettings() -> QSettings:
    """The per-user settings file (INI, in the user's config folder)."""
    return QSettings(QSettings.IniFormat, QSettings.UserScope, ORGANIZATION, APPLICATION)


def _default_model() -> str:
    try:
        from annotator.prelabel import DEFAULT_GLINER2_MODEL
    except ImportError:  # pragma: no cover - pre-labeling not installed
        return ""
    return DEFAULT_GLINER2_MODEL


def _annotator_name() -> str:
    try:
        from annotator.review import get_annotator
    except ImportError:  # pragma: no cover
        return os.environ.get("ANNOTATOR_ANNOTATOR", "")
    return get_annotator()


def get_settings(store: Any = None) -> Settings:
    """Current settings: per-user values, overlaid with the project's when ``store`` is given."""
    qs = qsettings()
    s = Settings(
        annotator=_annotator_name(),
        model=str(qs.value("prelabel/model", "") or _default_model()),
        backend=str(qs.value("prelabel/backend", "gliner2")),
        threshold=float(qs.value("prelabel/threshold", DEFAULT_THRESHOLD)),
        llm_base_url=str(qs.value("llm/base_url", DEFAULT_LLM_URL)),
        llm_model=str(qs.value("llm/model", "")),
        api_key_env=str(qs.value("llm/api_key_env", DEFAULT_ENV)) or DEFAULT_ENV,
    )
    if store is not None:
        s.model = str(store.get_setting(DEFAULT_MODEL_SETTING) or s.model)
        s.threshold = float(store.get_setting(THRESHOLD_SETTING, s.threshold))
    return s


def save_settings(s: Settings, store: Any = None) -> None:
    """Persist ``s`` (never the API key: see :func:`set_api_key`)."""
    qs = qsettings()
    qs.setValue("prelabel/model", s.model)
    qs.setValue("prelabel/backend", s.backend)
    qs.setValue("prelabel/threshold", float(s.threshold))
    qs.setValue("llm/base_url", s.llm_base_url)
    qs.setValue("llm/model", s.llm_model)
    qs.setValue("llm/api_key_env", s.api_key_env or DEFAULT_ENV)
    qs.sync()
    if s.annotator and s.annotator != _annotator_name():
        from annotator.review import set_annotator

        set_annotator(s.annotator)
    if store is not None:
        if s.model and s.model != store.get_setting(DEFAULT_MODEL_SETTING):
            store.set_setting(DEFAULT_MODEL_SETTING, s.model)
        if float(s.threshold) != store.get_setting(THRESHOLD_SETTING):
            store.set_setting(THRESHOLD_SETTING, float(s.threshold))


# ---------------------------------------------------------------------------- API key
def _keyring() -> Any:
    import keyring
    from keyring.backends.fail import Keyring as FailKeyring

    if isinstance(keyring.get_keyring(), FailKeyring):
        raise KeyringUnavailableError(
            "no OS keyring is available on this machine: set the API key in the environment "
            "variable named in the settings instead")
    return keyring


def keyring_available() -> bool:
    try:
        _keyring()
    except (KeyringUnavailableError, ImportError):
        return False
    return True


def set_api_key(key: str | None) -> None:
    """Store ``key`` in the OS keyring (``None`` or empty removes it)."""
    kr = _keyring()
    from keyring.errors import KeyringError, PasswordDeleteError

    try:
        if key:
            kr.set_password(KEYRING_SERVICE, KEYRING_USER, key)
        else:
            try:
                kr.delete_password(KEYRING_SERVICE, KEYRING_USER)
            except PasswordDeleteError:
                pass
    except KeyringError as exc:
        raise KeyringUnavailableError(f"the OS keyring refused the key: {exc}") from exc


def api_key_source(env_name: str = DEFAULT_ENV) -> str | None:
    """Where the key would come from: ``"environment"``, ``"keyring"`` or None (never the key)."""
    if os.environ.get(env_name or DEFAULT_ENV):
        return "environment"
    try:
        kr = _keyring()
        if kr.get_password(KEYRING_SERVICE, env_name) or kr.get_password(KEYRING_SERVICE,
                                                                          KEYRING_USER):
            return "keyring"
    except Exception:  # noqa: BLE001 - a broken keyring means "no key from the keyring"
        return None
    return None


def get_api_key(env_name: str = DEFAULT_ENV) -> str | None:
    """The key for LLM calls (environment first, then the keyring), or None."""
    try:
        from annotator.llm.keys import resolve_api_key
    except ImportError:  # pragma: no cover - the LLM package is part of the product
        value = os.environ.get(env_name or DEFAULT_ENV)
        if value:
            return value
        try:
            return _keyring().get_password(KEYRING_SERVICE, KEYRING_USER)
        except Exception:  # noqa: BLE001
            return None
    env = env_name if env_name and env_name != DEFAULT_ENV else None
    try:
        return resolve_api_key(env_name=env)
    except AnnotatorError:
        return None
