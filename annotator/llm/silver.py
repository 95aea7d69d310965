"""The silver-label job: two LLM passes (extract, then review) over the project's documents.

Invariants:
- One document = one transaction: the spans of both passes (source ``llm_pass1`` /
  ``llm_pass2``, status ``proposed``), its ``llm_calls`` audit rows and its ``doc_runs`` mark
  (kind ``silver``) are committed together, before the job yields. A failed document stores no
  span, only its audit rows and a ``failed`` mark with the reason.
- Only grounded spans are stored (``grounding.ground``); hallucinated texts are counted and kept
  in the audit rows and the run record.
- Documents marked ``done`` for the same ``run_key`` are skipped: a rerun makes no HTTP call.
- A protocol (``protocols.PROTOCOLS``: ``v1``, ``finemed``) fixes the prompts, the answer
  shape, the sampling defaults and the input cut. Under ``max_words`` N (FineMed: 200) only
  the text up to the end of its N-th whitespace-separated word is sent; spans lie inside it,
  and what was cut is recorded in the audit rows and the document's ``doc_runs`` stats.
- Requests run on an asyncio loop in a helper thread, at most ``concurrency`` in flight; the
  database is only touched from the thread that drives the job, which blocks until a document
  finishes (``concurrent.futures.wait``). Closing the job (Ctrl-C, Cancel) cancels the
  requests in flight and stores what had already finished.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any

from annotator.errors import AnnotatorError
from annotator.jobs import Job, Progress
from annotator.lifecycle import decided_keys, reviewable_doc_ids
from annotator.model import LabelSchema, Source, Span, Status
from annotator.params import Param
from annotator.runs import SILVER
from annotator.schemas import load_schema

from .client import JSON_SCHEMA, AuthError, ChatClient, LLMError, public_endpoint
from .finemed import REASONING_KEYS, cut_at_words, parse_finemed
from .grounding import FoldedText, ground
from .keys import resolve_api_key
from .prompts import PromptSet, label_order
from .protocols import DEFAULT_PROTOCOL, PROTOCOLS, Protocol, get_protocol
from .request_record import (
    RequestParts,
    compact_response,
    compact_usage,
    pass1_pairs,
    record_label_order,
)
from .windows import CHARS_PER_TOKEN, split_windows

log = logging.getLogger(__name__)

KIND = SILVER  # doc_runs.kind of silver runs (annotator.runs)
DEFAULT_WINDOW_TOKENS = 2000
MAX_HALLUCINATIONS_IN_RUN = 200  # examples kept in the run record (all are in llm_calls)


def make_run_key(*, model: str, prompt_version: str, schema: LabelSchema, passes: int,
                 temperature: float, extra: dict[str, Any] | None = None) -> str:
    """What makes two runs the same: documents done under this key are skipped. ``extra``
    (protocols other than v1: protocol name, top_p, top_k, max_words) joins the material."""
    material = json.dumps({"model": model, "prompts": prompt_version, "schema": schema.name,
                           "schema_version": schema.version, "passes": passes,
                           "temperature": float(temperature), **(extra or {})},
                          sort_keys=True)
    return "silver-" + hashlib.sha256(material.encode()).hexdigest()[:32]


def make_source_version(model: str, prompt_version: str, schema: LabelSchema) -> str:
    return f"{model}; prompts {prompt_version}; schema {schema.name}@{schema.version}"


@dataclass
class SilverResult:
    run_id: int | None
    run_key: str
    source_version: str
    total: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    hallucinations: int = 0
    tokens: int = 0
    calls: int = 0
    truncated: int = 0  # documents cut at max_words
    protocol: str = DEFAULT_PROTOCOL
    failures: dict[int, str] = field(default_factory=dict)
    json_mode: str | None = None  # the structured-output mode the probe settled on
    json_mode_probe: list[str] = field(default_factory=list)  # what the probe was answered

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Outcome:
    doc_id: int
    error: str | None = None
    spans: dict[int, list[Span]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    hallucinations: list[dict[str, Any]] = field(default_factory=list)
    tokens: int = 0
    fatal: BaseException | None = None
    cut: dict[str, int] | None = None  # what max_words left out


@dataclass
class RunSpec:
    """What makes a silver run, online or through batch files: the protocol and its sampling,
    the prompts, the label schema, the input cut and windows, and the run key and source
    version derived from them (``plan_run``)."""

    protocol: Protocol
    schema: LabelSchema
    prompts: PromptSet
    prompt_version: str
    model: str
    key: str
    version: str
    passes: int
    seed: int
    temperature: float
    top_p: float | None
    top_k: int | None
    max_words: int
    max_tokens: tuple[int | None, int | None]
    window_tokens: int
    max_entities: int | None

    @property
    def window_chars(self) -> int:
        return self.window_tokens * CHARS_PER_TOKEN

    def config(self) -> dict[str, Any]:
        """The run's parameters as ``runs.config`` records them (``plan_run(**params)`` of
        ``config_params`` gives the same spec back)."""
        return {"model": self.model, "passes": self.passes, "temperature": self.temperature,
                "prompts": self.prompt_version, "protocol": self.protocol.name,
                "top_p": self.top_p, "top_k": self.top_k or None, "max_words": self.max_words,
                "schema": f"{self.schema.name}@{self.schema.version}", "seed": self.seed,
                "window_tokens": self.window_tokens, "max_tokens": list(self.max_tokens),
                "max_entities": self.max_entities, "source_version": self.version}

    def sent(self, text: str) -> tuple[str, dict[str, int] | None]:
        """``(what is sent of text, what max_words cut or None)``."""
        end = cut_at_words(text, self.max_words)
        if end >= len(text):
            return text, None
        return text[:end], {"max_words": self.max_words, "sent_chars": end,
                            "cut_chars": len(text) - end, "total_chars": len(text)}

    def windows(self, sent: str) -> list[tuple[int, int]]:
        return split_windows(sent, self.window_chars) if sent else []

    def parts(self, doc_id: int, pass_no: int, w: int, bounds: tuple[int, int],
              pass1: list[dict] | None) -> RequestParts:
        """The request of one pass over one window (label order shuffled per call)."""
        order = label_order(self.schema.keys, seed=self.seed, doc_id=doc_id, pass_no=pass_no,
                            window=w)
        return RequestParts(self.protocol, self.prompts, self.schema, self.model, pass_no,
                            tuple(order), tuple(bounds), self.temperature, self.top_p,
                            self.top_k, self.max_tokens[pass_no - 1], self.max_entities,
                            pass1_pairs(pass1))


def plan_run(store, *, model: str, passes: int = 2, schema: str | LabelSchema | None = None,
             temperature: float | None = None, top_p: float | None = None,
             top_k: int | None = None, max_words: int | None = None,
             max_tokens: int | None = None, protocol: str = DEFAULT_PROTOCOL,
             prompt_versions: dict[str, str] | None = None, seed: int = 0,
             window_tokens: int | None = None, max_entities: int | None = None) -> RunSpec:
    """The run these parameters make (protocol defaults filled in); raises AnnotatorError
    on values out of range."""
    if passes not in (1, 2):
        raise AnnotatorError("--passes must be 1 or 2")
    proto = get_protocol(protocol)
    temperature = proto.temperature if temperature is None else float(temperature)
    top_p = proto.top_p if top_p is None else float(top_p)
    top_k = proto.top_k if top_k is None else int(top_k)
    max_words = proto.max_words if max_words is None else int(max_words)
    if max_words < 0 or (top_k is not None and top_k < 0):
        raise AnnotatorError("--max-words and --top-k must be 0 or more")
    pass_tokens = (max_tokens, max_tokens) if max_tokens else tuple(proto.max_tokens)
    label_schema = _resolve_schema(store, schema)
    prompts = proto.prompts(prompt_versions)
    prompt_version = proto.prompt_version(prompts)
    extra = None
    if proto.name != DEFAULT_PROTOCOL:
        extra = {"protocol": proto.name, "top_p": top_p, "top_k": top_k or None,
                 "max_words": max_words}
    key = make_run_key(model=model, prompt_version=prompt_version, schema=label_schema,
                       passes=passes, temperature=temperature, extra=extra)
    version = make_source_version(model, prompt_version, label_schema)
    return RunSpec(proto, label_schema, prompts, prompt_version, model, key, version, passes,
                   seed, temperature, top_p, top_k or None, max_words, pass_tokens,
                   window_tokens or DEFAULT_WINDOW_TOKENS, max_entities)


@dataclass
class _Ctx:
    client: ChatClient
    spec: RunSpec


async def _call(ctx: _Ctx, out: _Outcome, text: str, pass_no: int, w: int,
                bounds: tuple[int, int], pass1: list[dict] | None) -> list[dict]:
    """One pass over one window; appends its audit row and grounded spans to ``out``."""
    spec = ctx.spec
    chunk = text[bounds[0]:bounds[1]]
    proto = spec.protocol
    parts = spec.parts(out.doc_id, pass_no, w, bounds, pass1)
    schema_json = parts.answer_schema()
    endpoint = None  # the run's config records it, once
    try:
        res = await ctx.client.complete(lambda mode: parts.messages(chunk, mode), schema_json,
                                        list(parts.order), parse=proto.parser(pass_no),
                                        max_tokens=parts.max_tokens,
                                        schema_name=proto.schema_name(pass_no))
    except LLMError as exc:
        sent_mode = ((exc.request or {}).get("response_format") or {}).get("type", JSON_SCHEMA)
        out.calls.append(call_row(spec, out, parts, chunk, w, sent_mode, endpoint)
                         | {"response": compact_response(exc.response), "error": exc.reason})
        out.calls[-1]["request"]["attempts"] = exc.attempts
        raise
    return take_answer(spec, out, parts, chunk, w, res, endpoint)


def call_row(spec: RunSpec, out: _Outcome, parts: RequestParts, chunk: str, w: int, mode: str,
             endpoint: str | None) -> dict[str, Any]:
    """The audit row of one call (``llm_calls``), without its outcome; ``endpoint`` when it
    is not the run's (batch files)."""
    request = parts.record(chunk, mode)
    if endpoint:
        request["endpoint"] = endpoint
    if out.cut:
        request["input_cut"] = out.cut
    return {"doc_id": out.doc_id, "run_key": spec.key, "pass_no": parts.pass_no, "window": w,
            "request": request}


