"""Side-by-side comparison of the sources of one document, and the disagreement queue.

Thin: the regions, families and scores come from ``annotator.compare``; this widget only
draws them. ``store_factory()`` is called once, lazily, and the store it returns is used on
the GUI thread only (the owner closes it).

The view stays current without a refresh button: showing it re-reads the document and ranks
the queue (on a worker thread with its own store, ``ui.workers``); ``spans_changed(doc_id)``
(the main window's ``spansChanged``) redraws that document and moves it in the queue
(``doc_id < 0``: anything may have changed, e.g. after a batch job: the queue is re-ranked).
Labels are shown with the schema's display names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from annotator import compare

COLOR_AGREE = "#dff0d8"     # every available source holds the same spans
COLOR_MAJORITY = "#fff3c4"  # a disagreeing row: this source sides with the most common set
COLOR_DISSENT = "#f4b6b6"   # a disagreeing row: this source differs from the most common set
COLOR_ABSENT = "#eeeeee"    # the source has no span in this document
FIXED_COLUMNS = ("Region", "Text")


def _cell_text(sp: Any, region: compare.Region, text: str,
               names: dict[str, str] | None = None) -> str:
    label = (names or {}).get(sp.label, sp.label)
    if (sp.start, sp.end) != (region.start, region.end) or sp.is_discontinuous:
        label = f"{label}: {sp.surface(text)}" if text else f"{label} [{sp.start}, {sp.end})"
    return f"✗ {label}" if sp.status == "rejected" else label


def _tooltip(sp: Any, names: dict[str, str] | None = None) -> str:
    score = f", score {sp.score:.2f}" if sp.score is not None else ""
    who = f", by {sp.annotator}" if sp.annotator else ""
    name = (names or {}).get(sp.label, sp.label)
    key = f" ({sp.label})" if name != sp.label else ""
    return f"{name}{key} [{sp.start}, {sp.end}) — {sp.source}, {sp.status}{score}{who}"


class CompareView(QWidget):
    """The compare table for one document, next to the disagreement queue.

    Signals: ``documentRequested(doc_id)`` when the reviewer picks a queued document,
    ``regionActivated(doc_id, start, end)`` on a double-clicked row.
    """

    documentRequested = Signal(int)
    regionActivated = Signal(int, int, int)

    def __init__(self, store_factory: Callable[[], Any], parent: QWidget | None = None):
        super().__init__(parent)
        self._store_factory = store_factory
        self._store: Any = None
        self.current_doc_id: int | None = None
        self._regions: list[compare.Region] = []
        self._queue: list[int] = []
        self._rows: list[compare.DocDisagreement] = []
        self._queue_job: Any = None
        self._queue_stale = True   # ranked again when next shown
        self._doc_stale = False    # the shown document changed while hidden
        self._names: dict[str, str] = {}
        self.setWindowTitle("Compare sources")

        self.queue_list = QListWidget()
        self.queue_list.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.queue_list.setTextElideMode(Qt.ElideRight)
        # a click, Enter, or arrow keys from one queued document to the next open a document;
        # the automatic first selection when the list gets focus does not
        self.queue_list.itemClicked.connect(self._on_queue_item)
        self.queue_list.itemActivated.connect(self._on_queue_item)
        self.queue_list.currentItemChanged.connect(
            lambda cur, prev: self._on_queue_item(cur) if prev is not None else None)
        self.queue_label = QLabel("Disagreement queue")
        self.queue_label.setToolTip("Documents not yet reviewed, most disagreement first; "
                                    "kept current as spans change")
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.queue_label)
        lv.addWidget(self.queue_list, 1)

        self.title = QLabel("No document")
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, len(FIXED_COLUMNS) + len(compare.families()))
        self.table.setHorizontalHeaderLabels(
            list(FIXED_COLUMNS) + [f.title for f in compare.families()])
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        # one line per span, never wrapped: a source column is as wide as its widest label
        # (the Text column takes what is left and elides)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.ElideRight)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.Stretch)
        header.setMinimumSectionSize(60)
        self.table.cellDoubleClicked.connect(self._on_double_click)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.title)
        rv.addWidget(self.summary)
        rv.addWidget(self.table, 1)
        rv.addWidget(self._legend())

        split = QSplitter(Qt.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 4)
        split.setSizes([260, 1020])
        layout = QHBoxLayout(self)
        layout.addWidget(split)

    # ---------------------------------------------------------------- data
    @property
    def store(self) -> Any:
        if self._store is None:
            self._store = self._store_factory()
        return self._store

    def _label_names(self) -> dict[str, str]:
        schema = self.store.get_schema()
        return {lab.key: lab.name or lab.key for lab in schema.labels} if schema else {}

    def show_document(self, doc_id: int) -> None:
        """Fill the table with the regions of document ``doc_id``, compared among the
        sources that ran on it."""
        doc = self.store.get_document(doc_id)
        self.current_doc_id = doc_id
        self._doc_stale = False
        self._names = self._label_names()
        runs = compare.source_runs(self.store, [doc_id]).get(doc_id, {})
        self._regions = compare.regions(doc, runs=runs)
        score = compare.doc_disagreement(doc, runs=runs)
        available = set(score.families)
        self.title.setText(f"#{doc.id} {doc.name}".strip())
        n_dis = sum(1 for r in self._regions if not r.agreed and len(available) >= 2)
        self.summary.setText(
            f"{n_dis} of {len(self._regions)} regions disagree · disagreement score "
            f"{score.score:.2f} (1 − mean pairwise span F1) · sources: "
            + (", ".join(f.title for f in compare.families() if f.key in available) or "none"))
        self._fill_table(doc.text, available)
        self._select_in_queue(doc_id)

    def _fill_table(self, text: str, available: set[str]) -> None:
        t = self.table
        t.setUpdatesEnabled(False)
        t.clearContents()
        t.setRowCount(len(self._regions))
        for row, reg in enumerate(self._regions):
            disagree = not reg.agreed and len(available) >= 2
            mark = "≠ " if disagree else ""
            t.setItem(row, 0, QTableWidgetItem(f"{mark}{reg.start}–{reg.end}"))
            snippet = text[reg.start:reg.end].replace("\n", " ")
            t.setItem(row, 1, QTableWidgetItem(snippet if len(snippet) <= 80
                                               else snippet[:77] + "…"))
            for col, fam in enumerate(compare.families(), start=len(FIXED_COLUMNS)):
                t.setItem(row, col, self._cell(reg, fam.key, text, available, disagree))
        t.setUpdatesEnabled(True)
        t.resizeRowsToContents()

    def _cell(self, reg: compare.Region, fam: str, text: str, available: set[str],
              disagree: bool) -> QTableWidgetItem:
        spans = reg.cells.get(fam, [])
        shown = "\n".join(_cell_text(sp, reg, text, self._names) for sp in spans)
        tips = [_tooltip(sp, self._names) for sp in spans]
        unasked = reg.not_asked.get(fam, [])
        if not shown and unasked:
            shown = "·"  # decided before this source ran: it could not propose it
            tips.append("not asked: decided before this source ran (pre-label never "
                        "proposes a decided label and span again)")
        elif not shown and fam in available and disagree:
            shown = "—"  # the source said nothing here
        item = QTableWidgetItem(shown)
        item.setToolTip("\n".join(tips))
        if fam not in available:
            color = COLOR_ABSENT
        elif not disagree:
            color = COLOR_AGREE
        else:
            color = COLOR_DISSENT if fam in reg.dissenters else COLOR_MAJORITY
        item.setBackground(QBrush(QColor(color)))
        item.setForeground(QBrush(QColor("#202020")))
        if spans and all(sp.status == "rejected" for sp in spans):
            font = QFont(item.font())
            font.setStrikeOut(True)
            item.setFont(font)
            item.setForeground(QBrush(QColor("#808080")))
        return item

    def _legend(self) -> QLabel:
        parts = [(COLOR_AGREE, "sources agree"), (COLOR_MAJORITY, "with the majority"),
                 (COLOR_DISSENT, "differs"), (COLOR_ABSENT, "did not run on this document")]
        html = " ".join(
            f"<span style='background:{c}'>&nbsp;&nbsp;&nbsp;&nbsp;</span>&nbsp;{t}&nbsp;&nbsp;"
            for c, t in parts)
        lab = QLabel(html + " ✗ = rejected suggestion · = decided before the source ran")
        lab.setTextFormat(Qt.RichText)
        return lab

    # ---------------------------------------------------------------- staying current
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt)
        super().showEvent(event)
        if self._doc_stale and self.current_doc_id is not None:
            self.show_document(self.current_doc_id)
        if self._queue_stale:
            self.refresh_queue_async()

    def spans_changed(self, doc_id: int) -> None:
        """The spans or the review status of ``doc_id`` changed (``doc_id < 0``: of any
        document): redraw and requeue now when shown, else when next shown."""
        if doc_id < 0:
            self._queue_stale = True
            self._doc_stale = self.current_doc_id is not None
            if self.isVisible():
                if self._doc_stale:
                    self.show_document(self.current_doc_id)
                self.refresh_queue_async()
            return
        if doc_id == self.current_doc_id:
            if self.isVisible():
                self.show_document(doc_id)
            else:
                self._doc_stale = True
        if self._queue_job is not None and self._queue_job.is_running():
            self._queue_stale = True  # that ranking may predate the change: rank again
        elif not self._queue_stale:
            doc = self.store.get_document(doc_id, with_spans=False)
            self._set_queue(compare.requeue(self._rows, compare.document_disagreement(
                self.store, doc_id), review_status=doc.review_status))

    # ---------------------------------------------------------------- queue
    def disagreement_queue(self) -> list[int]:
        """Rank the documents (synchronously) and show the queue; returns the doc ids."""
        self._queue_stale = False
        self._set_queue(compare.rank(compare.disagreement_scores(self.store)))
        return list(self._queue)

    def refresh_queue_async(self) -> None:
        """Rank on a worker thread (its own store); the list fills in when it is done."""
        from ui.workers import run_job_in_thread

        if self._queue_job is not None and self._queue_job.is_running():
            self._queue_stale = True  # ranked again once this one is done
            return
        self._queue_stale = False
        self.queue_label.setText("Disagreement queue (ranking…)")
        handle = run_job_in_thread(self, compare.disagreement_queue_job, "Disagreement queue",
                                   opener=self.store.opener())
        handle.finished.connect(self._queue_ranked)
        self._queue_job = handle

    def _queue_ranked(self, rows: list) -> None:
        self._set_queue(rows)
        if self._queue_stale and self.isVisible():  # changed while ranking: rank again
            self.refresh_queue_async()

    def _set_queue(self, rows: list) -> None:
        self._rows = list(rows)
        self._queue = [r.doc_id for r in rows]
        self.queue_list.blockSignals(True)
        self.queue_list.clear()
        for r in rows:
            name = f" {r.name}" if r.name else ""
            item = QListWidgetItem(f"#{r.doc_id}{name} — {r.score:.2f}, "
                                   f"{r.n_disagreements} region(s)")
            item.setData(Qt.UserRole, r.doc_id)
            titles = {f.key: f.title for f in compare.families()}
            item.setToolTip("Sources that ran: " + ", ".join(titles.get(f, f)
                                                             for f in r.families))
            self.queue_list.addItem(item)
        self.queue_list.blockSignals(False)
        self.queue_label.setText(f"Disagreement queue ({len(rows)})")
        if self.current_doc_id is not None:
            self._select_in_queue(self.current_doc_id)

    def _select_in_queue(self, doc_id: int) -> None:
        if doc_id in self._queue:
            self.queue_list.blockSignals(True)
            self.queue_list.setCurrentRow(self._queue.index(doc_id))
            self.queue_list.blockSignals(False)

    def _on_queue_item(self, item: QListWidgetItem | None) -> None:
        if item is None:
            return
        doc_id = int(item.data(Qt.UserRole))
        if doc_id != self.current_doc_id:
            self.show_document(doc_id)
            self.documentRequested.emit(doc_id)

    def next_in_queue(self, step: int = 1) -> int | None:
        """Go to the next (``step=-1``: previous) queued document, wrapping around."""
        if not self._queue:
            return None
        if self.current_doc_id in self._queue:
            row = (self._queue.index(self.current_doc_id) + step) % len(self._queue)
        else:
            row = 0
        self._on_queue_item(self.queue_list.item(row))
        return self._queue[row]

    def _on_double_click(self, row: int, _col: int) -> None:
        if self.current_doc_id is not None and 0 <= row < len(self._regions):
            reg = self._regions[row]
            self.regionActivated.emit(self.current_doc_id, reg.start, reg.end)
