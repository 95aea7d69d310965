"""Label schemas and label maps shipped under ``resources/`` (or given as JSON files)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources as ir
from pathlib import Path

from .errors import AnnotatorError
from .model import LabelSchema


class SchemaError(AnnotatorError):
    pass


def resource_path(*parts: str) -> Path:
    """Path of a file under the ``resources`` package."""
    return Path(str(ir.files("resources").joinpath(*parts)))


def list_schemas() -> list[str]:
    return sorted(p.stem for p in resource_path("schemas").glob("*.json"))


def load_schema(name_or_path: str | Path) -> LabelSchema:
    """Load a shipped schema by name, or a schema JSON file by path."""
    p = Path(name_or_path)
    if not p.suffix == ".json" or not p.exists():
        p = resource_path("schemas", f"{name_or_path}.json")
    if not p.exists():
        raise SchemaError(
            f"unknown schema {name_or_path!r}; shipped schemas: {', '.join(list_schemas())}"
        )
    try:
        return LabelSchema.from_dict(json.loads(p.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, KeyError) as exc:
        raise SchemaError(f"{p}: not a valid schema file: {exc}") from exc


@dataclass
class LabelMap:
    """Maps foreign labels onto a schema. A value of ``None`` drops the label."""

    name: str
    mapping: dict[str, str | None] = field(default_factory=dict)
    from_schema: str | None = None
    to_schema: str | None = None

    def __contains__(self, label: object) -> bool:
        return label in self.mapping

    def map(self, label: str) -> str | None:
        """The mapped label; labels absent from the map pass through unchanged."""
        return self.mapping.get(label, label)


def list_label_maps() -> list[str]:
    return sorted(p.stem for p in resource_path("label_maps").glob("*.json"))


def load_label_map(name_or_path: str | Path) -> LabelMap:
    """Load a shipped label map by name, or a JSON file ``{"map": {...}}`` or ``{...}``."""
    p = Path(name_or_path)
    if not p.exists():
        p = resource_path("label_maps", f"{name_or_path}.json")
    if not p.exists():
        raise SchemaError(
            f"unknown label map {name_or_path!r}; shipped maps: {', '.join(list_label_maps())}"
        )
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SchemaError(f"{p}:{exc.lineno}: invalid JSON: {exc.msg}") from exc
    mapping = data.get("map", data) if isinstance(data, dict) else None
    if not isinstance(mapping, dict) or not all(
        isinstance(v, (str, type(None))) for v in mapping.values()
    ):
        raise SchemaError(f"{p}: a label map is a JSON object of label -> label or null")
    return LabelMap(
        name=data.get("name", p.stem) if "map" in data else p.stem,
        mapping=mapping,
        from_schema=data.get("from_schema") if "map" in data else None,
        to_schema=data.get("to_schema") if "map" in data else None,
    )
