"""The Team menu: work in my layer or in the gold, and the curation view.

An annotator with documents assigned (``annotator assign``) works in their own layer (see
``db.team_queries``): the window opens on it, so the document list is their queue and every
edit is theirs alone. Team > Work in the gold switches to the shared project (the curator's
place), and back.

Team > Curation… shows, per assigned document, the annotators' accepted spans side by side:
one row per span any of them accepted, a column per annotator (✓ accepted it, · did not)
and the gold's decision. Spans all annotators accepted are taken into the gold on opening
(``adjudicate --auto-agree``, on a worker thread); each remaining row is resolved with a
key: **A** takes it into the gold, **R** rejects it there, and the cursor moves to the next
unresolved row; **Ctrl+Enter** marks the document reviewed in the gold. The others' layers
are shown read-only here: nothing in a layer changes from this view.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QBrush, QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from annotator.jobs import Job, Progress
from annotator.team import adjudication_plan

from . import shortcuts

ACCEPTED_BG = QColor("#d8f0d8")
REJECTED_BG = QColor("#f4d6d6")


def auto_agree_job(store: Any, annotator: str) -> Job:
    """``adjudicate --auto-agree`` over the shared project, as a job for ``ui.workers``."""
    yield Progress(0, 1, "taking agreed spans into the gold")
    return store.shared_store().adjudicate_auto_agree(annotator=annotator)


def install_team_actions(win: Any) -> dict[str, QAction]:
    """Add the Team menu (before Help) with its two bound actions; returns them by id."""
    acts = shortcuts.install(win, {"curation": lambda: open_curation(win),
                                   "switch_layer": lambda: switch_layer(win)})
    bar = win.menuBar()
    help_menu = next((a for a in bar.actions() if a.text().replace("&", "") == "Help"), None)
    menu = QMenu("&Team", bar)
    if help_menu is not None:
        bar.insertMenu(help_menu, menu)
    else:
        bar.addMenu(menu)
    menu.addAction(acts["switch_layer"])
    menu.addAction(acts["curation"])
    win.menus["Team"] = menu
    update_layer_label(win)
    return acts


def update_layer_label(win: Any) -> None:
    owner = win.store.layer_owner()
    text = (f"annotator: {win.annotator} — working in {owner}'s layer" if owner
            else f"annotator: {win.annotator}")
    win.who.setText(text)
    for a in win.actions():
        if a.text().startswith("Work in"):
            a.setText("Work in the gold (curation)" if owner else "Work in my layer")


def switch_layer(win: Any) -> None:
    """From the annotator's layer to the shared (gold) project, or back."""
    if win.store.layer_owner() is not None:
        target = win.store.shared_store()
    else:
        target = win.store.layer_store(win.annotator)
        if target is None:
            win.message(f"no document is assigned to {win.annotator} in this project")
            return
    win.store = target
    win.refresh()
    update_layer_label(win)
    where = target.layer_owner()
    win.message(f"working in {where}'s layer" if where else "working in the gold")


def open_curation(win: Any) -> CurationDialog:
    dlg = CurationDialog(win)
    dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dlg.show()
    dlg.start_auto_agree()
    return dlg


