"""The one validation step every imported record passes before anything is stored, and the
strict value checks the readers use while they build records.

``check_records`` runs over the ``Parsed`` records a reader yielded: the text is a ``str``
without lone surrogates, offsets are ``int`` (never ``bool``, ``float``, NaN or infinity) with
``0 <= start < end <= len(text)``, labels are non-empty strings, scores are numbers or null,
``meta`` is an object, source and status are known names. Each problem is recorded as
``file:line: field: what is wrong`` (or ``file (record): field: ...``).

The hot path is plain ``type(x) is ...`` comparisons per span; the wording helpers run only
for a value that failed them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from annotator.model import STATUSES, is_source, sources

from .base import Errors, Parsed

_STATUSES = frozenset(STATUSES)
_MAX_SHOWN = 60  # characters of a bad value quoted in a message


def show(value: Any) -> str:
    """A short quotation of a JSON value for a message: ``5 (a number)``, ``{...} (an object)``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true (a boolean)" if value else "false (a boolean)"
    kind = {dict: "an object", list: "a list", tuple: "a list", str: "a string",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)
    text = repr(value)
    if len(text) > _MAX_SHOWN:
        text = text[:_MAX_SHOWN - 3] + "..."
    return f"{text} ({kind})"


def offset_problem(value: Any) -> str | None:
    """Why ``value`` is not an integer offset, or None if it is one (sign not checked)."""
    if type(value) is int:
        return None
    if isinstance(value, bool):
        return f"must be an integer, not {show(value)}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return f"must be an integer, not {value!r}"
        return f"must be an integer, not {value!r} (fractional offsets are not truncated)"
    if isinstance(value, int):  # an int subclass other than bool
        return None
    return f"must be an integer, not {show(value)}"


def label_problem(value: Any) -> str | None:
    """Why ``value`` is not a label (a non-empty string), or None."""
    if type(value) is str:
        return None if value else "empty label (must be a non-empty string)"
    if value is None:
        return "must be a non-empty string, not null"
    return f"must be a non-empty string, not {show(value)}"


def score_problem(value: Any) -> str | None:
    """Why ``value`` is not a score (a finite number or null), or None."""
    if value is None or type(value) is float and math.isfinite(value) or type(value) is int:
        return None
    if isinstance(value, float):
        return f"must be a finite number or null, not {value!r}"
    return f"must be a number or null, not {show(value)}"


def list_problem(value: Any) -> str | None:
    """Why ``value`` is not a list, or None (null counts as missing: the caller decides)."""
    return None if type(value) is list else f"must be a list, not {show(value)}"


def object_problem(value: Any) -> str | None:
    return None if type(value) is dict else f"must be an object, not {show(value)}"


def optional_str_problem(value: Any) -> str | None:
    return None if value is None or type(value) is str else (
        f"must be a string or null, not {show(value)}")


def surrogate_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored as UTF-8 (a lone surrogate such as ``\\udfff``), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (f"holds a lone surrogate {text[exc.start]!r} at character {exc.start} "
                "(not valid Unicode text)")
    return None


def origin(p: Parsed) -> str:
    """Where the record came from: its ``file:line`` / ``file (record)``, else the first span's,
    else the document name."""
    return p.origin or (p.where[0] if p.where else "") or p.doc.name or "a record"


def check_records(records: Iterable[Parsed], errors: Errors) -> None:
    """Record every problem of ``records`` in ``errors`` (nothing is raised here)."""
    for p in records:
        doc = p.doc
        text = doc.text
        if type(text) is not str:
            errors.add_at(origin(p), f"text: must be a string, not {show(text)}")
            continue
        if not text.isascii():
            why = surrogate_problem(text)
            if why:
                errors.add_at(origin(p), f"text: {why}")
        if type(doc.meta) is not dict:
            errors.add_at(origin(p), f"meta: {object_problem(doc.meta)}")
        if type(doc.name) is not str:
            errors.add_at(origin(p), f"name: must be a string, not {show(doc.name)}")
        n = len(text)
        for i, sp in enumerate(doc.spans):
            start, end, sc, m = sp.start, sp.end, sp.score, sp.meta
            if (type(start) is int and type(end) is int and 0 <= start < end <= n
                    and type(sp.label) is str and sp.label
                    and (sc is None or type(sc) is float or type(sc) is int)
                    and type(m) is dict and sp.fragments is None
                    and sp.source_version is None and sp.annotator is None):
                continue  # the common span; source and status were checked by the reader
            _check_span(sp, n, p.where[i] if i < len(p.where) else origin(p), errors)


def _check_span(sp: Any, n: int, where: str, errors: Errors) -> None:
    problems: list[str] = []
    for name in ("start", "end"):
        why = offset_problem(getattr(sp, name))
        if why:
            problems.append(f"{name}: {why}")
    if not problems and not (0 <= sp.start < sp.end <= n):
        problems.append(f"start, end: [{sp.start}, {sp.end}) is not inside the text "
                        f"(0 <= start < end <= {n})")
    if sp.fragments is not None:
        for s, e in sp.fragments:
            if offset_problem(s) or offset_problem(e) or not (0 <= s < e <= n):
                problems.append(f"fragments: [{s!r}, {e!r}] is not inside the text")
                break
    for name, check in (("label", label_problem), ("score", score_problem),
                        ("source_version", optional_str_problem),
                        ("annotator", optional_str_problem)):
        why = check(getattr(sp, name))
        if why:
            problems.append(f"{name}: {why}")
    if type(sp.meta) is not dict:
        problems.append(f"meta: {object_problem(sp.meta)}")
    if not is_source(sp.source):
        problems.append(f"source: unknown span source {show(sp.source)}; known: "
                        f"{', '.join(sources())}")
    if not (type(sp.status) is str and sp.status in _STATUSES):
        problems.append(f"status: unknown span status {show(sp.status)}; known: "
                        f"{', '.join(STATUSES)}")
    for why in problems:
        errors.add_at(where, why)