def take_answer(spec: RunSpec, out: _Outcome, parts: RequestParts, chunk: str, w: int,
                res: Any, endpoint: str | None) -> list[dict]:
    """Ground a validated answer (``client.CallResult``) of one window, and append its audit
    row and spans to ``out``; returns the answer's entities (what pass 2 is given). The online
    client and the batch import both come through here: the same answer gives the same
    spans."""
    proto, ws = spec.protocol, parts.window[0]
    g = ground(chunk, res.answer.entities, offset=ws, tolerant=proto.tolerant_grounding,
               folded=FoldedText(chunk) if proto.tolerant_grounding else None)
    halluc = g.hallucinations + [{"item": d["item"], "reason": d["reason"]}
                                 for d in res.answer.dropped]
    row = call_row(spec, out, parts, chunk, w, res.mode, endpoint)
    row["request"]["attempts"] = res.attempts
    if res.errors:
        row["request"]["retried_errors"] = res.errors
    out.calls.append(row | {"response": compact_response(res.response),
                            "usage": compact_usage(res.usage), "hallucinations": halluc})
    out.tokens += int(res.usage.get("total_tokens") or 0)
    out.hallucinations.extend({"doc_id": out.doc_id, "pass": parts.pass_no, **h}
                              for h in g.hallucinations)
    source = Source.LLM_PASS1 if parts.pass_no == 1 else Source.LLM_PASS2
    spans = out.spans.setdefault(parts.pass_no, [])
    for sp in g.spans:
        spans.append(Span(sp.start, sp.end, sp.label, source=source,
                          source_version=spec.version, status=Status.PROPOSED,
                          meta=span_meta(sp.match)))
    return res.answer.entities


