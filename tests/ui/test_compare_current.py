"""Issue 11, item 5: disagreements only among the sources that ran on a document, kept
current as spans change (no refresh button), shown with the schema's display names, and a
People column that is not crammed."""

from __future__ import annotations

import pytest

from annotator import compare
from annotator.jobs import drive
from annotator.model import Document, Span
from annotator.prelabel.job import prelabel_job
from annotator.schemas import load_schema

GOLD_TEXT = "Asthme sous salbutamol. Le chat du patient. Asthme encore, et salbutamol."
#            0         1         2         3         4         5         6         7
ASTHME, SALBU, CHAT = (0, 6), (12, 22), (27, 31)
ASTHME2, SALBU2, PATIENT = (44, 50), (62, 72), (35, 42)


def _gold_project(store):
    """Two documents with imported gold (the second without), as after `import`."""
    assert GOLD_TEXT[slice(*ASTHME2)] == "Asthme" and GOLD_TEXT[slice(*SALBU2)] == "salbutamol"
    assert GOLD_TEXT[slice(*CHAT)] == "chat" and GOLD_TEXT[slice(*PATIENT)] == "patient"
    store.set_schema(load_schema("finemed-fr"))
    gold = [Span(*ASTHME, "disease", source="import", status="accepted"),
            Span(*SALBU, "drug", source="import", status="accepted"),
            Span(*CHAT, "living_beings", source="import", status="accepted")]
    res = store.import_documents([
        Document(text=GOLD_TEXT, name="425_6", spans=gold),
        Document(text="Pas de salbutamol ici.", name="other")])
    return res.doc_ids


def test_lexicon_is_not_counted_against_the_gold_it_could_not_propose(store):
    # the 425_6 case: the lexicon (built from the gold) never proposes a (label, span) that
    # is already accepted, so its silence on the gold is not a disagreement; only what it
    # did propose (the second "Asthme", the second "salbutamol") is
    gold_doc, other = _gold_project(store)
    totals = drive(prelabel_job(store, backend="lexicon"))
    assert totals["skipped_existing"] == 3 and totals["spans"] == 3
    d = compare.document_disagreement(store, gold_doc)
    assert d.families == ("lexicon", "people")
    assert d.n_regions == 5
    assert d.n_disagreements == 2  # not 5 of 5
    regs = compare.regions(store.get_document(gold_doc),
                           runs=compare.source_runs(store, [gold_doc])[gold_doc])
    by_start = {r.start: r for r in regs}
    assert by_start[ASTHME[0]].agreed and by_start[CHAT[0]].agreed
    assert [s.label for s in by_start[ASTHME[0]].not_asked["lexicon"]] == ["disease"]
    assert not by_start[ASTHME2[0]].agreed and by_start[ASTHME2[0]].dissenters == {"people"}
    # the document without gold: the lexicon alone, nothing to disagree with
    assert compare.document_disagreement(store, other).n_disagreements == 0


def test_only_sources_that_ran_are_compared(store):
    gold_doc, other = _gold_project(store)
    # gliner2 ran on the gold document (its done mark, as prelabel_job writes it) and
    # found nothing; transformers never ran; the gold was there before gliner2 ran
    store.mark_doc_run("prelabel", "gliner2:0123456789abcdef01234567", gold_doc, "done",
                       stats={"spans": 0})
    d = compare.document_disagreement(store, gold_doc)
    assert d.families == ("gliner2", "people")
    assert d.n_disagreements == 0 and d.score == 0
    # a person then draws a span gliner2 was asked about (after its run) and missed
    store.add_span(gold_doc, Span(*PATIENT, "living_beings", source="human",
                                  status="accepted"))
    d = compare.document_disagreement(store, gold_doc)
    assert d.n_disagreements == 1 and d.score > 0
    # a run on another document says nothing about this one: no family but people
    store.mark_doc_run("prelabel", "transformers:0123456789abcdef01234567", other, "done")
    assert "transformers" not in compare.document_disagreement(store, gold_doc).families
    assert compare.document_disagreement(store, other).families == ("transformers",)
    # the queue ranks with the same rules
    assert compare.disagreement_queue(store) == [gold_doc]


