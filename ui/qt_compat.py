"""Work-arounds for bugs of the installed Qt binding. Call :func:`apply` once, before the
first widget is built (the GUI entry point, benchmarks, GUI test sessions).

PySide6 6.12 on CPython < 3.12 drops a reference to ``None`` each time an invalid
``QVariant`` is handed to Python (``QModelIndex.data()`` of an empty role, model resets and
repaints of Python item models), and to ``True``/``False`` on some bool conversions: after a
few thousand such calls CPython aborts with "Fatal Python error: none_dealloc" (or
"bool_dealloc"). Since CPython 3.12 these singletons are immortal and the bug is harmless;
on older versions :func:`apply` gives them the same property by adding 2**40 references,
which no realistic session can drop.
"""

from __future__ import annotations

import ctypes
import sys

_EXTRA_REFS = 1 << 40
_applied = False


def needs_none_pin() -> bool:
    return sys.implementation.name == "cpython" and sys.version_info < (3, 12)


def apply() -> None:
    """Idempotent; does nothing where ``None`` is already immortal."""
    global _applied
    if _applied or not needs_none_pin():
        return
    for singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(singleton)).value += _EXTRA_REFS
    _applied = True
