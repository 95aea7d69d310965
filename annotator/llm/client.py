"""Async chat-completions client with typed errors, retries and a JSON-mode fallback.

Uses the official ``openai`` package (``AsyncOpenAI`` with ``base_url``; its own retries set to
0 so that this module owns the retry policy):

- ``response_format`` is a JSON schema by default. When an endpoint answers the first
  json_schema request with a 4xx/5xx (llama-cpp-python answers 500), the same call is tried
  once in JSON mode (``{"type": "json_object"}``, schema written into the prompt); if that is
  accepted, JSON mode is remembered for the endpoint (process-wide). Once a json_schema request
  has succeeded on an endpoint, it never falls back.
- 429 waits for ``Retry-After`` (seconds, HTTP date, or ``retry-after-ms``) when given, else
  backs off exponentially; 5xx, timeouts, connection errors and invalid answers back off
  exponentially (``retry_base_delay * 2**n``, capped); 401/403 raise ``AuthError`` at once;
  other 4xx raise ``RequestRejectedError`` at once.
- Every answer is validated on the client (``contract.parse_answer``, or the protocol's
  parser passed to ``complete``).
- Sampling parameters outside the OpenAI API (``top_k``) go through ``extra_body``: they are
  merged into the JSON body the server receives, and left out when unset (``top_k`` 0/None).

What is recorded (``CallResult.request``) is the JSON body as sent (``extra_body`` merged in):
never headers or the key.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from annotator.errors import AnnotatorError

from .contract import Answer, InvalidOutputError, parse_answer
from .keys import NO_KEY, redact

JSON_SCHEMA, JSON_OBJECT = "json_schema", "json_object"
EXTRA_BODY_KEYS = ("top_k",)  # not in the OpenAI API: sent through ``extra_body``
MAX_BACKOFF_S = 30.0


class LLMError(AnnotatorError):
    """A call that failed for good; ``reason`` is one line for the run record."""

    kind = "error"

    def __init__(self, reason: str, *, attempts: int = 0, request: dict | None = None,
                 response: dict | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.reason, self.attempts = reason, attempts
        self.request, self.response, self.retry_after = request, response, retry_after


class AuthError(LLMError):
    kind = "auth"


class RateLimitError(LLMError):
    kind = "rate_limit"


class ServerError(LLMError):
    kind = "server"


class LLMTimeoutError(LLMError):
    kind = "timeout"


class ConnectionFailedError(LLMError):
    kind = "connection"


class InvalidAnswerError(LLMError):
    kind = "invalid_output"


class RequestRejectedError(LLMError):
    kind = "rejected"


def public_endpoint(base_url: str) -> str:
    """``base_url`` without user info, query or fragment (they may carry credentials)."""
    p = urlsplit(base_url)
    host = p.hostname or ""
    if p.port:
        host = f"{host}:{p.port}"
    return urlunsplit((p.scheme, host, p.path.rstrip("/"), "", ""))


class _EndpointModes:
    """Process-wide memory of which structured-output mode each endpoint accepts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mode: dict[str, str] = {}

    def get(self, endpoint: str) -> str | None:
        with self._lock:
            return self._mode.get(endpoint)

    def set(self, endpoint: str, mode: str) -> None:
        with self._lock:
            self._mode.setdefault(endpoint, mode)

    def clear(self) -> None:
        with self._lock:
            self._mode.clear()


