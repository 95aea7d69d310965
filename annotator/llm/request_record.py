"""What the audit stores of one LLM call, and the exact request rebuilt from it.

A call's request body is several kilobytes (prompts, label guide, JSON schema), almost all of it
fixed by the run. The audit row (``llm_calls.request``) keeps only what varies, with the names of
what does not (format ``"v": 3``)::

    {"v": 3, "protocol", "prompts" (prompt version with its digest), "schema" (name@version),
     "model", "sampling" {"temperature", "top_p"?, "top_k"?, "max_tokens"?}, "max_entities"?,
     "label_order" (indices into the schema's keys; format 2: the keys), "window" [start, end]
     (into the document text as stored), "text_sha" (digest of the text sent), "mode"
     (json_schema | json_object), "pass1"? (pass 2: the pass-1 entities it was given, as
     [text, label] pairs), "endpoint"? (batch imports: the files; an online call's endpoint
     is in its run's config), "attempts", "retried_errors"?, "input_cut"?}

The response keeps what the server sent, less null fields, empty lists, the usage block (a
column of its own) and the fields every chat completion has with the same value ("object",
a choice's "index", the message's "role"). A span keeps how its text was found only when
not exactly (``silver.span_meta``).

``rebuild_body(store, row)`` renders the same prompt files, label schema, document window and
pass-1 entities through the same functions as the online client (``client.chat_body``), so the
body it returns equals the one sent, key for key. Rows written before this format (with the
whole ``"body"``) are returned as they were stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from annotator.errors import AnnotatorError
from annotator.model import LabelSchema
from annotator.schemas import load_schema

from .client import chat_body
from .prompts import PromptSet
from .protocols import Protocol, get_protocol

FORMAT = 3  # 3: label_order as indices into the schema's keys; 2: as the keys
FORMATS = (2, 3)


class RebuildError(AnnotatorError):
    """The stored parts no longer give the request that was sent (a prompt file, the label
    schema or the document changed since)."""


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class RequestParts:
    """Everything that makes one call's body, besides the resources named by version."""

    protocol: Protocol
    prompts: PromptSet
    schema: LabelSchema
    model: str
    pass_no: int
    order: tuple[str, ...]
    window: tuple[int, int]
    temperature: float
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    max_entities: int | None = None
    pass1: tuple[tuple[str, str], ...] | None = None

    @property
    def pass1_entities(self) -> list[dict[str, str]] | None:
        if self.pass1 is None:
            return None
        return [{"text": t, "label": lab} for t, lab in self.pass1]

    def answer_schema(self) -> dict[str, Any]:
        return self.protocol.json_schema(self.pass_no, list(self.order), self.max_entities)

    def messages(self, chunk: str, mode: str) -> list[dict[str, str]]:
        return self.protocol.render(self.prompts, pass_no=self.pass_no, schema=self.schema,
                                    order=list(self.order), document=chunk, mode=mode,
                                    json_schema=self.answer_schema(),
                                    pass1=self.pass1_entities)

    def body(self, chunk: str, mode: str) -> dict[str, Any]:
        """The chat-completions body for the window's text ``chunk`` in ``mode``."""
        return chat_body(self.model, self.messages(chunk, mode), mode, self.answer_schema(),
                         temperature=self.temperature, top_p=self.top_p, top_k=self.top_k,
                         max_tokens=self.max_tokens,
                         schema_name=self.protocol.schema_name(self.pass_no))

    def record(self, chunk: str, mode: str) -> dict[str, Any]:
        """The compact audit form (see the module docstring), without the call's outcome."""
        sampling: dict[str, Any] = {"temperature": self.temperature}
        if self.top_p is not None:
            sampling["top_p"] = self.top_p
        if self.top_k:
            sampling["top_k"] = int(self.top_k)
        if self.max_tokens:
            sampling["max_tokens"] = self.max_tokens
        rec: dict[str, Any] = {
            "v": FORMAT, "protocol": self.protocol.name,
            "prompts": self.protocol.prompt_version(self.prompts),
            "schema": f"{self.schema.name}@{self.schema.version}", "model": self.model,
            "sampling": sampling,
            "label_order": [self.schema.keys.index(k) for k in self.order],
            "window": list(self.window), "text_sha": text_digest(chunk), "mode": mode}
        if self.max_entities is not None:
            rec["max_entities"] = int(self.max_entities)
        if self.pass1 is not None:
            rec["pass1"] = [list(p) for p in self.pass1]
        return rec


def pass1_pairs(entities: Sequence[dict[str, str]] | None) -> tuple[tuple[str, str], ...] | None:
    if entities is None:
        return None
    return tuple((e["text"], e["label"]) for e in entities)


