"""The user's settings: one typed object read from the settings file and the environment.

Where a value comes from, strongest first:

1. an explicit argument (``Settings(llm_model="qwen3")``; a command-line option);
2. the environment: ``ANNOTATOR_<FIELD>`` (``ANNOTATOR_ANNOTATOR``, ``ANNOTATOR_LLM_MODEL``,
   ...; names are not case-sensitive, an empty variable counts as unset);
3. the settings file, TOML: ``$ANNOTATOR_SETTINGS_FILE``, else
   ``$XDG_CONFIG_HOME/medannotator/settings.toml`` (``~/.config/...``): what the GUI's
   Settings dialog, ``set_annotator`` and :func:`save_settings` write;
4. the defaults below.

What lives elsewhere, once: the project's default pre-labelling model and its backend are
the project's (database settings ``default_model`` / ``default_backend``, set by
``annotator models set-default`` and ``train``; pre-label reads them), so this file holds no
copy of them. Secrets never come from the file (a key that looks like one is refused, with
where to put it): the LLM API key is read from the environment variable this file names
(``llm_api_key_env``) or the OS keyring, by :func:`api_key` -- that is,
``annotator.llm.keys.resolve_api_key``, the one lookup. A bad value is an error that names
the file (or the variable) and the key. The name older versions kept in
``identity.json`` is moved into the file the first time it is read.

``annotator settings`` shows each value and where it comes from, and sets or unsets keys;
the GUI's Settings dialog writes the same file.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from annotator.errors import AnnotatorError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ENV_PREFIX = "ANNOTATOR_"
SETTINGS_FILE_ENV = "ANNOTATOR_SETTINGS_FILE"
APP_DIR = "medannotator"
DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
DEFAULT_LLM_URL = "http://localhost:8080/v1"
DEFAULT_THRESHOLD = 0.5
KEYRING_USER = "api_key"  # the keyring entry a key typed in the GUI goes to
IDENTITY_FILE = "identity.json"  # where set_annotator wrote the name before this file
_SECRET_KEY = re.compile(r"(api_?key|secret|token|password|passwd)$", re.IGNORECASE)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SettingsError(AnnotatorError):
    """A setting that cannot be used; the message names where it came from and the key."""


class KeyringUnavailableError(AnnotatorError):
    """No usable OS keyring: the key has to come from the environment."""


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / APP_DIR


def settings_path() -> Path:
    """The settings file: ``$ANNOTATOR_SETTINGS_FILE``, else ``settings.toml`` in the user's
    config folder (it need not exist)."""
    explicit = os.environ.get(SETTINGS_FILE_ENV, "").strip()
    return Path(explicit).expanduser() if explicit else config_dir() / "settings.toml"


# ---------------------------------------------------------------------------- the file
def read_file(path: Path | None = None) -> dict[str, Any]:
    """The settings file's table as written (``{}`` when there is none); in its default
    place, with the name from the old identity file moved into it the first time (see
    :func:`_migrate_identity`)."""
    path = path or settings_path()
    data = _read_toml(path)
    if "annotator" not in data and path == config_dir() / "settings.toml":
        name = _migrate_identity(path, data)
        if name:
            data["annotator"] = name
    for key in data:
        if _SECRET_KEY.search(key):
            raise SettingsError(
                f"{path}: {key}: secrets are never read from the settings file; remove it "
                f"and set the key in the environment variable named by llm_api_key_env "
                f"(default ${DEFAULT_API_KEY_ENV}) or in the OS keyring (Settings dialog)")
    return data


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read the settings file: {exc.strerror}") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from exc


def _migrate_identity(path: Path, data: dict[str, Any]) -> str | None:
    """The name in the identity file the tool used to write (``identity.json`` in the user's
    config folder), copied into the settings file once; the old file is then renamed
    ``identity.json.migrated``. Where the settings file cannot be written the
    name is still used, and the copy is tried again next time."""
    old = config_dir() / IDENTITY_FILE
    try:
        name = json.loads(old.read_text(encoding="utf-8")).get("annotator")
    except (OSError, ValueError, AttributeError):
        return None
    name = str(name).strip() if name else ""
    if not name:
        return None
    try:
        _write_toml(path, {**data, "annotator": name})
        old.rename(old.with_name(IDENTITY_FILE + ".migrated"))
    except OSError:
        pass
    return name


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)  # a TOML basic string


def _write_toml(path: Path, data: dict[str, Any]) -> None:
    lines = ["# medannotator user settings (annotator.settings). Environment variables",
             "# ANNOTATOR_<KEY> override them. Never put an API key here: set it in the",
             "# variable named by llm_api_key_env or in the OS keyring.", ""]
    lines += [f"{k} = {_toml_value(v)}" for k, v in data.items() if v is not None]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)


class _FileSource(PydanticBaseSettingsSource):
    """The settings file as a pydantic-settings source (weaker than the environment)."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self.path = settings_path()
        self.data = read_file(self.path)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.data)


