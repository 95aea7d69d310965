"""API key lookup for OpenAI-compatible endpoints.

Order: an explicit key; the environment variable named by ``env_name`` (default
``OPENAI_API_KEY``); the OS keyring (service ``medannotator``, user ``env_name`` then
``api_key``). The key is only ever handed to the HTTP client: never to the database, an export,
a progress message or a log line. Local servers need no key; ``NO_KEY`` is sent then.
"""

from __future__ import annotations

import logging
import os

from annotator.errors import AnnotatorError

KEYRING_SERVICE = "medannotator"
DEFAULT_ENV = "OPENAI_API_KEY"
NO_KEY = "no-key"  # the openai client requires a non-empty key; local servers ignore it

log = logging.getLogger(__name__)


class KeyError_(AnnotatorError):
    """The named key source is missing."""


def _from_keyring(user: str) -> str | None:
    import keyring  # a declared dependency
    from keyring.errors import KeyringError

    try:
        return keyring.get_password(KEYRING_SERVICE, user)
    except (KeyringError, RuntimeError, OSError) as exc:
        log.debug("keyring unavailable: %s", type(exc).__name__)
        return None


def resolve_api_key(api_key: str | None = None, env_name: str | None = None,
                    *, use_keyring: bool = True) -> str | None:
    """The API key to use, or ``None`` when no source has one.

    An ``env_name`` given explicitly must exist (in the environment or the keyring): a typo
    in ``--api-key-env`` is an error, not a silent anonymous call.
    """
    if api_key:
        return api_key
    name = env_name or DEFAULT_ENV
    value = os.environ.get(name)
    if value:
        return value
    if use_keyring:
        for user in (name, "api_key"):
            value = _from_keyring(user)
            if value:
                return value
    if env_name:
        raise KeyError_(f"environment variable {env_name} is not set and the OS keyring has no "
                        f"'{KEYRING_SERVICE}' entry for it")
    return None


def redact(text: str, key: str | None) -> str:
    """``text`` with every occurrence of ``key`` replaced (for error messages)."""
    if key and key != NO_KEY and len(key) >= 4:
        return text.replace(key, "***")
    return text
