"""The FineMed two-pass protocol: its output contract, class guide, prompt rendering and input cut.

Shapes (both validated on the client, whatever the server enforced):
- pass 1: ``{"entities": [{"entity": "<class>", "text": ["span", ...]}]}``, empty classes left out;
- pass 2: ``{"reasoning": {"false_positives": [str], "reclassifications": [str],
  "missed_entities": [str]}, "entities": [...]}`` with the same entity shape.

Invariants: ``parse_finemed`` flattens the answer to ``{"text", "label"}`` items, each
(text, class) once, in the order given; ``cut_at_words(text, n)`` is the length of the prefix
that ends with the n-th whitespace-separated word (``text[:cut].split() == text.split()[:n]``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from annotator.model import LabelSchema
from annotator.schemas import resource_path

from .contract import MAX_TEXT_CHARS, Answer, InvalidOutputError, decode_entities_object
from .prompts import PromptError, PromptSet, fill

CLASS_GUIDE = "finemed-v1"
REASONING_KEYS = ("false_positives", "reclassifications", "missed_entities")
_WORD = re.compile(r"\S+")


def cut_at_words(text: str, max_words: int) -> int:
    """End offset of the ``max_words``-th whitespace-separated word (``len(text)`` when the
    text has no more words, or when ``max_words`` is 0: the whole document)."""
    if max_words <= 0:
        return len(text)
    end = None
    for i, m in enumerate(_WORD.finditer(text), 1):
        end = m.end()
        if i == max_words:
            return end
    return len(text)


def _entities_schema(labels: Sequence[str]) -> dict[str, Any]:
    return {"type": "array", "items": {
        "type": "object",
        "properties": {
            "entity": {"type": "string", "enum": list(labels)},
            "text": {"type": "array", "items": {"type": "string", "minLength": 1,
                                                "maxLength": MAX_TEXT_CHARS}},
        },
        "required": ["entity", "text"],
        "additionalProperties": False,
    }}


def extract_schema(labels: Sequence[str]) -> dict[str, Any]:
    """JSON schema of a pass-1 answer for these class keys."""
    return {"type": "object", "properties": {"entities": _entities_schema(labels)},
            "required": ["entities"], "additionalProperties": False}


def review_schema(labels: Sequence[str]) -> dict[str, Any]:
    """JSON schema of a pass-2 answer: the reasoning (lists of strings) comes first, so that a
    schema-guided decoder writes it before the entities."""
    reasoning = {"type": "object",
                 "properties": {k: {"type": "array", "items": {"type": "string"}}
                                for k in REASONING_KEYS},
                 "required": list(REASONING_KEYS), "additionalProperties": False}
    return {"type": "object",
            "properties": {"reasoning": reasoning, "entities": _entities_schema(labels)},
            "required": ["reasoning", "entities"], "additionalProperties": False}


def parse_finemed(content: str | None, labels: Sequence[str], *, pass_no: int,
                  truncated: bool = False) -> Answer:
    """Validate a FineMed answer and flatten it; a wrong top-level structure raises
    ``InvalidOutputError`` (the call is retried), a bad group or string is dropped with its
    reason."""
    data, groups = decode_entities_object(content, truncated=truncated)
    reasoning = None
    if pass_no == 2:
        raw = data.get("reasoning")
        if not isinstance(raw, dict):
            raise InvalidOutputError("pass 2 answer has no 'reasoning' object")
        reasoning = {}
        for k in REASONING_KEYS:
            items = raw.get(k) or []
            items = items if isinstance(items, list) else [items]
            reasoning[k] = [x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)
                            for x in items]
    allowed = set(labels)
    out: list[dict[str, str]] = []
    dropped: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for i, g in enumerate(groups):
        if not isinstance(g, dict):
            dropped.append({"item": g, "reason": f"group {i} is not an object"})
            continue
        label, texts = g.get("entity"), g.get("text")
        if not isinstance(label, str) or label not in allowed:
            dropped.append({"item": g, "reason": f"group {i}: unknown class {label!r}"})
            continue
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list):
            dropped.append({"item": g, "reason": f"group {i}: 'text' is not a list"})
            continue
        for j, t in enumerate(texts):
            reason = None
            if not isinstance(t, str) or not t.strip():
                reason = f"group {i} text {j} is empty or not a string"
            elif len(t) > MAX_TEXT_CHARS:
                reason = f"group {i} text {j}: longer than {MAX_TEXT_CHARS} chars"
            if reason:
                dropped.append({"item": {"entity": label, "text": t}, "reason": reason})
                continue
            if (t, label) not in seen:
                seen.add((t, label))
                out.append({"text": t, "label": label})
    return Answer(out, dropped, reasoning=reasoning)


def to_groups(entities: Sequence[dict[str, str]]) -> list[dict[str, Any]]:
    """Flat ``{"text", "label"}`` items back to FineMed groups (classes in first-seen order)."""
    groups: dict[str, list[str]] = {}
    for e in entities:
        texts = groups.setdefault(e["label"], [])
        if e["text"] not in texts:
            texts.append(e["text"])
    return [{"entity": k, "text": v} for k, v in groups.items()]


@lru_cache(maxsize=4)
def load_class_guide(name: str = CLASS_GUIDE) -> tuple[dict[str, dict[str, str]], bytes]:
    """The per-class guidance file and its bytes (they enter the prompt version)."""
    path = resource_path("prompts", "classes", f"{name}.json")
    if not path.exists():
        raise PromptError(f"no class guide {path}")
    raw = path.read_bytes()
    try:
        classes = json.loads(raw)["classes"]
    except (ValueError, KeyError) as exc:
        raise PromptError(f"{path}: not a class guide ({exc})") from None
    return classes, raw


def classes_block(schema: LabelSchema, order: Sequence[str],
                  guide: dict[str, dict[str, str]]) -> str:
    """One block per class, in ``order``: definition and what it includes (from the schema
    description, split at its first colon), then the guide's key test, boundary, exclusions."""
    blocks = []
    for key in order:
        lab = schema.get(key)
        desc = (lab.description or lab.name) if lab else ""
        definition, _, includes = desc.partition(":")
        lines = [f"- {key}: {definition.strip()}" if definition.strip() else f"- {key}"]
        if includes.strip():
            lines.append(f"  Includes: {includes.strip()}")
        g = guide.get(key, {})
        for field, title in (("key_test", "Key test"), ("boundary", "Boundary"),
                             ("excludes", "Does not include")):
            if g.get(field):
                lines.append(f"  {title}: {g[field]}")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def render_finemed(prompts: PromptSet, *, pass_no: int, schema: LabelSchema,
                   order: Sequence[str], document: str, mode: str, json_schema: dict[str, Any],
                   pass1: Sequence[dict[str, str]] | None = None,
                   guide: dict[str, dict[str, str]] | None = None) -> list[dict[str, str]]:
    """Chat messages of a FineMed pass; pass 2 receives pass 1's entities in FineMed groups."""
    tpl = prompts.extract if pass_no == 1 else prompts.review
    if mode not in prompts.format:
        raise PromptError(f"prompts/format has no '### {mode}' section")
    fmt = fill(prompts.format[mode], {"schema": json.dumps(json_schema, ensure_ascii=False)})
    values = {
        "labels": classes_block(schema, order, guide if guide is not None
                                else load_class_guide()[0]),
        "document": document,
        "output_format": fmt,
        "pass1": json.dumps({"entities": to_groups(pass1 or [])}, ensure_ascii=False),
    }
    return [
        {"role": "system", "content": fill(tpl["system"], values)},
        {"role": "user", "content": fill(tpl["user"], values)},
    ]
