"""Silver labels through batch files, for offline engines: vLLM's batch runner
(``python -m vllm.entrypoints.openai.run_batch -i IN -o OUT --model M``) and the OpenAI Batch
API read the request lines ``batch_export_job`` writes and answer with output lines that
``batch_import_job`` reads.

Request line: ``{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}``, the
body exactly as the online client would send it (``RequestParts.body``, ``json_schema``
mode). Output line: ``{"id", "custom_id", "response": {"status_code", "request_id", "body"},
"error"}``. ``custom_id`` is ``RUN_KEY:DOC_ID:PASS:WINDOW``.

Invariants:
- The run is the online run's: same ``plan_run``, so the same run key, label orders, windows,
  input cut and bodies; documents the online path finished are not exported, and the other
  way round.
- An answer goes through ``silver.take_answer``, as online: the same answers give the same
  spans, audit rows of the same form (endpoint ``batch FILE``), the same doc-run marks.
- Documents are written whole: both passes' spans of a two-pass run in one transaction at
  the pass-2 import (pass 1's answers wait in a ``silver-pass1`` mark), as online. A failed
  line (an ``error``, a status other than 200, an answer that breaks the contract) marks its
  document ``failed`` with the reason and stores no span of it.
- Importing the same lines twice changes nothing: a document is skipped when it is done, or
  when it failed on the very same lines (their digest is in the mark). A document with some
  of its lines missing from the files is left as it was, and counted.
- Shards end at document boundaries; each file is written beside its target and renamed when
  complete.
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

import orjson

from annotator.errors import AnnotatorError, FormatError
from annotator.jobs import Job, Progress
from annotator.lifecycle import reviewable_doc_ids
from annotator.model import Source, Span, Status
from annotator.params import Param

from .client import JSON_SCHEMA, CallResult
from .contract import InvalidOutputError
from .protocols import DEFAULT_PROTOCOL
from .request_record import compact_response
from .silver import (
    KIND,
    IncludeReviewed,
    Limit,
    MaxTokens,
    MaxWords,
    Passes,
    ProtocolName,
    RunSpec,
    SchemaName,
    Seed,
    Temperature,
    TopK,
    TopP,
    WindowTokens,
    _Outcome,
    call_row,
    merge_windows,
    plan_run,
    span_meta,
    store_outcome,
    take_answer,
)

BATCH_KIND = "silver-batch"  # runs.kind of an export: its config makes the RunSpec again
PASS1_KIND = "silver-pass1"  # doc_runs.kind: pass 1 answered, pass 2 still to come
URL = "/v1/chat/completions"
DEFAULT_SHARD_SIZE = 50_000  # the OpenAI Batch API's limit of requests per file
_SPEC_PARAMS = ("model", "passes", "temperature", "top_p", "top_k", "max_words", "protocol",
                "seed", "window_tokens", "max_entities")


def custom_id(key: str, doc_id: int, pass_no: int, window: int) -> str:
    return f"{key}:{doc_id}:{pass_no}:{window}"


def _parse_custom_id(value: Any, where: str) -> tuple[str, int, int, int]:
    parts = value.rsplit(":", 3) if isinstance(value, str) else []
    try:
        key, doc, pass_no, window = parts[0], int(parts[1]), int(parts[2]), int(parts[3])
    except (IndexError, ValueError):
        raise FormatError(f"{where}: custom_id {value!r} is not RUN:DOC:PASS:WINDOW, as "
                          "'annotator silver-batch export' writes it") from None
    if pass_no not in (1, 2) or window < 0:
        raise FormatError(f"{where}: custom_id {value!r}: pass must be 1 or 2")
    return key, doc, pass_no, window


@dataclass
class BatchExport:
    run_key: str
    pass_no: int
    files: list[str] = field(default_factory=list)
    requests: int = 0
    documents: int = 0
    skipped: int = 0  # already done (online or batch), or pass 1 still pending for pass 2
    truncated: int = 0  # documents cut at max_words

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BatchImport:
    files: list[str] = field(default_factory=list)
    lines: int = 0
    done: int = 0  # documents whose spans are stored (their last pass imported)
    pass1_done: int = 0  # two-pass runs: pass 1 answered, waiting for the pass-2 file
    failed: int = 0
    already: int = 0  # imported before: unchanged
    incomplete: int = 0  # some of the document's lines are not in these files
    hallucinations: int = 0
    spans: int = 0
    failures: dict[int, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["failures"] = {str(k): v for k, v in list(self.failures.items())[:200]}
        return d


# ---------------------------------------------------------------------------- export
def batch_export_job(store, *, pass_no: Annotated[int, Param(
                         help="1: extraction; 2: the review of the imported pass-1 answers",
                         flag="pass", choices=(1, 2))],
                     out: Annotated[str, Param(
                         help="FILE.jsonl (FILE-00001.jsonl… when sharded)", metavar="OUT",
                         widget="save")],
                     model: Annotated[str, Param(help="model name the engine serves",
                                                 metavar="MODEL")],
                     protocol: ProtocolName = DEFAULT_PROTOCOL, passes: Passes = 2,
                     limit: Limit = None,
                     shard_size: Annotated[int, Param(
                         help="at most about N requests per file, cut between documents "
                              "(default 50,000, the OpenAI Batch API's limit)",
                         metavar="N")] = DEFAULT_SHARD_SIZE,
                     include_reviewed: IncludeReviewed = False, schema: SchemaName = None,
                     temperature: Temperature = None, top_p: TopP = None,
                     top_k: TopK = None, max_words: MaxWords = None,
                     max_tokens: MaxTokens = None, seed: Seed = 0,
                     window_tokens: WindowTokens = None, **run: Any) -> Job:
    """Write the requests of pass ``pass_no`` for the documents still to do; returns a
    ``BatchExport``. ``run`` takes ``silver.plan_run``'s other parameters (max_entities,
    prompt_versions).
    Pass 2 is built from the pass-1 answers imported before."""
    if pass_no not in (1, 2):
        raise AnnotatorError("--pass must be 1 or 2")
    if pass_no == 2 and passes == 1:
        raise AnnotatorError("a one-pass run has no pass 2 (--passes 1)")
    if shard_size < 1:
        raise AnnotatorError("--shard-size must be at least 1")
    spec = plan_run(store, model=model, protocol=protocol, passes=passes, schema=schema,
                    temperature=temperature, top_p=top_p, top_k=top_k, max_words=max_words,
                    max_tokens=max_tokens, seed=seed, window_tokens=window_tokens, **run)
    ids = reviewable_doc_ids(store, None, include_reviewed)
    done = store.done_doc_ids(KIND, spec.key)
    pass1 = store.doc_run_marks(PASS1_KIND, spec.key, ids) if passes == 2 else {}
    answered = {i for i, (status, _) in pass1.items() if status == "done"}
    if pass_no == 1:
        todo = [i for i in ids if i not in done and i not in answered]
    else:
        todo = [i for i in ids if i in answered and i not in done]
        if not todo and not done:
            raise AnnotatorError("no pass-1 answers to review: export pass 1, run it, and "
                                 "import its output first (annotator silver-batch import)")
    result = BatchExport(spec.key, pass_no, skipped=len(ids) - len(todo))
    if limit is not None:
        todo = todo[:limit]
    run_id = store.start_run(BATCH_KIND, {**spec.config(), "pass": pass_no,
                                          "out": str(out)}, spec.key)
    writer = _ShardWriter(Path(out), shard_size)
    status = "failed"
    try:
        yield Progress(0, len(todo), f"{result.skipped} already done or waiting")
        for n, doc in enumerate(store.iter_documents(ids=todo, with_spans=False,
                                                     batch_size=200), 1):
            sent, cut = spec.sent(doc.text)
            result.truncated += int(cut is not None)
            entities = (pass1[doc.id][1] or {}).get("pass1_entities", {}) if pass_no == 2 else {}
            lines = []
            for w, bounds in enumerate(spec.windows(sent)):
                given = entities.get(str(w), []) if pass_no == 2 else None
                parts = spec.parts(doc.id, pass_no, w, bounds, given)
                body = parts.body(sent[bounds[0]:bounds[1]], JSON_SCHEMA)
                lines.append(orjson.dumps({"custom_id": custom_id(spec.key, doc.id, pass_no, w),
                                           "method": "POST", "url": URL, "body": body}))
            if not lines:  # an empty text: nothing to ask, done as online
                store_outcome(store, spec, _Outcome(doc.id))
                continue
            writer.write_document(lines)
            result.requests += len(lines)
            result.documents += 1
            if n % 1000 == 0:
                yield Progress(n, len(todo), "writing requests")
        result.files = writer.close()
        status = "done"
    finally:
        if status != "done":
            writer.abandon()
        store.finish_run(run_id, result.as_dict(), status)
    yield Progress(len(todo), len(todo), "done")
    return result


class _ShardWriter:
    """Request lines into ``out`` (one shard) or ``out-00001.jsonl``… (several), each shard
    ending at a document boundary, staged beside its target and renamed at ``close``."""

    def __init__(self, out: Path, shard_size: int):
        self.out, self.shard_size = out, shard_size
        self.staged: list[Path] = []
        self._file = None
        self._lines = 0

    def write_document(self, lines: list[bytes]) -> None:
        if self._file is None or self._lines >= self.shard_size:
            self._next()
        self._file.write(b"\n".join(lines) + b"\n")
        self._lines += len(lines)

    def _next(self) -> None:
        if self._file is not None:
            self._file.close()
        path = self.out.with_name(f".{self.out.name}.{len(self.staged) + 1}.partial-{os.getpid()}")
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(path, "wb")  # noqa: SIM115 - closed in _next/close/abandon
        except OSError as exc:
            raise AnnotatorError(f"cannot write {self.out}: {exc.strerror or exc}") from None
        self.staged.append(path)
        self._lines = 0

    def targets(self) -> list[Path]:
        if len(self.staged) <= 1:
            return [self.out]
        stem, suffix = self.out.stem, self.out.suffix or ".jsonl"
        return [self.out.with_name(f"{stem}-{i:05d}{suffix}")
                for i in range(1, len(self.staged) + 1)]

    def close(self) -> list[str]:
        if self._file is not None:
            self._file.close()
            self._file = None
        names = []
        for staged, target in zip(self.staged, self.targets()):
            os.replace(staged, target)
            names.append(str(target))
        return names

    def abandon(self) -> None:
        if self._file is not None:
            self._file.close()
        for path in self.staged:
            path.unlink(missing_ok=True)


# ---------------------------------------------------------------------------- import
_Where = tuple  # (file index, byte offset, byte length, "file:line")


def _index_lines(paths: list[Path]) -> dict[tuple[str, int, int], dict[int, _Where]]:
    """``{(run key, doc, pass): {window: (file index, offset, length, "file:line")}}``.

    Every line is parsed once here, so that a bad one raises ``FormatError`` naming its file
    and line before anything is stored; only its place is kept (the answers are read again,
    a document at a time: memory stays small on files of 100k answers, whose lines an
    engine may write in any order)."""
    groups: dict[tuple[str, int, int], dict[int, _Where]] = defaultdict(dict)
    for f, path in enumerate(paths):
        try:
            fh = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise AnnotatorError(f"cannot read {path}: {exc.strerror or exc}") from None
        with fh:
            offset = 0
            for n, line in enumerate(fh, 1):
                start, offset = offset, offset + len(line)
                where = f"{path}:{n}"
                if not line.strip():
                    continue
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise FormatError(f"{where}: not a JSON line ({exc})") from None
                if not isinstance(obj, dict) or "custom_id" not in obj:
                    raise FormatError(f"{where}: a batch output line needs a custom_id")
                if "body" in obj and "response" not in obj:
                    raise FormatError(f"{where}: this is a request line (the export); import "
                                      "the output the batch engine wrote for it")
                key, doc, pass_no, window = _parse_custom_id(obj["custom_id"], where)
                groups[(key, doc, pass_no)][window] = (f, start, len(line), where)
    return groups


class _Lines:
    """Reads the lines ``_index_lines`` found, from files kept open during the import."""

    def __init__(self, paths: list[Path]):
        self._files = [open(p, "rb") for p in paths]  # noqa: SIM115 - closed in close()

    def load(self, places: dict[int, _Where]) -> dict[int, tuple[dict, str]]:
        out = {}
        for w, (f, offset, length, where) in places.items():
            fh = self._files[f]
            fh.seek(offset)
            out[w] = (orjson.loads(fh.read(length)), where)
        return out

    def close(self) -> None:
        for fh in self._files:
            fh.close()


def _line_answer(obj: dict) -> tuple[dict | None, str | None]:
    """``(response body, None)`` or ``(body or None, why the line failed)``."""
    err = obj.get("error")
    resp = obj.get("response") or {}
    body = resp.get("body") if isinstance(resp, dict) else None
    if err:
        msg = err.get("message") if isinstance(err, dict) else str(err)
        return body, f"batch line failed: {msg or err}"
    code = resp.get("status_code") if isinstance(resp, dict) else None
    if code != 200:
        detail = ""
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            detail = f": {body['error'].get('message', '')}"
        return body, f"batch line failed: HTTP {code}{detail}"
    if not isinstance(body, dict):
        return None, "batch line failed: the response has no body"
    return body, None


def _digest(lines: dict[int, tuple[dict, str]]) -> str:
    h = hashlib.sha256()
    for w in sorted(lines):
        h.update(orjson.dumps(lines[w][0], option=orjson.OPT_SORT_KEYS))
    return h.hexdigest()[:32]


def batch_import_job(store, *, paths: list[str | Path]) -> Job:
    """Read batch output files, ground and store their answers; returns ``BatchImport``."""
    files = [Path(p) for p in paths]
    groups = _index_lines(files)
    result = BatchImport(files=[str(p) for p in files],
                         lines=sum(len(g) for g in groups.values()))
    specs: dict[str, RunSpec] = {}
    for (key, _doc, _p), places in groups.items():
        if key not in specs:  # named in errors: the first line of that run
            specs[key] = _spec_of(store, key, min(p[3] for p in places.values()))
    order = sorted(groups, key=lambda g: (g[0], g[2], g[1]))
    yield Progress(0, len(order), f"{result.lines} lines read")
    marks: dict[tuple[str, str], dict[int, tuple[str, dict | None]]] = {}
    for key, spec in specs.items():
        doc_ids = sorted({d for k, d, _ in groups if k == key})
        marks[(KIND, key)] = store.doc_run_marks(KIND, key, doc_ids)
        marks[(PASS1_KIND, key)] = store.doc_run_marks(PASS1_KIND, key, doc_ids)
    endpoint = "batch " + ", ".join(p.name for p in files)[:200]
    reader = _Lines(files)
    try:
        for n, (key, doc_id, pass_no) in enumerate(order, 1):
            _import_document(store, specs[key], doc_id, pass_no,
                             reader.load(groups[(key, doc_id, pass_no)]), marks, endpoint,
                             result)
            if n % 200 == 0:
                yield Progress(n, len(order), "storing answers")
    finally:
        reader.close()
    yield Progress(len(order), len(order), "done")
    return result


def _spec_of(store, key: str, where: str) -> RunSpec:
    runs = [r for r in store.runs(BATCH_KIND) if r.get("run_key") == key]
    if not runs:
        raise FormatError(f"{where}: run {key} was not exported from project "
                          f"{store.project!r} (annotator silver-batch export makes the "
                          "requests of a run)")
    config = runs[-1]["config"] or {}
    params = {k: config.get(k) for k in _SPEC_PARAMS}
    params["top_k"] = params["top_k"] or 0  # recorded None: not sent
    tokens = config.get("max_tokens") or [None, None]
    name = (config.get("schema") or "").split("@")[0]
    project_schema = store.get_schema()
    if project_schema is not None and project_schema.name == name:
        name = None  # the project's own schema, as the export used it
    spec = plan_run(store, schema=name or None, **params, max_tokens=None)
    spec.max_tokens = tuple(tokens)  # as exported (the protocol's, or --max-tokens)
    if spec.key != key:
        raise FormatError(f"{where}: run {key} was exported with prompts or a schema that "
                          "changed since; export it again")
    return spec


def _import_document(store, spec: RunSpec, doc_id: int, pass_no: int,
                     lines: dict[int, tuple[dict, str]], marks, endpoint: str,
                     result: BatchImport) -> None:
    digest = _digest(lines)
    final = marks[(KIND, spec.key)].get(doc_id)
    answered = marks[(PASS1_KIND, spec.key)].get(doc_id)
    if final and (final[0] == "done" or (final[1] or {}).get("batch_lines") == digest):
        result.already += 1
        return
    two_pass_first = pass_no == 1 and spec.passes == 2
    if two_pass_first and answered and answered[0] == "done":
        result.already += 1
        return
    if pass_no == 2 and not (answered and answered[0] == "done"):
        result.incomplete += 1  # its pass-1 answers were never imported
        return
    try:
        doc = store.get_document(doc_id, with_spans=False)
    except AnnotatorError:
        result.incomplete += 1
        return
    sent, cut = spec.sent(doc.text)
    windows = spec.windows(sent)
    if set(lines) != set(range(len(windows))):
        result.incomplete += 1
        return
    out = _Outcome(doc_id, cut=cut)
    prior = (answered[1] or {}) if pass_no == 2 else {}
    if pass_no == 2:  # pass 1's spans and counts, kept at its import
        out.spans[1] = [Span(s, e, lab, source=Source.LLM_PASS1, source_version=spec.version,
                             status=Status.PROPOSED, meta=span_meta(m))
                        for s, e, lab, m in prior.get("pass1_spans", [])]
        out.tokens = int(prior.get("tokens", 0))
        out.hallucinations = list(prior.get("pass1_hallucinations", []))
    entities: dict[str, list] = {}
    for w, bounds in enumerate(windows):
        obj, _where = lines[w]
        given = prior.get("pass1_entities", {}).get(str(w), []) if pass_no == 2 else None
        parts = spec.parts(doc_id, pass_no, w, bounds, given)
        chunk = sent[bounds[0]:bounds[1]]
        body, error = _line_answer(obj)
        if error is None:
            choice = (body.get("choices") or [{}])[0]
            content = (choice.get("message") or {}).get("content")
            try:
                answer = spec.protocol.parser(pass_no)(
                    content, list(parts.order), truncated=choice.get("finish_reason") == "length")
            except InvalidOutputError as exc:
                error = f"invalid answer: {exc}"
        if error is not None:
            out.error = error
            out.calls.append(call_row(spec, out, parts, chunk, w, JSON_SCHEMA, endpoint)
                             | {"response": compact_response(body), "error": error})
            break
        res = CallResult(request={}, response=body, answer=answer,
                         usage=body.get("usage") or {}, attempts=1, mode=JSON_SCHEMA)
        entities[str(w)] = take_answer(spec, out, parts, chunk, w, res, endpoint)
    merge_windows(out)
    if out.error is not None:
        store_outcome(store, spec, out, extra_stats={"batch_lines": digest})
        if two_pass_first:
            store.mark_doc_run(PASS1_KIND, spec.key, doc_id, "failed", error=out.error)
        result.failed += 1
        result.failures[doc_id] = out.error
        return
    if two_pass_first:  # the answers wait for pass 2; nothing is proposed yet
        stats = {"pass1_entities": entities, "pass1_spans": [
                     [s.start, s.end, s.label, s.meta.get("match")] for s in out.spans.get(1, [])],
                 "pass1_hallucinations": out.hallucinations, "batch_lines": digest}
        store_outcome(store, spec, out, mark=(PASS1_KIND, spec.key), spans=False,
                      extra_stats=stats)
        result.pass1_done += 1
        return
    calls = int(prior.get("calls", 0)) + len(out.calls)  # both passes, as online
    store_outcome(store, spec, out, extra_stats={"batch_lines": digest, "calls": calls})
    result.done += 1
    result.hallucinations += len(out.hallucinations)
    result.spans += sum(len(s) for s in out.spans.values())