def _prompt_versions(version: str) -> dict[str, str]:
    names = version.split("#", 1)[0]
    out = {}
    for part in names.split("+"):
        kind, _, ver = part.partition("/")
        if kind in ("extract", "review", "format"):
            out[kind] = ver
    return out


def _schema(store, ref: str) -> LabelSchema:
    name, _, version = ref.rpartition("@")
    found = store.get_schema()
    if found is not None and found.name == name and str(found.version) == version:
        return found
    try:
        schema = load_schema(name)
    except AnnotatorError as exc:
        raise RebuildError(f"label schema {ref} is not available: {exc}") from None
    if str(schema.version) != version:
        raise RebuildError(f"label schema {name} is now version {schema.version}, the call "
                           f"used {version}")
    return schema


def parts_from_record(store, rec: dict[str, Any], pass_no: int) -> RequestParts:
    """The ``RequestParts`` of a stored compact record (prompt files checked by digest)."""
    proto = get_protocol(rec["protocol"])
    prompts = proto.prompts(_prompt_versions(rec["prompts"]))
    now = proto.prompt_version(prompts)
    if now != rec["prompts"]:
        raise RebuildError(f"the prompt files changed since the call: it used {rec['prompts']}, "
                           f"they are now {now}")
    s = rec.get("sampling") or {}
    pass1 = rec.get("pass1")
    schema = _schema(store, rec["schema"])
    return RequestParts(proto, prompts, schema, rec["model"], pass_no,
                        tuple(record_label_order(rec, schema)), tuple(rec["window"]),
                        s["temperature"],
                        s.get("top_p"), s.get("top_k"), s.get("max_tokens"),
                        rec.get("max_entities"),
                        None if pass1 is None else tuple((t, lab) for t, lab in pass1))


def record_label_order(rec: dict[str, Any], schema: LabelSchema | None = None,
                       store: Any = None) -> list[str]:
    """The label order of a stored record, as label keys (format 3 stores indices into the
    keys of its schema, loaded from ``store`` when not given)."""
    order = rec.get("label_order") or []
    if not order or isinstance(order[0], str):
        return list(order)
    schema = schema or _schema(store, rec["schema"])
    return [schema.keys[i] for i in order]


def window_text(store, doc_id: int, rec: dict[str, Any]) -> str:
    doc = store.get_document(doc_id, with_spans=False)
    if doc is None:
        raise RebuildError(f"document {doc_id} is gone")
    ws, we = rec["window"]
    chunk = doc.text[ws:we]
    if text_digest(chunk) != rec["text_sha"]:
        raise RebuildError(f"document {doc_id}: the text of window [{ws}, {we}) is not the one "
                           "sent")
    return chunk


def rebuild_body(store, row: dict[str, Any]) -> dict[str, Any]:
    """The exact JSON body of an audited call (``db.llm_audit.calls`` row)."""
    rec = row["request"] or {}
    if rec.get("v") not in FORMATS:
        if "body" in rec:  # rows written before the compact format keep the whole body
            return rec["body"]
        raise RebuildError(f"llm_calls row {row.get('id')}: no request recorded")
    parts = parts_from_record(store, rec, int(row["pass_no"]))
    return parts.body(window_text(store, int(row["doc_id"]), rec), rec["mode"])


def calls_with_bodies(store, **filters: Any) -> list[dict[str, Any]]:
    """``db.llm_audit.calls`` rows with ``request["body"]`` rebuilt (for reading the audit)."""
    rows = store.llm_calls(**filters)
    for row in rows:
        rec = row["request"] or {}
        row["request"] = dict(rec, body=rebuild_body(store, row))
        if rec.get("v") in FORMATS:
            row["request"]["label_order"] = record_label_order(rec, store=store)
    return rows


def compact_response(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    """The answer as received, without null fields, empty lists and the usage block (kept in
    its own column)."""
    if raw is None:
        return None
    out = _prune(raw)
    if isinstance(out, dict):
        out.pop("usage", None)
        # the fields every chat completion has with the same value carry nothing
        if out.get("object") == "chat.completion":
            del out["object"]
        for i, choice in enumerate(out.get("choices") or []):
            if isinstance(choice, dict):
                if choice.get("index") == i:
                    del choice["index"]
                msg = choice.get("message")
                if isinstance(msg, dict) and msg.get("role") == "assistant":
                    del msg["role"]
    return out


def compact_usage(usage: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (usage or {}).items() if isinstance(v, (int, float))}


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = _prune(v)
            if v is None or v == [] or v == {}:
                if k != "content":
                    continue
            out[k] = v
        return out
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value
