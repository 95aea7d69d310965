"""Every key binding of the review desk, in one table.

This table is the single source for the QActions the main window creates (``install``) and
for the shortcut sheet (``?``). Label hotkeys come from the project's schema (1-9, 0, then
letters); the tool's own single-character keys are ``a r n p d u z j k e s q x ? +``, which
the shipped schemas never use (resources/README.md). All 26 letters are taken (tool keys plus
the label hotkeys ``b c f g h i l m o t v w y`` of the large schemas), so new tool keys are
non-letters or modified keys.

Span editing: ``Alt+Right`` / ``Alt+Left`` move the end of the span under the cursor one
word right (extend) / left (shrink); ``Alt+Shift+Left`` / ``Alt+Shift+Right`` move its start
one word left (extend) / right (shrink) -- the arrow says where the boundary goes. (Not
Ctrl+Alt+arrows: desktops switch workspaces with them, and Ctrl+Alt is AltGr on Windows.)
A discontinuous span: select the first part, ``+`` holds it, select the next part, press a
label key; ``Esc`` drops the held parts.

On an AZERTY keyboard the digit row types ``& é " ' ( - è _ ç à`` without Shift: those
characters are bound to labels 1-0 too, so label keys work without Shift.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


@dataclass(frozen=True)
class Binding:
    id: str
    keys: tuple[str, ...]
    text: str
    group: str
    help: str = ""


BINDINGS: tuple[Binding, ...] = (
    # -- review the document
    Binding("accept", ("A",), "Accept", "Review", "Accept the span under the cursor"),
    Binding("reject", ("R",), "Reject", "Review", "Reject the span under the cursor"),
    Binding("accept_source", ("Shift+A",), "Accept all of source", "Review",
            "Accept every suggestion of the current source in this document"),
    Binding("reject_source", ("Shift+R",), "Reject all of source", "Review",
            "Reject every suggestion of the current source in this document"),
    Binding("edit_label", ("E",), "Change label…", "Review",
            "Change the label of the span under the cursor (popup)"),
    Binding("delete_span", ("Del", "X"), "Delete span", "Review",
            "Delete the span under the cursor"),
    Binding("reviewed_next", ("Ctrl+Return", "Ctrl+Enter"), "Mark reviewed && next", "Review",
            "Mark the document reviewed and open the next one"),
    Binding("skip_next", ("S",), "Skip document", "Review",
            "Mark the document skipped and open the next one"),
    Binding("reopen", ("U",), "Mark to do", "Review", "Set the document back to 'to do'"),
    # -- move around
    Binding("next_doc", ("N", "Ctrl+PgDown"), "Next document", "Navigate"),
    Binding("prev_doc", ("P", "Ctrl+PgUp"), "Previous document", "Navigate"),
    Binding("next_pending_doc", ("Shift+N",), "Next document with suggestions", "Navigate",
            "Open the next document in the list that still has suggestions (wraps around)"),
    Binding("prev_pending_doc", ("Shift+P",), "Previous document with suggestions", "Navigate",
            "Open the previous document in the list that still has suggestions"),
    Binding("next_suggestion", ("J",), "Next suggestion", "Navigate",
            "Go to the next proposed span (after the last one: back to the first)"),
    Binding("prev_suggestion", ("K",), "Previous suggestion", "Navigate",
            "Go to the previous proposed span (before the first one: to the last)"),
    Binding("next_disagreement", ("D",), "Next disagreement", "Navigate",
            "Select the next region where sources disagree"),
    Binding("prev_disagreement", ("Shift+D",), "Previous disagreement", "Navigate"),
    Binding("focus_text", ("Ctrl+T",), "Focus text", "Navigate"),
    Binding("focus_list", ("Ctrl+L",), "Focus document list", "Navigate"),
    Binding("filter", ("Ctrl+F",), "Filter documents…", "Navigate",
            "Type to filter the document list by name or text"),
    # -- edit the span under the cursor (Alt+arrow: its end; Alt+Shift+arrow: its start)
    Binding("end_extend", ("Alt+Right",), "Extend end by a word", "Edit",
            "Move the end of the span under the cursor one word right"),
    Binding("end_shrink", ("Alt+Left",), "Shrink end by a word", "Edit",
            "Move the end of the span under the cursor one word left"),
    Binding("start_extend", ("Alt+Shift+Left",), "Extend start by a word", "Edit",
            "Move the start of the span under the cursor one word left"),
    Binding("start_shrink", ("Alt+Shift+Right",), "Shrink start by a word", "Edit",
            "Move the start of the span under the cursor one word right"),
    Binding("hold_fragment", ("+",), "Hold fragment", "Edit",
            "Hold the selection as a fragment of a discontinuous span; select the next "
            "part and press a label key"),
    Binding("clear_fragments", ("Esc",), "Drop held fragments / close panels", "Edit",
            "Forget the fragments held with +; else close this sheet or the Compare and "
            "Statistics panels"),
    # -- undo
    Binding("undo", ("Ctrl+Z",), "Undo", "Edit", "Undo the last edit of this session"),
    Binding("redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "Redo", "Edit"),
    Binding("bulk_history", ("Ctrl+Shift+H",), "Bulk decisions…", "Edit",
            "The bulk decisions made from the command line (review accept, reject, mark), "
            "each of which can be undone"),
    # -- view
    Binding("toggle_rejected", ("Ctrl+H",), "Show rejected spans", "View",
            "Show rejected spans struck through"),
    Binding("toggle_tags", ("Ctrl+Shift+T",), "Label tags", "View",
            "Show a short label tag under each span (a cue that does not rely on colour)"),
    Binding("toggle_palette", ("Ctrl+Shift+K",), "Colour-blind-safe colours", "View",
            "Okabe-Ito colours for up to 8 labels; off: the schema's own colours"),
    Binding("compare", ("Ctrl+D",), "Compare sources", "View",
            "Side-by-side view of what each source said"),
    Binding("statistics", ("Ctrl+I",), "Statistics", "View"),
    Binding("shortcuts", ("?", "F1"), "Keyboard shortcuts", "Help", "This sheet"),
    # -- team (ui/team.py)
    Binding("switch_layer", ("Ctrl+Shift+G",), "Work in the gold / my layer", "Team",
            "Switch between your own layer (the documents assigned to you) and the shared "
            "gold project"),
    Binding("curation", ("Ctrl+Shift+C",), "Curation…", "Team",
            "The annotators' spans side by side; A takes one into the gold, R rejects it"),
    # -- application
    Binding("settings", ("Ctrl+,",), "Settings…", "File"),
    Binding("open_db", ("Ctrl+O",), "Open database…", "File"),
    Binding("quit", ("Ctrl+Q",), "Quit", "File"),
)

LABEL_KEY_HELP = ("Label keys", ("Select text, then press a label key: the span is snapped to "
                  "whole words. Alt+key keeps the exact selection. With no selection, the key "
                  "relabels the span under the cursor."))
EXACT_MODIFIER = "Alt"
MOUSE_DRAG_HELP = ("Edit", "Mouse drag", "Drag an edge of the framed span to move that "
                   "boundary (snapped to the word; hold Alt for the exact character)")
AZERTY_DIGITS = {"1": "&", "2": "é", "3": '"', "4": "'", "5": "(", "6": "-", "7": "è",
                 "8": "_", "9": "ç", "0": "à"}
DEFAULT_LABEL_KEYS = tuple("1234567890")

BY_ID = {b.id: b for b in BINDINGS}


def label_key_sequences(key: str, exact: bool = False) -> list[QKeySequence]:
    """Key sequences for a label hotkey (plus its AZERTY digit-row twin)."""
    keys = [key] + ([AZERTY_DIGITS[key]] if key in AZERTY_DIGITS else [])
    prefix = f"{EXACT_MODIFIER}+" if exact else ""
    return [QKeySequence(prefix + k) for k in keys]


def install(window: QWidget, handlers: Mapping[str, Callable[[], None]],
            *, context: Qt.ShortcutContext = Qt.ShortcutContext.WindowShortcut
            ) -> dict[str, QAction]:
    """Create one QAction per binding that has a handler; returns ``{id: action}``.

    Actions are added to ``window`` so that their keys work wherever focus is in it
    (line edits keep plain letters for typing).
    """
    actions: dict[str, QAction] = {}
    for b in BINDINGS:
        fn = handlers.get(b.id)
        if fn is None:
            continue
        act = QAction(b.text, window)
        act.setShortcuts([QKeySequence(k) for k in b.keys])
        act.setShortcutContext(context)
        if b.help:
            act.setStatusTip(b.help)
            act.setToolTip(f"{b.help} ({b.keys[0]})")
        act.triggered.connect(lambda _checked=False, f=fn: f())
        window.addAction(act)
        actions[b.id] = act
    return actions


def sheet_rows(label_keys: Mapping[str, str] | None = None) -> list[tuple[str, str, str]]:
    """``(group, keys, what)`` rows of the shortcut sheet, labels included."""
    rows = [(b.group, ", ".join(QKeySequence(k).toString(QKeySequence.NativeText)
                                for k in b.keys),
             b.help or b.text.replace("&&", "&")) for b in BINDINGS]
    rows.append(("Labels", "1-9, 0, …", LABEL_KEY_HELP[1]))
    rows.append(MOUSE_DRAG_HELP)
    for key, name in (label_keys or {}).items():
        rows.append(("Labels", f"{key} / {EXACT_MODIFIER}+{key}", f"Label: {name}"))
    return rows


class ShortcutSheet(QDialog):
    """The ``?`` dialog: every key, from the same table the actions are built from."""

    def __init__(self, label_keys: Mapping[str, str] | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = sheet_rows(label_keys)
        table = QTableWidget(len(rows), 3, self)
        table.setHorizontalHeaderLabels(["Group", "Keys", "Action"])
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                item = QTableWidgetItem(value)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled)
                table.setItem(r, c, item)
        table.verticalHeader().hide()
        table.horizontalHeader().setStretchLastSection(True)
        table.resizeColumnsToContents()
        table.setAlternatingRowColors(True)
        self.table = table
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(table)
        lay.addWidget(buttons)
        self.resize(640, 560)
