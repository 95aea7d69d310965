"""The output contract of both passes: ``{"entities": [{"text": str, "label": str}]}``.

``entity_schema`` is sent as ``response_format`` (or written into the prompt in JSON mode);
``parse_answer`` validates on the client whatever the server did. A wrong top-level structure is
an ``InvalidOutputError`` (the call is retried); a malformed single item is dropped and reported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from annotator.errors import AnnotatorError

MAX_TEXT_CHARS = 300  # an entity mention longer than this is not a mention


class InvalidOutputError(AnnotatorError):
    """The model's answer does not follow the output contract (the reason says how)."""


def entity_schema(labels: Sequence[str], max_entities: int | None = None) -> dict[str, Any]:
    """JSON schema of a valid answer for these label keys."""
    items: dict[str, Any] = {
        "type": "object",
        "properties": {
            "text": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT_CHARS},
            "label": {"type": "string", "enum": list(labels)},
        },
        "required": ["text", "label"],
        "additionalProperties": False,
    }
    entities: dict[str, Any] = {"type": "array", "items": items}
    if max_entities is not None:
        entities["maxItems"] = int(max_entities)
    return {
        "type": "object",
        "properties": {"entities": entities},
        "required": ["entities"],
        "additionalProperties": False,
    }


@dataclass
class Answer:
    entities: list[dict[str, str]]
    dropped: list[dict[str, Any]] = field(default_factory=list)  # items failing the contract
    reasoning: dict[str, list[str]] | None = None  # the review pass's notes (FineMed protocol)


_FENCE = re.compile(r"^\s*```(?:json)?\s*\n?(.*?)\n?```\s*$", re.DOTALL)


def decode_entities_object(content: str | None, *,
                           truncated: bool = False) -> tuple[dict[str, Any], list]:
    """``(object, its "entities" list)`` of a raw answer that must be a JSON object with an
    ``entities`` list (a Markdown code fence around it is tolerated, as JSON mode often
    adds one); anything else raises ``InvalidOutputError`` (the call is retried)."""
    if content is None or not content.strip():
        raise InvalidOutputError("empty answer")
    m = _FENCE.match(content)
    if m:
        content = m.group(1)
    try:
        data = json.loads(content)
    except json.JSONDecodeError as exc:
        why = " (answer cut at max_tokens)" if truncated else ""
        raise InvalidOutputError(
            f"not JSON{why}: {exc.msg} at char {exc.pos}: {content[:80]!r}") from None
    if not isinstance(data, dict):
        raise InvalidOutputError(f"expected a JSON object, got {type(data).__name__}")
    if "entities" not in data:
        raise InvalidOutputError(f"no 'entities' key (keys: {sorted(data)[:5]})")
    items = data["entities"]
    if not isinstance(items, list):
        raise InvalidOutputError(f"'entities' is a {type(items).__name__}, not a list")
    return data, items


def parse_answer(content: str | None, labels: Sequence[str], *,
                 truncated: bool = False) -> Answer:
    """Validate a raw answer. Duplicate (text, label) items are kept once, in order."""
    data, items = decode_entities_object(content, truncated=truncated)
    allowed = set(labels)
    out: list[dict[str, str]] = []
    dropped: list[dict[str, Any]] = []
    seen = set()
    for i, it in enumerate(items):
        reason = None
        if not isinstance(it, dict):
            reason = f"item {i} is not an object"
        elif not isinstance(it.get("text"), str) or not it["text"].strip():
            reason = f"item {i} has no text"
        elif not isinstance(it.get("label"), str):
            reason = f"item {i} has no label"
        elif it["label"] not in allowed:
            reason = f"item {i}: unknown label {it['label']!r}"
        elif len(it["text"]) > MAX_TEXT_CHARS:
            reason = f"item {i}: text longer than {MAX_TEXT_CHARS} chars"
        if reason:
            dropped.append({"item": it, "reason": reason})
            continue
        key = (it["text"], it["label"])
        if key not in seen:
            seen.add(key)
            out.append({"text": it["text"], "label": it["label"]})
    return Answer(out, dropped)