ENDPOINT_MODES = _EndpointModes()


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``retry-after`` headers, if any."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    ra = headers.get("retry-after")
    if not ra:
        return None
    try:
        return max(0.0, float(ra))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(ra)
            return max(0.0, when.timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def chat_body(model: str, messages: list[dict], mode: str, schema: dict, *,
              temperature: float, top_p: float | None = None, top_k: int | None = None,
              max_tokens: int | None = None, schema_name: str = "entities") -> dict[str, Any]:
    """The chat-completions JSON body of one call (the online client sends it, batch files
    carry it, the audit rebuilds it): ``top_k`` only when set, the answer schema as
    ``response_format`` in ``json_schema`` mode, ``{"type": "json_object"}`` otherwise."""
    body: dict[str, Any] = {"model": model, "messages": messages, "temperature": temperature}
    if top_p is not None:
        body["top_p"] = top_p
    if top_k:
        body["top_k"] = int(top_k)
    if max_tokens:
        body["max_tokens"] = max_tokens
    if mode == JSON_SCHEMA:
        body["response_format"] = {"type": "json_schema", "json_schema": {
            "name": schema_name, "schema": schema, "strict": True}}
    else:
        body["response_format"] = {"type": "json_object"}
    return body


@dataclass
class CallResult:
    request: dict[str, Any]
    response: dict[str, Any]
    answer: Answer
    usage: dict[str, Any]
    attempts: int
    mode: str
    errors: list[str] = field(default_factory=list)


class ChatClient:
    """One endpoint + model. Create and use it inside one event loop."""

    def __init__(self, *, base_url: str, model: str, api_key: str | None = None,
                 timeout: float = 60.0, max_retries: int = 3, temperature: float = 0.0,
                 max_tokens: int | None = None, retry_base_delay: float = 1.0,
                 max_retry_wait: float = 120.0, semaphore: asyncio.Semaphore | None = None,
                 top_p: float | None = None, top_k: int | None = None):
        from openai import AsyncOpenAI

        self.endpoint = public_endpoint(base_url)
        self.model, self.temperature, self.max_tokens = model, temperature, max_tokens
        self.top_p, self.top_k = top_p, top_k
        self.max_retries, self.retry_base_delay = max_retries, retry_base_delay
        self.max_retry_wait = max_retry_wait
        self._key = api_key
        self._sem = semaphore or asyncio.Semaphore(1_000_000)
        self._client = AsyncOpenAI(base_url=base_url, api_key=api_key or NO_KEY,
                                   timeout=timeout, max_retries=0)

    async def aclose(self) -> None:
        await self._client.close()

    def _body(self, messages: list[dict], mode: str, schema: dict, *,
              max_tokens: int | None = None, schema_name: str = "entities") -> dict[str, Any]:
        """The JSON body as the server receives it (``top_k`` included when set)."""
        return chat_body(self.model, messages, mode, schema, temperature=self.temperature,
                         top_p=self.top_p, top_k=self.top_k,
                         max_tokens=max_tokens or self.max_tokens, schema_name=schema_name)

    def _backoff(self, attempt: int) -> float:
        d = min(MAX_BACKOFF_S, self.retry_base_delay * 2 ** (attempt - 1))
        return d + random.uniform(0, d / 10)

    async def complete(self, build_messages: Callable[[str], list[dict]], schema: dict,
                       labels: Sequence[str], *, parse: Callable[..., Answer] = parse_answer,
                       max_tokens: int | None = None,
                       schema_name: str = "entities") -> CallResult:
        """One validated answer, or a typed ``LLMError`` after the retries are spent.

        ``parse(content, labels, truncated=)`` validates the answer; ``max_tokens`` overrides
        the client's bound for this call."""
        import openai

        attempts, errors = 0, []
        probing = False  # this try is the JSON-mode probe after a json_schema rejection
        body: dict[str, Any] = {}
        raw: dict | None = None
        while True:
            remembered = ENDPOINT_MODES.get(self.endpoint)
            mode = JSON_OBJECT if probing else (remembered or JSON_SCHEMA)
            body = self._body(build_messages(mode), mode, schema, max_tokens=max_tokens,
                              schema_name=schema_name)
            attempts += 1
            wait: float | None = None
            std = {k: v for k, v in body.items() if k not in EXTRA_BODY_KEYS}
            extra = {k: body[k] for k in EXTRA_BODY_KEYS if k in body}
            try:
                async with self._sem:
                    resp = await self._client.chat.completions.create(
                        **std, **({"extra_body": extra} if extra else {}))
            except openai.APIStatusError as exc:
                status = exc.status_code
                raw = _error_body(exc, self._key)
                msg = redact(f"HTTP {status}: {_short(exc)}", self._key)
                if status in (401, 403):
                    raise AuthError(f"endpoint refused the credentials ({msg})",
                                    attempts=attempts, request=body, response=raw) from None
                if mode == JSON_SCHEMA and remembered is None and status != 429 \
                        and not probing and attempts == 1:
                    errors.append(f"{msg} (json_schema rejected? trying JSON mode)")
                    probing = True
                    attempts -= 1  # the probe is free: it is the same attempt in another mode
                    continue
                if status == 429:
                    err: LLMError = RateLimitError(msg)
                    wait = retry_after_seconds(exc.response.headers)
                elif status >= 500:
                    err = ServerError(msg)
                else:
                    raise RequestRejectedError(msg, attempts=attempts, request=body,
                                               response=raw) from None
            except openai.APITimeoutError:
                err, raw = LLMTimeoutError("request timed out"), None
            except openai.APIConnectionError as exc:
                err, raw = ConnectionFailedError(redact(f"cannot reach {self.endpoint}: "
                                                        f"{exc.__cause__ or exc}", self._key)), None
            else:
                raw = resp.model_dump(mode="json")
                if probing:
                    ENDPOINT_MODES.set(self.endpoint, JSON_OBJECT)
                choice = resp.choices[0] if resp.choices else None
                content = choice.message.content if choice and choice.message else None
                try:
                    truncated = bool(choice and choice.finish_reason == "length")
                    answer = parse(content, labels, truncated=truncated)
                except InvalidOutputError as exc:
                    err = InvalidAnswerError(f"invalid answer: {exc}")
                else:
                    if mode == JSON_SCHEMA:
                        ENDPOINT_MODES.set(self.endpoint, JSON_SCHEMA)
                    usage = resp.usage.model_dump(mode="json") if resp.usage else {}
                    return CallResult(body, raw, answer, usage, attempts, mode, errors)
            probing = False
            errors.append(err.reason)
            if attempts > self.max_retries:
                err.attempts, err.request, err.response = attempts, body, raw
                err.reason = f"{err.reason} (after {attempts} attempts)"
                err.args = (err.reason,)
                raise err
            delay = self._backoff(attempts) if wait is None else min(wait, self.max_retry_wait)
            await asyncio.sleep(delay)


def _short(exc: Exception) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return " ".join(str(text).split())[:200]


def _error_body(exc: Any, key: str | None) -> dict | None:
    """The server's error body for the audit, at most 2,000 characters of text, with the API
    key blanked wherever the server quoted it (some do, in "invalid key" messages)."""
    body = getattr(exc, "body", None)
    if body is None:
        return None
    if not isinstance(body, (dict, list)):
        body = str(body)[:2000]
    return {"error": _redact_json(body, key)}


def _redact_json(value: Any, key: str | None) -> Any:
    if isinstance(value, str):
        return redact(value, key)
    if isinstance(value, dict):
        return {redact(str(k), key): _redact_json(v, key) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_json(v, key) for v in value]
    return value
