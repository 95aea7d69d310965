"""A typed option of a registry entry (a pre-labeling backend, an import/export format): the
command line makes one flag of it (``--NAME``, ``_`` as ``-``) and the GUI one field, from
this single declaration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import AnnotatorError


@dataclass(frozen=True)
class Option:
    """A backend option: its keyword, type, default and help (the CLI flag is
    ``--NAME`` with ``_`` as ``-``; the GUI shows ``title``)."""

    name: str
    type: type
    default: Any = None
    help: str = ""
    choices: tuple[Any, ...] | None = None
    title: str = ""
    multiple: bool = False  # repeatable (the CLI appends; the value is a list)

    def coerce(self, value: Any, owner: str) -> Any:
        """``value`` as this option's type (the GUI gives text); ``owner`` names the entry in
        the error."""
        if self.multiple:
            return value
        return coerce_value(value, self.type, f"{owner}: option {self.name}")


def coerce_value(value: Any, kind: type, what: str) -> Any:
    """``value`` (text from the GUI, or already typed) as ``kind``; ``what`` names the option
    or parameter in the error. None stays None."""
    if value is None or (isinstance(value, kind)
                         and not (kind is int and isinstance(value, bool))):
        return value
    if kind is bool and isinstance(value, str):
        text = value.strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
    elif kind is not bool:
        try:
            return kind(value)
        except (TypeError, ValueError):
            pass
    raise AnnotatorError(f"{what} = {value!r}: expected {kind.__name__}")
