"""Async chat-completions client with typed errors, retries and a JSON-mode probe.

Uses the official ``openai`` package (``AsyncOpenAI`` with ``base_url``) for the requests and
``tenacity`` for the retries. The openai client's own retries are off (``max_retries=0``):
they cannot retry an answer that arrives (HTTP 200) but fails validation, under the same
budget as the HTTP errors, and they do not tell which errors they retried, which the audit
records (``CallResult.errors``, ``attempts``).

- ``response_format`` is a JSON schema by default. Which structured-output mode the endpoint
  accepts is asked once per client (one per run) before the run's calls, by a small probe
  (:meth:`ChatClient.probe_mode`: a one-line prompt, a one-key schema, 16 tokens): answered in
  json_schema mode, the run uses it; refused (a 4xx or 5xx other than 401/403/429;
  llama-cpp-python answers 500) while ``{"type": "json_object"}`` is answered, and refused
  again on a second json_schema try (a transient 500 is not a verdict), the run uses JSON
  mode, with the schema written into the prompt. The verdict is kept on the client
  (``ChatClient.mode``) and the probe's steps in ``ChatClient.probe_log``; calls never switch
  mode. A probe that gets no answer at all (the endpoint down, timing out, rate-limited past
  the retries) stops the run before any document is sent.
- 429 waits for ``Retry-After`` (seconds, HTTP date, or ``retry-after-ms``) when given, else
  backs off exponentially; 5xx, timeouts, connection errors and invalid answers back off
  exponentially (``retry_base_delay * 2**n``, capped, plus jitter); 401/403 raise
  ``AuthError`` at once; other 4xx raise ``RequestRejectedError`` at once.
- Every answer is validated on the client (``contract.parse_answer``, or the protocol's
  parser passed to ``complete``).
- Sampling parameters outside the OpenAI API (``top_k``) go through ``extra_body``: they are
  merged into the JSON body the server receives, and left out when unset (``top_k`` 0/None).

What is recorded (``CallResult.request``) is the JSON body as sent (``extra_body`` merged in):
never headers or the key.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from annotator.errors import AnnotatorError

from .contract import Answer, InvalidOutputError, parse_answer
from .keys import NO_KEY, redact

if TYPE_CHECKING:  # asyncio and tenacity are imported by the client itself: the command line
    import asyncio  # reads this module for the silver flags and starts without them

    from tenacity import AsyncRetrying, RetryCallState

JSON_SCHEMA, JSON_OBJECT = "json_schema", "json_object"
EXTRA_BODY_KEYS = ("top_k",)  # not in the OpenAI API: sent through ``extra_body``
MAX_BACKOFF_S = 30.0
# the JSON-mode probe: a request no real call looks like (the fake server knows it by this)
PROBE_PROMPT = 'Answer with the JSON object {"ok": true} and nothing else.'
PROBE_SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}},
                "required": ["ok"], "additionalProperties": False}


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


# what a retry can help with; the rest fails the call at once
RETRIED = (RateLimitError, ServerError, LLMTimeoutError, ConnectionFailedError,
           InvalidAnswerError)
# what the probe retries: a server or request error is its answer, not a fault
PROBE_RETRIED = (RateLimitError, LLMTimeoutError, ConnectionFailedError)


def public_endpoint(base_url: str) -> str:
    """``base_url`` without user info, query or fragment (they may carry credentials)."""
    p = urlsplit(base_url)
    host = p.hostname or ""
    if p.port:
        host = f"{host}:{p.port}"
    return urlunsplit((p.scheme, host, p.path.rstrip("/"), "", ""))


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
            import email.utils

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
    """One endpoint + model. Create and use it inside one event loop.

    ``mode`` is the structured-output mode the endpoint accepts (``JSON_SCHEMA`` or
    ``JSON_OBJECT``), ``None`` until :meth:`probe_mode` asked (calls use json_schema then)."""

    def __init__(self, *, base_url: str, model: str, api_key: str | None = None,
                 timeout: float = 60.0, max_retries: int = 3, temperature: float = 0.0,
                 max_tokens: int | None = None, retry_base_delay: float = 1.0,
                 max_retry_wait: float = 120.0, semaphore: asyncio.Semaphore | None = None,
                 top_p: float | None = None, top_k: int | None = None):
        import asyncio

        from openai import AsyncOpenAI
        from tenacity import wait_exponential, wait_random

        self.endpoint = public_endpoint(base_url)
        self.model, self.temperature, self.max_tokens = model, temperature, max_tokens
        self.top_p, self.top_k = top_p, top_k
        self.max_retries, self.max_retry_wait = max_retries, max_retry_wait
        self._backoff = (wait_exponential(multiplier=retry_base_delay, max=MAX_BACKOFF_S)
                         + wait_random(0, retry_base_delay / 10))
        self.mode: str | None = None
        self.probe_log: list[str] = []  # what the probe's requests got, one line per try
        self._key = api_key
        self._sem = semaphore or asyncio.Semaphore(1_000_000)
        self._client = AsyncOpenAI(base_url=base_url, api_key=api_key or NO_KEY,
                                   timeout=timeout, max_retries=0)  # tenacity retries

    async def aclose(self) -> None:
        await self._client.close()

    def _body(self, messages: list[dict], mode: str, schema: dict, *,
              max_tokens: int | None = None, schema_name: str = "entities") -> dict[str, Any]:
        """The JSON body as the server receives it (``top_k`` included when set)."""
        return chat_body(self.model, messages, mode, schema, temperature=self.temperature,
                         top_p=self.top_p, top_k=self.top_k,
                         max_tokens=max_tokens or self.max_tokens, schema_name=schema_name)

    def _wait(self, state: RetryCallState) -> float:
        """Seconds before the next try: the server's ``Retry-After`` (capped), else backoff."""
        wait = state.outcome.exception().retry_after
        return self._backoff(state) if wait is None else min(wait, self.max_retry_wait)

    def _retrying(self, retried: tuple[type[LLMError], ...], errors: list[str]) -> AsyncRetrying:
        """tenacity's loop: ``max_retries`` more tries on ``retried`` errors, each error of a
        try that is retried appended to ``errors``."""
        from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

        return AsyncRetrying(stop=stop_after_attempt(self.max_retries + 1),
                             retry=retry_if_exception_type(retried), wait=self._wait,
                             before_sleep=lambda s: errors.append(
                                 s.outcome.exception().reason),
                             reraise=True)

    async def probe_mode(self) -> str:
        """Ask the endpoint which structured-output mode it accepts (see the module doc),
        once per client, before its calls (not safe to call concurrently): the verdict is
        kept in ``mode``. Refused credentials raise ``AuthError``; no answer at all (after
        the retries) raises the ``LLMError`` of the last try, saying so."""
        if self.mode is not None:
            return self.mode

        async def answered(mode: str) -> bool:
            body = chat_body(self.model, [{"role": "user", "content": PROBE_PROMPT}], mode,
                             PROBE_SCHEMA, temperature=0.0, max_tokens=16, schema_name="probe")
            errors: list[str] = []  # the tries retried (429, timeouts, connection errors)
            try:
                async for attempt in self._retrying(PROBE_RETRIED, errors):
                    with attempt:
                        await self._post(body)
            except (ServerError, RequestRejectedError) as exc:
                self.probe_log += [f"{mode}: retried ({e})" for e in errors]
                self.probe_log.append(f"{mode}: refused ({exc.reason})")
                return False
            except LLMError as exc:
                self.probe_log += [f"{mode}: retried ({e})" for e in errors]
                self.probe_log.append(f"{mode}: {exc.kind} ({exc.reason})")
                if not isinstance(exc, AuthError):
                    exc.reason = (f"{exc.reason} (after {len(errors) + 1} attempts): the "
                                  "endpoint did not answer a first small request, so no "
                                  "document was sent")
                    exc.args = (exc.reason,)
                raise
            self.probe_log += [f"{mode}: retried ({e})" for e in errors]
            self.probe_log.append(f"{mode}: answered")
            return True

        first = await answered(JSON_SCHEMA)
        if not first and await answered(JSON_OBJECT) and not await answered(JSON_SCHEMA):
            self.mode = JSON_OBJECT
        else:  # answered; or refused in both modes: the calls will say why
            self.mode = JSON_SCHEMA
        return self.mode

    async def complete(self, build_messages: Callable[[str], list[dict]], schema: dict,
                       labels: Sequence[str], *, parse: Callable[..., Answer] = parse_answer,
                       max_tokens: int | None = None,
                       schema_name: str = "entities") -> CallResult:
        """One validated answer, or a typed ``LLMError`` after the retries are spent.

        ``parse(content, labels, truncated=)`` validates the answer; ``max_tokens`` overrides
        the client's bound for this call. ``CallResult.errors`` lists what went wrong on the
        tries before the answer."""
        mode = self.mode or JSON_SCHEMA
        body = self._body(build_messages(mode), mode, schema, max_tokens=max_tokens,
                          schema_name=schema_name)
        errors: list[str] = []
        n = 0
        try:
            async for attempt in self._retrying(RETRIED, errors):
                n = attempt.retry_state.attempt_number
                with attempt:
                    res = await self._send(body, mode, labels, parse)
        except LLMError as err:
            err.attempts = n
            if isinstance(err, RETRIED):  # the retries are spent
                err.reason = f"{err.reason} (after {n} attempts)"
                err.args = (err.reason,)
            raise
        res.attempts, res.errors = n, errors
        return res

    async def _post(self, body: dict[str, Any]) -> Any:
        """One request; a typed ``LLMError`` carries the body sent and what the server
        answered."""
        import openai

        std = {k: v for k, v in body.items() if k not in EXTRA_BODY_KEYS}
        extra = {k: body[k] for k in EXTRA_BODY_KEYS if k in body}
        try:
            async with self._sem:
                return await self._client.chat.completions.create(
                    **std, **({"extra_body": extra} if extra else {}))
        except openai.APIStatusError as exc:
            raise self._status_error(exc, body) from None
        except openai.APITimeoutError:
            raise LLMTimeoutError("request timed out", request=body) from None
        except openai.APIConnectionError as exc:
            raise ConnectionFailedError(redact(f"cannot reach {self.endpoint}: "
                                               f"{exc.__cause__ or exc}", self._key),
                                        request=body) from None

    async def _send(self, body: dict[str, Any], mode: str, labels: Sequence[str],
                    parse: Callable[..., Answer]) -> CallResult:
        """One request and the validation of its answer."""
        resp = await self._post(body)
        raw = resp.model_dump(mode="json")
        choice = resp.choices[0] if resp.choices else None
        content = choice.message.content if choice and choice.message else None
        try:
            answer = parse(content, labels,
                           truncated=bool(choice and choice.finish_reason == "length"))
        except InvalidOutputError as exc:
            raise InvalidAnswerError(f"invalid answer: {exc}", request=body,
                                     response=raw) from None
        usage = resp.usage.model_dump(mode="json") if resp.usage else {}
        return CallResult(body, raw, answer, usage, 1, mode)

    def _status_error(self, exc: Any, body: dict[str, Any]) -> LLMError:
        """The typed error of an HTTP error answer, the key blanked wherever it was quoted."""
        status = exc.status_code
        msg = redact(f"HTTP {status}: {_short(exc)}", self._key)
        kw = {"request": body, "response": _error_body(exc, self._key)}
        if status in (401, 403):
            return AuthError(f"endpoint refused the credentials ({msg})", **kw)
        if status == 429:
            return RateLimitError(msg, retry_after=retry_after_seconds(exc.response.headers),
                                  **kw)
        return ServerError(msg, **kw) if status >= 500 else RequestRejectedError(msg, **kw)


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
