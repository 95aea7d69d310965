"""The spans of the current document as a table: label, text, source, score, status.

Rows are in document order. Clicking (or moving to) a row makes that span the current one.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from annotator.model import Span

COLUMNS = ("Label", "Text", "Source", "Score", "Status")


_ROOT = QModelIndex()  # the invisible root: these models are flat


class SpanTableModel(QAbstractTableModel):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.spans: list[Span] = []
        self.text = ""
        self.colors: dict[str, str] = {}
        self.names: dict[str, str] = {}

    def set_spans(self, text: str, spans: list[Span]) -> None:
        self.beginResetModel()
        self.text = text
        self.spans = sorted(spans, key=lambda s: (s.start, s.end, s.id or 0))
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.spans)

    def columnCount(self, parent: QModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        sp = self.spans[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return self.names.get(sp.label, sp.label)
            if col == 1:
                return sp.surface(self.text).replace("\n", " ")
            if col == 2:
                return sp.source
            if col == 3:
                return "" if sp.score is None else f"{sp.score:.2f}"
            return sp.status
        if role == Qt.ItemDataRole.DecorationRole and col == 0:
            return QColor(self.colors.get(sp.label, "#dddddd"))
        if role == Qt.ItemDataRole.ForegroundRole and sp.status == "rejected":
            return QBrush(QColor("#8a8a8a"))
        if role == Qt.ItemDataRole.FontRole:
            f = QFont()
            f.setItalic(sp.status == "proposed")
            f.setStrikeOut(sp.status == "rejected")
            return f
        if role == Qt.ItemDataRole.ToolTipRole:
            return (f"{sp.label} · {sp.source}"
                    + (f" {sp.source_version}" if sp.source_version else "")
                    + (f" · score {sp.score:.3f}" if sp.score is not None else "")
                    + f" · {sp.status}" + (f" · {sp.annotator}" if sp.annotator else "")
                    + f" · [{sp.start}, {sp.end})")
        if role == Qt.ItemDataRole.UserRole:
            return sp
        return None

    def row_of(self, span_id: int | None) -> int:
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
