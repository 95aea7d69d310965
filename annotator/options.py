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
        if value is None or self.multiple or isinstance(value, self.type):
            return value
        if self.type is bool and isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        try:
            return self.type(value)
        except (TypeError, ValueError):
            raise AnnotatorError(f"{owner}: option {self.name} = {value!r}: expected "
                                 f"{self.type.__name__}") from None