def span_meta(match: str | None) -> dict[str, Any]:
    """A silver span's metadata: how its text was found, when not exactly. (The run is told
    by ``source_version`` and the document's doc-run mark, not repeated on every span: the
    audit stays within 3 KB per call.)"""
    return {} if match in (None, "exact") else {"match": match}


def merge_windows(out: _Outcome) -> None:
    """A span seen in two overlapping windows is kept once; spans in offset order."""
    for p, spans in out.spans.items():
        uniq = {(s.start, s.end, s.label): s for s in spans}
        out.spans[p] = sorted(uniq.values(), key=lambda s: (s.start, s.end, s.label))


async def _process(ctx: _Ctx, doc_id: int, text: str) -> _Outcome:
    import asyncio

    out = _Outcome(doc_id)
    text, out.cut = ctx.spec.sent(text)  # spans can only lie inside what is sent
    windows = ctx.spec.windows(text)
    try:
        p1 = await asyncio.gather(*(_call(ctx, out, text, 1, i, b, None)
                                    for i, b in enumerate(windows)))
        if ctx.spec.passes >= 2:
            await asyncio.gather(*(_call(ctx, out, text, 2, i, b, p1[i])
                                   for i, b in enumerate(windows)))
    except AuthError as exc:
        out.fatal = exc
    except LLMError as exc:
        out.error = exc.reason
    merge_windows(out)
    return out


