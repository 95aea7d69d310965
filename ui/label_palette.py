"""The label palette: the schema's labels with their colour, hotkey and count in the document.

Hotkeys come from the schema (``Label.hotkey``); labels without one get the first free key
of 1-9, 0. Keys that are the tool's own shortcuts are never given to labels.

Colours: by default a colour-blind-safe palette (Okabe & Ito 2008, the eight colours that stay
apart under protanopia, deuteranopia and tritanopia), lightened for a background under black
text; the bar under a span keeps the darker hue. FineMed's labels get fixed colours (the
pairs that were hard to tell apart -- Living beings / Medical procedure, Clinical device /
Molecular marker -- now differ in hue and in lightness); other schemas of up to 8 labels get
them in schema order; larger schemas keep their own colours. Colour is never the only cue:
spans carry a label tag (``label_tags``) and suggestions a dashed bar.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QMenu, QWidget

from annotator.model import Label, LabelSchema

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


OKABE_ITO = {"orange": "#E69F00", "sky_blue": "#56B4E9", "bluish_green": "#009E73",
             "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00",
             "reddish_purple": "#CC79A7", "grey": "#7F7F7F"}
FINEMED_SAFE = {"disease": "vermillion", "drug": "reddish_purple", "body_part": "yellow",
                "medical_procedure": "bluish_green", "molecular_marker": "sky_blue",
                "clinical_device": "blue", "vital_function": "orange", "living_beings": "grey"}
SAFE_LIGHTEN = 0.45  # mixed with white: black text stays readable on the darkest (blue)


def _lighten(hex_color: str, amount: float) -> str:
    c = QColor(hex_color)
    mix = [int(v + (255 - v) * amount) for v in (c.red(), c.green(), c.blue())]
    return "#{:02X}{:02X}{:02X}".format(*mix)


def safe_colors(schema: LabelSchema | None) -> dict[str, str] | None:
    """``{label key: colour}`` from the colour-blind-safe palette, or None when the schema
    has more labels than the palette has colours."""
    if schema is None or len(schema.labels) > len(OKABE_ITO):
        return None
    free = [n for n in OKABE_ITO if n not in
            {FINEMED_SAFE[lab.key] for lab in schema.labels if lab.key in FINEMED_SAFE}]
    out = {}
    for lab in schema.labels:
        name = FINEMED_SAFE.get(lab.key) or free.pop(0)
        out[lab.key] = _lighten(OKABE_ITO[name], SAFE_LIGHTEN)
    return out


def label_tags(schema: LabelSchema | None) -> dict[str, str]:
    """A short tag per label: the shortest prefix of its name (2 letters at least) that no
    other label's name shares ("Di" Disease, "Dr" Drug, "Mol" / "Med" ...)."""
    if schema is None:
        return {}
    names = {lab.key: (lab.name or lab.key).replace("_", " ") for lab in schema.labels}
    out = {}
    for key, name in names.items():
        others = [n.lower() for k, n in names.items() if k != key]
        n = min(2, len(name))
        while n < len(name) and any(o.startswith(name[:n].lower()) for o in others):
            n += 1
        out[key] = name[:n].strip()
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
        self.safe = True  # the colour-blind-safe palette (else the schema's own colours)
        self.setIconSize(QSize(14, 14))
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setUniformItemSizes(True)
        self.setSpacing(1)
        self.itemClicked.connect(
            lambda it: self.labelChosen.emit(it.data(Qt.ItemDataRole.UserRole)))

    def set_schema(self, schema: LabelSchema | None) -> None:
        self.schema = schema
        self.hotkeys = assign_hotkeys(schema)
        self.clear()  # new labels: rebuild the items
        self.set_counts({})

    def key_of(self, label: str) -> str | None:
        return next((k for k, v in self.hotkeys.items() if v == label), None)

    def set_counts(self, counts: dict[str, int]) -> None:
        """Show the number of (non-rejected) spans per label in the current document. Only
        the items whose text changes are touched (an edit repaints one or two rows)."""
        if self.schema is not None and self.count() == len(self.schema.labels) and all(
                self.item(i).data(Qt.ItemDataRole.UserRole) == lab.key
                for i, lab in enumerate(self.schema.labels)):
            for i, lab in enumerate(self.schema.labels):
                text = self._text(lab, counts.get(lab.key, 0))
                item = self.item(i)
                if item.text() != text:
                    item.setText(text)
            return
        self.clear()
        if self.schema is None:
            return
        for lab in self.schema.labels:
            n = counts.get(lab.key, 0)
            item = QListWidgetItem(swatch(self.colors().get(lab.key, lab.color)),
                                   self._text(lab, n))
            item.setData(Qt.ItemDataRole.UserRole, lab.key)
            item.setToolTip(lab.description or lab.name)
            self.addItem(item)

    def _text(self, lab: Label, n: int) -> str:
        return f"{self.key_of(lab.key) or ' '}   {lab.name}" + (f"   ({n})" if n else "")

    def colors(self) -> dict[str, str]:
        """``{label key: colour}`` shown: the safe palette (when on and it fits), else the
        schema's colours."""
        if self.schema is None:
            return {}
        if self.safe:
            safe = self._safe_cache if getattr(self, "_safe_for", None) is self.schema else None
            if safe is None:
                safe = safe_colors(self.schema)
                self._safe_for, self._safe_cache = self.schema, safe
            if safe is not None:
                return dict(safe)
        return {lab.key: lab.color for lab in self.schema.labels}

    def tags(self) -> dict[str, str]:
        return label_tags(self.schema)

    def set_safe(self, on: bool) -> None:
        self.safe = bool(on)
        self.clear()  # new swatches: rebuild the items
        self.set_counts({})

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
            act = menu.addAction(swatch(self.colors().get(lab.key, lab.color)),
                                 f"&{key}  {lab.name}" if key else lab.name)
            act.setData(lab.key)
            act.setCheckable(True)
            act.setChecked(lab.key == current)
        chosen = menu.exec(at)
        return chosen.data() if chosen is not None else None
