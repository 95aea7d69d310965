"""What the two plugin groups share (``medannotator.prelabelers``, ``medannotator.formats``):
listing a group's entry points, naming the distribution an entry point comes from, and
importing a third party's class with an error that names the plugin."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from annotator.errors import AnnotatorError


def distribution(ep: EntryPoint) -> str:
    """``NAME VERSION`` of the distribution that declares ``ep`` (else its value)."""
    dist = getattr(ep, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else ep.value


def group_entry_points(group: str) -> list[EntryPoint]:
    """The installed entry points of ``group``, sorted by name."""
    return sorted(entry_points(group=group), key=lambda e: e.name)


def load_entry_point(ep: EntryPoint, what: str) -> Any:
    """The object ``ep`` names; any failure to import it is an AnnotatorError naming the
    plugin (``what``: "format plugin", "pre-labeling plugin")."""
    try:
        return ep.load()
    except Exception as exc:  # noqa: BLE001 - any failure to import a third party's code
        raise AnnotatorError(f"{what} {ep.name!r} ({ep.value}, {distribution(ep)}) cannot be "
                             f"loaded: {type(exc).__name__}: {exc}") from exc
