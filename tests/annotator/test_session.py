"""The review policy of ``annotator.session.ReviewSession``, without Qt, on a real SQLite file.

What the session wrote is always read back through a SECOND ``Store`` (an edit is committed
the moment it is made); "another process" is that second store too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from annotator.errors import SpanGoneError
from annotator.model import Document, Span
from annotator.schemas import load_schema
from annotator.session import NO_SPAN, SPAN_GONE_MESSAGE, ReviewSession
from db import Store

TEXT = "Patient avec l'hypertension artérielle et une fièvre, traité par amlodipine."
PATIENT = (0, 7)  # "Patient" (human, accepted by someone else)
HYPER = (15, 38)  # "hypertension artérielle" (gliner2, proposed)
FIEVRE = (46, 52)  # "fièvre" (lexicon, proposed)
AMLO = (65, 75)  # "amlodipine" (lexicon, proposed)


@pytest.fixture
def path(tmp_path):
    p = str(tmp_path / "session.sqlite")
    assert TEXT[slice(*HYPER)] == "hypertension artérielle" and TEXT[slice(*PATIENT)] == "Patient"
    assert TEXT[slice(*FIEVRE)] == "fièvre" and TEXT[slice(*AMLO)] == "amlodipine"
    with Store(p) as st:
        st.set_schema(load_schema("finemed-fr"))
        st.import_documents([
            Document(text=TEXT, name="a", spans=[
                Span(*PATIENT, "living_beings", source="human", status="accepted",
                     annotator="dr.other"),
                Span(*HYPER, "disease", source="gliner2", status="proposed", score=0.91),
                Span(*FIEVRE, "disease", source="lexicon", status="proposed", score=1.0),
                Span(*AMLO, "drug", source="lexicon", status="proposed", score=1.0),
            ]),
            Document(text="Toux sèche depuis trois semaines.", name="b"),
        ])
    return p


@pytest.fixture
def store(path):
    with Store(path) as st:
        yield st


@pytest.fixture
def other(path):
    """Another process on the same file (a second store)."""
    with Store(path) as st:
        yield st


@pytest.fixture
def session(store):
    s = ReviewSession(store, "dr.test")
    s.open(store.document_ids()[0])
    return s


def stored(other, doc_id=None) -> Document:
    return other.get_document(doc_id or other.document_ids()[0])


def at(doc: Document, where: tuple[int, int]) -> Span:
    """The span of ``doc`` at ``where`` (there is one per offset pair here)."""
    return next(s for s in doc.spans if (s.start, s.end) == where)


def events(other) -> int:
    return len(other.span_events(other.document_ids()[0]))


# ---------------------------------------------------------------- the document's status
def test_the_first_edit_marks_the_document_in_progress_and_its_undo_takes_both_back(
        session, other):
    assert stored(other).review_status == "todo"
    out = session.accept(at(session.doc, FIEVRE))
    assert out.review_status == "in_progress" and session.doc.review_status == "in_progress"
    assert stored(other).review_status == "in_progress"
    assert session.undo_text == "accept 'fièvre' as Disease"  # one edit, named after it
    session.accept(at(session.doc, HYPER))  # the second edit marks nothing
    session.undo()
    assert at(stored(other), HYPER).status == "proposed"
    assert stored(other).review_status == "in_progress"
    out = session.undo()
    assert out.review_status == "todo"
    doc = stored(other)
    assert (doc.review_status, at(doc, FIEVRE).status) == ("todo", "proposed")
    assert not session.can_undo
    session.redo()
    doc = stored(other)
    assert (doc.review_status, at(doc, FIEVRE).status) == ("in_progress", "accepted")


@pytest.mark.parametrize("status", ["reviewed", "skipped", "in_progress"])
def test_mark_sets_the_review_status_and_undo_restores_it(session, other, status):
    out = session.mark(status)
    assert out.review_status == status and stored(other).review_status == status
    assert session.undo_text == f"mark the document {status.replace('_', ' ')}"
    session.undo()  # one step: marking is not an edit that marks the document in progress
    assert stored(other).review_status == "todo" and not session.can_undo
    session.redo()
    assert stored(other).review_status == status


def test_mark_todo_reopens_a_reviewed_document_and_an_unchanged_status_is_no_edit(
        session, other):
    session.mark("reviewed")
    out = session.mark("reviewed")
    assert not out.changed and session.undo_text == "mark the document reviewed"
    session.mark("todo")
    assert stored(other).review_status == "todo"
    session.undo()
    assert stored(other).review_status == "reviewed"


# ---------------------------------------------------------------- labelling
def test_a_selection_is_snapped_to_words_and_exact_keeps_it(session, other):
    out = session.label("body_part", (17, 21))  # "pert" inside "l'hypertension"
    assert out.selection_used
    (new,) = out.upserted
    sp = next(s for s in stored(other).spans if s.id == new.id)
    assert (sp.start, sp.end, sp.label, sp.source, sp.status, sp.annotator) == (
        15, 27, "body_part", "human", "accepted", "dr.test")
    assert session.undo_text == "label 'hypertension' as Body part"
    out = session.label("body_part", (17, 21), exact=True)
    assert (out.upserted[0].start, out.upserted[0].end) == (17, 21)
    session.undo()
    session.undo()
    assert not [s for s in stored(other).spans if s.label == "body_part"]
    session.redo()  # the span comes back with its id
    assert [s.id for s in stored(other).spans if s.label == "body_part"] == [new.id]


def test_a_blank_selection_is_refused_and_nothing_is_written(session, other):
    before = stored(other)
    out = session.label("disease", (52, 54))  # ", "
    assert out.message == "Nothing to label: the selection is only spaces or punctuation"
    assert not out.changed and not out.selection_used and not session.can_undo
    assert stored(other) == before


def test_labelling_the_text_of_a_suggestion_accepts_it(session, other):
    fievre = at(session.doc, FIEVRE)
    out = session.label("disease", (47, 50))  # snapped to "fièvre", as proposed
    assert [s.id for s in out.upserted] == [fievre.id]
    doc = stored(other)
    assert len(doc.spans) == 4  # no second span
    sp = at(doc, FIEVRE)
    assert (sp.status, sp.source, sp.score, sp.annotator) == (
        "accepted", "lexicon", 1.0, "dr.test")
    assert session.undo_text == "accept 'fièvre' as Disease"
    out = session.label("disease", FIEVRE)
    assert out.message == "Already labelled" and out.selection_used
    assert session.undo_text == "accept 'fièvre' as Disease"  # nothing new to undo


def test_another_label_on_a_suggestions_text_adds_a_span(session, other):
    session.label("vital_function", FIEVRE)
    doc = stored(other)
    assert {(s.label, s.source) for s in doc.spans if (s.start, s.end) == FIEVRE} == {
        ("disease", "lexicon"), ("vital_function", "human")}
    assert at(doc, HYPER).status == "proposed"


def test_a_label_key_without_selection_relabels_and_accepts_the_current_span(session, other):
    assert session.label("drug").message == "Select some text first, then press a label key"
    hyper = at(session.doc, HYPER)
    session.label("drug", current=hyper)
    sp = at(stored(other), HYPER)
    assert (sp.label, sp.status, sp.source, sp.annotator) == (
        "drug", "accepted", "human", "dr.test")
    assert sp.meta["derived_from"]["source"] == "gliner2"
    assert session.undo_text == "relabel 'hypertension artérielle' as Drug"
    # the same label on a proposed span accepts it as it is
    session.label("drug", current=at(session.doc, AMLO))
    sp = at(stored(other), AMLO)
    assert (sp.label, sp.status, sp.source) == ("drug", "accepted", "lexicon")
    # and on an accepted span with its label, nothing happens
    out = session.label("drug", current=at(session.doc, AMLO))
    assert not out.changed and session.undo_text == "accept 'amlodipine' as Drug"


def test_held_fragments_and_the_selection_make_one_discontinuous_span(session, other):
    assert session.hold(None).message == "Select the first part of the entity, then press +"
    assert session.hold((17, 21)).selection_used and session.held == [(17, 21)]
    out = session.label("body_part", (47, 50))
    assert session.held == []
    sp = next(s for s in stored(other).spans if s.id == out.upserted[0].id)
    assert sp.fragments == ((15, 27), (46, 52)) and sp.surface(TEXT) == "hypertension fièvre"
    assert session.undo_text == "label 'hypertension … fièvre' as Body part"
    session.undo()
    assert sp.id not in {s.id for s in stored(other).spans}
    session.redo()
    again = next(s for s in stored(other).spans if s.id == sp.id)
    assert again.fragments == sp.fragments


def test_held_fragments_wait_for_a_selection_and_go_with_their_document(session, store):
    session.hold((0, 3))
    out = session.label("disease", None)
    assert out.message.startswith("Select the next part") and session.held == [(0, 3)]
    assert session.drop_held().message == "Held fragments dropped" and session.held == []
    assert session.drop_held().message is None
    session.hold((0, 3))
    assert session.open(session.doc.id).message is None and session.held == [(0, 3)]
    out = session.open(store.document_ids()[1])
    assert out.message == "Held fragments dropped" and session.held == []


# ---------------------------------------------------------------- deciding
def test_accept_moves_the_flow_on_to_the_next_suggestion(session, other):
    out = session.accept(at(session.doc, HYPER))
    assert out.goto is at(session.doc, FIEVRE)  # the document's span as it is now
    assert at(stored(other), HYPER).status == "accepted"
    assert out.current_id == at(session.doc, HYPER).id
    out = session.accept(at(session.doc, AMLO))  # the last suggestion: nowhere to go
    assert out.goto is None
    # an accepted span accepted again: nothing written, the flow stays
    n = events(other)
    out = session.accept(at(session.doc, HYPER))
    assert not out.changed and out.goto is None and events(other) == n


def test_reject_records_who_and_moves_the_flow_on(session, other):
    out = session.reject(at(session.doc, HYPER))
    assert out.goto is at(session.doc, FIEVRE)
    sp = at(stored(other), HYPER)
    assert (sp.status, sp.source, sp.score, sp.annotator) == (
        "rejected", "gliner2", 0.91, "dr.test")
    assert session.undo_text == "reject 'hypertension artérielle' as Disease"
    session.undo()
    assert at(stored(other), HYPER).status == "proposed"
    assert session.accept(None).message == NO_SPAN


def test_relabel_makes_a_suggestion_a_human_decision_and_undo_restores_it(session, other):
    assert session.relabel(at(session.doc, HYPER), "disease").changed is False
    assert session.relabel(at(session.doc, HYPER), None).changed is False
    session.relabel(at(session.doc, HYPER), "vital_function")
    sp = at(stored(other), HYPER)
    assert (sp.label, sp.status, sp.source, sp.score) == (
        "vital_function", "accepted", "human", None)
    assert (sp.meta["derived_from"]["label"], sp.meta["derived_from"]["score"]) == (
        "disease", 0.91)
    session.undo()
    sp = at(stored(other), HYPER)
    assert (sp.label, sp.status, sp.source, sp.score) == ("disease", "proposed", "gliner2", 0.91)
    assert "derived_from" not in (sp.meta or {})
    session.redo()
    assert at(stored(other), HYPER).label == "vital_function"


def test_delete_then_undo_restores_the_span_with_its_id(session, other):
    amlo = at(session.doc, AMLO)
    out = session.delete(amlo)
    assert out.removed == [amlo.id] and amlo.id not in {s.id for s in session.doc.spans}
    assert amlo.id not in {s.id for s in stored(other).spans}
    assert session.undo_text == "delete 'amlodipine' (Drug)"
    session.undo()
    back = {s.id: s for s in stored(other).spans}[amlo.id]
    assert (back.start, back.end, back.label, back.source, back.score, back.status) == (
        *AMLO, "drug", "lexicon", 1.0, "proposed")
    session.redo()
    assert amlo.id not in {s.id for s in stored(other).spans}
    assert session.delete(None).message == NO_SPAN


@pytest.mark.parametrize("status", ["accepted", "rejected"])
def test_source_wide_decision_and_its_undo_touch_exactly_the_proposals_shown(
        session, other, status):
    session.accept(at(session.doc, AMLO))  # decided one by one before
    out = session.decide_source("lexicon", status)
    verb = "accept" if status == "accepted" else "reject"
    assert out.message == f"{status.capitalize()} all suggestions of lexicon" and out.reload
    assert session.undo_text == f"{verb} all suggestions of lexicon"
    doc = stored(other)
    assert (at(doc, FIEVRE).status, at(doc, AMLO).status, at(doc, HYPER).status) == (
        status, "accepted", "proposed")
    assert at(session.doc, FIEVRE).status == status  # the session's copy was read again
    session.undo()
    doc = stored(other)
    assert (at(doc, FIEVRE).status, at(doc, AMLO).status) == ("proposed", "accepted")
    session.redo()
    assert at(stored(other), FIEVRE).status == status


def test_source_wide_decision_without_proposals_says_so(session):
    assert session.decide_source(None, "accepted").message == "No suggestions to act on"
    assert session.decide_source("human", "accepted").message == "No proposed spans from human"
    assert not session.can_undo


# ---------------------------------------------------------------- boundaries
def test_moving_a_boundary_a_word_at_a_time_accepts_a_suggestion(session, other):
    hyper = at(session.doc, HYPER)
    session.move_boundary(hyper, "end", 1)
    sp = next(s for s in stored(other).spans if s.id == hyper.id)
    assert TEXT[sp.start:sp.end] == "hypertension artérielle et"
    assert (sp.source, sp.status, sp.annotator, sp.score) == ("human", "accepted", "dr.test", None)
    assert (sp.meta["derived_from"]["start"], sp.meta["derived_from"]["end"]) == HYPER
    assert session.undo_text == "resize 'hypertension artérielle' to 'hypertension artérielle et'"
    session.move_boundary(session.span(hyper.id), "start", -1)  # over the elision: "l'"
    assert TEXT[slice(*session.span(hyper.id).parts[0])] == "l'hypertension artérielle et"
    session.undo()
    session.undo()
    sp = next(s for s in stored(other).spans if s.id == hyper.id)
    assert (sp.start, sp.end, sp.status, sp.source, sp.score) == (
        *HYPER, "proposed", "gliner2", 0.91)


def test_a_boundary_never_empties_a_span_nor_moves_past_the_text(session, other):
    fievre = at(session.doc, FIEVRE)
    assert session.move_boundary(fievre, "end", -1).message == "The span cannot shrink further"
    assert session.move_boundary(fievre, "start", 1).message == "The span cannot shrink further"
    amlo = at(session.doc, AMLO)
    assert session.move_boundary(amlo, "end", 1).message == "No word further that way"
    assert session.move_boundary(None, "end", 1).message == NO_SPAN
    assert not session.can_undo and stored(other).review_status == "todo"


def test_the_boundaries_of_a_discontinuous_span_do_not_move(session, other):
    session.hold(HYPER)
    out = session.label("disease", AMLO)
    disc = session.span(out.upserted[0].id)
    out = session.move_boundary(disc, "end", 1)
    assert "discontinuous" in out.message and not out.changed
    assert not session.drag_boundary(disc, "end", 52).changed


def test_dragging_a_boundary_snaps_to_the_word_unless_exact(session, other):
    hyper = at(session.doc, HYPER)
    session.drag_boundary(hyper, "end", FIEVRE[0] + 3)  # dropped inside "fièvre"
    sp = next(s for s in stored(other).spans if s.id == hyper.id)
    assert TEXT[sp.start:sp.end] == "hypertension artérielle et une fièvre"
    assert (sp.status, sp.source) == ("accepted", "human")
    session.drag_boundary(session.span(hyper.id), "start", HYPER[0] + 5, exact=True)
    sp = next(s for s in stored(other).spans if s.id == hyper.id)
    assert (sp.start, sp.end) == (HYPER[0] + 5, FIEVRE[1])
    out = session.drag_boundary(session.span(hyper.id), "end", 3)  # past the other edge
    assert out.message.startswith("The boundary did not move") and not out.changed
    session.undo()
    session.undo()
    sp = next(s for s in stored(other).spans if s.id == hyper.id)
    assert (sp.start, sp.end, sp.status) == (*HYPER, "proposed")


# ---------------------------------------------------------------- the flow
def test_flow_span_is_the_last_current_span_and_hides_rejected_ones(session):
    hyper = at(session.doc, HYPER)
    session.follow(hyper)
    session.follow(None)  # the cursor left every span: the flow stays
    assert session.flow_span() is hyper
    session.reject(hyper)
    assert session.flow_span() is None
    assert session.flow_span(include_rejected=True).id == hyper.id


def test_next_suggestion_wraps_round_the_document(session):
    out = session.step_suggestion(0)
    assert (out.goto.start, out.message) == (HYPER[0], None)
    out = session.step_suggestion(0, current=at(session.doc, AMLO))
    assert (out.goto.start, out.message) == (HYPER[0], "Wrapped to the first suggestion")
    out = session.step_suggestion(0, current=at(session.doc, HYPER), backward=True)
    assert (out.goto.start, out.message) == (AMLO[0], "Wrapped to the last suggestion")
    session.decide_source("lexicon", "accepted")
    session.accept(at(session.doc, HYPER))
    out = session.step_suggestion(0)
    assert out.goto is None and out.message.startswith("No suggestions left")


# ---------------------------------------------------------------- undo / redo
def test_undo_follows_the_edit_to_its_document(session, store, other):
    first, second = store.document_ids()
    fievre = at(session.doc, FIEVRE)
    session.accept(fievre)
    session.open(second)
    out = session.undo()
    assert out.opened and out.doc_id == first and session.doc.id == first
    assert at(session.doc, FIEVRE).status == "proposed" == at(stored(other), FIEVRE).status
    assert session.redo_text == "accept 'fièvre' as Disease" and not session.can_undo


def test_a_new_edit_drops_the_redo_history(session):
    session.accept(at(session.doc, FIEVRE))
    session.undo()
    assert session.can_redo
    session.reject(at(session.doc, AMLO))
    assert not session.can_redo


def test_another_store_drops_the_history(session, path):
    session.accept(at(session.doc, FIEVRE))
    with Store(path) as elsewhere:
        session.set_store(elsewhere)
        assert not session.can_undo and session.doc is None


# ---------------------------------------------------------------- spans gone
def _newer_prelabel_run(other):
    """Another process replaces the document's lexicon proposals."""
    doc_id = other.document_ids()[0]
    other.replace_proposals(doc_id, "lexicon", [
        Span(*FIEVRE, "vital_function", source="lexicon", status="proposed", score=1.0)])