class CurationDialog(QDialog):
    """Per assigned document, the annotators' spans side by side and the gold's decision."""

    def __init__(self, win: Any, parent: QWidget | None = None):
        super().__init__(parent or win)
        self.win = win
        self.shared = win.store.shared_store()
        self.setWindowTitle("Curation — build the gold from the annotators' layers")
        self.handle = None
        self.view: Any = None
        self.rows: list[tuple[tuple[int, int, str], Any]] = []  # (key, span) per table row
        self.docs = QListWidget()
        self.docs.currentRowChanged.connect(self._doc_changed)
        self.table = QTableWidget(0, 0)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.auto_button = QPushButton("Take &agreed spans into the gold")
        self.auto_button.clicked.connect(self.start_auto_agree)
        split = QSplitter()
        split.addWidget(self.docs)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.table, 1)
        rl.addWidget(QLabel("A: take into the gold · R: reject in the gold · "
                            "Ctrl+Enter: mark the document reviewed in the gold"))
        split.addWidget(right)
        split.setSizes([260, 760])
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.auto_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        layout.addWidget(buttons)
        for keys, fn in ((("A",), lambda: self.decide("accepted")),
                         (("R",), lambda: self.decide("rejected")),
                         (("Ctrl+Return", "Ctrl+Enter"), self.mark_reviewed)):
            for k in keys:
                sc = QShortcut(QKeySequence(k), self)
                sc.activated.connect(fn)
        self.resize(1040, 560)
        self.reload()

    # ------------------------------------------------------------------ data
    def reload(self) -> None:
        self.view = self.shared.team_view()
        keep = self.docs.currentRow()
        self.docs.blockSignals(True)
        self.docs.clear()
        self.doc_ids = sorted(self.view.assigned)
        golds = self.shared.gold_states(self.doc_ids)  # one query, not one per document
        open_total = 0
        for d in self.doc_ids:
            who = self.view.assigned[d]
            waiting = [n for n in who if d not in self.view.reviewed.get(n, set())]
            if waiting:
                note = f"waiting for {', '.join(waiting)}"
            else:
                n_open = self._unresolved(d, golds[d])
                open_total += n_open
                note = f"{n_open} to resolve" if n_open else "agreed"
            item = QListWidgetItem(f"{self.view.names[d]}  ({note})")
            item.setData(Qt.ItemDataRole.UserRole, d)
            self.docs.addItem(item)
        self.docs.blockSignals(False)
        self.summary.setText(
            f"{len(self.doc_ids)} assigned documents; {open_total} spans to resolve on the "
            "documents all their annotators reviewed. Other annotators' layers are shown "
            "read-only.")
        if self.doc_ids:
            self.docs.setCurrentRow(min(max(keep, 0), len(self.doc_ids) - 1))
            self._doc_changed(self.docs.currentRow())

    def _plan(self, d: int):
        who = self.view.assigned[d]
        return adjudication_plan(d, {n: self.view.layers.get(n, {}).get(d, []) for n in who})

    def _unresolved(self, d: int, gold: dict | None = None) -> int:
        gold = self.shared.gold_state(d) if gold is None else gold
        return sum(1 for k in self._plan(d).pending if k not in gold)

    def current_doc(self) -> int | None:
        row = self.docs.currentRow()
        return self.doc_ids[row] if 0 <= row < len(self.doc_ids) else None

    def _doc_changed(self, _row: int) -> None:
        d = self.current_doc()
        self.table.clear()
        self.rows = []
        if d is None:
            self.table.setRowCount(0)
            return
        plan = self._plan(d)
        gold = self.shared.gold_state(d)
        names = plan.annotators
        cols = ["Text", "Label", "Offsets", *names, "Gold"]
        self.table.setColumnCount(len(cols))
        self.table.setHorizontalHeaderLabels(cols)
        keys = sorted(plan.spans)
        self.table.setRowCount(len(keys))
        text = self.view.texts[d]
        for r, key in enumerate(keys):
            who = [n for n in names if any((s.start, s.end, s.label) == key
                                           for s in self.view.layers[n].get(d, []))]
            state = gold.get(key, "")
            cells = [text[key[0]:key[1]], key[2], f"{key[0]}–{key[1]}",
                     *("✓" if n in who else "·" for n in names),
                     {"accepted": "accepted", "rejected": "rejected"}.get(state, "—")]
            for c, value in enumerate(cells):
                item = QTableWidgetItem(value)
                if state == "accepted":
                    item.setBackground(QBrush(ACCEPTED_BG))
                elif state == "rejected":
                    item.setBackground(QBrush(REJECTED_BG))
                self.table.setItem(r, c, item)
            self.rows.append((key, plan.spans[key][0]))
        self.table.resizeColumnsToContents()
        self._to_next_open(0)

    def _to_next_open(self, start: int) -> None:
        for r in list(range(start, len(self.rows))) + list(range(0, start)):
            if self.table.item(r, self.table.columnCount() - 1).text() == "—":
                self.table.selectRow(r)
                return
        if self.rows:
            self.table.selectRow(min(start, len(self.rows) - 1))

    # ------------------------------------------------------------------ decisions
    def decide(self, decision: str) -> int:
        """The selected row's span taken into (``accepted``) or rejected in the gold."""
        d = self.current_doc()
        sel = self.table.selectionModel().selectedRows()
        if d is None or not sel:
            return 0
        r = sel[0].row()
        n = self.shared.resolve(d, [self.rows[r][1]], decision, annotator=self.win.annotator)
        self._doc_changed(self.docs.currentRow())
        self._to_next_open(r + 1)
        self._refresh_doc_item(d)
        return n

    def _refresh_doc_item(self, d: int) -> None:
        item = self.docs.item(self.doc_ids.index(d))
        n_open = self._unresolved(d)
        item.setText(f"{self.view.names[d]}  ({f'{n_open} to resolve' if n_open else 'agreed'})")

    def mark_reviewed(self) -> None:
        d = self.current_doc()
        if d is None:
            return
        self.shared.set_review_status(d, "reviewed")
        self.summary.setText(f"{self.view.names[d]} marked reviewed in the gold.")
        if self.docs.currentRow() + 1 < len(self.doc_ids):
            self.docs.setCurrentRow(self.docs.currentRow() + 1)

    def start_auto_agree(self) -> Any:
        """``adjudicate --auto-agree`` on a worker; the view reloads when it ends."""
        from ui.workers import run_job_in_thread

        if self.handle is not None:
            return self.handle
        who = self.win.annotator
        self.auto_button.setEnabled(False)
        self.handle = run_job_in_thread(self, lambda store: auto_agree_job(store, who),
                                        "Auto-agree", opener=self.shared.opener(),
                                        show_dialog=False)
        self.handle.finished.connect(self._agreed)
        self.handle.ended.connect(self._ended)
        return self.handle

    def _agreed(self, res: Any) -> None:
        self.summary.setText(f"{res.adjudicated} agreed spans in the gold ({res.written} taken "
                             f"now); {res.unresolved} of {res.pending} disagreements to "
                             f"resolve; {res.waiting} documents wait for a review.")

    def _ended(self) -> None:
        self.handle = None
        self.auto_button.setEnabled(True)
        text = self.summary.text()
        self.reload()
        if text:
            self.summary.setText(text)
        refresh = getattr(self.win, "refresh", None)
        if callable(refresh) and self.win.store.project == self.shared.project:
            refresh()
