"""The review desk driven through its real widgets and keys, on a real SQLite file.

Every check of the database goes through a SECOND ``Store`` opened on the file while the
window is still open: an edit must be committed the moment it is made (kill-safety).
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from annotator.model import Document, Span
from annotator.schemas import load_schema

TEXT = "Patient avec l'hypertension artérielle et une fièvre, traité par amlodipine."
HYPER = (15, 38)  # "hypertension artérielle"
FIEVRE = (46, 52)  # "fièvre"
AMLO = (65, 75)  # "amlodipine"


@pytest.fixture
def project(tmp_path):
    """A project with two documents: the first has suggestions from two sources."""
    from db import Store

    path = str(tmp_path / "desk.sqlite")
    assert TEXT[slice(*HYPER)] == "hypertension artérielle"
    assert TEXT[slice(*FIEVRE)] == "fièvre" and TEXT[slice(*AMLO)] == "amlodipine"
    with Store(path) as st:
        st.set_schema(load_schema("finemed-fr"))
        st.import_documents([
            Document(text=TEXT, name="a-first", spans=[
                Span(*FIEVRE, "disease", source="lexicon", status="proposed", score=1.0),
                Span(*AMLO, "drug", source="lexicon", status="proposed", score=1.0),
                Span(*HYPER, "disease", source="gliner2", status="proposed", score=0.91),
            ]),
            Document(text="Douleur thoracique au repos.", name="b-second"),
            Document(text="Toux sèche depuis trois semaines.", name="c-third"),
        ])
    return path


def fresh(path, doc_id=None):
    """What a second process would read from the file right now."""
    from db import Store

    with Store(path) as st:
        ids = st.document_ids()
        return st.get_document(doc_id or ids[0])


def put_caret(w, pos):
    cur = w.view.textCursor()
    cur.setPosition(pos)
    w.view.setTextCursor(cur)


def test_opens_first_document_with_its_spans(window):
    assert window.doc.name == "a-first"
    assert window.view.toPlainText() == TEXT
    assert len(window.view.spans) == 3
    assert window.span_table.model().rowCount() == 3


def test_select_and_label_key_creates_word_snapped_span(window, project, qtbot):
    window.view.select_range(17, 21)  # "pert" inside "l'hypertension"
    qtbot.keyClick(window.view, Qt.Key_3)  # 3 = body_part in finemed-fr
    spans = [s for s in fresh(project).spans if s.source == "human"]
    assert [(s.start, s.end, s.label, s.status) for s in spans] == [
        (15, 27, "body_part", "accepted")]
    assert TEXT[15:27] == "hypertension"
    assert spans[0].annotator == "dr.test"


def test_alt_label_key_keeps_exact_selection(window, project, qtbot):
    window.view.select_range(17, 21)
    qtbot.keyClick(window.view, Qt.Key_3, Qt.KeyboardModifier.AltModifier)
    spans = [s for s in fresh(project).spans if s.source == "human"]
    assert [(s.start, s.end) for s in spans] == [(17, 21)]


def test_accept_and_reject_the_suggestion_under_the_cursor(window, project, qtbot):
    put_caret(window, FIEVRE[0] + 2)
    assert window.view.current.label == "disease"
    qtbot.keyClick(window.view, Qt.Key_A)
    put_caret(window, AMLO[0] + 1)
    qtbot.keyClick(window.view, Qt.Key_R)
    by_start = {s.start: s for s in fresh(project).spans}
    assert by_start[FIEVRE[0]].status == "accepted"
    assert by_start[FIEVRE[0]].annotator == "dr.test"
    assert by_start[AMLO[0]].status == "rejected"
    assert by_start[HYPER[0]].status == "proposed"


def test_accept_all_suggestions_of_a_source_then_undo(window, project, qtbot):
    put_caret(window, AMLO[0] + 1)  # on a lexicon suggestion
    qtbot.keyClick(window.view, Qt.Key_A, Qt.KeyboardModifier.ShiftModifier)
    status = {s.source + str(s.start): s.status for s in fresh(project).spans}
    assert status == {f"lexicon{FIEVRE[0]}": "accepted", f"lexicon{AMLO[0]}": "accepted",
                      f"gliner2{HYPER[0]}": "proposed"}
    qtbot.keyClick(window.view, Qt.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert {s.status for s in fresh(project).spans} == {"proposed"}


def test_undo_redo_of_a_new_span_reaches_the_database(window, project, qtbot):
    window.view.select_range(0, 5)  # "Patie" -> "Patient"
    qtbot.keyClick(window.view, Qt.Key_8)
    created = [s for s in fresh(project).spans if s.source == "human"]
    assert len(created) == 1
    qtbot.keyClick(window.view, Qt.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert [s for s in fresh(project).spans if s.source == "human"] == []
    qtbot.keyClick(window.view, Qt.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    again = [s for s in fresh(project).spans if s.source == "human"]
    assert [(s.id, s.start, s.end, s.label) for s in again] == [
        (created[0].id, 0, 7, "living_beings")]


def test_label_key_on_the_text_of_a_suggestion_accepts_it(window, project, qtbot):
    window.view.select_range(*AMLO)
    qtbot.keyClick(window.view, Qt.Key_2)  # drug, as the lexicon proposed
    spans = fresh(project).spans
    assert not [s for s in spans if s.source == "human"]
    assert {s.start: s for s in spans}[AMLO[0]].status == "accepted"


def test_delete_then_undo_restores_the_span_with_its_id(window, project, qtbot):
    put_caret(window, HYPER[0] + 3)
    victim = window.view.current
    qtbot.keyClick(window.view, Qt.Key_Delete)
    assert victim.id not in {s.id for s in fresh(project).spans}
    qtbot.keyClick(window.view, Qt.Key_Z, Qt.KeyboardModifier.ControlModifier)
    back = {s.id: s for s in fresh(project).spans}[victim.id]
    assert (back.start, back.end, back.label, back.source, back.score) == (
        *HYPER, "disease", "gliner2", 0.91)


def test_first_edit_marks_the_document_in_progress(window, project, qtbot):
    put_caret(window, FIEVRE[0])
    qtbot.keyClick(window.view, Qt.Key_A)
    assert fresh(project).review_status == "in_progress"


def test_next_previous_document_and_mark_reviewed(window, project, qtbot):
    qtbot.keyClick(window.view, Qt.Key_N)
    assert window.doc.name == "b-second"
    qtbot.keyClick(window.view, Qt.Key_P)
    assert window.doc.name == "a-first"
    first_id = window.doc.id
    qtbot.keyClick(window.view, Qt.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert fresh(project, first_id).review_status == "reviewed"
    assert window.doc.name == "b-second"
    assert window.doc_list.model.rows[0][2] == "reviewed"


def test_j_k_walk_the_suggestions_in_text_order(window, qtbot):
    starts = []
    for _ in range(3):
        qtbot.keyClick(window.view, Qt.Key_J)
        starts.append(window.view.current.start)
    assert starts == [HYPER[0], FIEVRE[0], AMLO[0]]
    qtbot.keyClick(window.view, Qt.Key_K)
    assert window.view.current.start == FIEVRE[0]


def test_label_key_on_a_suggestion_relabels_and_accepts_it(window, project, qtbot):
    put_caret(window, AMLO[0] + 1)
    qtbot.keyClick(window.view, Qt.Key_1)  # disease
    sp = {s.start: s for s in fresh(project).spans}[AMLO[0]]
    assert (sp.label, sp.status) == ("disease", "accepted")


def test_document_list_filters(window, qtbot):
    lst = window.doc_list
    assert lst.model.rowCount() == 3
    lst.search.setText("thoracique")
    lst.apply_filters()
    assert [lst.model.doc_id(r) for r in range(lst.model.rowCount())] == [
        fresh_ids(window)[1]]
    lst.search.clear()
    lst.source.setCurrentIndex(lst.source.findData("gliner2"))
    assert lst.model.rowCount() == 1
    lst.source.setCurrentIndex(0)
    lst.status.setCurrentIndex(lst.status.findData("reviewed"))
    assert lst.model.rowCount() == 0


def fresh_ids(window):
    return [r[0] for r in window.doc_list.model.rows]


def test_shortcut_sheet_lists_every_binding(window, qtbot):
    from ui.shortcuts import BINDINGS

    window.show_shortcuts()
    sheet = window._sheet
    assert sheet.isVisible()
    listed = {sheet.table.item(r, 2).text() for r in range(sheet.table.rowCount())}
    for b in BINDINGS:
        assert (b.help or b.text.replace("&&", "&")) in listed
    assert "Label: Disease" in listed


def test_every_binding_has_a_unique_key():
    from PySide6.QtGui import QKeySequence

    from ui.shortcuts import BINDINGS

    keys = [QKeySequence(k).toString() for b in BINDINGS for k in b.keys]
    assert len(keys) == len(set(keys))


def test_question_mark_opens_the_shortcut_sheet(window, qtbot):
    # offscreen Qt matches the bare key; on X11/xkb Shift+/ maps to the same sequence
    qtbot.keyClick(window.view, Qt.Key_Question)
    assert getattr(window, "_sheet", None) is not None and window._sheet.isVisible()


def test_many_void_qt_calls_do_not_crash_python():
    """PySide6 6.12 on Python 3.11 drops a reference to None per void call (ui.pyside_compat)."""
    import gc
    import sys

    from PySide6.QtGui import QColor

    import ui  # noqa: F401 - applies the workaround

    color = QColor()
    for _ in range(50_000):  # None's natural refcount is ~5,000
        color.setRed(1)
    gc.collect()
    assert sys.getrefcount(None) > 0