@pytest.mark.parametrize("intent", ["accept", "reject", "delete", "relabel", "move",
                                    "accept_source"])
def test_an_edit_of_a_replaced_suggestion_writes_nothing_and_reloads(session, other, intent):
    session.accept(at(session.doc, HYPER))  # something to redo, once undone
    session.undo()
    assert session.can_redo and stored(other).review_status == "todo"
    n = events(other)
    fievre = at(session.doc, FIEVRE)  # as the session shows it
    _newer_prelabel_run(other)
    out = {"accept": lambda: session.accept(fievre),
           "reject": lambda: session.reject(fievre),
           "delete": lambda: session.delete(fievre),
           "relabel": lambda: session.relabel(fievre, "drug"),
           "move": lambda: session.move_boundary(fievre, "start", -1),
           "accept_source": lambda: session.decide_source("lexicon", "accepted")}[intent]()
    assert isinstance(out.span_gone, SpanGoneError)
    assert out.message == SPAN_GONE_MESSAGE and out.reload
    # nothing written or recorded, not even the in-progress mark made for the edit
    assert events(other) == n and stored(other).review_status == "todo"
    assert not session.can_undo and not session.can_redo
    # the session shows the document as stored now
    assert sorted((s.label, s.source, s.status) for s in session.doc.spans) == sorted(
        (s.label, s.source, s.status) for s in stored(other).spans)
    assert at(session.doc, FIEVRE).label == "vital_function"