# ---------------------------------------------------------------------------- settings
class Settings(BaseSettings):
    """The user's preferences (see the module doc for where each value comes from)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid",
                                      env_ignore_empty=True, validate_default=True)

    annotator: str = Field("", description="who is annotating: recorded on every decision "
                                           "(empty: the login name)")
    prelabel_threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="minimum span score when pre-labelling (unset: "
        "what `train` recorded with the model, else 0.5)")
    prelabel_batch_size: int = Field(8, ge=1, description="documents per model call when "
                                                          "pre-labelling")
    device: str | None = Field(None, description="where models run: auto, cpu, cuda, cuda:N "
                               "or mps (unset: each command's default)")
    llm_base_url: str = Field(DEFAULT_LLM_URL, description="the OpenAI-compatible endpoint "
                                                           "for LLM silver labels")
    llm_model: str = Field("", description="the model name that endpoint serves")
    llm_api_key_env: str = Field(DEFAULT_API_KEY_ENV, description="the NAME of the "
                                 "environment variable holding the API key (never the key)")

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise SettingsError(_describe(exc, values)) from None

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings],
                                   init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _FileSource(settings_cls)

    @field_validator("llm_api_key_env")
    @classmethod
    def _an_env_name(cls, v: str) -> str:
        v = v.strip() or DEFAULT_API_KEY_ENV
        if not _ENV_NAME.match(v):
            raise ValueError("must be the name of an environment variable (letters, digits, "
                             "_), not the key itself")
        return v

    @field_validator("annotator", "llm_base_url", "llm_model")
    @classmethod
    def _stripped(cls, v: str) -> str:
        return v.strip()

    @field_validator("device")
    @classmethod
    def _a_device(cls, v: str | None) -> str | None:
        v = (v or "").strip().lower() or None
        if v is not None and not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", v):
            raise ValueError("expected auto, cpu, cuda, cuda:N or mps")
        return v

    def annotator_name(self) -> str:
        """``annotator``, else the login name, else ``"annotator"``."""
        if self.annotator:
            return self.annotator
        try:
            return getpass.getuser()
        except Exception:  # noqa: BLE001 - no login name in some containers
            return "annotator"


def _describe(exc: ValidationError, explicit: dict[str, Any]) -> str:
    """One line per bad value, naming where it came from: the argument, the environment
    variable or the settings file, and the key."""
    path = settings_path()
    lines = []
    for err in exc.errors():
        key = str(err["loc"][0]) if err["loc"] else "?"
        env = f"{ENV_PREFIX}{key.upper()}"
        if err["type"] == "extra_forbidden":
            where = "argument" if key in explicit else f"{path}:"
            lines.append(f"{where} unknown setting {key!r} (known: "
                         f"{', '.join(Settings.model_fields)})")
            continue
        if key in explicit:
            where = f"argument {key}"
        elif any(k.upper() == env and v for k, v in os.environ.items()):
            where = f"${env}"
        else:
            where = f"{path}: {key}"
        lines.append(f"{where} = {err.get('input')!r}: {err['msg']}")
    return "; ".join(lines)


def load_settings(**explicit: Any) -> Settings:
    """The settings in effect: ``explicit`` values (``None`` ones left out) over the
    environment over the settings file."""
    return Settings(**{k: v for k, v in explicit.items() if v is not None})


def save_settings(changes: dict[str, Any], path: Path | None = None) -> Path:
    """Write ``changes`` (setting -> value; ``None`` removes the key) into the settings file,
    keeping its other keys; values are checked first. Returns the file. Only the file
    changes: what the environment sets still wins."""
    path = path or settings_path()
    secret = sorted(k for k in changes if _SECRET_KEY.search(k))
    if secret:
        raise SettingsError(f"{', '.join(secret)}: secrets are never kept in the settings "
                            "file; set the key in the environment variable named by "
                            "llm_api_key_env, or in the OS keyring")
    unknown = sorted(set(changes) - set(Settings.model_fields))
    if unknown:
        raise SettingsError(f"unknown setting(s) {', '.join(unknown)}; known: "
                            f"{', '.join(Settings.model_fields)}")
    data = {**read_file(path), **changes}
    try:  # the file's values alone, so that the environment is not written into it
        checked = Settings.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        raise SettingsError(_describe(exc, changes)) from None
    clean = checked.model_dump()
    _write_toml(path, {k: clean[k] for k in Settings.model_fields
                       if k in data and data[k] is not None})
    return path


def explain() -> list[tuple[str, Any, str]]:
    """``(setting, value in effect, where it comes from)`` for every setting: ``$ANNOTATOR_X``,
    the settings file's path, or ``default``."""
    effective = Settings()
    path = settings_path()
    in_file = read_file(path)
    env = {k.upper(): v for k, v in os.environ.items() if v}
    out = []
    for key in Settings.model_fields:
        name = f"{ENV_PREFIX}{key.upper()}"
        where = f"${name}" if name in env else str(path) if key in in_file else "default"
        out.append((key, getattr(effective, key), where))
    return out


