"""Work around a PySide6 refcount bug that crashes Python 3.11 ("none_dealloc").

PySide6 6.12.0 returns ``None`` from void C++ methods without taking a reference to it
(pyproject pins ``pyside6<6.12``; this guard covers an environment that has 6.12 anyway). On
Python >= 3.12 ``None`` is immortal (PEP 683) and nothing happens; on Python 3.11 every call
such as ``QLabel.setText`` or ``QPainter.drawLine`` lowers ``None``'s refcount by one, and after
a few thousand calls (a few seconds of painting) the interpreter aborts with "Fatal Python
error: none_dealloc: deallocating None".

``make_none_immortal_if_needed()`` detects the bug (100 void calls must not lower the
refcount) and, only then, raises ``None``'s refcount by 2**40: what Python 3.12 does with
its immortal objects. It is called when the ``ui`` package is imported, so every window,
test and benchmark is covered. Remove it when the project requires Python >= 3.12 or a
PySide6 release without the bug.
"""

from __future__ import annotations

import ctypes
import sys

_BOOST = 1 << 40
_applied = False


def pyside_drops_none_references() -> bool:
    """True when void PySide6 calls lower ``None``'s refcount (the bug is present)."""
    if sys.version_info >= (3, 12):
        return False
    from PySide6.QtGui import QColor

    color = QColor()
    before = sys.getrefcount(None)
    for _ in range(100):
        color.setRed(1)
    return sys.getrefcount(None) <= before - 50


def make_none_immortal_if_needed() -> bool:
    """Apply the workaround once when the bug is present; returns whether it is applied."""
    global _applied
    if _applied:
        return True
    if not pyside_drops_none_references():
        return False
    if hasattr(sys, "gettotalrefcount"):  # a debug build: refcount layout differs, skip
        return False
    for singleton in (None, True, False):  # bool conversions leak the same way
        ctypes.c_ssize_t.from_address(id(singleton)).value += _BOOST
    _applied = True
    return True