def test_undo_of_an_edit_whose_span_was_deleted_elsewhere_is_dropped(session, other):
    session.accept(at(session.doc, HYPER))
    fievre = at(session.doc, FIEVRE)
    session.accept(fievre)
    session.undo()
    session.redo()
    other.delete_span(fievre.id)
    n = events(other)
    out = session.undo()
    assert isinstance(out.span_gone, SpanGoneError) and out.message == SPAN_GONE_MESSAGE
    assert events(other) == n  # the failed undo recorded nothing
    assert fievre.id not in {s.id for s in session.doc.spans}
    assert not session.can_redo
    assert session.undo_text == "accept 'hypertension artérielle' as Disease"  # the older one


def test_undo_of_a_first_edit_whose_span_is_gone_still_takes_back_the_mark(session, other):
    fievre = at(session.doc, FIEVRE)
    session.accept(fievre)
    other.delete_span(fievre.id)
    out = session.undo()
    assert out.span_gone is not None
    assert stored(other).review_status == "todo" == session.doc.review_status
    assert not session.can_undo and not session.can_redo


def test_redo_of_an_edit_whose_span_was_deleted_elsewhere_is_dropped(session, other):
    session.accept(at(session.doc, HYPER))
    fievre = at(session.doc, FIEVRE)
    session.accept(fievre)
    session.undo()
    other.delete_span(fievre.id)
    out = session.redo()
    assert isinstance(out.span_gone, SpanGoneError)
    assert not session.can_redo
    assert session.undo_text == "accept 'hypertension artérielle' as Disease"
    assert stored(other).review_status == "in_progress"


