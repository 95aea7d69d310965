"""Compare: regions, disagreement scores and the queue (annotator.compare), and the
CompareView widget showing them."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from annotator import compare
from annotator.model import Document


# ---------------------------------------------------------------------------- core
def test_people_are_accepted_spans_and_models_keep_reviewed_suggestions(make_span):
    spans = [make_span(0, 4, "DRUG", "gliner2"),
             make_span(5, 9, "DRUG", "gliner2", status="accepted"),
             make_span(0, 4, "DRUG", "human"),
             make_span(10, 12, "DOSE", "import", status="proposed")]
    groups = compare.group_by_family(spans)
    assert list(groups) == ["gliner2", "people"]
    assert [(s.start, s.source) for s in groups["people"]] == [(0, "human"), (5, "gliner2")]
    assert len(groups["gliner2"]) == 2


def test_regions_align_sources_and_mark_dissenters(make_span):
    text = "metformine 500 mg diabete"
    doc = Document(text=text, spans=[
        make_span(0, 10, "DRUG", "gliner2"), make_span(0, 10, "DRUG", "llm_pass1"),
        make_span(0, 10, "DISEASE", "llm_pass2"),
        make_span(11, 17, "DOSE", "llm_pass1"),
        make_span(18, 25, "DISEASE", "gliner2"), make_span(18, 25, "DISEASE", "llm_pass1"),
        make_span(18, 25, "DISEASE", "llm_pass2"),
    ])
    regs = compare.regions(doc)
    assert [(r.start, r.end, r.text) for r in regs] == [
        (0, 10, "metformine"), (11, 17, "500 mg"), (18, 25, "diabete")]
    r0, r1, r2 = regs
    assert not r0.agreed and r0.dissenters == {"llm_pass2"}
    assert [s.label for s in r0.cells["llm_pass2"]] == ["DISEASE"]
    assert not r1.agreed and r1.cells["gliner2"] == [] and r1.dissenters == {"llm_pass1"}
    assert r2.agreed and r2.dissenters == frozenset()
    assert compare.disagreement_regions(doc.spans) == [(0, 10), (11, 17)]
    assert compare.next_disagreement(doc, -1).start == 0
    assert compare.next_disagreement(doc, 0).start == 11
    assert compare.next_disagreement(doc, 11) is None
    assert compare.next_disagreement(doc, 11, backward=True).start == 0


def test_rejected_suggestions_are_shown_but_settled(make_span):
    spans = [make_span(0, 4, "DRUG", "gliner2"), make_span(0, 4, "DRUG", "llm_pass1"),
             make_span(6, 9, "DOSE", "gliner2", status="rejected")]
    regs = compare.regions(spans)
    assert [r.agreed for r in regs] == [True, True]
    assert compare.regions(spans, include_rejected=False)[1:] == []
    assert compare.disagreement_regions(spans) == []


def test_single_source_never_disagrees(make_span):
    d = compare.doc_disagreement([make_span(0, 4, "DRUG", "gliner2")])
    assert d.score == 0 and d.n_disagreements == 0


def test_doc_score_is_one_minus_mean_pairwise_f1(make_span):
    spans = [make_span(0, 4, "A", "gliner2"), make_span(5, 9, "B", "gliner2"),
             make_span(0, 4, "A", "llm_pass2")]
    d = compare.doc_disagreement(spans)
    # F1 = 2*1 / (2 + 1) = 2/3
    assert d.pairs == {("gliner2", "llm_pass2"): pytest.approx(2 / 3)}
    assert d.score == pytest.approx(1 / 3, abs=1e-6)
    assert d.n_regions == 2 and d.n_disagreements == 1


def test_queue_orders_by_disagreement_and_skips_reviewed(store, conflict_project):
    ids = conflict_project
    assert compare.disagreement_queue(store) == [ids["strong"], ids["mild"]]
    full = compare.disagreement_queue(store, only_disagreeing=False)
    assert full == [ids["strong"], ids["mild"], ids["agree"]]
    store.set_review_status(ids["strong"], "reviewed")
    assert compare.disagreement_queue(store) == [ids["mild"]]
    assert compare.disagreement_queue(store, include_reviewed=True)[0] == ids["strong"]


def test_queue_job_matches_queue(store, conflict_project):
    from annotator.jobs import drive

    rows = drive(compare.disagreement_queue_job(store))
    assert [r.doc_id for r in rows] == compare.disagreement_queue(store)


# ---------------------------------------------------------------------------- widget
def test_compare_view_shows_sources_side_by_side(qtbot, store_factory, conflict_project):
    from ui.compare_view import COLOR_DISSENT, CompareView

    view = CompareView(store_factory)
    qtbot.addWidget(view)
    view.show_document(conflict_project["strong"])
    table = view.table
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert headers[:2] == ["Region", "Text"]
    assert headers[2:] == ["GLiNER2", "Transformers", "Lexicon", "LLM pass 1", "LLM pass 2",
                           "People"]
    col = {h: i for i, h in enumerate(headers)}
    texts = [table.item(r, col["Text"]).text() for r in range(table.rowCount())]
    assert texts == ["metformine", "500 mg", "diabete de type 2"]
    # metformine: GLiNER2 says DISEASE, LLM pass 2 and people say DRUG -> marked
    assert table.item(0, col["GLiNER2"]).text() == "DISEASE"
    assert table.item(0, col["LLM pass 2"]).text() == "DRUG"
    assert table.item(0, col["People"]).text() == "DRUG"
    assert table.item(0, col["GLiNER2"]).background().color() == QColor(COLOR_DISSENT)
    # diabete: GLiNER2 has only "diabete" (a shorter span): shown with its text
    assert table.item(2, col["GLiNER2"]).text() == "DISEASE: diabete"
    assert "3 of 3 regions disagree" in view.summary.text()


def test_compare_view_queue_walks_documents(qtbot, store_factory, conflict_project):
    from ui.compare_view import CompareView

    view = CompareView(store_factory)
    qtbot.addWidget(view)
    assert view.disagreement_queue() == [conflict_project["strong"], conflict_project["mild"]]
    assert view.queue_list.count() == 2
    view.show()
    view.queue_list.setFocus()  # focus alone opens nothing
    assert view.current_doc_id is None
    item = view.queue_list.item(1)
    with qtbot.waitSignal(view.documentRequested) as blocker:
        qtbot.mouseClick(view.queue_list.viewport(), Qt.LeftButton,
                         pos=view.queue_list.visualItemRect(item).center())
    assert blocker.args == [conflict_project["mild"]]
    assert view.current_doc_id == conflict_project["mild"]
    view.next_in_queue()
    assert view.current_doc_id == conflict_project["strong"]  # wraps around


def test_compare_view_ranks_queue_on_a_worker_thread_when_shown(qtbot, store_factory,
                                                                 conflict_project):
    # issue 11: no "Refresh queue" button; showing the view ranks the queue (worker thread)
    from ui.compare_view import CompareView

    view = CompareView(store_factory)
    qtbot.addWidget(view)
    assert view.queue_list.count() == 0
    view.show()
    assert view._queue_job is not None
    qtbot.waitUntil(lambda: view.queue_list.count() == 2, timeout=10_000)
    qtbot.waitUntil(lambda: not view._queue_job.is_running(), timeout=10_000)
    first = view.queue_list.item(0).data(Qt.UserRole)
    assert first == conflict_project["strong"]
