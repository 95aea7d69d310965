"""Reruns never touch decided work: reviewed documents are left alone unless asked, a rejected
(label, span) is never proposed again, decided spans on in-progress documents stay as they are.
Through the real lexicon pre-labeler and the real CLI on a SQLite file."""

import sqlite3

from annotator.cli import main
from annotator.jobs import drive
from annotator.model import Document, Span
from annotator.prelabel.job import prelabel_job
from annotator.schemas import load_schema
from db import Store

SEED = "La fièvre persiste."
B = "Fièvre modérée ; la fièvre cède sous paracétamol."
C = "Pas de fièvre ce jour."


def _store(tmp_path):
    store = Store(str(tmp_path / "r.sqlite"))
    store.set_schema(load_schema("finemed-fr"))
    store.add_document(Document(text=SEED, name="seed", review_status="reviewed", spans=[
        Span(3, 9, "disease", source="human", status="accepted")]))
    b = store.add_document(Document(text=B, name="b"))
    c = store.add_document(Document(text=C, name="c", review_status="reviewed"))
    return store, b, c


def _spans(store, doc_id):
    return sorted((s.start, s.end, s.label, s.source, s.status)
                  for s in store.get_document(doc_id).spans)


def test_reviewed_documents_are_left_alone_unless_asked(tmp_path):
    store, b, c = _store(tmp_path)
    totals = drive(prelabel_job(store, backend="lexicon"))
    assert totals["reviewed_left_alone"] == 2  # seed and c
    assert any(s[3] == "lexicon" for s in _spans(store, b))
    assert _spans(store, c) == []
    totals = drive(prelabel_job(store, backend="lexicon", include_reviewed=True))
    assert totals["reviewed_left_alone"] == 0
    assert [s[:3] for s in _spans(store, c)] == [(7, 13, "disease")]
    store.close()


def test_rejected_suggestion_is_never_proposed_again_and_decisions_stay(tmp_path):
    store, b, _ = _store(tmp_path)
    drive(prelabel_job(store, backend="lexicon"))
    first = [s for s in store.get_document(b).spans if s.source == "lexicon"]
    lower = next(s for s in first if B[s.start:s.end] == "fièvre")
    store.update_span(lower.id, status="rejected", annotator="alice")
    store.set_review_status(b, "in_progress")
    # a new accepted string changes the lexicon, hence the run key: the rerun covers b again
    seed_id = store.document_ids()[0]
    store.add_span(seed_id, Span(0, 2, "disease", source="human", status="accepted"))
    drive(prelabel_job(store, backend="lexicon"))
    spans = _spans(store, b)
    same_place = [s for s in spans if (s[0], s[1], s[2]) == (lower.start, lower.end,
                                                              lower.label)]
    assert same_place == [(lower.start, lower.end, lower.label, "lexicon", "rejected")]
    store.close()


def test_cli_prelabel_include_reviewed_flag(tmp_path, capsys):
    store, _, c = _store(tmp_path)
    url = store.url
    store.close()
    assert main(["--db", url, "prelabel", "--backend", "lexicon"]) == 0
    assert "2 reviewed left alone" in capsys.readouterr().out
    with sqlite3.connect(str(tmp_path / "r.sqlite")) as con:
        assert con.execute("SELECT count(*) FROM spans WHERE doc_id = ?", (c,)).fetchone() == (0,)
    assert main(["--db", url, "prelabel", "--backend", "lexicon", "--include-reviewed"]) == 0
    with sqlite3.connect(str(tmp_path / "r.sqlite")) as con:
        assert con.execute("SELECT count(*) FROM spans WHERE doc_id = ?", (c,)).fetchone() == (1,)


def test_an_edited_suggestion_is_a_human_decision_and_its_original_is_not_proposed_again(
        tmp_path):
    store, b, _ = _store(tmp_path)
    drive(prelabel_job(store, backend="lexicon"))
    sugg = next(s for s in store.get_document(b).spans
                if s.source == "lexicon" and B[s.start:s.end] == "fièvre")
    edited = store.update_span(sugg.id, label="vital_function", annotator="alice")
    assert (edited.source, edited.status, edited.score, edited.source_version) == (
        "human", "accepted", None, None)
    origin = edited.meta["derived_from"]
    assert (origin["source"], origin["label"], origin["start"], origin["end"]) == (
        "lexicon", "disease", sugg.start, sugg.end)
    assert origin["score"] == sugg.score and origin["source_version"] == sugg.source_version
    stored = store.get_span(sugg.id)
    assert stored.source == "human" and stored.meta["derived_from"] == origin
    # a second edit keeps the first origin
    again = store.update_span(sugg.id, label="body_part", annotator="alice")
    assert again.meta["derived_from"] == origin
    # a rerun (new lexicon: new run key) does not propose the original again
    store.add_span(store.document_ids()[0], Span(0, 2, "disease", source="human"))
    drive(prelabel_job(store, backend="lexicon"))
    at = [s for s in store.get_document(b).spans if (s.start, s.end) == (sugg.start, sugg.end)]
    assert [(s.label, s.source) for s in at] == [("body_part", "human")]
    # undo restores the suggestion exactly (the review desk's UpdateSpan passes `restore`)
    back = store.update_span(sugg.id, label="disease", status="proposed",
                             restore={"source": "lexicon", "score": sugg.score,
                                      "source_version": sugg.source_version, "meta": {}})
    assert (back.source, back.status, back.score, back.meta) == (
        "lexicon", "proposed", sugg.score, {})
    # a status-only decision is not an edit: the suggestion keeps its provenance
    acc = store.update_span(sugg.id, status="accepted")
    assert acc.source == "lexicon" and "derived_from" not in acc.meta
    store.close()
