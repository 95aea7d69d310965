"""Issue 12: what a labeling session tripped on, driven through the real window and keys on a
real SQLite file (a second ``Store`` reads what was committed)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QHeaderView

from annotator.model import Document, Span
from annotator.schemas import load_schema

TEXT = "Patient avec l'hypertension artérielle et une fièvre, traité par amlodipine."
HYPER = (15, 38)  # "hypertension artérielle"
FIEVRE = (46, 52)  # "fièvre"
AMLO = (65, 75)  # "amlodipine"


@pytest.fixture
def project(tmp_path):
    """Four documents: the first and the third have suggestions; the fourth has a stored
    density."""
    from db import Store

    path = str(tmp_path / "desk.sqlite")
    with Store(path) as st:
        st.set_schema(load_schema("finemed-fr"))
        ids = st.import_documents([
            Document(text=TEXT, name="a-first", spans=[
                Span(*FIEVRE, "disease", source="lexicon", status="proposed", score=0.5),
                Span(*AMLO, "drug", source="lexicon", status="proposed", score=0.5),
                Span(*HYPER, "disease", source="gliner2", status="proposed", score=0.91),
            ]),
            Document(text="Douleur thoracique au repos.", name="b-second"),
            Document(text="Toux sèche depuis trois semaines.", name="c-third", spans=[
                Span(0, 4, "sign_or_symptom", source="gliner2", status="proposed")]),
            Document(text="Rien à signaler.", name="d-fourth"),
        ]).doc_ids
        st.set_density(ids[3], 0.5)  # stored (the document has no spans: a stale value)
    return path


def spans_in_db(path, name):
    from db import Store

    with Store(path) as st:
        doc_id = next(s.id for s in st.document_summaries() if s.name == name)
        return st.get_document(doc_id).spans


def col(window, name):
    return window.doc_list.model.column_names().index(name)


def cell(window, doc_name, column):
    m = window.doc_list.model
    row = next(r for r in range(m.rowCount()) if m.data(m.index(r, 1)) == doc_name)
    return m.data(m.index(row, col(window, column)))


# ---------------------------------------------------------------- 1. document list
def test_name_column_keeps_its_width_when_a_human_column_appears(window, qtbot):
    lst = window.doc_list
    header = lst.view.horizontalHeader()
    before = header.sectionSize(1)
    assert before >= 150
    n = lst.model.columnCount()
    assert "human" not in lst.model.column_names()
    window.view.select_range(0, 7)  # "Patient"
    qtbot.keyClick(window.view, Qt.Key_8)  # living_beings
    assert "human" in lst.model.column_names()
    assert lst.model.columnCount() == n + 1
    assert header.sectionResizeMode(1) == QHeaderView.ResizeMode.Interactive
    assert header.sectionSize(col(window, "human")) <= 60
    assert header.sectionSize(1) == before  # the table scrolls sideways instead
    assert cell(window, "a-first", "human") == "1"


def test_density_column_shows_stored_and_computed_density(window, qtbot):
    assert cell(window, "d-fourth", "Density") == "0.50"  # the stored value
    # a document without a stored density: computed from its non-rejected spans
    third = "Toux sèche depuis trois semaines."
    assert cell(window, "c-third", "Density") == f"{4 / len(third):.2f}"
    assert cell(window, "b-second", "Density") == "0.00"
    # the open document: from the spans as they are now (follows each edit)
    assert cell(window, "a-first", "Density") == f"{(6 + 10 + 23) / len(TEXT):.2f}"
    sp = next(s for s in window.doc.spans if (s.start, s.end) == HYPER)
    window.view.set_current(sp)
    qtbot.keyClick(window.view, Qt.Key_R)
    assert cell(window, "a-first", "Density") == f"{(6 + 10) / len(TEXT):.2f}"


def test_skipped_document_leaves_the_todo_filter_and_counter_follows(window, qtbot):
    lst = window.doc_list
    lst.status.setCurrentIndex(lst.status.findData("todo"))
    assert lst.model.rowCount() == 4
    assert window.position_info.text() == "1 / 4"
    qtbot.keyClick(window.view, Qt.Key_S)  # skip -> next
    assert window.doc.name == "b-second"
    names = [lst.model.data(lst.model.index(r, 1)) for r in range(lst.model.rowCount())]
    assert "a-first" not in names and len(names) == 3
    assert window.position_info.text() == "1 / 3"


def test_pending_counts_in_the_list_and_the_status_bar(window, project, qtbot):
    assert cell(window, "a-first", "To review") == "3"
    assert cell(window, "c-third", "To review") == "1"
    assert cell(window, "b-second", "To review") == ""
    assert window.pending_info.text() == "3 suggestions left here · 4 in the project"
    window.view.set_current(next(s for s in window.doc.spans if s.source == "gliner2"))
    qtbot.keyClick(window.view, Qt.Key_A)
    assert [s.status for s in spans_in_db(project, "a-first") if s.source == "gliner2"] == [
        "accepted"]
    assert cell(window, "a-first", "To review") == "2"
    assert window.pending_info.text() == "2 suggestions left here · 3 in the project"


# ---------------------------------------------------------------- 2. navigation
def test_j_wraps_to_the_first_suggestion_with_a_message(window, qtbot):
    firsts = sorted((s for s in window.doc.spans if s.status == "proposed"),
                    key=lambda s: s.start)
    window.view.set_current(firsts[-1])
    qtbot.keyClick(window.view, Qt.Key_J)
    assert window.view.current.id == firsts[0].id
    assert window.statusBar().currentMessage() == "Wrapped to the first suggestion"
    qtbot.keyClick(window.view, Qt.Key_K)
    assert window.view.current.id == firsts[-1].id
    assert window.statusBar().currentMessage() == "Wrapped to the last suggestion"


def test_shift_n_opens_the_next_document_with_suggestions(window, qtbot):
    qtbot.keyClick(window.view, Qt.Key_N, Qt.KeyboardModifier.ShiftModifier)
    assert window.doc.name == "c-third"  # b-second has none
    qtbot.keyClick(window.view, Qt.Key_N, Qt.KeyboardModifier.ShiftModifier)
    assert window.doc.name == "a-first"
    assert "Wrapped" in window.statusBar().currentMessage()
    qtbot.keyClick(window.view, Qt.Key_P, Qt.KeyboardModifier.ShiftModifier)
    assert window.doc.name == "c-third"


def test_accept_after_a_click_in_the_margin_acts_on_the_flow_span(window, project, qtbot):
    qtbot.keyClick(window.view, Qt.Key_J)
    flow = window.view.current
    assert flow is not None
    # a click on no span (the document margin, left of the first character)
    qtbot.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton,
                     pos=window.view.viewport().rect().bottomLeft() + type(
                         window.view.viewport().rect().topLeft())(4, -4))
    assert window.view.current is None
    qtbot.keyClick(window.view, Qt.Key_A)
    after = {s.id: s.status for s in spans_in_db(project, "a-first")}
    assert after[flow.id] == "accepted"


def test_escape_closes_the_sheet_and_the_panels(window, qtbot):
    window.show_shortcuts()
    assert window._sheet.isVisible()
    qtbot.keyClick(window.view, Qt.Key_Escape)
    assert window._sheet is None or not window._sheet.isVisible()
    window.show_statistics()
    window.show_compare()
    docks = window.findChildren(QDockWidget)
    assert len(docks) == 2
    assert all(not d.isFloating() and window.dockWidgetArea(d) != Qt.DockWidgetArea.NoDockWidgetArea
               for d in docks)
    assert not window._panels["Compare"].isWindow()
    assert any(d.isVisible() for d in docks)
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key_Escape)
    assert not any(d.isVisible() for d in docks)
    # Esc is free again (line edits, popups) once nothing is open
    assert not window.actions_["clear_fragments"].isEnabled()


# ---------------------------------------------------------------- 3. editing feedback
def test_selection_is_cleared_after_labelling(window, qtbot):
    window.view.select_range(0, 7)
    qtbot.keyClick(window.view, Qt.Key_8)
    assert not window.view.textCursor().hasSelection()
    assert any(s.source == "human" and (s.start, s.end) == (0, 7) for s in window.doc.spans)


def test_a_boundary_drag_previews_the_span_it_would_make(window, project, qtbot):
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QTextCursor

    view, vp = window.view, window.view.viewport()
    cur = QTextCursor(view.document())
    cur.setPosition(HYPER[0] + 2)
    view.setTextCursor(cur)
    assert view.current.source == "gliner2"
    r = view.range_rects(*HYPER)[-1]
    grab = QPoint(round(r.right()), round(r.center().y()))
    cur.setPosition(FIEVRE[0] + 3)
    drop = view.cursorRect(cur).center()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, grab)
    before = vp.grab().toImage()
    qtbot.mouseMove(vp, drop)
    assert view.drag_preview() == (HYPER[0], FIEVRE[1])  # snapped to the end of "fièvre"
    vp.repaint()
    assert vp.grab().toImage() != before  # the would-be span is drawn
    assert spans_in_db(project, "a-first") == window.doc.spans  # nothing stored yet
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, drop)
    assert view.drag_preview() is None
    dragged = view.current.id
    sp = next(s for s in spans_in_db(project, "a-first") if s.id == dragged)
    assert (sp.start, sp.end) == (HYPER[0], FIEVRE[1])


def test_undo_and_redo_name_the_action(window, qtbot):
    sp = next(s for s in window.doc.spans if (s.start, s.end) == FIEVRE)
    window.view.set_current(sp)
    qtbot.keyClick(window.view, Qt.Key_A)
    assert window.actions_["undo"].text() == "Undo: accept 'fièvre' as Disease"
    qtbot.keyClick(window.view, Qt.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.actions_["redo"].text() == "Redo: accept 'fièvre' as Disease"
    window.view.select_range(0, 7)
    qtbot.keyClick(window.view, Qt.Key_8)
    assert window.actions_["undo"].text() == "Undo: label 'Patient' as Living beings"
    assert "Undo: label 'Patient'" in [a.text() for a in window.menus["Edit"].actions()][0]


# ---------------------------------------------------------------- 4. colour and second cues
def _contrast_ratio(a, b):
    def lum(c):
        def ch(v):
            v /= 255
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
        return 0.2126 * ch(c.red()) + 0.7152 * ch(c.green()) + 0.0722 * ch(c.blue())
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_default_palette_is_okabe_ito_and_keeps_text_readable(window):
    from PySide6.QtGui import QColor

    from ui.label_palette import OKABE_ITO, SAFE_LIGHTEN, _lighten

    colors = window.palette.colors()
    assert len(colors) == 8 and len(set(colors.values())) == 8
    allowed = {_lighten(c, SAFE_LIGHTEN) for c in OKABE_ITO.values()}
    assert set(colors.values()) == allowed
    # the pairs the session could not tell apart now use different Okabe-Ito hues
    assert colors["living_beings"] != colors["medical_procedure"]
    assert colors["clinical_device"] != colors["molecular_marker"]
    for c in colors.values():  # black text on every fill: WCAG AA for normal text
        assert _contrast_ratio(QColor(c), QColor("black")) >= 4.5
    assert window.view.colors["disease"] == QColor(colors["disease"])
    window.actions_["toggle_palette"].trigger()
    assert window.view.colors["disease"] == QColor("#FF9AA2")  # the schema's own


def test_label_tags_and_suggestion_bars_do_not_rely_on_colour(window, qtbot):
    from PySide6.QtGui import QImage

    tags = window.view.tags
    assert tags["disease"] == "Di" and tags["drug"] == "Dr"
    assert len(set(tags.values())) == 8
    accepted = window.view._bar_pen("disease", "accepted")
    proposed = window.view._bar_pen("disease", "proposed")
    assert accepted.style() == Qt.PenStyle.SolidLine
    assert proposed.style() == Qt.PenStyle.CustomDashLine and proposed.dashPattern()

    def grab():
        window.view.viewport().repaint()
        return window.view.viewport().grab().toImage().convertToFormat(QImage.Format_RGB32)

    with_tags = grab()
    window.actions_["toggle_tags"].trigger()
    assert not window.view.show_tags
    without = grab()
    assert with_tags != without  # the tags are drawn
    window.actions_["toggle_tags"].trigger()
    assert grab() == with_tags


# ---------------------------------------------------------------- 5. jobs
def test_jobs_menu_comes_before_help(window):
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles[-3:] == ["Jobs", "Team", "Help"]


def test_export_dialog_offers_only_writable_formats(window, qtbot):
    from PySide6.QtWidgets import QComboBox

    from annotator.formats import FORMATS
    from ui import jobs_actions

    spec = next(j for j in jobs_actions.JOBS if j.key == "export")
    dlg = jobs_actions.OptionsDialog("Export…", spec.fields(jobs_actions.st.get_settings()))
    qtbot.addWidget(dlg)
    combo = dlg.editors["fmt"]
    assert isinstance(combo, QComboBox)
    offered = [combo.itemText(i) for i in range(combo.count())]
    assert offered and "jsonl" in offered
    for name in offered:  # each can really be written
        spec_ = FORMATS[name]
        assert callable(getattr(spec_._mod(), spec_.writer_class))
    # a format without a writer is not offered (registered by a third party, say)
    import dataclasses

    FORMATS["readonly"] = dataclasses.replace(FORMATS["jsonl"], name="readonly",
                                              writer_class=None)
    try:
        assert "readonly" not in jobs_actions._formats(True)
        assert "readonly" in jobs_actions._formats(False)
    finally:
        del FORMATS["readonly"]


def test_export_shows_files_counts_and_what_the_format_dropped(window, project, qtbot,
                                                                tmp_path):
    from ui import jobs_actions

    # a nested pair of accepted spans: BIO (conll) cannot carry the overlap
    sp = [s for s in window.doc.spans if s.source == "gliner2"][0]
    window.view.set_current(sp)
    qtbot.keyClick(window.view, Qt.Key_A)
    window.view.select_range(15, 27)  # "hypertension", inside the accepted span
    qtbot.keyClick(window.view, Qt.Key_1)
    qtbot.keyClick(window.view, Qt.Key_Return, Qt.KeyboardModifier.ControlModifier)  # reviewed
    out = tmp_path / "out.conll"
    handle = jobs_actions.start_job(window, "export", {"fmt": "conll", "out": str(out),
                                                       "status": "accepted"})
    with qtbot.waitSignal(handle.ended, timeout=30_000):
        pass
    assert handle.state == "finished", handle.error
    box = window._export_report
    assert box.isVisible() and box.windowTitle() == "Export finished"
    text = box.text()
    assert str(out) in text and out.exists()
    assert handle.result.documents == 1
    assert f"Documents: 1    Spans: {handle.result.spans:,}" in text
    assert handle.result.dropped  # what BIO could not carry ...
    for why, n in handle.result.dropped.items():  # ... is listed in words
        assert f"{n:,} spans: {why.replace('_', ' ')}" in text
    assert "_" not in window.statusBar().currentMessage()  # plain words
    box.close()


def test_job_summaries_use_plain_words():
    from ui.jobs_actions import summarize

    text = summarize({"run_key": "abc123", "source": "lexicon", "source_version": "x",
                      "docs": 19, "already_done": 0, "spans": 57, "dropped_misaligned": 0,
                      "repaired": 0, "skipped_existing": 3, "unmapped": 0, "windows": 43,
                      "truncated_docs": 0, "failed": 0})
    assert text == ("source lexicon, 19 documents pre-labelled, 57 suggestions, 3 not "
                    "proposed again (a person already decided on them)")
    for internal in ("run_key", "abc123", "skipped_existing", "windows", "43"):
        assert internal not in text


def test_busy_dialog_says_what_it_waits_for(window, qtbot):
    import threading

    from ui.workers import run_job_in_thread

    gate = threading.Event()

    def job(store):
        gate.wait(10)
        return None
        yield  # a generator job

    handle = run_job_in_thread(window, job, "Pre-label", opener=window.store.opener(),
                               waiting="loading the model")
    assert handle.dialog.labelText() == "Pre-label: loading the model…"
    gate.set()
    with qtbot.waitSignal(handle.ended, timeout=10_000):
        pass


def test_an_edit_patches_rows_instead_of_resetting_the_views(window, qtbot):
    """A keystroke repaints what it changed: the span table inserts one row, the document list
    changes one row, the label palette keeps its items (no model reset, no rebuilt list)."""
    table, docs = window.span_table.model_, window.doc_list.model
    items = [window.palette.item(i) for i in range(window.palette.count())]
    seen: dict[str, list] = {"reset": [], "inserted": [], "list_reset": [], "list_rows": []}
    table.modelReset.connect(lambda: seen["reset"].append(1))
    table.rowsInserted.connect(lambda _p, a, b: seen["inserted"].append((a, b)))
    docs.modelReset.connect(lambda: seen["list_reset"].append(1))
    docs.dataChanged.connect(lambda a, b, *_: seen["list_rows"].append((a.row(), b.row())))
    rows_before = table.rowCount()
    window.view.select_range(0, 7)  # "Patient"
    qtbot.keyClick(window.view, Qt.Key_1)
    assert table.rowCount() == rows_before + 1
    assert seen["reset"] == [] and seen["list_reset"] == []
    assert len(seen["inserted"]) == 1 and seen["inserted"][0][0] == seen["inserted"][0][1]
    assert seen["list_rows"] and all(a == b for a, b in seen["list_rows"])  # one row each
    assert len({a for a, _ in seen["list_rows"]}) == 1
    assert [window.palette.item(i) for i in range(window.palette.count())] == items
    assert any("(1)" in window.palette.item(i).text() or "(2)" in window.palette.item(i).text()
               for i in range(window.palette.count()))  # the count changed in place
