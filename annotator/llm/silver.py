"""The silver-label job: two LLM passes (extract, then review) over the project's documents.

Invariants:
- One document = one transaction: the spans of both passes (source ``llm_pass1`` /
  ``llm_pass2``, status ``proposed``), its ``llm_calls`` audit rows and its ``doc_runs`` mark
  (kind ``silver``) are committed together, before the job yields. A failed document stores no
  span, only its audit rows and a ``failed`` mark with the reason.
- Only grounded spans are stored (``grounding.ground``); hallucinated texts are counted and kept
  in the audit rows and the run record.
- Documents marked ``done`` for the same ``run_key`` are skipped: a rerun makes no HTTP call.
- Requests run on an asyncio loop in a helper thread, at most ``concurrency`` in flight; the
  database is only touched from the thread that drives the job. Closing the job (Ctrl-C,
  Cancel) cancels the requests in flight and stores what had already finished.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from typing import Any

from annotator.errors import AnnotatorError
from annotator.jobs import Job, Progress
from annotator.model import LabelSchema, Source, Span, Status
from annotator.schemas import load_schema

from .client import AuthError, ChatClient, LLMError, public_endpoint
from .contract import entity_schema
from .grounding import FoldedText, ground
from .keys import resolve_api_key
from .prompts import PromptSet, label_order, load_prompts, render_messages
from .windows import CHARS_PER_TOKEN, split_windows

log = logging.getLogger(__name__)

KIND = "silver"
DEFAULT_WINDOW_TOKENS = 2000
MAX_HALLUCINATIONS_IN_RUN = 200  # examples kept in the run record (all are in llm_calls)


def make_run_key(*, model: str, prompt_version: str, schema: LabelSchema, passes: int,
                 temperature: float) -> str:
    """What makes two runs the same: documents done under this key are skipped."""
    material = json.dumps({"model": model, "prompts": prompt_version, "schema": schema.name,
                           "schema_version": schema.version, "passes": passes,
                           "temperature": float(temperature)}, sort_keys=True)
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
    failures: dict[int, str] = field(default_factory=dict)

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


@dataclass
class _Ctx:
    client: ChatClient
    schema: LabelSchema
    prompts: PromptSet
    run_key: str
    source_version: str
    passes: int
    seed: int
    window_chars: int
    max_entities: int | None


async def _call(ctx: _Ctx, out: _Outcome, text: str, pass_no: int, w: int,
                bounds: tuple[int, int], pass1: list[dict] | None) -> list[dict]:
    """One pass over one window; appends its audit row and grounded spans to ``out``."""
    ws, we = bounds
    chunk = text[ws:we]
    order = label_order(ctx.schema.keys, seed=ctx.seed, doc_id=out.doc_id, pass_no=pass_no,
                        window=w)
    schema_json = entity_schema(order, ctx.max_entities)

    def build(mode: str) -> list[dict]:
        return render_messages(ctx.prompts, pass_no=pass_no, schema=ctx.schema, order=order,
                               document=chunk, mode=mode, json_schema=schema_json, pass1=pass1)

    meta = {"endpoint": ctx.client.endpoint, "label_order": order, "window": [ws, we]}
    row = {"doc_id": out.doc_id, "run_key": ctx.run_key, "pass_no": pass_no, "window": w}
    try:
        res = await ctx.client.complete(build, schema_json, order)
    except LLMError as exc:
        out.calls.append(row | {"request": meta | {"attempts": exc.attempts,
                                                    "body": exc.request},
                                "response": exc.response, "error": exc.reason})
        raise
    g = ground(chunk, res.answer.entities, offset=ws, folded=FoldedText(chunk))
    halluc = g.hallucinations + [{"item": d["item"], "reason": d["reason"]}
                                 for d in res.answer.dropped]
    out.calls.append(row | {
        "request": meta | {"mode": res.mode, "attempts": res.attempts,
                           "retried_errors": res.errors, "body": res.request},
        "response": res.response, "usage": res.usage, "hallucinations": halluc})
    out.tokens += int(res.usage.get("total_tokens") or 0)
    out.hallucinations.extend({"doc_id": out.doc_id, "pass": pass_no, **h}
                              for h in g.hallucinations)
    source = Source.LLM_PASS1 if pass_no == 1 else Source.LLM_PASS2
    spans = out.spans.setdefault(pass_no, [])
    for sp in g.spans:
        spans.append(Span(sp.start, sp.end, sp.label, source=source,
                          source_version=ctx.source_version, status=Status.PROPOSED,
                          meta={"run_key": ctx.run_key, "match": sp.match}))
    return res.answer.entities


async def _process(ctx: _Ctx, doc_id: int, text: str) -> _Outcome:
    out = _Outcome(doc_id)
    windows = split_windows(text, ctx.window_chars) if text else []
    try:
        p1 = await asyncio.gather(*(_call(ctx, out, text, 1, i, b, None)
                                    for i, b in enumerate(windows)))
        if ctx.passes >= 2:
            await asyncio.gather(*(_call(ctx, out, text, 2, i, b, p1[i])
                                   for i, b in enumerate(windows)))
    except AuthError as exc:
        out.fatal = exc
    except LLMError as exc:
        out.error = exc.reason
    # merge windows: a span seen in two overlapping windows is kept once
    for p, spans in out.spans.items():
        uniq = {(s.start, s.end, s.label): s for s in spans}
        out.spans[p] = sorted(uniq.values(), key=lambda s: (s.start, s.end, s.label))
    return out


class _LoopThread:
    """An asyncio event loop running in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="silver-llm",
                                       daemon=True)
        self.thread.start()

    def submit(self, coro) -> Future:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, coro, timeout: float | None = 30) -> Any:
        return self.submit(coro).result(timeout)

    def stop(self) -> None:
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


