"""The silver-label protocols: one place that says what each sends and how it reads answers.

- ``v1`` (default): this tool's own prompts (``extract/v1``...), ``{"entities": [{"text",
  "label"}]}``, temperature 0, whole documents (split into windows), tolerant grounding.
- ``finemed``: the published FineMed two-pass protocol (``extract/finemed-v1``...) with its
  sampling (temperature 0.7, top_p 0.8, top_k 20), answer bounds (4,096 / 8,192 tokens), input
  cut to the first 200 words, and exact, word-bounded grounding only.

A protocol's prompt version includes every file it renders from, so that editing one changes
the run key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from annotator.errors import AnnotatorError
from annotator.model import LabelSchema

from . import finemed
from .contract import Answer, entity_schema, parse_answer
from .prompts import PromptSet, load_prompts, render_messages


@dataclass(frozen=True)
class Protocol:
    name: str
    prompt_versions: tuple[tuple[str, str], ...]
    temperature: float
    top_p: float | None
    top_k: int | None
    max_tokens: tuple[int | None, int | None]  # pass 1, pass 2
    max_words: int  # 0: the whole document
    tolerant_grounding: bool
    class_guide: str | None = None

    def prompts(self, overrides: dict[str, str] | None = None) -> PromptSet:
        return load_prompts(dict(self.prompt_versions, **(overrides or {})))

    def prompt_version(self, prompts: PromptSet) -> str:
        """What a run records: the prompt files (and the class guide) with their digest."""
        if not self.class_guide:
            return prompts.version
        raw = finemed.load_class_guide(self.class_guide)[1]
        digest = hashlib.sha256(prompts.digest.encode() + raw).hexdigest()[:8]
        names = "+".join(f"{k}/{v}" for k, v in prompts.versions)
        return f"{names}+classes/{self.class_guide}#{digest}"

    def json_schema(self, pass_no: int, labels: Sequence[str],
                    max_entities: int | None = None) -> dict[str, Any]:
        if self.name == "v1":
            return entity_schema(labels, max_entities)
        return finemed.extract_schema(labels) if pass_no == 1 else finemed.review_schema(labels)

    def schema_name(self, pass_no: int) -> str:
        if self.name == "v1":
            return "entities"
        return "finemed_extract" if pass_no == 1 else "finemed_review"

    def parser(self, pass_no: int) -> Callable[..., Answer]:
        if self.name == "v1":
            return parse_answer

        def parse(content: str | None, labels: Sequence[str], *,
                  truncated: bool = False) -> Answer:
            return finemed.parse_finemed(content, labels, pass_no=pass_no, truncated=truncated)

        return parse

    def render(self, prompts: PromptSet, *, pass_no: int, schema: LabelSchema,
               order: Sequence[str], document: str, mode: str, json_schema: dict[str, Any],
               pass1: list[dict[str, str]] | None = None) -> list[dict[str, str]]:
        if self.name == "v1":
            return render_messages(prompts, pass_no=pass_no, schema=schema, order=order,
                                   document=document, mode=mode, json_schema=json_schema,
                                   pass1=pass1)
        guide = finemed.load_class_guide(self.class_guide or finemed.CLASS_GUIDE)[0]
        return finemed.render_finemed(prompts, pass_no=pass_no, schema=schema, order=order,
                                      document=document, mode=mode, json_schema=json_schema,
                                      pass1=pass1, guide=guide)


V1 = Protocol("v1", (("extract", "v1"), ("review", "v1"), ("format", "v1")), temperature=0.0,
              top_p=None, top_k=None, max_tokens=(None, None), max_words=0,
              tolerant_grounding=True)
FINEMED = Protocol("finemed", (("extract", "finemed-v1"), ("review", "finemed-v1"),
                               ("format", "finemed-v1")),
                   temperature=0.7, top_p=0.8, top_k=20, max_tokens=(4096, 8192),
                   max_words=200, tolerant_grounding=False, class_guide=finemed.CLASS_GUIDE)
PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (V1, FINEMED)}
DEFAULT_PROTOCOL = "v1"


def get_protocol(name: str | None) -> Protocol:
    try:
        return PROTOCOLS[name or DEFAULT_PROTOCOL]
    except KeyError:
        raise AnnotatorError(f"unknown silver protocol {name!r}; expected one of "
                             f"{', '.join(PROTOCOLS)}") from None
