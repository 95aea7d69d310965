"""Grounding: LLM texts become spans only where they occur in the document."""

from annotator.llm.grounding import exact_matches, ground

TEXT = "Pneumonie droite. La pneumonie est traitée ; pneumonies  récidivantes, Pneumonie."


def _spans(text, ents):
    res = ground(text, ents)
    return [(text[s.start:s.end], s.label, s.match) for s in res.spans], res.hallucinations


def test_exact_finds_all_occurrences_with_word_boundaries():
    hits = exact_matches(TEXT, "pneumonie")
    assert [TEXT[s:e] for s, e in hits] == ["pneumonie"]  # "pneumonies" is another word
    assert len(exact_matches(TEXT, "Pneumonie")) == 2


def test_offsets_are_code_points_and_accents_kept():
    text = "Hépatite C et œdème aigu. Œdème."
    spans, hall = _spans(text, [{"text": "œdème aigu", "label": "disease"}])
    assert spans == [("œdème aigu", "disease", "exact")] and not hall


def test_case_and_whitespace_tolerant_only_when_no_exact_match():
    text = "Insuffisance   cardiaque\ngauche et DIABÈTE."
    spans, hall = _spans(text, [{"text": "insuffisance cardiaque gauche", "label": "disease"},
                                {"text": "diabète", "label": "disease"}])
    assert spans == [("Insuffisance   cardiaque\ngauche", "disease", "tolerant"),
                     ("DIABÈTE", "disease", "tolerant")]
    assert not hall


def test_decomposed_accents_in_document_match_composed_text():
    text = "Fie\u0300vre et ce\u0301phale\u0301es."  # NFD: e + combining grave / acute
    spans, hall = _spans(text, [{"text": "fièvre", "label": "disease"},
                                {"text": "céphalées", "label": "disease"}])
    assert [s for s, _, _ in spans] == ["Fie\u0300vre", "ce\u0301phale\u0301es"]
    assert not hall


def test_word_inside_another_word_is_not_a_match():
    spans, hall = _spans("Les reins sont normaux.", [{"text": "rein", "label": "body_part"}])
    assert spans == []
    assert hall == [{"text": "rein", "label": "body_part",
                     "reason": "only found inside other words"}]


def test_hallucination_counted_never_a_span():
    res = ground(TEXT, [{"text": "tuberculose", "label": "disease"},
                        {"text": "pneumonie", "label": "disease"}], offset=100)
    assert [(s.start, s.end) for s in res.spans] == [(121, 130)]
    assert res.hallucinations == [{"text": "tuberculose", "label": "disease",
                                   "reason": "not in the document"}]


def test_same_text_two_labels_and_duplicates():
    res = ground("IRM et IRM.", [{"text": "IRM", "label": "a"}, {"text": "IRM", "label": "a"},
                                 {"text": "IRM", "label": "b"}])
    assert sorted((s.start, s.label) for s in res.spans) == [(0, "a"), (0, "b"), (7, "a"),
                                                             (7, "b")]


def test_punctuation_edges_and_elision():
    text = "Prise d'amoxicilline (1 g) ; HbA1c=7,5 %."
    spans, hall = _spans(text, [{"text": "amoxicilline", "label": "drug"},
                                {"text": "HbA1c", "label": "molecular_marker"}])
    assert [s for s, _, _ in spans] == ["amoxicilline", "HbA1c"] and not hall
