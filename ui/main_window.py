"""The review desk's main window: document list | text | label palette + span table.

The window maps keys to the intents of an ``annotator.session.ReviewSession`` (which holds the
review policy, the open document and the undo history) and paints the ``Outcome`` each one
returns; it holds no business logic and no SQL. Every edit is one store call, committed at
once, so closing the window (or a crash) loses nothing already done.
"""

from __future__ import annotations

import gc
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from annotator import review
from annotator.llm.silver import review_notes_text
from annotator.model import Document, Span
from annotator.session import NO_SPAN, SPAN_GONE_MESSAGE, Outcome, ReviewSession

from . import shortcuts
from .compare_view import CompareView
from .document_list import STATUS_GLYPH, DocumentList
from .document_view import DocumentView
from .label_palette import LabelPalette
from .settings_dialog import SettingsDialog
from .span_table import SpanTable
from .stats_view import StatsView

log = logging.getLogger(__name__)


def _machine_first(source: str) -> tuple[bool, str]:
    """Sort key of the Shift+A / Shift+R source list: machine sources (the registry's, plugins'
    included) and imports before the rest, then by name."""
    from annotator.model import sources

    return (source not in (*sources(("model", "llm")), "import"), source)


def _heading(text: str) -> QLabel:
    lab = QLabel(text)
    lab.setStyleSheet("font-weight: 600; color: #374151; padding: 6px 2px 2px 2px;")
    return lab


# Flat scroll bars. Fusion's draw gradients and cost ~2 ms per repaint of a tall bar on the
# raster engine; an edit that adds a row (span table) or changes the text's height repaints
# one, so they were the largest part of a keystroke's repaint (benchmarks/gui.py).
FLAT_SCROLLBARS = """
QScrollBar:vertical { width: 12px; background: palette(base); margin: 0; }
QScrollBar:horizontal { height: 12px; background: palette(base); margin: 0; }
QScrollBar::handle:vertical { background: palette(mid); min-height: 24px; border-radius: 4px;
                              margin: 2px; }
QScrollBar::handle:horizontal { background: palette(mid); min-width: 24px; border-radius: 4px;
                                margin: 2px; }
QScrollBar::handle:hover { background: palette(dark); }
QScrollBar::add-line, QScrollBar::sub-line { width: 0; height: 0; }
QScrollBar::add-page, QScrollBar::sub-page { background: none; }
"""


