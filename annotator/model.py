"""Domain objects: documents, spans and label schemas as plain dataclasses.

Offsets are half-open ``[start, end)`` Python code-point indices into the document text
exactly as stored. Text is never stripped, normalised or re-encoded after import.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from .errors import AnnotatorError


class Source(str, Enum):
    """Where a span came from."""

    HUMAN = "human"
    IMPORT = "import"
    GLINER2 = "gliner2"
    TRANSFORMERS = "transformers"
    LEXICON = "lexicon"
    LLM_PASS1 = "llm_pass1"
    LLM_PASS2 = "llm_pass2"


class Status(str, Enum):
    """Review state of one span. Review changes status; it never erases the span."""

    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class ReviewStatus(str, Enum):
    """Review state of a whole document."""

    TODO = "todo"
    IN_PROGRESS = "in_progress"
    REVIEWED = "reviewed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class SourceInfo:
    """A span source: its name (``spans.source``), how people read it, and its kind:
    ``person`` (decided in the review desk), ``import`` (came with an imported file),
    ``model`` (a pre-labeler, the tool's own or a plugin's) or ``llm`` (a silver pass)."""

    name: str
    title: str
    kind: str


SOURCE_KINDS = ("person", "import", "model", "llm")
# a source name as the database column holds it: lower-case, short, no spaces
SOURCE_NAME = re.compile(r"[a-z][a-z0-9_]{0,19}")
_SOURCES: dict[str, SourceInfo] = {}


def register_source(name: str, title: str | None = None, kind: str = "model") -> SourceInfo:
    """Make ``name`` a known span source (idempotent; a pre-labeling backend's registration
    does this for its source). Raises AnnotatorError for a malformed name or kind."""
    if not isinstance(name, str) or not SOURCE_NAME.fullmatch(name):
        raise AnnotatorError(f"span source name {name!r}: expected 1-20 characters, a "
                             "lower-case letter first, then letters, digits or '_'")
    if kind not in SOURCE_KINDS:
        raise AnnotatorError(f"span source {name!r}: unknown kind {kind!r}; expected one of "
                             f"{', '.join(SOURCE_KINDS)}")
    info = _SOURCES.get(name)
    if info is None:
        info = _SOURCES[name] = SourceInfo(name, title or name, kind)
    return info


for _name, _title, _kind in (("human", "Human", "person"), ("import", "Import", "import"),
                             ("gliner2", "GLiNER2", "model"),
                             ("transformers", "Transformers", "model"),
                             ("lexicon", "Lexicon", "model"), ("llm_pass1", "LLM pass 1", "llm"),
                             ("llm_pass2", "LLM pass 2", "llm")):
    register_source(_name, _title, _kind)


def sources(kind: str | Sequence[str] | None = None) -> tuple[str, ...]:
    """Known span sources in registration order (the built-in ones first), optionally of
    one kind or several."""
    kinds = (kind,) if isinstance(kind, str) else kind
    return tuple(n for n, i in _SOURCES.items() if kinds is None or i.kind in kinds)


def is_source(name: Any) -> bool:
    return isinstance(name, str) and name in _SOURCES


def source_info(name: str) -> SourceInfo:
    """The source's registration; a name this process does not know (a plugin not installed
    here, whose spans are in the database) reads as a model source titled by its name."""
    return _SOURCES.get(name) or SourceInfo(name, name, "model")


# the built-in sources; plugins add theirs with register_source (see sources())
SOURCES = tuple(s.value for s in Source)
STATUSES = tuple(s.value for s in Status)
REVIEW_STATUSES = tuple(s.value for s in ReviewStatus)


class SpanError(AnnotatorError):
    """A span that violates the offset invariants."""


def content_hash(text: str) -> str:
    """SHA-256 of the UTF-8 text: the identity used to detect duplicate documents."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


Fragment = tuple[int, int]


