"""Third-party pre-labelers, through the ``medannotator.prelabelers`` entry point group.

The public contract (README, "Writing a plugin"): an entry point ``NAME = module:Class`` whose
class is built as ``Class(*, labels: dict[str, str], model: str | None = None,
threshold: float = 0.5, device: str = "cpu", **options)``, has an attribute
``version: str``, and answers ``predict(texts: list[str]) -> list[list[dict]]``, one list
per text of ``{"start": int, "end": int, "label": str, "score": float}``.

The tool does the rest as for its own backends (:class:`PluginPrelabeler`): every span is
checked against its text and the schema (a span past the end of the text, reversed offsets,
a label the schema does not have, a score that is not a number in [0, 1]: dropped and counted
in ``dropped_misaligned``), kept ones are stored as proposals with source ``NAME`` and source
version ``NAME@version``, a rerun replaces that source's proposals, with progress and cancel
(``annotator.prelabel.job.prelabel_job``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from importlib.metadata import EntryPoint
from typing import Any

from annotator.errors import AnnotatorError
from annotator.model import SOURCE_NAME, Span, Status
from annotator.plugins import distribution, group_entry_points, load_entry_point
from annotator.ports import StorePort

from .base import Backend, DocPrediction, Option, Prelabeler

log = logging.getLogger(__name__)

GROUP = "medannotator.prelabelers"


def plugin_backends() -> Iterator[Backend]:
    """A registry entry per installed ``medannotator.prelabelers`` entry point (sorted by
    name); the class is imported only when the backend is built."""
    for ep in group_entry_points(GROUP):
        if not SOURCE_NAME.fullmatch(ep.name):
            raise AnnotatorError(
                f"the {GROUP} entry point {ep.name!r} of {distribution(ep)}: a backend name "
                "must be 1-20 characters, a lower-case letter first, then letters, digits "
                "or '_' (it becomes the spans' source)")
        yield Backend(
            ep.name, ep.name, _builder(ep), plugin=distribution(ep),
            help=f"plugin: {ep.value} ({distribution(ep)})",
            options=(Option("option", str, None, "a plugin option KEY=VALUE (repeatable; "
                            "VALUE read as JSON when it parses, else as text)",
                            title="Plugin options (KEY=VALUE; ...)", multiple=True),))


def _builder(ep: EntryPoint) -> Any:
    def build(store: StorePort, *, model: str | None = None, threshold: float | None = None,
              device: str = "cpu", option: Sequence[str] | dict[str, Any] | None = None,
              **_job: Any) -> Prelabeler:
        options = parse_options(ep.name, option)
        cls = load_entry_point(ep, "pre-labeling plugin")
        schema = store.get_schema()
        if schema is None or not schema.labels:
            raise AnnotatorError(f"backend {ep.name!r}: the project has no label schema")
        return PluginPrelabeler(ep.name, cls, labels=schema.descriptions(), model=model,
                                threshold=0.5 if threshold is None else float(threshold),
                                device=device, options=options)
    return build


def parse_options(name: str, given: Sequence[str] | dict[str, Any] | None) -> dict[str, Any]:
    """``KEY=VALUE`` strings (``--option``; VALUE as JSON when it parses, else as text), or
    a dict as is."""
    if not given:
        return {}
    if isinstance(given, dict):
        return dict(given)
    if isinstance(given, str):  # the GUI's one line: KEY=VALUE pairs separated by ';'
        given = [p.strip() for p in given.split(";") if p.strip()]
    out: dict[str, Any] = {}
    for item in given:
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip().isidentifier():
            raise AnnotatorError(f"backend {name!r}: --option {item!r}: expected KEY=VALUE "
                                 "with KEY a Python identifier")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


class PluginPrelabeler(Prelabeler):
    """A third-party pre-labeler behind the tool's checks (see the module docstring)."""

    def __init__(self, name: str, cls: Any, *, labels: dict[str, str], model: str | None,
                 threshold: float, device: str, options: dict[str, Any]):
        self.source = name
        self.labels = dict(labels)
        self.model, self.threshold, self.device = model, threshold, device
        self.options = options
        try:
            self.impl = cls(labels=dict(labels), model=model, threshold=threshold,
                            device=device, **options)
        except TypeError as exc:
            raise AnnotatorError(f"backend {name!r}: {cls.__name__} does not take these "
                                 f"options ({exc})") from exc
        version = getattr(self.impl, "version", None)
        if not isinstance(version, str) or not version:
            raise AnnotatorError(f"backend {name!r}: {cls.__name__}.version must be a "
                                 f"non-empty str (got {version!r})")
        self.source_version = f"{name}@{version}"
        self._problems_logged = 0

    def config(self) -> dict[str, Any]:
        return {**super().config(), "model": self.model, "threshold": self.threshold,
                "labels": self.labels, "options": self.options}

    def predict_docs(self, texts: Sequence[str]) -> list[DocPrediction]:
        texts = list(texts)
        got = self.impl.predict(texts)
        if not isinstance(got, list) or len(got) != len(texts):
            raise AnnotatorError(
                f"backend {self.source!r}: predict() returned "
                f"{len(got) if isinstance(got, list) else type(got).__name__} results for "
                f"{len(texts)} texts")
        out = []
        for text, items in zip(texts, got):
            spans, dropped = [], 0
            for item in items if isinstance(items, list) else [items]:
                why = self._problem(item, len(text))
                if why is not None:
                    dropped += 1
                    if self._problems_logged < 5:
                        self._problems_logged += 1
                        log.warning("backend %s: span %r dropped: %s", self.source, item, why)
                    continue
                spans.append(Span(int(item["start"]), int(item["end"]), item["label"],
                                  source=self.source, source_version=self.source_version,
                                  score=round(float(item["score"]), 6),
                                  status=Status.PROPOSED.value))
            out.append(DocPrediction(spans=spans, windows=1, tokens=0, covered=(0, len(text)),
                                     dropped=dropped))
        return out

    def _problem(self, item: Any, n: int) -> str | None:
        if not isinstance(item, dict):
            return "not a {start, end, label, score} object"
        start, end, label, score = (item.get(k) for k in ("start", "end", "label", "score"))
        if type(start) is not int or type(end) is not int:
            return "start and end must be integers"
        if not 0 <= start < end:
            return f"offsets [{start}, {end}) violate 0 <= start < end"
        if end > n:
            return f"ends past the text (length {n})"
        if label not in self.labels:
            return f"label {label!r} is not in the project schema"
        if isinstance(score, bool) or not isinstance(score, (int, float)) \
                or not 0.0 <= float(score) <= 1.0:
            return f"score {score!r} is not a number in [0, 1]"
        return None
