"""Lexicon suggestions (issue 12): a capitalised first letter matches by default, and the
score is the smoothed share of the people's decisions on that string that accepted the label."""

from __future__ import annotations

import pytest

from annotator.jobs import drive
from annotator.model import Document, Span
from annotator.prelabel.job import prelabel_job
from annotator.prelabel.lexicon import LexiconPrelabeler, smoothed_share


def test_capitalised_first_letter_matches_by_default():
    text = "Paracétamol 1 g. Reprise du paracétamol. PARACÉTAMOL. AVC ancien, pas d'avc."
    lex = LexiconPrelabeler({"paracétamol": "drug", "AVC": "disease"})
    got = [text[s.start:s.end] for s in lex.predict([text])[0]]
    assert got == ["Paracétamol", "paracétamol", "AVC"]  # only the first letter folds
    exact = LexiconPrelabeler({"paracétamol": "drug"}, exact_case=True)
    assert [text[s.start:s.end] for s in exact.predict([text])[0]] == ["paracétamol"]
    every = LexiconPrelabeler({"paracétamol": "drug", "AVC": "disease"}, case_insensitive=True)
    assert len(every.predict([text])[0]) == 5


def test_capitalised_entry_matches_lower_case_too():
    lex = LexiconPrelabeler.from_spans([("Parkinson", "disease"), ("parkinson", "disease")])
    assert len(lex.entries) == 1
    text = "maladie de parkinson ; Parkinson"
    assert len(lex.predict([text])[0]) == 2


def test_score_is_the_smoothed_share_of_decisions():
    lex = LexiconPrelabeler.from_decisions([
        ("fièvre", "disease", "accepted"), ("fièvre", "disease", "accepted"),
        ("Fièvre", "disease", "accepted"), ("fièvre", "disease", "rejected"),
        ("toux", "sign_or_symptom", "accepted"),
        ("rate", "body_part", "accepted"), ("rate", "body_part", "rejected"),
        ("rate", "body_part", "rejected"), ("rate", "body_part", "rejected"),
        ("jamais", "drug", "rejected"),
    ])
    text = "fièvre, toux, rate."
    scores = {text[s.start:s.end]: s.score for s in lex.predict([text])[0]}
    assert scores == {"fièvre": pytest.approx(4 / 6, abs=1e-4),
                      "toux": pytest.approx(2 / 3, abs=1e-4),
                      "rate": pytest.approx(2 / 6, abs=1e-4)}
    assert "jamais" not in lex.entries  # never accepted: never proposed
    assert smoothed_share(0, 0) == 0.5


def test_prelabel_job_scores_from_the_project_decisions(tmp_path):
    from db import Store

    with Store(str(tmp_path / "p.sqlite")) as store:
        a, b = store.import_documents([
            Document(text="Fièvre et toux. Fièvre encore.", name="a"),
            Document(text="Paracétamol pour la fièvre.", name="b"),
        ]).doc_ids
        store.add_span(a, Span(0, 6, "disease", source="human", status="accepted"))
        store.add_span(a, Span(16, 22, "disease", source="gliner2", status="rejected"))
        store.add_span(b, Span(0, 11, "drug", source="human", status="accepted"))
        drive(prelabel_job(store, backend="lexicon"))
        got = sorted((d, store.get_document(d).text[s.start:s.end], s.score)
                     for d in (a, b) for s in store.get_document(d).spans
                     if s.source == "lexicon")
    # "fièvre": 1 accepted of 2 decisions -> 2/4; the decided places are not proposed again
    assert got == [(b, "fièvre", 0.5)]