@dataclass
class Span:
    """A labelled region ``[start, end)`` of a document.

    ``fragments`` is set only for discontinuous spans (brat ``s e;s e``): sorted,
    non-overlapping ``(start, end)`` pairs whose hull is ``[start, end)``.
    """

    start: int
    end: int
    label: str
    fragments: tuple[Fragment, ...] | None = None
    source: str = Source.HUMAN.value
    source_version: str | None = None
    score: float | None = None
    status: str = Status.ACCEPTED.value
    annotator: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
    doc_id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        if isinstance(self.source, Enum):
            self.source = self.source.value
        if isinstance(self.status, Enum):
            self.status = self.status.value
        if not isinstance(self.start, int) or not isinstance(self.end, int):
            raise SpanError(f"offsets must be integers, got {self.start!r}, {self.end!r}")
        if not (0 <= self.start < self.end):
            raise SpanError(f"span [{self.start}, {self.end}) violates 0 <= start < end")
        if not self.label:
            raise SpanError(f"span [{self.start}, {self.end}) has an empty label")
        if self.source not in _SOURCES:
            raise SpanError(f"unknown span source {self.source!r}; known: "
                            f"{', '.join(_SOURCES)}")
        if self.status not in STATUSES:
            raise SpanError(f"unknown span status {self.status!r}")
        if self.fragments is not None:
            frags = tuple(sorted((int(s), int(e)) for s, e in self.fragments))
            if len(frags) <= 1:
                frags = None
            else:
                prev_end = -1
                for s, e in frags:
                    if not (0 <= s < e):
                        raise SpanError(f"fragment [{s}, {e}) violates 0 <= start < end")
                    if s < prev_end:
                        raise SpanError(f"fragments overlap: {frags}")
                    prev_end = e
                if frags[0][0] != self.start or frags[-1][1] != self.end:
                    raise SpanError(
                        f"fragments {frags} do not span [{self.start}, {self.end})"
                    )
            self.fragments = frags

    @classmethod
    def trusted(cls, start: int, end: int, label: str, source: str = Source.HUMAN.value,
                status: str = Status.ACCEPTED.value, score: float | None = None,
                source_version: str | None = None, annotator: str | None = None,
                meta: dict[str, Any] | None = None, id: int | None = None,
                doc_id: int | None = None) -> Span:
        """A continuous span built WITHOUT ``__post_init__`` validation: the CALLER HAS
        VALIDATED it (``start``/``end`` are ``int`` with ``0 <= start < end``, ``label`` is a
        non-empty str, ``source`` in SOURCES and ``status`` in STATUSES as plain strings).

        For hot bulk paths (import parsers) that check those with plain ints and fall back
        to the validating constructor when any check fails. Everyone else: use ``Span(...)``.
        """
        sp = cls.__new__(cls)
        sp.__dict__ = {"start": start, "end": end, "label": label, "fragments": None,
                       "source": source, "source_version": source_version, "score": score,
                       "status": status, "annotator": annotator,
                       "meta": {} if meta is None else meta, "id": id, "doc_id": doc_id,
                       "created_at": None, "updated_at": None}
        return sp

    @classmethod
    def from_fragments(cls, fragments: Sequence[Fragment], label: str, **kw: Any) -> Span:
        """Build a span from one or more ``(start, end)`` fragments."""
        frags = sorted((int(s), int(e)) for s, e in fragments)
        if not frags:
            raise SpanError("a span needs at least one fragment")
        return cls(frags[0][0], frags[-1][1], label, tuple(frags) if len(frags) > 1 else None, **kw)

    @property
    def parts(self) -> tuple[Fragment, ...]:
        """The fragments, or the single ``(start, end)`` pair of a continuous span."""
        return self.fragments or ((self.start, self.end),)

    @property
    def is_discontinuous(self) -> bool:
        return self.fragments is not None

    def surface(self, text: str) -> str:
        """The covered text; fragments joined by one space (the brat convention)."""
        return " ".join(text[s:e] for s, e in self.parts)

    def check(self, text: str, where: str = "") -> None:
        """Raise SpanError if the span does not fit inside ``text``."""
        if self.end > len(text):
            prefix = f"{where}: " if where else ""
            raise SpanError(
                f"{prefix}span [{self.start}, {self.end}) {self.label!r} ends past the text "
                f"(length {len(text)})"
            )

    def key(self) -> tuple:
        """Identity for comparisons: label and fragments."""
        return (self.label, self.parts)