class MainWindow(QMainWindow):
    """``MainWindow(store, store_factory=None)``; ``store_factory() -> Store`` opens a new
    store on the same database (for other windows and worker threads).

    ``spansChanged(doc_id)`` is emitted after every edit of a document's spans or review
    status (``-1`` after everything was re-read, e.g. when a batch job ended)."""

    spansChanged = Signal(int)

    def __init__(self, store: Any, store_factory: Callable[[], Any] | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setStyleSheet(FLAT_SCROLLBARS)
        # the review policy, the open document, held fragments and the undo history
        self.session = ReviewSession(store, review.get_annotator())
        self.store_factory = store_factory or self._default_factory
        self._panels: dict[str, QWidget] = {}
        self._held_shown = 0  # how many held fragments the status bar says there are
        self._sheet: QWidget | None = None

        self.doc_list = DocumentList(lambda: self.store, self)
        self.view = DocumentView(self)
        self.palette = LabelPalette(self)
        self.span_table = SpanTable(self)
        self.review_notes = QLabel(self)  # the LLM review's reasoning for this document
        self.review_notes.setWordWrap(True)
        self.review_notes.setVisible(False)
        self.source_combo = QComboBox(self)
        self.source_combo.setToolTip("Source that Shift+A / Shift+R act on when the cursor "
                                     "is not on a suggestion")
        self.title = QLabel(self)
        self.title.setStyleSheet("font-size: 15px; font-weight: 600; padding: 4px 2px;")
        self.badge = QLabel(self)
        self._build_layout()
        self._build_status_bar()
        self.actions_ = self._build_actions()
        self._build_menus()
        self._install_optional()

        self.doc_list.documentActivated.connect(self.show_document)
        self.view.currentSpanChanged.connect(self._on_current_span)
        self.view.boundaryDragged.connect(self.drag_boundary)
        self.span_table.spanActivated.connect(self._on_span_clicked)
        self.palette.labelChosen.connect(lambda key: self.apply_label(key, exact=False))
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.resize(1440, 860)
        self.load_project()
        self.view.setFocus()

    # ------------------------------------------------------------------ session state
    @property
    def store(self) -> Any:
        return self.session.store

    @store.setter
    def store(self, store: Any) -> None:
        """Work on another store (File > Open, Team > Work in the gold): the undo history,
        which belongs to the old one, is dropped, and no document is open."""
        self.session.set_store(store)
        self._sync_undo_actions()

    @property
    def doc(self) -> Document | None:
        """The open document (the session's), its spans as they are now."""
        return self.session.doc

    @property
    def annotator(self) -> str:
        return self.session.annotator

    @annotator.setter
    def annotator(self, name: str) -> None:
        self.session.annotator = name

    @property
    def held(self) -> list[tuple[int, int]]:
        """Fragments held with "+" (raw selections)."""
        return self.session.held

    # ------------------------------------------------------------------ construction
    def _default_factory(self) -> Any:
        return self.store.opener()()

    def _build_layout(self) -> None:
        centre = QWidget(self)
        cl = QVBoxLayout(centre)
        cl.setContentsMargins(6, 0, 6, 0)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.badge)
        cl.addLayout(head)
        cl.addWidget(self.view, 1)

        right = QSplitter(Qt.Orientation.Vertical, self)
        top = QWidget(self)
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(_heading("Labels"))
        tl.addWidget(self.palette, 1)
        row = QHBoxLayout()
        row.addWidget(QLabel("Source:"))
        row.addWidget(self.source_combo, 1)
        tl.addLayout(row)
        bottom = QWidget(self)
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(_heading("Spans"))
        bl.addWidget(self.span_table, 1)
        bl.addWidget(self.review_notes)
        right.addWidget(top)
        right.addWidget(bottom)
        right.setSizes([230, 570])

        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.doc_list)
        split.addWidget(centre)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([400, 620, 420])
        split.setChildrenCollapsible(False)
        self.splitter = split
        self.setCentralWidget(split)

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.span_info = QLabel(self)
        self.position_info = QLabel(self)
        self.pending_info = QLabel(self)
        self.pending_info.setToolTip("Suggestions (proposed spans) still to accept or reject")
        # room for a typical count, so that a new count does not re-lay out the status bar
        # (and repaint all of it) on every keystroke
        samples = ((self.pending_info, "000 suggestions left here · 000,000 in the project"),
                   (self.position_info, "000,000 / 000,000"))
        for label, sample in samples:
            label.setMinimumWidth(label.fontMetrics().horizontalAdvance(sample) + 8)
        self.who = QLabel(self)
        sb.addWidget(self.span_info, 1)
        sb.addPermanentWidget(self.pending_info)
        sb.addPermanentWidget(self.position_info)
        sb.addPermanentWidget(self.who)
        self.who.setText(f"annotator: {self.annotator}")

    def _build_actions(self) -> dict[str, QAction]:
        h: dict[str, Callable[[], None]] = {
            "accept": lambda: self.set_current_status("accepted"),
            "reject": lambda: self.set_current_status("rejected"),
            "accept_source": lambda: self.set_source_status("accepted"),
            "reject_source": lambda: self.set_source_status("rejected"),
            "edit_label": self.edit_label,
            "delete_span": self.delete_current,
            "reviewed_next": lambda: self.set_review_status("reviewed", advance=True),
            "skip_next": lambda: self.set_review_status("skipped", advance=True),
            "reopen": lambda: self.set_review_status("todo"),
            "next_doc": lambda: self.step_document(1),
            "prev_doc": lambda: self.step_document(-1),
            "next_pending_doc": lambda: self.step_pending_document(1),
            "prev_pending_doc": lambda: self.step_pending_document(-1),
            "next_suggestion": lambda: self.step_suggestion(False),
            "prev_suggestion": lambda: self.step_suggestion(True),
            "next_disagreement": lambda: self.step_disagreement(False),
            "prev_disagreement": lambda: self.step_disagreement(True),
            "focus_text": self.view.setFocus,
            "focus_list": self.doc_list.view.setFocus,
            "filter": self.focus_filter,
            "end_extend": lambda: self.move_boundary("end", 1),
            "end_shrink": lambda: self.move_boundary("end", -1),
            "start_extend": lambda: self.move_boundary("start", -1),
            "start_shrink": lambda: self.move_boundary("start", 1),
            "hold_fragment": self.hold_fragment,
            "clear_fragments": self.escape,
            "undo": self.undo,
            "redo": self.redo,
            "bulk_history": self.show_bulk_history,
            "toggle_rejected": self.toggle_rejected,
            "toggle_tags": self.toggle_tags,
            "toggle_palette": self.toggle_palette,
            "compare": self.show_compare,
            "statistics": self.show_statistics,
            "shortcuts": self.show_shortcuts,
            "settings": self.show_settings,
            "open_db": self.open_database,
            "quit": self.close,
        }
        acts = shortcuts.install(self, h)
        acts["toggle_rejected"].setCheckable(True)
        for i in ("toggle_tags", "toggle_palette"):
            acts[i].setCheckable(True)
            acts[i].setChecked(True)
        acts["undo"].setEnabled(False)  # they follow the session's history (_sync_undo_actions)
        acts["redo"].setEnabled(False)
        acts["clear_fragments"].setEnabled(False)  # Esc stays free while nothing is held
        # and no panel or sheet is open (see _update_escape)
        self._label_actions: list[QAction] = []
        return acts

    def _build_menus(self) -> None:
        mb = self.menuBar()
        groups = {
            "&File": ["open_db", "settings", None, "quit"],
            "&Edit": ["undo", "redo", "bulk_history", None, "end_extend", "end_shrink",
                      "start_extend", "start_shrink", None, "hold_fragment", "clear_fragments"],
            "&Review": ["accept", "reject", "accept_source", "reject_source", None,
                        "edit_label", "delete_span", None, "reviewed_next", "skip_next",
                        "reopen"],
            "&Navigate": ["next_doc", "prev_doc", "next_pending_doc", "prev_pending_doc", None,
                          "next_suggestion", "prev_suggestion",
                          "next_disagreement", "prev_disagreement", None, "focus_text",
                          "focus_list", "filter"],
            "&View": ["compare", "statistics", None, "toggle_rejected", "toggle_tags",
                      "toggle_palette"],
            "&Help": ["shortcuts"],
        }
        self.menus = {}
        for title, ids in groups.items():
            menu = mb.addMenu(title)
            self.menus[title.replace("&", "")] = menu
            for i in ids:
                if i is None:
                    menu.addSeparator()
                elif i in self.actions_:
                    menu.addAction(self.actions_[i])
        self.label_menu = self.menus["Edit"].addMenu("Apply &label")

    def _install_optional(self) -> None:
        """The Jobs menu (pre-label, silver, import, export, train) and the Team menu."""
        from .jobs_actions import install_job_actions
        from .team import install_team_actions

        install_job_actions(self)
        install_team_actions(self)

    # ------------------------------------------------------------------ project / documents
    def load_project(self) -> None:
        """(Re)read the schema, the labels' keys and the document list."""
        schema = self.store.get_schema()
        if schema is None:
            from annotator.model import LabelSchema

            schema = LabelSchema(name="(none)")
        self.session.schema = schema  # names the labels in Edit > Undo / Redo
        self.palette.set_schema(schema)
        self.view.set_colors(self.palette.colors())
        self.view.set_tags(self.palette.tags())
        self._install_label_actions()
        self.setWindowTitle(f"MedAnnotator — {self.store.project} — "
                            f"{self.store.display_name}")  # never a password
        gc.disable()  # 100k new row tuples would set off full collections (~50 ms)
        try:
            self.doc_list.reload()
        finally:
            gc.enable()
        # the long-lived objects (100k list rows, Qt wrappers, modules) leave the cyclic
        # GC's generations: a full collection no longer scans them (pauses of ~50 ms on
        # 100k documents, in the middle of a keystroke, otherwise); refcounting still frees
        # them when the list is reloaded
        gc.freeze()
        last = self.store.get_setting("gui.last_doc")
        if not (last and self.doc_list.select(int(last))):
            first = self.doc_list.neighbour(None, 1)
            if first is not None:
                self.doc_list.select(first)

    def refresh(self) -> None:
        """Re-read everything from the database (after a background job ended)."""
        current = self.doc.id if self.doc else None
        self.load_project()
        if current is not None and self.doc_list.select(current, emit=False):
            self.show_document(current)
        self.spansChanged.emit(-1)

    def _install_label_actions(self) -> None:
        for act in self._label_actions:
            self.removeAction(act)
            act.deleteLater()
        self._label_actions = []
        self.label_menu.clear()
        for key, label in self.palette.hotkeys.items():
            name = self.palette.names().get(key, label)
            for exact in (False, True):
                act = QAction(f"{name}{' (exact selection)' if exact else ''}", self)
                act.setShortcuts(shortcuts.label_key_sequences(key, exact))
                act.triggered.connect(lambda _c=False, lab=label, ex=exact:
                                      self.apply_label(lab, exact=ex))
                self.addAction(act)
                self.label_menu.addAction(act)
                self._label_actions.append(act)

    def show_document(self, doc_id: int) -> None:
        """Open a document (its text, spans and status) in the centre."""
        self._apply(self.session.open(doc_id))

    def _display(self) -> None:
        """Paint the open document: text, spans, list row, header, the LLM review's notes."""
        doc = self.doc
        self.view.set_text(doc.text)
        self._refresh_spans(doc.spans)
        self.doc_list.select(doc.id, emit=False)
        self._patch_list_row()
        self._update_header()
        notes = review_notes_text(self.store, doc.id)
        self.review_notes.setText(notes)
        self.review_notes.setVisible(bool(notes))
        if self.store.get_setting("gui.last_doc") != doc.id:
            self.store.set_setting("gui.last_doc", doc.id)

    def _refresh_spans(self, spans: list[Span], current_id: int | None = None, *,
                       upserted: Sequence[Span] = (), removed: Sequence[int] = ()) -> None:
        """Show ``spans`` (the document's, in order). With ``upserted``/``removed`` only those
        spans changed: the span table patches their rows instead of being reset."""
        assert self.doc is not None
        self.view.set_spans(spans, current_id)
        if not upserted and not removed:
            self.span_table.set_spans(self.doc.text, spans, self.palette.colors(), {
                lab.key: lab.name for lab in
                (self.palette.schema.labels if self.palette.schema else [])})
        else:
            for span_id in removed:
                self.span_table.remove(span_id)
            for sp in upserted:
                self.span_table.upsert(sp)
        self.span_table.show_current(self.view.current)
        self.palette.set_counts(Counter(s.label for s in spans if s.status != "rejected"))
        keep = self.source_combo.currentData()
        proposed = Counter(s.source for s in spans if s.status == "proposed")
        items = [(f"{src}  ({proposed[src]} proposed)", src) for src in
                 sorted(proposed, key=_machine_first)]
        combo = self.source_combo
        if items != [(combo.itemText(i), combo.itemData(i)) for i in range(combo.count())]:
            combo.clear()
            for text, src in items:
                combo.addItem(text, src)
            combo.setCurrentIndex(max(0, combo.findData(keep)))

    def _update_header(self) -> None:
        if self.doc is None:
            self.title.setText("No document")
            return
        glyph, color = STATUS_GLYPH.get(self.doc.review_status, ("", "#000"))
        self.title.setText(self.doc.name or f"Document {self.doc.id}")
        self.badge.setText(f"{glyph} {self.doc.review_status.replace('_', ' ')}")
        self.badge.setStyleSheet(f"color: {color}; font-weight: 600; padding: 4px 8px;")
        row = self.doc_list.model.row_of(self.doc.id)
        self.position_info.setText(f"{row + 1:,} / {len(self.doc_list.model.visible):,}"
                                   if row >= 0 else "not in this list")
        self._update_pending()

    def _update_pending(self) -> None:
        """"N suggestions left here · M in the project" in the status bar."""
        here = sum(1 for s in self.doc.spans if s.status == "proposed") if self.doc else 0
        total = self.doc_list.model.pending_total()
        self.pending_info.setText(f"{here:,} suggestion{'s' if here != 1 else ''} left here"
                                  f" · {total:,} in the project")

    def _patch_list_row(self) -> None:
        """Patch the current document's list row from the spans in memory (no query)."""
        if self.doc is None:
            return
        from annotator.prelabel.density import density

        shown = [s for s in self.doc.spans if s.status != "rejected"]
        self.doc_list.model.set_doc_state(
            self.doc.id, self.doc.review_status, Counter(s.source for s in shown),
            pending=sum(1 for s in shown if s.status == "proposed"),
            density=density(len(self.doc.text), shown))

    # ------------------------------------------------------------------ outcomes
    def _run(self, intent: Callable[[], Outcome]) -> Outcome | None:
        """Run a session intent and paint its outcome. None when the edit failed otherwise
        than on a span gone (the person is told why; nothing of it is recorded)."""
        try:
            out = intent()
        except Exception as exc:  # noqa: BLE001 - a refused edit is shown, not a crash
            log.exception("edit failed")
            QMessageBox.warning(self, "Edit failed", str(exc))
            return None
        self._apply(out)
        return out

    def _apply(self, out: Outcome) -> None:
        """Paint what an intent changed: the views are patched in place (a 1,000-span
        document is not re-read per keystroke), the list row from memory (no query)."""
        if out.opened:  # opened, or undo/redo followed the change to its document
            self._display()
        elif out.reload:
            self._refresh_spans(self.doc.spans, out.current_id)
            self._update_header()
        else:
            if out.review_status is not None:
                self._update_header()
            if out.upserted or out.removed:
                self._refresh_spans(self.doc.spans, out.current_id, upserted=out.upserted,
                                    removed=out.removed)
        if out.changed:
            self._patch_list_row()
            self._update_pending()
            self.spansChanged.emit(out.doc_id)
        self._sync_undo_actions()
        self._sync_held()
        if out.span_gone is not None:
            self._tell_span_gone()
        elif out.message:
            self.message(out.message)
        if out.goto is not None:
            self.view.set_current(out.goto)

    def _sync_undo_actions(self) -> None:
        """Edit > Undo / Redo: enabled when there is something to undo (redo), and named
        after it ("Undo: accept 'fièvre' as Disease")."""
        s = self.session
        for key, verb, can, text in (("undo", "Undo", s.can_undo, s.undo_text),
                                     ("redo", "Redo", s.can_redo, s.redo_text)):
            act = self.actions_[key]
            title = f"{verb}: {text}" if can and text else verb
            if act.text() != title:
                act.setText(title)
            if act.isEnabled() != can:
                act.setEnabled(can)

    def _sync_held(self) -> None:
        """The lasting status-bar line about held fragments, and Esc, follow the session's."""
        n = len(self.session.held)
        if n == self._held_shown:
            return
        self._held_shown = n
        self._update_escape()
        self._show_held(f"{n} fragment{'s' if n > 1 else ''} held — select the next part "
                        "and press a label key (Esc drops them)" if n else "")

    def _tell_span_gone(self) -> None:
        """An edit found its span(s) gone (a newer pre-label run replaced them): nothing was
        written or recorded, the document was read again; say so, without blocking."""
        self.message(SPAN_GONE_MESSAGE)
        box = QMessageBox(QMessageBox.Icon.Information, "Suggestion replaced",
                          SPAN_GONE_MESSAGE, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()  # window-modal, does not block

    def message(self, text: str) -> None:
        self.statusBar().showMessage(text, 4000)

    # ------------------------------------------------------------------ edits
    def apply_label(self, label: str, *, exact: bool = False) -> None:
        """Label the selection (snapped to words unless ``exact``), with the held fragments
        when there are some, or relabel the current span when nothing is selected."""
        if self.doc is None:
            return
        out = self._run(lambda: self.session.label(label, self.view.selection_range(),
                                                   exact=exact, current=self.view.current))
        if out is not None and out.selection_used:
            self._drop_selection()

    def _drop_selection(self) -> None:
        """The selection would hide the new span's colour: drop it, the caret stays at its
        end."""
        self.view.set_focus_region(None)
        cur = self.view.textCursor()
        if cur.hasSelection():
            cur.clearSelection()
            self.view.setTextCursor(cur)

    # discontinuous spans ----------------------------------------------------------
    def hold_fragment(self) -> None:
        """Hold the selection as one fragment of a discontinuous span ("+")."""
        out = self.session.hold(self.view.selection_range())
        if out.selection_used:
            self._drop_selection()
        self._apply(out)

    def escape(self) -> None:
        """Esc: drop held fragments, else close the shortcut sheet, else hide the Compare and
        Statistics panels."""
        if self.held:
            self.clear_fragments()
        elif self._sheet is not None and self._sheet.isVisible():
            self._sheet.close()
        else:
            for dock in self._docks():
                dock.hide()
            self.view.setFocus()
        self._update_escape()

    def _docks(self) -> list[QDockWidget]:
        return [d for d in self.findChildren(QDockWidget) if d.isVisible()]

    def _update_escape(self) -> None:
        """Esc is taken by the window only while it has something to drop or close."""
        sheet = self._sheet is not None and self._sheet.isVisible()
        self.actions_["clear_fragments"].setEnabled(bool(self.held or sheet or self._docks()))

    def clear_fragments(self) -> None:
        self._apply(self.session.drop_held())

    def _show_held(self, text: str) -> None:
        """A lasting status-bar message (until the fragments are used or dropped)."""
        if text:
            self.statusBar().showMessage(text)
        else:
            self.statusBar().clearMessage()

    # boundaries -------------------------------------------------------------------
    def target_span(self) -> Span | None:
        """The span a key acts on: the one under the cursor, else the one the review flow is
        on (the last current span: a click in the margin does not lose it)."""
        cur = self.view.current
        if cur is not None:
            return cur
        flow = self.session.flow_span(include_rejected=self.view.show_rejected)
        if flow is not None:
            self.view.set_current(flow, move_caret=False)
        return flow

    def move_boundary(self, edge: str, direction: int) -> None:
        """Move the ``edge`` ("start"/"end") of the span under the cursor one word
        ``direction``; a person's edit of a suggestion accepts it (as relabelling does)."""
        self._run(lambda: self.session.move_boundary(self.target_span(), edge, direction))

    def drag_boundary(self, span: Span, edge: str, pos: int, exact: bool) -> None:
        """An edge of ``span`` dropped at ``pos`` with the mouse: snapped to the word unless
        ``exact``; one undoable edit, and a person's edit of a suggestion accepts it."""
        cur = self.view.current
        if cur is None or cur.id != span.id:
            return
        self._run(lambda: self.session.drag_boundary(cur, edge, pos, exact=exact))

    def set_current_status(self, status: str) -> None:
        """Accept or reject the span a key acts on; the flow goes on to the next suggestion."""
        self._run(lambda: self.session.set_status(self.target_span(), status))

    def current_source(self) -> str | None:
        cur = self.view.current
        if cur is not None and cur.status == "proposed":
            return cur.source
        return self.source_combo.currentData()

    def set_source_status(self, status: str) -> None:
        src = self.current_source()
        self._run(lambda: self.session.decide_source(src, status))

    def delete_current(self) -> None:
        self._run(lambda: self.session.delete(self.target_span()))

    def edit_label(self) -> None:
        cur = self.target_span()
        if self.doc is None or cur is None:
            self.message(NO_SPAN)
            return
        rects = self.view.range_rects(cur.start, cur.end)
        pt = rects[0].bottomLeft().toPoint() if rects else self.view.rect().center()
        label = self.palette.popup(self.view.viewport().mapToGlobal(pt), cur.label)
        self._run(lambda: self.session.relabel(cur, label))

    def set_review_status(self, status: str, *, advance: bool = False) -> None:
        """Set the document's status; the list, filtered by status, drops it at once (the
        next document is taken before, so it is the one after it in the list as shown)."""
        if self.doc is None:
            return
        nxt = self.doc_list.neighbour(self.doc.id, 1) if advance else None
        out = self._run(lambda: self.session.mark(status))
        if out is not None and out.changed:
            self.doc_list.refilter_status()
        if advance:
            if nxt is None:
                self.message("That was the last document in this list")
            else:
                self.show_document(nxt)
        self._update_header()

    def undo(self) -> None:
        """Undo the session's newest edit (on whichever document it was made)."""
        self._run(self.session.undo)

    def redo(self) -> None:
        self._run(self.session.redo)

    # ------------------------------------------------------------------ navigation
    def step_document(self, step: int) -> None:
        nxt = self.doc_list.neighbour(self.doc.id if self.doc else None, step)
        if nxt is None:
            self.message("No more documents in this list")
            return
        self.show_document(nxt)

    def step_suggestion(self, backward: bool) -> None:
        """J / K: the next (previous) suggestion, wrapping round the document."""
        self._apply(self.session.step_suggestion(self.view.caret(), current=self.view.current,
                                                 backward=backward))

    def step_pending_document(self, step: int) -> None:
        """Open the next (``step`` 1) or previous (-1) document in the list as shown that
        still has suggestions; wraps around the list."""
        lst, model = self.doc_list, self.doc_list.model
        n = len(model.visible)
        row = model.row_of(self.doc.id) if self.doc is not None else -1
        start = row if row >= 0 else (-1 if step > 0 else n)
        for k in range(1, n + 1):
            r = (start + step * k) % n
            doc_id = model.doc_id(r)
            if model.pending.get(doc_id) and (self.doc is None or doc_id != self.doc.id):
                wrapped = (r < start) if step > 0 else (r > start)
                self.show_document(doc_id)
                lst.select(doc_id, emit=False)
                if wrapped:
                    self.message("Wrapped to the first document with suggestions" if step > 0
                                 else "Wrapped to the last document with suggestions")
                return
        self.message("No other document in this list has suggestions left")

    def step_disagreement(self, backward: bool) -> None:
        if self.doc is None:
            return
        region = self.view.focus_region
        pos = region[0] if region else (self.view.caret() - (0 if backward else 1))
        from annotator import compare  # among the sources that ran here (their runs know)

        runs = compare.source_runs(self.store, [self.doc.id]).get(self.doc.id, {})
        reg = compare.next_disagreement(self.doc, pos, backward=backward, runs=runs)
        found = (reg.start, reg.end) if reg is not None else None
        if found is None:
            self.message("No more disagreements in this document")
        else:
            self.view.set_focus_region(found)

    def focus_filter(self) -> None:
        self.doc_list.search.setFocus()
        self.doc_list.search.selectAll()

    # ------------------------------------------------------------------ reactions
    def _on_current_span(self, sp: Span | None) -> None:
        self.span_table.show_current(sp)
        self.session.follow(sp)
        if sp is None:
            self.span_info.setText("")
            return
        name = self.palette.schema.get(sp.label).name if (
            self.palette.schema and self.palette.schema.get(sp.label)) else sp.label
        version = (sp.source_version or "").split(";")[0][:40]
        parts = [f"<b>{name}</b>", sp.source + (f" ({version})" if version else "")]
        if sp.score is not None:
            parts.append(f"score {sp.score:.2f}")
        parts.append(sp.status)
        if sp.annotator:
            parts.append(f"by {sp.annotator}")
        self.span_info.setText(" · ".join(parts))

    def _on_span_clicked(self, sp: Span) -> None:
        self.view.set_current(sp)
        self.view.setFocus()

    def _context_menu(self, pos) -> None:
        sp = self.view.span_at_point(pos)
        if sp is not None:
            self.view.set_current(sp, move_caret=False)
        menu = self.view.createStandardContextMenu(pos)
        if sp is not None:
            menu.insertSeparator(menu.actions()[0] if menu.actions() else None)
            for i in ("edit_label", "delete_span", "reject", "accept"):
                menu.insertAction(menu.actions()[0], self.actions_[i])
        menu.exec(self.view.viewport().mapToGlobal(pos))

    def toggle_rejected(self) -> None:
        self.view.set_show_rejected(self.actions_["toggle_rejected"].isChecked())

    def toggle_tags(self) -> None:
        self.view.set_show_tags(self.actions_["toggle_tags"].isChecked())

    def toggle_palette(self) -> None:
        self.palette.set_safe(self.actions_["toggle_palette"].isChecked())
        self.view.set_colors(self.palette.colors())
        if self.doc is not None:
            self._refresh_spans(self.doc.spans, self.view.current.id if self.view.current
                                else None)

    # ------------------------------------------------------------------ other windows
    def _panel(self, name: str, build: Callable[[], QWidget]) -> QWidget:
        """The ``name`` panel, built once and docked at the bottom of the window (Compare
        and Statistics share the area as tabs; each can be floated or closed; Esc hides)."""
        w = self._panels.get(name)
        if w is None:
            w = build()
            dock = QDockWidget(name, self)
            dock.setObjectName(f"dock-{name.lower()}")
            dock.setWidget(w)
            dock.setAllowedAreas(Qt.DockWidgetArea.BottomDockWidgetArea
                                 | Qt.DockWidgetArea.RightDockWidgetArea)
            others = [p.parentWidget() for p in self._panels.values()]
            self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
            if others:
                self.tabifyDockWidget(others[0], dock)
            else:
                self.resizeDocks([dock], [360], Qt.Orientation.Vertical)
            dock.visibilityChanged.connect(lambda _v: self._update_escape())
            self._panels[name] = w
        return w

    def _show_panel(self, w: QWidget) -> None:
        dock = w.parentWidget()
        dock.show()
        dock.raise_()
        self._update_escape()

    def show_compare(self) -> None:
        def build() -> QWidget:
            w = CompareView(self.store_factory, self)
            w.documentRequested.connect(self.show_document)
            w.regionActivated.connect(self._goto_region)
            self.spansChanged.connect(w.spans_changed)
            return w

        w = self._panel("Compare", build)
        if self.doc is not None:
            w.show_document(self.doc.id)
        self._show_panel(w)

    def _goto_region(self, doc_id: int, start: int, end: int) -> None:
        if self.doc is None or self.doc.id != doc_id:
            self.show_document(doc_id)
        self.view.set_focus_region((start, end))
        self.activateWindow()

    def show_bulk_history(self) -> None:
        """Edit > Bulk decisions…: list the project's bulk decisions, undo one."""
        from ui.bulk_history import BulkHistoryDialog

        dlg = BulkHistoryDialog(self)
        self._bulk_history = dlg
        dlg.show()

    def show_statistics(self) -> None:
        w = self._panel("Statistics", lambda: StatsView(self.store_factory, self))
        w.refresh()
        self._show_panel(w)

    def show_settings(self) -> None:
        dlg = SettingsDialog(self.store, self)
        dlg.exec()
        self.annotator = review.get_annotator()
        self.who.setText(f"annotator: {self.annotator}")

    def show_shortcuts(self) -> None:
        dlg = shortcuts.ShortcutSheet(self.palette.names(), self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        if self._sheet is not None and self._sheet.isVisible():
            self._sheet.close()
        self._sheet = dlg
        dlg.finished.connect(lambda _r: self._sheet_closed(dlg))
        dlg.show()
        self._update_escape()

    def _sheet_closed(self, dlg: QWidget) -> None:
        if self._sheet is dlg:
            self._sheet = None
        self._update_escape()

    def open_database(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a project database", "",
                                              "SQLite projects (*.sqlite *.db);;All files (*)")
        if not path:
            return
        self.set_store(self.store.open_other(path, self.store.project))

    def set_store(self, store: Any) -> None:
        """Switch to another database (the undo history belongs to the old one)."""
        for w in self._panels.values():
            dock = w.parentWidget()
            w.close()
            self.removeDockWidget(dock)
            dock.deleteLater()
        self._panels.clear()
        self.store = store  # the session drops its history and the open document
        self.load_project()


__all__ = ["MainWindow", "SPAN_GONE_MESSAGE"]
