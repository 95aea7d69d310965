"""LightTag export, as in the Kaggle medical-ner ``Corona2.json``.

``{"examples": [{"id", "content", "metadata", "annotations": [{"id", "tag_id", "start",
"end", "example_id", "tag_name", "value", "correct", "human_annotations",
"model_annotations"}], "classifications"}]}``. Offsets are end-exclusive code-point indices
into ``content`` and ``value == content[start:end]`` (trailing spaces included) is checked.
The LightTag fields are kept (``doc.meta["corona2"]``, ``span.meta["corona2"]``) and written
back, in the original compact serialisation (a leading newline, ``separators=(",", ":")``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from annotator.model import Document

from .base import INVALID, Errors, Parsed, Report, iter_files, load_json_file, make_span
from .validate import label_problem, list_problem, offset_problem, show

_SPAN_KEEP = ("id", "tag_id", "correct", "human_annotations", "model_annotations")


def read(path: Path, errors: Errors, **_: Any) -> Iterator[Parsed]:
    for f in iter_files(path, ".json"):
        data = load_json_file(f, errors)
        if data is INVALID:
            continue
        examples = data.get("examples") if isinstance(data, dict) else None
        if not isinstance(examples, list):
            errors.add('expected {"examples": [...]}', file=str(f))
            continue
        for i, ex in enumerate(examples):
            where = f"{f} (examples[{i}])"
            if not isinstance(ex, dict) or not isinstance(ex.get("content"), str):
                errors.add_at(where, 'expected an example with a "content" string')
                continue
            text = ex["content"]
            anns = ex.get("annotations")
            if anns is None:
                anns = []
            elif type(anns) is not list:
                errors.add_at(where, f"annotations: {list_problem(anns)}")
                continue
            meta = {"corona2": {k: v for k, v in ex.items()
                                if k not in ("content", "annotations")}}
            parsed = Parsed(Document(text=text, name=str(ex.get("id") or f"example{i}"),
                                     meta=meta), origin=where)
            for j, a in enumerate(anns):
                w = f"{f} (examples[{i}].annotations[{j}])"
                if type(a) is not dict:
                    errors.add_at(w, f"expected an annotation object, not {show(a)}")
                    continue
                problems = [f"{key}: {why}" for key, why in
                            (("start", offset_problem(a.get("start"))),
                             ("end", offset_problem(a.get("end"))),
                             ("tag_name", label_problem(a.get("tag_name")))) if why]
                if problems:
                    for why in problems:
                        errors.add_at(w, why)
                    continue
                start, end, label = a["start"], a["end"], a["tag_name"]
                sp = make_span(text, [(start, end)], label, w, errors, source="import",
                               meta={"corona2": {k: a[k] for k in _SPAN_KEEP if k in a}})
                if sp is None:
                    continue
                if "value" in a and a["value"] != text[start:end]:
                    errors.add_at(w, f"value {a['value']!r} != content[{start}:{end}] "
                                     f"{text[start:end]!r}")
                    continue
                parsed.add(sp, w)
            yield parsed


class Corona2Writer:
    def __init__(self, out: Path, **_: Any) -> None:
        self.out = Path(out)
        self.examples: list[dict[str, Any]] = []
        self.report = Report()

    def write(self, doc: Document) -> None:
        kept = dict(doc.meta.get("corona2") or {})
        ex_id = kept.pop("id", None) or doc.name or f"doc{doc.id}"
        anns = []
        for sp in doc.spans:
            if sp.fragments:
                self.report.dropped["discontinuous"] += 1
                continue
            lt = sp.meta.get("corona2") or {}
            anns.append({
                "id": lt.get("id"), "tag_id": lt.get("tag_id"), "end": sp.end,
                "start": sp.start, "example_id": ex_id, "tag_name": sp.label,
                "value": doc.text[sp.start:sp.end], "correct": lt.get("correct"),
                "human_annotations": lt.get("human_annotations", []),
                "model_annotations": lt.get("model_annotations", []),
            })
        self.examples.append({"id": ex_id, "content": doc.text,
                              "metadata": kept.pop("metadata", {}), "annotations": anns,
                              **{k: v for k, v in kept.items()}})
        self.report.documents += 1
        self.report.spans += len(anns)

    def close(self) -> dict[str, Any]:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"examples": self.examples}, separators=(",", ":"),
                          ensure_ascii=False)
        with open(self.out, "w", encoding="utf-8", newline="") as fh:
            fh.write("\n" + body)
        return self.report.as_dict()