# ---------------------------------------------------------------------------- the API key
def api_key(env_name: str | None = None) -> str | None:
    """The LLM API key, or None: the environment variable ``env_name`` (default: the
    ``llm_api_key_env`` setting), else the OS keyring. This is
    ``annotator.llm.keys.resolve_api_key``, the one place a key is looked up; an unset
    variable of another name than the default is not an error here (local servers need no
    key)."""
    from annotator.llm.keys import resolve_api_key

    name = env_name or load_settings().llm_api_key_env
    try:
        return resolve_api_key(env_name=None if name == DEFAULT_API_KEY_ENV else name)
    except AnnotatorError:
        return None


def api_key_source(env_name: str | None = None) -> str | None:
    """Where :func:`api_key` would find the key: ``"environment"``, ``"keyring"`` or None
    (never the key itself)."""
    name = env_name or load_settings().llm_api_key_env
    if os.environ.get(name):
        return "environment"
    return "keyring" if api_key(name) else None


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
    except KeyringUnavailableError:
        return False
    return True


def set_api_key(key: str | None) -> None:
    """Store ``key`` in the OS keyring, where :func:`api_key` finds it (``None`` or empty
    removes it). Never in the settings file."""
    from keyring.errors import KeyringError, PasswordDeleteError

    from annotator.llm.keys import KEYRING_SERVICE

    kr = _keyring()
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


__all__ = ["DEFAULT_API_KEY_ENV", "DEFAULT_LLM_URL", "DEFAULT_THRESHOLD",
           "KeyringUnavailableError", "Settings", "SettingsError", "api_key", "api_key_source",
           "explain",
           "keyring_available", "load_settings", "save_settings", "set_api_key",
           "settings_path"]