def store_outcome(store, spec: RunSpec, out: _Outcome, *, mark: tuple[str, str] | None = None,
                  spans: bool = True, extra_stats: dict[str, Any] | None = None) -> None:
    """Write one document's outcome in ONE transaction: unless it failed, its spans of every
    pass in ``out.spans`` (never a decided (label, span)), then its audit rows and its doc-run
    mark (``mark`` = (kind, run key); default the run's ``silver`` mark). ``spans`` False
    keeps the spans for later (the batch import's pass 1 of a two-pass run)."""
    ok = out.error is None
    kind, key = mark or (KIND, spec.key)
    with store.transaction() as c:
        if not store.claim_doc_run(kind, key, out.doc_id, c):
            return  # done meanwhile by another process running the same configuration
        if ok and spans:
            decided = decided_keys(store, out.doc_id)  # never proposed again
            for p in range(1, spec.passes + 1):
                src = Source.LLM_PASS1.value if p == 1 else Source.LLM_PASS2.value
                keep = [sp for sp in out.spans.get(p, [])
                        if (sp.label, sp.start, sp.end) not in decided]
                store.replace_proposals(out.doc_id, src, keep, conn=c)
        store.add_llm_calls(out.calls, conn=c)
        doc_stats = {"spans": {str(p): len(s) for p, s in out.spans.items()},
                     "hallucinations": len(out.hallucinations),
                     "tokens": out.tokens, "calls": len(out.calls), **(extra_stats or {})}
        if out.cut:
            doc_stats["input_cut"] = out.cut
        store.mark_doc_run(kind, key, out.doc_id, "done" if ok else "failed",
                           error=out.error, conn=c, stats=doc_stats)


