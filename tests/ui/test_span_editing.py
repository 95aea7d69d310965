"""Editing span boundaries and creating discontinuous spans, from the keyboard.

Real widgets, real key events, a real SQLite file; the database is always checked through a
SECOND ``Store`` (an edit is committed the moment it is made), and undo/redo must put it back.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from annotator.model import Document, Span
from annotator.schemas import load_schema

TEXT = "Patient avec l'hypertension artérielle et une fièvre, traité par amlodipine."
HYPER = (15, 38)  # "hypertension artérielle" (gliner2, proposed)
FIEVRE = (46, 52)  # "fièvre" (lexicon, proposed)
AMLO = (65, 75)  # "amlodipine" (human, accepted)
ALT = Qt.KeyboardModifier.AltModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture
def project(tmp_path):
    from db import Store

    path = str(tmp_path / "edit.sqlite")
    assert TEXT[slice(*HYPER)] == "hypertension artérielle"
    assert TEXT[slice(*FIEVRE)] == "fièvre" and TEXT[slice(*AMLO)] == "amlodipine"
    with Store(path) as st:
        st.set_schema(load_schema("finemed-fr"))
        st.import_documents([Document(text=TEXT, name="doc", spans=[
            Span(*HYPER, "disease", source="gliner2", status="proposed", score=0.91),
            Span(*FIEVRE, "disease", source="lexicon", status="proposed", score=1.0),
            Span(*AMLO, "drug", source="human", status="accepted", annotator="dr.other"),
        ])])
    return path


def spans(path):
    """``{(source, label): Span}`` as a second process reads the file now."""
    from db import Store

    with Store(path) as st:
        doc = st.get_document(st.document_ids()[0])
    return {(s.source, s.label): s for s in doc.spans}


def put_caret(w, pos):
    cur = w.view.textCursor()
    cur.setPosition(pos)
    w.view.setTextCursor(cur)


def undo(qtbot, w):
    qtbot.keyClick(w.view, Qt.Key_Z, CTRL)


def redo(qtbot, w):
    qtbot.keyClick(w.view, Qt.Key_Z, CTRL | SHIFT)


def status_text(w):
    return w.statusBar().currentMessage()


# ---------------------------------------------------------------- boundaries
def by_id(path, span_id):
    """The span ``span_id`` as a second process reads the file now."""
    from db import Store

    with Store(path) as st:
        return st.get_span(span_id)


def test_alt_right_extends_the_end_of_a_suggestion_by_one_word(window, project, qtbot):
    put_caret(window, HYPER[0] + 2)
    assert window.view.current.source == "gliner2"
    sid = window.view.current.id
    qtbot.keyClick(window.view, Qt.Key_Right, ALT)
    sp = by_id(project, sid)
    assert TEXT[sp.start:sp.end] == "hypertension artérielle et"
    # a person's edit of a suggestion is a human decision that remembers the suggestion
    assert (sp.source, sp.score, sp.status, sp.annotator) == (
        "human", None, "accepted", "dr.test")
    origin = sp.meta["derived_from"]
    assert (origin["source"], origin["score"], origin["start"], origin["end"]) == (
        "gliner2", 0.91, *HYPER)
    assert window.view.current.id == sp.id  # still the span under the cursor
    undo(qtbot, window)
    back = by_id(project, sid)
    assert (back.start, back.end, back.status, back.source, back.score) == (
        *HYPER, "proposed", "gliner2", 0.91)
    assert "derived_from" not in back.meta
    redo(qtbot, window)
    again = by_id(project, sid)
    assert (again.start, again.end, again.status, again.source) == (15, 41, "accepted",
                                                                     "human")


def test_alt_left_shrinks_the_end_and_never_empties_the_span(window, project, qtbot):
    put_caret(window, HYPER[0] + 2)
    sid = window.view.current.id
    qtbot.keyClick(window.view, Qt.Key_Left, ALT)
    sp = by_id(project, sid)
    assert TEXT[sp.start:sp.end] == "hypertension"
    qtbot.keyClick(window.view, Qt.Key_Left, ALT)  # one word left: nothing left, refused
    again = by_id(project, sid)
    assert (again.start, again.end) == (sp.start, sp.end)
    assert "cannot shrink" in status_text(window)
    undo(qtbot, window)
    assert (by_id(project, sid).start, by_id(project, sid).end) == HYPER


def test_alt_shift_arrows_move_the_start(window, project, qtbot):
    put_caret(window, HYPER[0] + 2)
    sid = window.view.current.id
    qtbot.keyClick(window.view, Qt.Key_Right, ALT | SHIFT)
    sp = by_id(project, sid)
    assert TEXT[sp.start:sp.end] == "artérielle"
    qtbot.keyClick(window.view, Qt.Key_Right, ALT | SHIFT)  # would empty it: refused
    sp = by_id(project, sid)
    assert TEXT[sp.start:sp.end] == "artérielle"
    qtbot.keyClick(window.view, Qt.Key_Left, ALT | SHIFT)
    qtbot.keyClick(window.view, Qt.Key_Left, ALT | SHIFT)  # over the elision: "l'"
    sp = by_id(project, sid)
    assert TEXT[sp.start:sp.end] == "l'hypertension artérielle"
    assert sp.meta["derived_from"]["start"] == HYPER[0]  # the first origin is kept
    for _ in range(3):
        undo(qtbot, window)
    sp = by_id(project, sid)
    assert (sp.start, sp.end, sp.status, sp.source) == (*HYPER, "proposed", "gliner2")


def test_editing_a_human_span_records_the_new_annotator(window, project, qtbot):
    put_caret(window, AMLO[0] + 1)
    qtbot.keyClick(window.view, Qt.Key_Left, ALT | SHIFT)
    sp = spans(project)[("human", "drug")]
    assert TEXT[sp.start:sp.end] == "par amlodipine"
    assert (sp.source, sp.status, sp.annotator) == ("human", "accepted", "dr.test")
    qtbot.keyClick(window.view, Qt.Key_Right, ALT)  # no word after "amlodipine."
    assert spans(project)[("human", "drug")].end == AMLO[1]


def test_no_span_under_the_cursor_is_a_message(window, project, qtbot):
    put_caret(window, 3)  # inside "Patient"
    before = spans(project)
    qtbot.keyClick(window.view, Qt.Key_Right, ALT)
    assert spans(project) == before
    assert "No span" in status_text(window)


# ---------------------------------------------------------------- discontinuous spans
def test_plus_holds_a_fragment_then_a_label_key_creates_a_discontinuous_span(
        window, project, qtbot):
    window.view.select_range(17, 21)  # "pert" inside "hypertension"
    qtbot.keyClick(window.view, Qt.Key_Plus)
    assert "1 fragment held" in status_text(window)
    assert window.view.selection_range() is None
    window.view.select_range(47, 50)  # inside "fièvre"
    qtbot.keyClick(window.view, Qt.Key_3)  # body_part
    sp = spans(project)[("human", "body_part")]
    assert sp.fragments == ((15, 27), (46, 52))  # each part snapped to words
    assert sp.surface(TEXT) == "hypertension fièvre"
    assert (sp.status, sp.annotator) == ("accepted", "dr.test")
    assert window.held == [] and "held" not in status_text(window)
    window.view.grab()  # paints the fragments and the line joining them
    undo(qtbot, window)
    assert ("human", "body_part") not in spans(project)
    redo(qtbot, window)
    again = spans(project)[("human", "body_part")]
    assert (again.id, again.fragments) == (sp.id, ((15, 27), (46, 52)))


def test_three_fragments_and_exact_selection(window, project, qtbot):
    for sel in ((0, 3), (8, 12)):
        window.view.select_range(*sel)
        qtbot.keyClick(window.view, Qt.Key_Plus)
    assert "2 fragments held" in status_text(window)
    window.view.select_range(46, 49)
    qtbot.keyClick(window.view, Qt.Key_8, ALT)  # Alt keeps the exact selections
    sp = spans(project)[("human", "living_beings")]
    assert sp.fragments == ((0, 3), (8, 12), (46, 49))


def test_escape_drops_the_held_fragment(window, project, qtbot):
    window.view.select_range(0, 7)
    qtbot.keyClick(window.view, Qt.Key_Plus)
    qtbot.keyClick(window.view, Qt.Key_Escape)
    assert window.held == []
    window.view.select_range(8, 12)
    qtbot.keyClick(window.view, Qt.Key_8)
    sp = spans(project)[("human", "living_beings")]
    assert (sp.start, sp.end, sp.fragments) == (8, 12, None)


def test_plus_without_selection_holds_nothing(window, project, qtbot):
    put_caret(window, 3)
    qtbot.keyClick(window.view, Qt.Key_Plus)
    assert window.held == []
    assert "Select the first part" in status_text(window)


def test_boundaries_of_a_discontinuous_span_are_refused(window, project, qtbot):
    window.view.select_range(*HYPER)
    qtbot.keyClick(window.view, Qt.Key_Plus)
    window.view.select_range(*AMLO)
    qtbot.keyClick(window.view, Qt.Key_5)
    sp = next(s for s in spans(project).values() if s.fragments)
    window.view.set_current(next(s for s in window.doc.spans if s.id == sp.id))
    qtbot.keyClick(window.view, Qt.Key_Right, ALT)
    qtbot.keyClick(window.view, Qt.Key_Left, ALT | SHIFT)
    after = {s.id: s for s in spans(project).values()}[sp.id]
    assert (after.start, after.end, after.fragments) == (sp.start, sp.end, sp.fragments)
    assert "discontinuous" in status_text(window)


def test_new_keys_are_on_the_shortcut_sheet(window):
    from ui.shortcuts import BY_ID

    window.show_shortcuts()
    table = window._sheet.table
    keys = {table.item(r, 1).text() for r in range(table.rowCount())}
    for i in ("end_extend", "end_shrink", "start_extend", "start_shrink", "hold_fragment",
              "clear_fragments"):
        assert BY_ID[i].help
    assert {"+", "Esc"} <= keys


# ---------------------------------------------------------------- boundaries, mouse
def _edge_point(view, span_range, edge):
    rects = view.range_rects(*span_range)
    r = rects[-1] if edge == "end" else rects[0]
    from PySide6.QtCore import QPoint

    return QPoint(round(r.right() if edge == "end" else r.left()), round(r.center().y()))


def _char_point(view, pos):
    from PySide6.QtGui import QTextCursor

    cur = QTextCursor(view.document())
    cur.setPosition(pos)
    return view.cursorRect(cur).center()


def _drag(qtbot, view, a, b, modifier=Qt.KeyboardModifier.NoModifier):
    vp = view.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    qtbot.mouseMove(vp, b)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, modifier, b)


def test_mouse_drag_of_the_end_edge_snaps_to_the_word_and_undoes(window, project, qtbot):
    view = window.view
    put_caret(window, HYPER[0] + 2)
    assert view.current.source == "gliner2"
    sid = view.current.id
    grab = _edge_point(view, HYPER, "end")
    assert view.edge_at(grab) == "end"
    _drag(qtbot, view, grab, _char_point(view, FIEVRE[0] + 3))  # dropped inside "fièvre"
    sp = by_id(project, sid)
    assert TEXT[sp.start:sp.end] == "hypertension artérielle et une fièvre"
    assert (sp.status, sp.annotator, sp.source) == ("accepted", "dr.test", "human")
    assert sp.meta["derived_from"]["score"] == 0.91
    undo(qtbot, window)
    back = by_id(project, sid)
    assert (back.start, back.end, back.status, back.score) == (*HYPER, "proposed", 0.91)


def test_mouse_drag_of_the_start_edge_with_alt_keeps_the_exact_offset(window, project, qtbot):
    view = window.view
    put_caret(window, HYPER[0] + 2)
    sid = view.current.id
    grab = _edge_point(view, HYPER, "start")
    assert view.edge_at(grab) == "start"
    _drag(qtbot, view, grab, _char_point(view, HYPER[0] + 5), Qt.KeyboardModifier.AltModifier)
    sp = by_id(project, sid)
    assert (sp.start, sp.end) == (HYPER[0] + 5, HYPER[1])  # "rtension artérielle"


def test_mouse_press_away_from_an_edge_selects_text_and_edits_nothing(window, project, qtbot):
    view = window.view
    put_caret(window, HYPER[0] + 2)
    before = spans(project)
    inside = _char_point(view, HYPER[0] + 6)
    assert view.edge_at(inside) is None
    _drag(qtbot, view, inside, _char_point(view, HYPER[0] + 10))
    assert spans(project) == before
    assert view.textCursor().hasSelection()  # an ordinary selection, ready for a label key
