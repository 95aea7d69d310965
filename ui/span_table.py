"""The spans of the current document as a table: label, text, source, score, status.

Rows are in document order. Clicking (or moving to) a row makes that span the current one.
An edit patches one row (``upsert``/``remove``: one insert, remove or dataChanged) instead
of resetting the model, so a 1,000-span table is not rebuilt and repainted per keystroke.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from annotator.model import Span

COLUMNS = ("Label", "Text", "Source", "Score", "Status")


_ROOT = QModelIndex()  # the invisible root: these models are flat


_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_FONT = int(Qt.ItemDataRole.FontRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_USER = int(Qt.ItemDataRole.UserRole)
_ROLES = frozenset((_DISPLAY, _DECORATION, _FOREGROUND, _FONT, _TOOLTIP, _USER))
_FONTS: dict[str, QFont] = {}
_GREY: QBrush | None = None
_COLORS: dict[str, QColor] = {}


def _init_styles() -> None:
    global _GREY
    if _GREY is None:  # QFont/QBrush need the application, so built on first model
        _GREY = QBrush(QColor("#8a8a8a"))
        for status in ("proposed", "accepted", "rejected"):
            f = QFont()
            f.setItalic(status == "proposed")
            f.setStrikeOut(status == "rejected")
            _FONTS[status] = f


def _color(name: str) -> QColor:
    c = _COLORS.get(name)
    if c is None:
        c = _COLORS[name] = QColor(name)
    return c


def _order(s: Span) -> tuple[int, int, int]:
    return (s.start, s.end, s.id or 0)


class SpanTableModel(QAbstractTableModel):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        _init_styles()
        self.spans: list[Span] = []
        self.text = ""
        self.colors: dict[str, str] = {}
        self.names: dict[str, str] = {}

    def set_spans(self, text: str, spans: list[Span]) -> None:
        self.beginResetModel()
        self.text = text
        self.spans = sorted(spans, key=_order)
        self.endResetModel()

    def remove(self, span_id: int | None) -> None:
        """Drop the row of ``span_id`` (nothing when it is not shown)."""
        row = self.row_of(span_id)
        if row >= 0:
            self.beginRemoveRows(_ROOT, row, row)
            del self.spans[row]
            self.endRemoveRows()

    def upsert(self, span: Span) -> None:
        """Show ``span`` in place of the row with its id, or as a new row, in order."""
        row = self.row_of(span.id)
        if row >= 0 and _order(self.spans[row]) == _order(span):
            self.spans[row] = span
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
            return
        self.remove(span.id)
        row = bisect_left(self.spans, _order(span), key=_order)
        self.beginInsertRows(_ROOT, row, row)
        self.spans.insert(row, span)
        self.endInsertRows()

    def rowCount(self, parent: QModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.spans)

    def columnCount(self, parent: QModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # hot path (a repaint asks ~8 roles of every cell on screen): roles are compared as
        # ints and the fonts/brushes are shared, not rebuilt per call
        role = int(role)
        if role not in _ROLES:
            return None
        sp = self.spans[index.row()]
        col = index.column()
        if role == _DISPLAY:
            if col == 0:
                return self.names.get(sp.label, sp.label)
            if col == 1:
                return sp.surface(self.text).replace("\n", " ")
            if col == 2:
                return sp.source
            if col == 3:
                return "" if sp.score is None else f"{sp.score:.2f}"
            return sp.status
        if role == _DECORATION:
            return _color(self.colors.get(sp.label, "#dddddd")) if col == 0 else None
        if role == _FOREGROUND:
            return _GREY if sp.status == "rejected" else None
        if role == _FONT:  # accepted rows keep the view's font (no per-cell font to apply)
            return None if sp.status == "accepted" else _FONTS.get(sp.status)
        if role == _TOOLTIP:
            return (f"{sp.label} · {sp.source}"
                    + (f" {sp.source_version}" if sp.source_version else "")
                    + (f" · score {sp.score:.3f}" if sp.score is not None else "")
                    + f" · {sp.status}" + (f" · {sp.annotator}" if sp.annotator else "")
                    + f" · [{sp.start}, {sp.end})")
        return sp  # UserRole

    def row_of(self, span_id: int | None) -> int:
        if span_id is None:
            return -1
        return next((i for i, s in enumerate(self.spans) if s.id == span_id), -1)


class SpanTable(QTableView):
    spanActivated = Signal(object)  # Span

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.model_ = SpanTableModel(self)
        self.setModel(self.model_)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(22)
        h = self.horizontalHeader()
        h.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        h.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for col, w in ((0, 118), (2, 70), (3, 44), (4, 70)):
            self.setColumnWidth(col, w)
        # a scroll bar that comes and goes between documents re-lays out the columns
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self._syncing = False
        self.clicked.connect(self._activate)
        self.activated.connect(self._activate)

    def _activate(self, index: QModelIndex) -> None:
        if not self._syncing and index.isValid():
            self.spanActivated.emit(self.model_.spans[index.row()])

    def set_spans(self, text: str, spans: list[Span], colors: dict[str, str],
                  names: dict[str, str]) -> None:
        self.model_.colors, self.model_.names = colors, names
        self.model_.set_spans(text, spans)
        # lay the rows out now rather than on the view's zero-time timer: the table is then
        # painted once, with its final geometry, instead of twice
        self.executeDelayedItemsLayout()

    def upsert(self, span: Span) -> None:
        self.model_.upsert(span)
        self.executeDelayedItemsLayout()  # painted with the rest of the edit, in one frame

    def remove(self, span_id: int | None) -> None:
        self.model_.remove(span_id)
        self.executeDelayedItemsLayout()

    def show_current(self, span: Span | None) -> None:
        """Select the row of ``span`` without emitting ``spanActivated``."""
        self._syncing = True
        try:
            row = self.model_.row_of(span.id if span is not None else None)
            if row < 0:
                self.clearSelection()
            else:
                self.selectRow(row)
                self.scrollTo(self.model_.index(row, 0))
        finally:
            self._syncing = False
