"""The document list: a flat Qt model that stays fast with 100k documents.

The model holds one light tuple per document (``store.document_rows``: no text, no
spans) and a list of visible row numbers, so filtering and sorting are plain Python list
operations followed by one model reset (no per-row proxy callbacks). Span counts per source
are fetched only for the rows on screen, 200 at a time, and cached. Rows are in id order, so
a document's row is found by bisection; the inverse of ``visible`` is built only when the
list is filtered or sorted, and then once. An edit patches its row from the window's
in-memory spans (``set_doc_state``), without a query.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from annotator.model import REVIEW_STATUSES

STATUS_GLYPH = {"todo": ("○", "#6b7280"), "in_progress": ("◐", "#b45309"),
                "reviewed": ("●", "#15803d"), "skipped": ("⊘", "#9ca3af")}
FIXED = ("Status", "Name")
PENDING = "To review"  # suggestions (proposed spans) left in the document
TAIL = (PENDING, "Spans", "Density")
BLOCK = 200
STATUS_PX, COUNT_PX, NAME_MIN_PX = 36, 46, 150


_ROOT = QModelIndex()  # the invisible root: these models are flat


class DocumentListModel(QAbstractTableModel):
    def __init__(self, store_getter: Callable[[], Any], parent: QWidget | None = None):
        super().__init__(parent)
        self._store = store_getter
        self.rows: list[tuple] = []  # (id, name, review_status, length, density)
        self.visible: list[int] = []
        self._ids: list[int] = []  # ids of rows, ascending
        self._pos: dict[int, int] | None = None  # position in rows -> visible row (lazy)
        self._identity = True  # visible == range(len(rows))
        self.counts: dict[int, dict[str, int]] = {}
        self.pending: dict[int, int] = {}  # doc id -> suggestions left (only when > 0)
        self._pending_sum = 0  # sum(self.pending.values()), kept up to date
        self.density: dict[int, float | None] = {}  # computed where none is stored
        self.sources: list[str] = []
        self._names: list[str] = self.column_names()
        self.modelAboutToBeReset.connect(self._forget_names)
        self.modelReset.connect(self._forget_names)

    def _forget_names(self) -> None:
        self._names = self.column_names()

    # ------------------------------------------------------------------ loading
    def reload(self, sources: list[str]) -> None:
        self.beginResetModel()
        self.rows = self._store().document_rows()
        self._ids = [r[0] for r in self.rows]
        self._set_visible(list(range(len(self.rows))), identity=True)
        self.counts = {}
        self.density = {}
        self.pending = self._store().proposed_counts()
        self._pending_sum = sum(self.pending.values())
        self.sources = list(sources)
        self.endResetModel()

    def _set_visible(self, visible: list[int], *, identity: bool = False) -> None:
        self.visible = visible
        self._identity = identity
        self._pos = None

    def index_of(self, doc_id: int) -> int | None:
        """Position of ``doc_id`` in ``rows`` (None when not listed)."""
        i = bisect_left(self._ids, doc_id)
        return i if i < len(self._ids) and self._ids[i] == doc_id else None

    def refresh_doc(self, doc_id: int) -> None:
        """Re-read one document's row and counts from the database."""
        if self.index_of(doc_id) is None:
            return
        store = self._store()
        fresh = store.document_rows([doc_id])
        counts = store.span_counts([doc_id])[doc_id]
        self.set_doc_state(doc_id, fresh[0][2] if fresh else None, counts)

    def set_doc_state(self, doc_id: int, review_status: str | None,
                      counts: dict[str, int] | None, *, pending: int | None = None,
                      density: float | None = None) -> None:
        """Show a document's new review status, non-rejected span counts per source,
        suggestions left (``pending``) and live ``density`` (what the window knows after an
        edit); one row repaints. A new source becomes a new column, inserted in place: the
        other columns keep their widths."""
        i = self.index_of(doc_id)
        if i is None:
            return
        if review_status is not None and self.rows[i][2] != review_status:
            r = self.rows[i]
            self.rows[i] = (r[0], r[1], review_status, *r[3:])
        if pending is not None:
            self._pending_sum += pending - self.pending.get(doc_id, 0)
            if pending:
                self.pending[doc_id] = pending
            else:
                self.pending.pop(doc_id, None)
        if density is not None:
            self.density[doc_id] = density
        if counts is not None:
            self.counts[doc_id] = {k: int(v) for k, v in counts.items() if v}
            for src in sorted(set(self.counts[doc_id]) - set(self.sources)):
                at = len(FIXED) + bisect_left(sorted(self.sources), src)
                self.beginInsertColumns(_ROOT, at, at)
                self.sources = sorted([*self.sources, src])
                self._names = self.column_names()
                self.endInsertColumns()
        r = self._visible_row(i)
        if r >= 0:
            self.dataChanged.emit(self.index(r, 0), self.index(r, self.columnCount() - 1))

    def _visible_row(self, i: int) -> int:
        if self._identity:
            return i
        if self._pos is None:
            self._pos = {k: r for r, k in enumerate(self.visible)}
        return self._pos.get(i, -1)

    def _ensure_counts(self, r: int) -> None:
        lo, hi = max(0, r - BLOCK // 2), min(len(self.visible), r + BLOCK // 2)
        ids = [self.rows[self.visible[k]][0] for k in range(lo, hi)]
        missing = [i for i in ids if i not in self.counts]
        if missing:
            self.counts.update(self._store().span_counts(missing))

    def _ensure_density(self, r: int) -> None:
        """Compute the density of the rows near ``r`` that have none stored (non-rejected
        spans, as ``annotator density`` counts them), 200 at a time."""
        lo, hi = max(0, r - BLOCK // 2), min(len(self.visible), r + BLOCK // 2)
        rows = [self.rows[self.visible[k]] for k in range(lo, hi)]
        missing = [row for row in rows if row[4] is None and row[0] not in self.density]
        if missing:
            ext = self._store().span_extents([row[0] for row in missing])
            for row in missing:
                self.density[row[0]] = _density_of_extents(row[3] or 0, ext[row[0]])

    def density_of(self, doc_id: int) -> float | None:
        """The density shown for ``doc_id``: computed this session (after an edit, or where
        none is stored), else the stored one."""
        i = self.index_of(doc_id)
        if doc_id in self.density:
            return self.density[doc_id]
        return None if i is None else self.rows[i][4]

    def pending_total(self) -> int:
        """Suggestions left in the whole project."""
        return self._pending_sum

    # ------------------------------------------------------------------ filter / sort
    def apply_filter(self, *, status: str | None = None,
                     allowed_ids: set[int] | None = None) -> None:
        self.beginResetModel()
        if status is None and allowed_ids is None:
            self._set_visible(list(range(len(self.rows))), identity=True)
        else:
            self._set_visible([i for i, r in enumerate(self.rows)
                               if (status is None or r[2] == status)
                               and (allowed_ids is None or r[0] in allowed_ids)])
        self.endResetModel()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        names = self.column_names()
        name = names[column]
        rev = order == Qt.SortOrder.DescendingOrder
        if name in self.sources or name == "Spans":
            full = self._store().all_span_counts()
            for r in self.rows:
                self.counts[r[0]] = full.get(r[0], {})
        key_fns = {
            "Status": lambda i: REVIEW_STATUSES.index(self.rows[i][2]),
            "Name": lambda i: self.rows[i][1].lower(),
            "Density": lambda i: (self.density_of(self.rows[i][0]) is None,
                                  self.density_of(self.rows[i][0]) or 0.0),
            PENDING: lambda i: self.pending.get(self.rows[i][0], 0),
            "Spans": lambda i: sum(self.counts.get(self.rows[i][0], {}).values()),
        }
        key = key_fns.get(name) or (lambda i: self.counts.get(self.rows[i][0], {}).get(name, 0))
        self.layoutAboutToBeChanged.emit()
        self._set_visible(sorted(self.visible, key=lambda i: (key(i), self.rows[i][0]),
                                 reverse=rev))
        self.layoutChanged.emit()

    # ------------------------------------------------------------------ Qt model API
    def column_names(self) -> list[str]:
        return [*FIXED, *self.sources, *TAIL]

    def rowCount(self, parent: QModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.visible)

    def columnCount(self, parent: QModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(FIXED) + len(self.sources) + len(TAIL)

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.column_names()[section]
        if role == Qt.ItemDataRole.ToolTipRole and FIXED[0] != self.column_names()[section]:
            name = self.column_names()[section]
            if name in self.sources:
                return f"non-rejected spans from {name}"
            return {PENDING: "suggestions left to accept or reject",
                    "Spans": "non-rejected spans, all sources",
                    "Density": "share of the text inside an entity (non-rejected spans)"
                    }.get(name)
        return None

    def doc_id(self, row: int) -> int:
        return self.rows[self.visible[row]][0]

    def row_of(self, doc_id: int) -> int:
        i = self.index_of(doc_id)
        return -1 if i is None else self._visible_row(i)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # hot path (a repaint asks ~8 roles of every cell on screen): int roles, shared
        # colours, column names cached per model reset
        role = int(role)
        if role not in _ROLES:
            return None
        r = self.rows[self.visible[index.row()]]
        col = index.column()
        name = self._names[col]
        if role == _DISPLAY:
            if name == "Status":
                return STATUS_GLYPH.get(r[2], ("?", ""))[0]
            if name == "Name":
                return r[1] or f"#{r[0]}"
            if name == "Density":
                if r[4] is None and r[0] not in self.density:
                    self._ensure_density(index.row())
                d = self.density.get(r[0], r[4])
                return "" if d is None else f"{d:.2f}"
            if name == PENDING:
                n = self.pending.get(r[0], 0)
                return str(n) if n else ""
            if r[0] not in self.counts:
                self._ensure_counts(index.row())
            c = self.counts.get(r[0], {})
            n = sum(c.values()) if name == "Spans" else c.get(name, 0)
            return str(n) if n else ""
        if role == _FOREGROUND:
            return _status_color(r[2]) if name == "Status" else None
        if role == _ALIGN:
            return _RIGHT if col >= len(FIXED) else None
        return f"{r[1]} · {r[2].replace('_', ' ')} · {r[3]} characters"  # tooltip


class _Extent:
    """What ``annotator.prelabel.density.covered_chars`` reads of a span: its parts."""

    __slots__ = ("parts",)

    def __init__(self, start: int, end: int, fragments: Any):
        self.parts = [tuple(f) for f in fragments] if fragments else [(start, end)]


def _density_of_extents(length: int, extents: list[tuple[int, int, Any]]) -> float | None:
    from annotator.prelabel.density import density

    return density(length, [_Extent(*e) for e in extents])


_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_ALIGN = int(Qt.ItemDataRole.TextAlignmentRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_ROLES = frozenset((_DISPLAY, _FOREGROUND, _ALIGN, _TOOLTIP))
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_STATUS_COLORS: dict[str, QColor] = {}


def _status_color(status: str) -> QColor:
    c = _STATUS_COLORS.get(status)
    if c is None:
        c = _STATUS_COLORS[status] = QColor(STATUS_GLYPH.get(status, ("", "#000"))[1])
    return c


class DocumentList(QWidget):
    """Filter bar + table. Emits ``documentActivated(doc_id)`` when the current row changes."""

    documentActivated = Signal(int)

    def __init__(self, store_getter: Callable[[], Any], parent: QWidget | None = None):
        super().__init__(parent)
        self._store = store_getter
        self._quiet = False
        self._fitted_shown = False
        self.model = DocumentListModel(store_getter, self)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Filter: name or text  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.status = QComboBox(self)
        self.status.addItem("All statuses", None)
        for s in REVIEW_STATUSES:
            self.status.addItem(f"{STATUS_GLYPH[s][0]} {s.replace('_', ' ')}", s)
        self.label = QComboBox(self)
        self.source = QComboBox(self)
        self.summary = QLabel(self)
        self.summary.setStyleSheet("color: #6b7280;")
        self.view = QTableView(self)
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.view.setWordWrap(False)
        self.view.setAlternatingRowColors(True)
        vh = self.view.verticalHeader()
        vh.hide()
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(22)
        self.view.horizontalHeader().setHighlightSections(False)
        self.view.selectionModel().currentRowChanged.connect(self._current_changed)
        self.model.modelReset.connect(self._update_summary)
        self.model.columnsInserted.connect(self._fit_new_columns)

        combos = QHBoxLayout()
        for w in (self.status, self.label, self.source):
            combos.addWidget(w, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.search)
        lay.addLayout(combos)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.summary)
        self._timer = QTimer(self, singleShot=True, interval=250)
        self._timer.timeout.connect(self.apply_filters)
        self.search.textChanged.connect(lambda _t: self._timer.start())
        for combo in (self.status, self.label, self.source):
            combo.currentIndexChanged.connect(lambda _i: self.apply_filters())

    # ------------------------------------------------------------------ data
    def reload(self) -> None:
        """Re-read every row (keeps the current document selected when it still shows)."""
        current = self.current_doc_id()
        sources, labels = self._store().span_sources_and_labels()
        for combo, title, values in ((self.label, "All labels", labels),
                                     (self.source, "All sources", sources)):
            keep = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(title, None)
            for v in values:
                combo.addItem(v, v)
            i = combo.findData(keep)
            combo.setCurrentIndex(max(0, i))
            combo.blockSignals(False)
        self.model.reload(sources)
        self._fit_columns()
        self.apply_filters(keep=current)

    def _fit_columns(self) -> None:
        """Status and counts narrow; Name takes the rest but never less than NAME_MIN_PX (the
        table scrolls sideways instead); the last column fills any gap."""
        h = self.view.horizontalHeader()
        h.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        h.setStretchLastSection(True)
        self.view.setColumnWidth(0, STATUS_PX)
        counts = 0
        for c in range(2, self.model.columnCount()):
            counts += self._count_width(c)
            self.view.setColumnWidth(c, self._count_width(c))
        rest = self.view.viewport().width() - STATUS_PX - counts
        self.view.setColumnWidth(1, max(NAME_MIN_PX, rest))

    def _count_width(self, column: int) -> int:
        """A count column: COUNT_PX, or wider when its header needs it ("To review")."""
        title = str(self.model.headerData(column, Qt.Orientation.Horizontal,
                                          Qt.ItemDataRole.DisplayRole) or "")
        metrics = self.view.horizontalHeader().fontMetrics()
        return max(COUNT_PX, metrics.horizontalAdvance(title) + 14)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._fitted_shown:  # the viewport has its real width only now
            self._fitted_shown = True
            self._fit_columns()

    def _fit_new_columns(self, _parent: QModelIndex, first: int, last: int) -> None:
        """A source column that appeared after an edit (the first human span): count-wide;
        the other columns, Name first, keep their widths."""
        for c in range(first, last + 1):
            self.view.setColumnWidth(c, self._count_width(c))

    def refilter_status(self) -> None:
        """After a document's review status changed: re-apply a status filter (a skipped
        document leaves "to do"); nothing to do when the list is not filtered by status."""
        if self.status.currentData() is not None:
            self.apply_filters()

    def apply_filters(self, keep: int | None = None) -> None:
        keep = keep if keep is not None else self.current_doc_id()
        label, source = self.label.currentData(), self.source.currentData()
        text = self.search.text().strip()
        allowed = None
        if label or source or text:
            allowed = self._store().matching_doc_ids(label=label, source=source,
                                       text=text or None)
        self.model.apply_filter(status=self.status.currentData(), allowed_ids=allowed)
        if keep is not None and self.model.row_of(keep) >= 0:
            self.select(keep, emit=False)

    def _update_summary(self) -> None:
        n, total = len(self.model.visible), len(self.model.rows)
        self.summary.setText(f"{n:,} of {total:,} documents" if n != total
                             else f"{total:,} documents")

    # ------------------------------------------------------------------ navigation
    def current_doc_id(self) -> int | None:
        idx = self.view.currentIndex()
        return self.model.doc_id(idx.row()) if idx.isValid() else None

    def select(self, doc_id: int, *, emit: bool = True) -> bool:
        row = self.model.row_of(doc_id)
        if row < 0:
            return False
        self._quiet = not emit
        try:
            self.view.setCurrentIndex(self.model.index(row, 1))
            self.view.selectRow(row)
            self.view.scrollTo(self.model.index(row, 1))
        finally:
            self._quiet = False
        return True

    def neighbour(self, doc_id: int | None, step: int) -> int | None:
        """The document ``step`` rows away in the list as shown (filtered and sorted)."""
        if not self.model.visible:
            return None
        row = self.model.row_of(doc_id) if doc_id is not None else -1
        if row < 0:
            return self.model.doc_id(0)
        new = row + step
        return self.model.doc_id(new) if 0 <= new < len(self.model.visible) else None

    def _current_changed(self, cur: QModelIndex, _prev: QModelIndex) -> None:
        if cur.isValid() and not self._quiet:
            self.documentActivated.emit(self.model.doc_id(cur.row()))
