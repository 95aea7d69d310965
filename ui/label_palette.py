"""The label palette: the schema's labels with their colour, hotkey and count in the document.

Hotkeys come from the schema (``Label.hotkey``); labels without one get the first free key
of 1-9, 0. Keys that are the tool's own shortcuts are never given to labels.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QMenu, QWidget

from annotator.model import LabelSchema

from .shortcuts import BINDINGS, DEFAULT_LABEL_KEYS

TOOL_KEYS = {k.lower() for b in BINDINGS for k in b.keys if len(k) == 1}


def assign_hotkeys(schema: LabelSchema | None) -> dict[str, str]:
    """``{hotkey: label_key}`` in schema order."""
    if schema is None:
        return {}
    out: dict[str, str] = {}
    for lab in schema.labels:
        hk = (lab.hotkey or "").lower()
        if hk and hk not in out and hk not in TOOL_KEYS:
            out[hk] = lab.key
    free = [k for k in DEFAULT_LABEL_KEYS if k not in out]
    for lab in schema.labels:
        if lab.key not in out.values() and free:
            out[free.pop(0)] = lab.key
    return out


def swatch(color: str, size: int = 14) -> QIcon:
    pm = QPixmap(size, size)
    pm.fill(QColor(color))
    return QIcon(pm)


class LabelPalette(QListWidget):
    """Click a label to apply it (like pressing its key)."""

    labelChosen = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.schema: LabelSchema | None = None
        self.hotkeys: dict[str, str] = {}
        self.setIconSize(QSize(14, 14))
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setUniformItemSizes(True)
        self.setSpacing(1)
        self.itemClicked.connect(
            lambda it: self.labelChosen.emit(it.data(Qt.ItemDataRole.UserRole)))

    def set_schema(self, schema: LabelSchema | None) -> None:
        self.schema = schema
        self.hotkeys = assign_hotkeys(schema)
        self.set_counts({})

    def key_of(self, label: str) -> str | None:
        return next((k for k, v in self.hotkeys.items() if v == label), None)

    def set_counts(self, counts: dict[str, int]) -> None:
        """Show the number of (non-rejected) spans per label in the current document."""
        self.clear()
        if self.schema is None:
            return
        for lab in self.schema.labels:
            key = self.key_of(lab.key)
            n = counts.get(lab.key, 0)
            item = QListWidgetItem(swatch(lab.color),
                                   f"{key or ' '}   {lab.name}" + (f"   ({n})" if n else ""))
            item.setData(Qt.ItemDataRole.UserRole, lab.key)
            item.setToolTip(lab.description or lab.name)
            self.addItem(item)

    def colors(self) -> dict[str, str]:
        return {lab.key: lab.color for lab in self.schema.labels} if self.schema else {}

    def names(self) -> dict[str, str]:
        """``{hotkey: label name}`` for the shortcut sheet."""
        if self.schema is None:
            return {}
        return {k: (self.schema.get(v).name if self.schema.get(v) else v)
                for k, v in self.hotkeys.items()}

    def popup(self, at: QPoint, current: str | None = None) -> str | None:
        """A menu of labels at ``at`` (global); returns the chosen label key or None."""
        if self.schema is None:
            return None
        menu = QMenu(self)
        for lab in self.schema.labels:
            key = self.key_of(lab.key)
            act = menu.addAction(swatch(lab.color), f"&{key}  {lab.name}" if key else lab.name)
            act.setData(lab.key)
            act.setCheckable(True)
            act.setChecked(lab.key == current)
        chosen = menu.exec(at)
        return chosen.data() if chosen is not None else None