def silver_job(store, *, base_url: str, model: str, api_key: str | None = None,
               passes: int = 2, concurrency: int = 8, schema: str | LabelSchema | None = None,
               limit: int | None = None, temperature: float = 0.0, max_retries: int = 3,
               timeout: float = 60, seed: int = 0, doc_ids: list[int] | None = None,
               window_tokens: int | None = None, max_tokens: int | None = None,
               max_entities: int | None = None, retry_base_delay: float = 1.0,
               prompt_versions: dict[str, str] | None = None) -> Job:
    """Silver-label documents with two LLM passes; yields ``Progress``, returns
    ``SilverResult``.

    ``window_tokens`` (default 2000) is converted to characters (x4); a document that fits is
    sent whole. ``max_tokens`` bounds each answer; ``max_entities`` adds ``maxItems`` to the
    answer schema. ``api_key`` defaults to ``keys.resolve_api_key()``.
    """
    from db.llm_audit import add_calls

    if passes not in (1, 2):
        raise AnnotatorError("--passes must be 1 or 2")
    if concurrency < 1:
        raise AnnotatorError("--concurrency must be at least 1")
    label_schema = _resolve_schema(store, schema)
    prompts = load_prompts(prompt_versions)
    key = make_run_key(model=model, prompt_version=prompts.version, schema=label_schema,
                       passes=passes, temperature=temperature)
    version = make_source_version(model, prompts.version, label_schema)
    ids = list(doc_ids) if doc_ids is not None else store.document_ids()
    done_before = store.done_doc_ids(KIND, key)
    todo = [i for i in ids if i not in done_before]
    result = SilverResult(None, key, version, skipped=len(ids) - len(todo))
    if limit is not None:
        todo = todo[:limit]
    result.total = len(todo)
    halluc_examples: list[dict] = []

    def stats() -> dict[str, Any]:
        return {"done": result.done, "failed": result.failed, "halluc": result.hallucinations,
                "tokens": result.tokens}

    yield Progress(0, len(todo), f"{result.skipped} already done", stats())
    config = {"endpoint": public_endpoint(base_url), "model": model, "passes": passes,
              "temperature": temperature, "prompts": prompts.version,
              "schema": f"{label_schema.name}@{label_schema.version}", "seed": seed,
              "concurrency": concurrency, "window_tokens": window_tokens or DEFAULT_WINDOW_TOKENS,
              "max_tokens": max_tokens, "max_entities": max_entities,
              "max_retries": max_retries, "timeout": timeout, "source_version": version}
    result.run_id = store.start_run(KIND, config, key)

    def run_stats() -> dict[str, Any]:
        d = result.to_dict()
        d.pop("failures")
        d["failures"] = {str(k): v for k, v in list(result.failures.items())[:200]}
        d["hallucination_examples"] = halluc_examples[:MAX_HALLUCINATIONS_IN_RUN]
        return d

    def write(out: _Outcome) -> None:
        ok = out.error is None
        with store.transaction() as c:
            if ok:
                for p in range(1, passes + 1):
                    src = Source.LLM_PASS1.value if p == 1 else Source.LLM_PASS2.value
                    store.replace_proposals(out.doc_id, src, out.spans.get(p, []), conn=c)
            add_calls(store, out.calls, conn=c)
            store.mark_doc_run(KIND, key, out.doc_id, "done" if ok else "failed",
                               error=out.error, conn=c, stats={
                                   "spans": {str(p): len(s) for p, s in out.spans.items()},
                                   "hallucinations": len(out.hallucinations),
                                   "tokens": out.tokens, "calls": len(out.calls)})
        result.calls += len(out.calls)
        result.tokens += out.tokens
        if ok:
            result.done += 1
            result.hallucinations += len(out.hallucinations)
            halluc_examples.extend(out.hallucinations[:MAX_HALLUCINATIONS_IN_RUN])
        else:
            result.failed += 1
            result.failures[out.doc_id] = out.error or "failed"

    if not todo:
        store.finish_run(result.run_id, run_stats(), "done")
        return result

    api_key = api_key or resolve_api_key()
    window_chars = (window_tokens or DEFAULT_WINDOW_TOKENS) * CHARS_PER_TOKEN
    lt = _LoopThread()

    async def make_ctx() -> _Ctx:
        client = ChatClient(base_url=base_url, model=model, api_key=api_key, timeout=timeout,
                            max_retries=max_retries, temperature=temperature,
                            max_tokens=max_tokens, retry_base_delay=retry_base_delay,
                            semaphore=asyncio.Semaphore(concurrency))
        return _Ctx(client, label_schema, prompts, key, version, passes, seed, window_chars,
                    max_entities)

    ctx: _Ctx = lt.call(make_ctx())
    finished: queue.Queue[Future] = queue.Queue()
    pending: set[Future] = set()
    docs = store.iter_documents(ids=todo, with_spans=False, batch_size=200)
    status = "failed"
    try:
        while True:
            while len(pending) < 2 * concurrency:
                doc = next(docs, None)
                if doc is None:
                    break
                fut = lt.submit(_process(ctx, doc.id, doc.text))
                pending.add(fut)
                fut.add_done_callback(finished.put)
            if not pending:
                break
            fut = _next_finished(finished)
            pending.discard(fut)
            out = fut.result()
            if out.fatal is not None:
                raise out.fatal
            write(out)
            yield Progress(result.done + result.failed, len(todo),
                           f"document {out.doc_id}" + (f" failed: {out.error}" if out.error
                                                       else ""), stats())
        status = "done"
    except (GeneratorExit, KeyboardInterrupt):
        status = "cancelled"
        raise
    finally:
        for fut in pending:
            fut.cancel()
        if status == "cancelled":  # keep what finished before the cancel
            _drain(finished, write)
        try:
            lt.call(ctx.client.aclose(), timeout=10)
        except Exception as exc:  # noqa: BLE001 - closing must not hide the real outcome
            log.debug("closing the LLM client failed: %s", type(exc).__name__)
        lt.stop()
        store.finish_run(result.run_id, run_stats(), status)
    return result


def _next_finished(finished: queue.Queue) -> Future:
    while True:  # short waits keep Ctrl-C responsive
        try:
            return finished.get(timeout=0.25)
        except queue.Empty:
            continue


def _drain(finished: queue.Queue, write) -> None:
    while True:
        try:
            fut = finished.get_nowait()
        except queue.Empty:
            return
        if fut.cancelled() or fut.exception() is not None:
            continue
        out = fut.result()
        if out.fatal is None:
            write(out)
