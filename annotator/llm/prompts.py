"""Versioned prompt templates under ``resources/prompts`` and their rendering.

Invariants: rendering never re-scans inserted text (a document containing ``{{labels}}`` stays
as it is); the label order of a call is a pure function of (seed, doc id, pass, window).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from annotator.errors import AnnotatorError
from annotator.model import LabelSchema
from annotator.schemas import resource_path

DEFAULT_VERSIONS = {"extract": "v1", "review": "v1", "format": "v1"}
_SECTION = re.compile(r"^### (\w+)\s*$", re.MULTILINE)
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


class PromptError(AnnotatorError):
    pass


def _sections(path) -> dict[str, str]:
    if not path.exists():
        raise PromptError(f"no prompt file {path}")
    raw = path.read_text(encoding="utf-8")
    parts = _SECTION.split(raw)
    # parts = [preamble, name1, body1, name2, body2, ...]
    out = {name: body.strip("\n") for name, body in zip(parts[1::2], parts[2::2])}
    if not out:
        raise PromptError(f"{path}: no '### <section>' header")
    return out


@dataclass(frozen=True)
class PromptSet:
    """The three templates of one run, and the version string a run records."""

    versions: tuple[tuple[str, str], ...]
    extract: dict[str, str]
    review: dict[str, str]
    format: dict[str, str]
    digest: str

    @property
    def version(self) -> str:
        names = "+".join(f"{k}/{v}" for k, v in self.versions)
        return f"{names}#{self.digest}"


@lru_cache(maxsize=8)
def _load(versions: tuple[tuple[str, str], ...]) -> PromptSet:
    texts, h = {}, hashlib.sha256()
    for kind, ver in versions:
        path = resource_path("prompts", kind, f"{ver}.txt")
        texts[kind] = _sections(path)
        h.update(path.read_bytes())
    for kind in ("extract", "review"):
        if not {"system", "user"} <= texts[kind].keys():
            raise PromptError(f"prompts/{kind}: needs '### system' and '### user' sections")
    return PromptSet(versions, texts["extract"], texts["review"], texts["format"],
                     h.hexdigest()[:8])


def load_prompts(versions: dict[str, str] | None = None) -> PromptSet:
    """Load the prompt templates (default: ``DEFAULT_VERSIONS``)."""
    v = dict(DEFAULT_VERSIONS, **(versions or {}))
    return _load(tuple((k, v[k]) for k in ("extract", "review", "format")))


def fill(template: str, values: dict[str, str]) -> str:
    """Replace ``{{name}}`` placeholders in one pass; unknown names are an error."""

    def sub(m: re.Match) -> str:
        if m.group(1) not in values:
            raise PromptError(f"prompt placeholder {{{{{m.group(1)}}}}} has no value")
        return values[m.group(1)]

    return _PLACEHOLDER.sub(sub, template)


def label_order(keys: Sequence[str], *, seed: int, doc_id: int, pass_no: int,
                window: int) -> list[str]:
    """The schema keys shuffled by a seed derived from (seed, doc id, pass, window)."""
    material = f"{seed}:{doc_id}:{pass_no}:{window}".encode()
    rng = random.Random(int.from_bytes(hashlib.sha256(material).digest()[:8], "big"))
    order = list(keys)
    rng.shuffle(order)
    return order


def labels_block(schema: LabelSchema, order: Sequence[str]) -> str:
    lines = []
    for key in order:
        lab = schema.get(key)
        desc = (lab.description or lab.name) if lab else ""
        lines.append(f"- {key}: {desc}" if desc else f"- {key}")
    return "\n".join(lines)


def render_messages(
    prompts: PromptSet, *, pass_no: int, schema: LabelSchema, order: Sequence[str],
    document: str, mode: str, json_schema: dict[str, Any],
    pass1: list[dict[str, str]] | None = None,
) -> list[dict[str, str]]:
    """Chat messages for pass 1 (extract) or pass 2 (review, needs ``pass1``).

    ``mode`` is ``json_schema`` or ``json_object``; in JSON mode the schema is written into
    the prompt because the server does not enforce it.
    """
    tpl = prompts.extract if pass_no == 1 else prompts.review
    if mode not in prompts.format:
        raise PromptError(f"prompts/format has no '### {mode}' section")
    fmt = fill(prompts.format[mode], {"schema": json.dumps(json_schema, ensure_ascii=False)})
    values = {
        "labels": labels_block(schema, order),
        "document": document,
        "output_format": fmt,
        "pass1": json.dumps({"entities": pass1 or []}, ensure_ascii=False),
    }
    return [
        {"role": "system", "content": fill(tpl["system"], values)},
        {"role": "user", "content": fill(tpl["user"], values)},
    ]