class _LoopThread:
    """An asyncio event loop running in a daemon thread (asyncio is imported when a run
    starts: the command line reads this module's declarations without it)."""

    def __init__(self) -> None:
        import asyncio

        self.asyncio = asyncio
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="silver-llm",
                                       daemon=True)
        self.thread.start()

    def submit(self, coro) -> Any:  # a concurrent.futures.Future
        return self.asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, coro, timeout: float | None = 30) -> Any:
        return self.submit(coro).result(timeout)

    def stop(self) -> None:
        asyncio = self.asyncio

        async def _cancel_rest() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.call(_cancel_rest(), timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            if not self.thread.is_alive():
                self.loop.close()


def _resolve_schema(store, schema: str | LabelSchema | None) -> LabelSchema:
    if isinstance(schema, LabelSchema):
        return schema
    if schema:
        return load_schema(schema)
    found = store.get_schema()
    if found is None:
        raise AnnotatorError("the project has no label schema: pass --schema NAME")
    return found


# What makes a silver run (annotator.params), shared by `silver` and `silver-batch export`
# (the same values make the same run key); the flags and the GUI's fields come from these.
Passes = Annotated[int, Param(help="2 (default): pass 1 extracts, pass 2 reviews; 1: "
                                   "extraction only", choices=(2, 1))]
SchemaName = Annotated[str | None, Param(help="label schema (default: the project's)",
                                         advanced=True, empty="the project's")]
ProtocolName = Annotated[str, Param(
    help="v1 (default): this tool's prompts; finemed: the published FineMed two-pass "
         "protocol (its prompts, answer shapes and sampling, input cut to 200 words)",
    choices=lambda: tuple(PROTOCOLS))]
Temperature = Annotated[float | None, Param(
    help="default: the protocol's (v1 0, finemed 0.7)", advanced=True, empty="the protocol's")]
TopP = Annotated[float | None, Param(help="default: the protocol's (finemed 0.8; v1 not sent)",
                                     title="Top p", advanced=True)]
TopK = Annotated[int | None, Param(
    help="sent through extra_body (vLLM, llama.cpp); default: the protocol's (finemed 20); 0 "
         "leaves it out, as the OpenAI API needs", title="Top k", advanced=True)]
MaxWords = Annotated[int | None, Param(
    help="send each document up to the end of its N-th whitespace-separated word; 0 = the "
         "whole document (default: finemed 200, v1 0)", metavar="N", advanced=True)]
Seed = Annotated[int, Param(help="seed of the label-order shuffle", advanced=True)]
WindowTokens = Annotated[int | None, Param(
    help="split documents longer than about this many tokens (default 2000)", advanced=True)]
MaxTokens = Annotated[int | None, Param(
    help="bound on each answer (default: finemed 4096 pass 1 / 8192 pass 2)",
    title="Max answer tokens", advanced=True)]
IncludeReviewed = Annotated[bool, Param(
    help="also label reviewed documents (left alone by default); decided spans are never "
         "touched or proposed again either way", title="Also reviewed documents",
    advanced=True)]
Limit = Annotated[int | None, Param(help="at most N documents this time",
                                    title="At most (documents)", metavar="N", empty="all")]


def silver_job(store, *, base_url: Annotated[str, Param(
                   help="endpoint, e.g. http://127.0.0.1:8080/v1 (default: the llm_base_url "
                        "setting)", title="Endpoint URL", setting="llm_base_url")],
               model: Annotated[str, Param(
                   help="model name the endpoint serves (default: the llm_model setting)",
                   title="Model name", setting="llm_model", metavar="NAME")],
               api_key: str | None = None, passes: Passes = 2,
               concurrency: Annotated[int, Param(
                   help="requests in flight (default 8)", bounds=(1, 4096),
                   advanced=True)] = 8,
               schema: SchemaName = None, limit: Limit = None,
               temperature: Temperature = None,
               max_retries: Annotated[int, Param(
                   help="attempts after the first for a failed request (default 3)",
                   bounds=(0, 100), advanced=True)] = 3,
               timeout: Annotated[float, Param(
                   help="per request, seconds (default 60)", advanced=True)] = 60.0,
               seed: Seed = 0, doc_ids: list[int] | None = None,
               window_tokens: WindowTokens = None, max_tokens: MaxTokens = None,
               max_entities: int | None = None, retry_base_delay: float = 1.0,
               prompt_versions: dict[str, str] | None = None,
               protocol: ProtocolName = DEFAULT_PROTOCOL, top_p: TopP = None,
               top_k: TopK = None, max_words: MaxWords = None,
               include_reviewed: IncludeReviewed = False) -> Job:
    """Silver-label documents with two LLM passes; yields ``Progress``, returns
    ``SilverResult``.

    ``protocol`` (``v1`` or ``finemed``) gives the prompts and the defaults of ``temperature``,
    ``top_p``, ``top_k`` (0: not sent), ``max_tokens`` (both passes when given) and
    ``max_words`` (0: the whole document). ``window_tokens`` (default 2000) is converted to
    characters (x4); a text that fits is sent whole. ``max_entities`` adds ``maxItems`` to the
    v1 answer schema. ``api_key`` defaults to ``keys.resolve_api_key()``.
    """
    if concurrency < 1:
        raise AnnotatorError("--concurrency must be at least 1")
    spec = plan_run(store, model=model, passes=passes, schema=schema, temperature=temperature,
                    top_p=top_p, top_k=top_k, max_words=max_words, max_tokens=max_tokens,
                    protocol=protocol, prompt_versions=prompt_versions, seed=seed,
                    window_tokens=window_tokens, max_entities=max_entities)
    proto, key, version = spec.protocol, spec.key, spec.version
    temperature, top_p, top_k = spec.temperature, spec.top_p, spec.top_k
    ids = reviewable_doc_ids(store, doc_ids, include_reviewed)
    done_before = store.done_doc_ids(KIND, key)
    todo = [i for i in ids if i not in done_before]
    result = SilverResult(None, key, version, skipped=len(ids) - len(todo),
                          protocol=proto.name)
    if limit is not None:
        todo = todo[:limit]
    result.total = len(todo)
    halluc_examples: list[dict] = []

    def stats() -> dict[str, Any]:
        return {"done": result.done, "failed": result.failed, "halluc": result.hallucinations,
                "tokens": result.tokens}

    yield Progress(0, len(todo), f"{result.skipped} already done", stats())
    config = {"endpoint": public_endpoint(base_url), **spec.config(), "concurrency": concurrency,
              "max_retries": max_retries, "timeout": timeout}
    result.run_id = store.start_run(KIND, config, key)

    def run_stats() -> dict[str, Any]:
        d = result.to_dict()
        d.pop("failures")
        d["failures"] = {str(k): v for k, v in list(result.failures.items())[:200]}
        d["hallucination_examples"] = halluc_examples[:MAX_HALLUCINATIONS_IN_RUN]
        return d

    def write(out: _Outcome) -> None:
        ok = out.error is None
        store_outcome(store, spec, out)
        result.calls += len(out.calls)
        result.truncated += int(out.cut is not None)
        result.tokens += out.tokens
        if ok:
            result.done += 1
            result.hallucinations += len(out.hallucinations)
            room = MAX_HALLUCINATIONS_IN_RUN - len(halluc_examples)  # memory stays flat
            if room > 0:
                halluc_examples.extend(out.hallucinations[:room])
        else:
            result.failed += 1
            result.failures[out.doc_id] = out.error or "failed"

    if not todo:
        store.finish_run(result.run_id, run_stats(), "done")
        return result

    import asyncio
    from concurrent.futures import FIRST_COMPLETED, wait

    api_key = api_key or resolve_api_key()
    lt = _LoopThread()

    async def make_ctx() -> _Ctx:
        client = ChatClient(base_url=base_url, model=model, api_key=api_key, timeout=timeout,
                            max_retries=max_retries, temperature=temperature,
                            max_tokens=None, retry_base_delay=retry_base_delay,
                            semaphore=asyncio.Semaphore(concurrency), top_p=top_p,
                            top_k=top_k or None)
        return _Ctx(client, spec)

    ctx: _Ctx = lt.call(make_ctx())
    pending: set[Any] = set()  # concurrent.futures.Future
    docs = store.iter_documents(ids=todo, with_spans=False, batch_size=200)
    status = "failed"
    try:
        try:  # one small request (a few when refused): json_schema or JSON mode
            lt.call(ctx.client.probe_mode(), timeout=None)  # its own timeouts and retries
        finally:  # in the run's record even when it stops the run
            result.json_mode, result.json_mode_probe = ctx.client.mode, ctx.client.probe_log
        while True:
            while len(pending) < 2 * concurrency:
                doc = next(docs, None)
                if doc is None:
                    break
                pending.add(lt.submit(_process(ctx, doc.id, doc.text)))
            if not pending:
                break
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                pending.discard(fut)
                out = fut.result()
                if out.fatal is not None:
                    raise out.fatal
                write(out)
                yield Progress(result.done + result.failed, len(todo),
                               f"document {out.doc_id}" + (f" failed: {out.error}"
                                                           if out.error else ""), stats())
        status = "done"
    except (GeneratorExit, KeyboardInterrupt):
        status = "cancelled"
        raise
    finally:
        ended = [fut for fut in pending if not fut.cancel()]  # cancel() stops the rest
        if status == "cancelled":  # keep what finished before the cancel
            for fut in ended:
                if fut.exception() is None and fut.result().fatal is None:
                    write(fut.result())
        try:
            lt.call(ctx.client.aclose(), timeout=10)
        except Exception as exc:  # noqa: BLE001 - closing must not hide the real outcome
            log.debug("closing the LLM client failed: %s", type(exc).__name__)
        lt.stop()
        store.finish_run(result.run_id, run_stats(), status)
    return result


def review_reasoning(store, doc_id: int, run_key: str | None = None) -> list[dict[str, Any]]:
    """The review pass's reasoning for a document, read from its pass-2 audit rows (newest
    run first, or only ``run_key``): ``[{"run_key", "window", "created_at",
    "false_positives", "reclassifications", "missed_entities"}]``. Empty when no pass 2 of a
    protocol with reasoning (FineMed) answered for it."""
    out: list[dict[str, Any]] = []
    for row in reversed(store.llm_calls(doc_id=doc_id, run_key=run_key, pass_no=2)):
        if row.get("error") or not row.get("response"):
            continue
        try:
            content = row["response"]["choices"][0]["message"]["content"]
            labels = record_label_order(row["request"], store=store)
            answer = parse_finemed(content, labels, pass_no=2)
        except (KeyError, IndexError, TypeError, AnnotatorError):
            continue
        if answer.reasoning is None:
            continue
        out.append({"run_key": row["run_key"], "window": row["window"],
                     "created_at": row["created_at"],
                     **{k: answer.reasoning[k] for k in REASONING_KEYS}})
    return out


_REASONING_TITLES = {"false_positives": "Removed", "reclassifications": "Reclassified",
                     "missed_entities": "Added"}


def review_notes_text(store, doc_id: int) -> str:
    """The newest review reasoning of a document as a few plain-text lines (what the GUI
    shows under the span table); empty when there is none."""
    notes = review_reasoning(store, doc_id)
    if not notes:
        return ""
    newest = [n for n in notes if n["run_key"] == notes[0]["run_key"]]
    lines = ["LLM review (pass 2):"]
    for k in REASONING_KEYS:
        items = [x for n in sorted(newest, key=lambda n: n["window"]) for x in n[k]]
        lines.extend(f"{_REASONING_TITLES[k]}: {x}" for x in items)
    return "\n".join(lines) if len(lines) > 1 else ""