def test_a_source_whose_spans_were_all_rejected_is_settled_there(make_span):
    spans = [make_span(0, 6, "disease", "gliner2"),
             make_span(0, 6, "drug", "lexicon", status="rejected"),
             make_span(0, 6, "disease", "human")]
    d = compare.doc_disagreement(spans)
    assert d.families == ("gliner2", "lexicon", "people")  # the lexicon ran
    assert d.n_disagreements == 0 and d.score == 0


# ---------------------------------------------------------------------------- widget
@pytest.fixture
def project(tmp_path):
    """A document where GLiNER2 and the lexicon disagree on "fièvre", nobody decided."""
    from db import Store

    path = str(tmp_path / "cmp.sqlite")
    text = "Patient avec fièvre et un chien à la maison."
    assert text[13:19] == "fièvre" and text[26:31] == "chien"
    with Store(path) as st:
        st.set_schema(load_schema("finemed-fr"))
        st.import_documents([Document(text=text, name="fievre", spans=[
            Span(13, 19, "disease", source="gliner2", status="proposed", score=0.8),
            Span(13, 19, "vital_function", source="lexicon", status="proposed", score=1.0),
            Span(26, 31, "living_beings", source="human", status="accepted"),
            Span(26, 31, "living_beings", source="gliner2", status="proposed", score=0.7),
            Span(26, 31, "living_beings", source="lexicon", status="proposed", score=1.0),
        ])])
    return path


def _compare_view(window, qtbot):
    window.show_compare()
    view = window._panels["Compare"]
    qtbot.waitUntil(lambda: view._queue_job is not None
                    and not view._queue_job.is_running(), timeout=10_000)
    return view


def _col(view, title):
    t = view.table
    return next(c for c in range(t.columnCount()) if t.horizontalHeaderItem(c).text() == title)


def test_compare_follows_edits_in_the_main_window_without_a_refresh(window, qtbot):
    view = _compare_view(window, qtbot)
    doc_id = window.doc.id
    assert not hasattr(view, "queue_button")
    assert view._queue == [doc_id] and view.queue_list.count() == 1
    assert "1 of 2 regions disagree" in view.summary.text()
    by_source = {(s.source, s.label): s for s in window.doc.spans}
    lex = by_source[("lexicon", "vital_function")]
    # accept GLiNER2's "disease" and reject the lexicon's "vital_function"
    window.view.set_current(by_source[("gliner2", "disease")])
    window.set_current_status("accepted")
    assert "1 of 2 regions disagree" in view.summary.text()  # the lexicon still differs
    window.view.set_current(next(s for s in window.doc.spans if s.id == lex.id))
    window.set_current_status("rejected")
    # redrawn and requeued at once: nothing left to disagree on, the queue is empty
    assert "0 of 2 regions disagree" in view.summary.text()
    assert view._queue == [] and view.queue_list.count() == 0
    # undo brings the disagreement (and the queue entry) back
    window.undo()
    assert "1 of 2 regions disagree" in view.summary.text()
    assert view._queue == [doc_id]


def test_compare_shows_display_names_and_an_uncrammed_people_column(window, qtbot):
    view = _compare_view(window, qtbot)
    t = view.table
    people, gl, lex = _col(view, "People"), _col(view, "GLiNER2"), _col(view, "Lexicon")
    cells = {t.item(r, 1).text(): r for r in range(t.rowCount())}
    row_f, row_c = cells["fièvre"], cells["chien"]
    assert t.item(row_f, gl).text() == "Disease"
    assert t.item(row_f, lex).text() == "Vital function"
    assert t.item(row_c, people).text() == "Living beings"  # not "living_beings"
    assert "living_beings" in t.item(row_c, people).toolTip()  # the key stays in the tip
    # one line per span, never wrapped: the People column is as wide as its text
    assert not t.wordWrap()
    view.resize(500, 400)
    qtbot.wait(10)
    metrics = t.fontMetrics()
    need = metrics.horizontalAdvance("Living beings")
    assert t.columnWidth(people) >= need
    assert t.rowHeight(row_c) < 2 * metrics.height()


def test_next_disagreement_key_uses_the_same_rules(window, qtbot):
    cur = window.view.textCursor()
    cur.setPosition(0)
    window.view.setTextCursor(cur)
    window.step_disagreement(False)
    assert window.view.focus_region == (13, 19)  # "fièvre"; "chien" agrees
    window.step_disagreement(False)
    assert "No more disagreements" in window.statusBar().currentMessage()