def test_redo_of_a_first_edit_whose_span_is_gone_leaves_the_document_as_it_was(
        session, other):
    fievre = at(session.doc, FIEVRE)
    session.accept(fievre)
    session.undo()
    other.delete_span(fievre.id)
    out = session.redo()
    assert out.span_gone is not None
    assert stored(other).review_status == "todo" and not session.can_undo


class _RefusingStore:
    """The real store, except that adding a span fails (as a refused write would)."""

    def __init__(self, store):
        self._store = store

    def __getattr__(self, name):
        return getattr(self._store, name)

    def add_span(self, *a, **kw):
        raise RuntimeError("disk full")


def test_an_edit_that_fails_otherwise_raises_and_takes_back_the_in_progress_mark(store, other):
    session = ReviewSession(_RefusingStore(store), "dr.test")
    session.open(store.document_ids()[0])
    with pytest.raises(RuntimeError, match="disk full"):
        session.label("drug", (0, 7), exact=True)
    assert stored(other).review_status == "todo" == session.doc.review_status
    assert not session.can_undo and len(session.doc.spans) == 4


# ---------------------------------------------------------------- layering
@pytest.mark.parametrize("module", ["session.py", "edits.py"])
def test_the_session_imports_neither_db_nor_qt(module):
    tree = ast.parse((Path(__file__).parents[2] / "annotator" / module).read_text("utf-8"))
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
             for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree)
              if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}
    assert not names & {"db", "PySide6", "ui", "sqlalchemy"}
