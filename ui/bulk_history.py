"""Edit > Bulk decisions…: the bulk decisions made with ``annotator review accept|reject|mark``
(and their undos), newest first, each of which can be undone from here.

The list and the undo go through the store (``list_batches``, ``undo_batch``);
the undo runs on a worker thread with its own store, and the window reloads when it ends.
An undo leaves alone every span or document changed after the decision, and says how many.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from annotator.jobs import Job, Progress

COLUMNS = ("When (UTC)", "Who", "What", "Undone")


def undo_job(store: Any, batch: str, annotator: str | None) -> Job:
    """The undo of one bulk decision as a job for ``ui.workers`` (one transaction)."""
    yield Progress(0, 1, "undoing")
    return store.undo_batch(batch, annotator=annotator)


class BulkHistoryDialog(QDialog):
    def __init__(self, main_window: Any, parent: QWidget | None = None):
        super().__init__(parent or main_window)
        self.main_window = main_window
        self.setWindowTitle("Bulk decisions")
        self.batches: list[Any] = []
        self.handle = None
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.undo_button = QPushButton("&Undo this decision")
        self.undo_button.setEnabled(False)
        self.undo_button.clicked.connect(self.undo_selected)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.undo_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Decisions made in bulk (review accept, reject, mark). "
                                "Undo puts back what each changed, except what was changed "
                                "after it."))
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.resize(720, 360)
        self.reload()

    def reload(self) -> None:
        self.batches = self.main_window.store.list_batches()
        self.table.setRowCount(len(self.batches))
        for row, b in enumerate(self.batches):
            cells = (f"{b.at:%Y-%m-%d %H:%M:%S}", b.annotator or "?", b.describe(),
                     f"by {b.undone_by[:8]}" if b.undone_by else "")
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, b.id)
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        if not self.batches:
            self.message.setText("No bulk decision in this project yet.")
        self._selection_changed()

    def selected(self) -> Any | None:
        rows = self.table.selectionModel().selectedRows()
        return self.batches[rows[0].row()] if rows else None

    def _selection_changed(self) -> None:
        b = self.selected()
        ok = b is not None and b.kind != "undo" and not b.undone_by and self.handle is None
        self.undo_button.setEnabled(ok)
        self.undo_button.setToolTip("" if ok or b is None else
                                    "an undo cannot be undone: run the decision again"
                                    if b.kind == "undo" else "already undone")

    def undo_selected(self) -> Any:
        """Undo the selected decision on a worker thread; returns the job handle."""
        from annotator.review import get_annotator
        from ui.jobs_actions import opener_of
        from ui.workers import run_job_in_thread

        b = self.selected()
        if b is None:
            return None
        who = getattr(self.main_window, "annotator", None) or get_annotator()
        self.handle = run_job_in_thread(self, lambda store: undo_job(store, b.id, who),
                                        "Undo bulk decision",
                                        opener=opener_of(self.main_window))
        self.undo_button.setEnabled(False)
        self.handle.finished.connect(self._undone)
        self.handle.ended.connect(self._ended)
        return self.handle

    def _undone(self, result: Any) -> None:
        text = (f"Undid {result.batch[:8]}: {result.spans} spans and {result.documents} "
                "documents put back.")
        if result.changed_since:
            text += f" {result.changed_since} changed after it were left as they are."
        self.message.setText(text)

    def _ended(self) -> None:
        self.handle = None
        refresh = getattr(self.main_window, "refresh", None)
        if callable(refresh):
            refresh()
        self.reload()