@dataclass
class Document:
    """A text to annotate; ``text`` is exactly as read from its source."""

    text: str
    name: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    review_status: str = ReviewStatus.TODO.value
    spans: list[Span] = field(default_factory=list)
    id: int | None = None
    density: float | None = None
    hash: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.review_status, Enum):
            self.review_status = self.review_status.value
        if self.review_status not in REVIEW_STATUSES:
            raise ValueError(f"unknown review status {self.review_status!r}")
        if not self.hash:
            self.hash = content_hash(self.text)

    def check_spans(self) -> None:
        where = self.name or (f"document {self.id}" if self.id is not None else "document")
        for sp in self.spans:
            sp.check(self.text, where)


@dataclass
class DocumentSummary:
    """A light row for document lists (no text)."""

    id: int
    name: str
    review_status: str
    length: int
    density: float | None
    n_spans: int = 0
    counts_by_source: dict[str, int] = field(default_factory=dict)


@dataclass
class Label:
    key: str
    name: str = ""
    description: str = ""
    color: str = "#cccccc"
    hotkey: str | None = None

    def __post_init__(self) -> None:
        if not self.name:
            self.name = self.key


@dataclass
class LabelSchema:
    """A named, versioned label set. Descriptions are model input for GLiNER2 and LLM prompts."""

    name: str
    version: str = "1.0"
    labels: list[Label] = field(default_factory=list)
    language: str = ""
    description: str = ""

    @property
    def keys(self) -> list[str]:
        return [lab.key for lab in self.labels]

    def get(self, key: str) -> Label | None:
        for lab in self.labels:
            if lab.key == key:
                return lab
        return None

    def __contains__(self, key: object) -> bool:
        return any(lab.key == key for lab in self.labels)

    def descriptions(self) -> dict[str, str]:
        return {lab.key: lab.description for lab in self.labels}

    def with_labels(self, keys: Iterable[str]) -> LabelSchema:
        """A copy extended with labels not yet present (used by ``--add-labels``)."""
        labels = list(self.labels)
        for k in keys:
            if k not in self:
                labels.append(Label(key=k, color=default_color(len(labels))))
        return LabelSchema(self.name, self.version, labels, self.language, self.description)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "language": self.language,
            "description": self.description,
            "labels": [
                {
                    "key": lab.key,
                    "name": lab.name,
                    "description": lab.description,
                    "color": lab.color,
                    "hotkey": lab.hotkey,
                }
                for lab in self.labels
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabelSchema:
        labels = [
            Label(
                key=d["key"],
                name=d.get("name") or d["key"],
                description=d.get("description", ""),
                color=d.get("color") or default_color(i),
                hotkey=d.get("hotkey"),
            )
            for i, d in enumerate(data.get("labels", []))
        ]
        return cls(
            name=data["name"],
            version=str(data.get("version", "1.0")),
            labels=labels,
            language=data.get("language", ""),
            description=data.get("description", ""),
        )


_PALETTE = (
    "#ffb3ba", "#bae1ff", "#baffc9", "#ffdfba", "#e0bbff", "#ffffba", "#c9f0ff", "#f4c2c2",
    "#d5f5e3", "#fad7a0", "#d7bde2", "#aed6f1", "#f9e79f", "#a3e4d7", "#f5b7b1", "#d2b4de",
)


def default_color(i: int) -> str:
    return _PALETTE[i % len(_PALETTE)]


@dataclass
class ModelInfo:
    """One registered model. ``metrics`` holds evaluation reports (``Report.to_dict()``)."""

    path: str
    base_model: str
    backend: str = "gliner2"
    data_hash: str = ""
    data_size: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    is_default: bool = False
    id: int | None = None
    created_at: datetime | None = None
