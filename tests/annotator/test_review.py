"""Core review logic: word snapping, navigation, disagreements, annotator identity."""

from __future__ import annotations

import pytest

from annotator import review
from annotator.model import Span


@pytest.mark.parametrize("text, sel, expected", [
    ("l'hypertension artérielle", (3, 7), "hypertension"),      # elision: apostrophe bounds
    ("l’hypertension", (2, 5), "hypertension"),                 # typographic apostrophe
    ("un anti-inflammatoire puissant", (4, 8), "anti-inflammatoire"),  # hyphen compound
    ("  fièvre  ", (0, 10), "fièvre"),                           # whitespace trimmed
    ("douleur, fièvre", (2, 8), "douleur"),                      # trailing comma trimmed
    ("Crohn's", (0, 3), "Crohn"),
    ("dose 500 mg", (6, 7), "500"),
    ("e\u0301tat ok", (1, 3), "e\u0301tat"),                     # combining accent
    ("sous-cutané - oui", (0, 2), "sous"),                       # a hyphen is a boundary
    ("sous-cutané - oui", (0, 6), "sous-cutané"),                # crossing it takes both parts
    ("un anti-inflammatoire puissant", (10, 14), "inflammatoire"),  # inside one part: that part
])
def test_snap_to_words(text, sel, expected):
    s, e = review.snap_to_words(text, *sel)
    assert text[s:e] == expected


def test_snap_to_words_on_blank_selection_is_empty():
    s, e = review.snap_to_words("a   b", 1, 4)
    assert s == e


def test_snap_keeps_an_exact_word_selection():
    text = "hypertension artérielle"
    assert review.snap_to_words(text, 0, len(text)) == (0, len(text))


def sp(start, end, label="disease", source="gliner2", status="proposed", id_=None):
    return Span(start, end, label, source=source, status=status, id=id_)


def test_next_suggestion_walks_proposed_spans_in_order():
    spans = [sp(10, 15, id_=2), sp(0, 5, id_=1), sp(10, 20, id_=3),
             sp(30, 35, status="accepted", id_=4)]
    first = review.next_suggestion(spans, 0)
    assert first.id == 1 or (first.start, first.id) == (0, 1)
    assert review.next_suggestion(spans, 0, current=first).id == 2
    assert review.next_suggestion(spans, 0, current=spans[0]).id == 3
    assert review.next_suggestion(spans, 0, current=spans[2]) is None  # accepted skipped
    assert review.next_suggestion(spans, 12, backward=True).id == 3
    assert review.next_suggestion(spans, 0, current=first, backward=True) is None


def test_spans_at_returns_innermost_first():
    outer, inner = sp(0, 20, id_=1), sp(5, 10, id_=2)
    assert [s.id for s in review.spans_at([outer, inner], 6)] == [2, 1]
    assert [s.id for s in review.spans_at([outer, inner], 12)] == [1]
    rejected = sp(30, 40, status="rejected", id_=3)
    assert review.spans_at([rejected], 31) == []
    assert review.spans_at([rejected], 31, include_rejected=True) == [rejected]


def test_disagreements_between_sources():
    same = [sp(0, 5, source="gliner2"), sp(0, 5, source="llm_pass1")]
    differ = [sp(10, 15, source="gliner2"), sp(10, 15, "drug", source="llm_pass1")]
    missing = [sp(20, 25, source="gliner2")]
    regions = review.disagreements(same + differ + missing)
    assert regions == [(10, 15), (20, 25)]
    assert review.next_disagreement(same + differ + missing, 0) == (10, 15)
    assert review.next_disagreement(same + differ + missing, 10) == (20, 25)
    assert review.next_disagreement(same + differ + missing, 20, backward=True) == (10, 15)
    assert review.disagreements(missing) == []  # one source cannot disagree


def test_annotator_identity_env_then_file(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("ANNOTATOR_ANNOTATOR", "dr.env")
    assert review.get_annotator() == "dr.env"
    monkeypatch.delenv("ANNOTATOR_ANNOTATOR")
    review.set_annotator("  dr.file ")
    assert review.get_annotator() == "dr.file"


# ---------------------------------------------------------------- word steps (span boundaries)
@pytest.mark.parametrize("text, pos, direction, edge, expected", [
    ("la fièvre aiguë", 2, +1, "end", 9),                  # end of the next word
    ("la fièvre aiguë", 9, -1, "end", 2),                  # end of the previous word
    ("la fièvre aiguë", 3, -1, "start", 0),                # start of the previous word
    ("la fièvre aiguë", 3, +1, "start", 10),               # start of the next word
    ("l'hypertension artérielle", 14, +1, "end", 25),      # accented letters are letters
    ("l'hypertension", 2, -1, "start", 0),                 # apostrophe is a boundary
    ("l’hypertension", 14, -1, "end", 1),                  # typographic apostrophe too
    ("un anti-inflammatoire puissant", 2, +1, "end", 7),   # a hyphen is a boundary
    ("un anti-inflammatoire puissant", 7, +1, "end", 21),  # ... the next step: the compound
    ("fièvre, toux", 6, +1, "end", 12),                    # over punctuation
    ("fièvre, toux", 12, -1, "end", 6),                    # back over punctuation
    ("e\u0301tat ok", 0, +1, "start", 6),                  # combining accent in the word
    ("fin.", 3, +1, "end", 3),                             # no word further: unchanged
    ("début", 0, -1, "start", 0),
    ("ligne\nsuite", 5, +1, "end", 11),
])
def test_word_step(text, pos, direction, edge, expected):
    assert review.word_step(text, pos, direction, edge=edge) == expected


@pytest.mark.parametrize("span, edge, direction, expected", [
    ((3, 9), "end", +1, (3, 15)),
    ((3, 15), "end", -1, (3, 9)),
    ((3, 9), "end", -1, None),        # would empty the span
    ((3, 15), "start", +1, (10, 15)),
    ((10, 15), "start", +1, None),    # would empty the span
    ((3, 9), "start", -1, (0, 9)),
    ((0, 9), "start", -1, None),      # nothing further left
    ((10, 15), "end", +1, None),      # nothing further right
])
def test_move_boundary_never_empties_a_span(span, edge, direction, expected):
    assert review.move_boundary("la fièvre aiguë", *span, edge, direction) == expected


def test_snap_fragments_snaps_sorts_and_merges():
    text = "douleur thoracique et fièvre"
    assert review.snap_fragments(text, [(23, 25), (1, 3)]) == [(0, 7), (22, 28)]
    assert review.snap_fragments(text, [(0, 3), (2, 9)]) == [(0, 18)]  # overlap: merged
    assert review.snap_fragments(text, [(7, 8), (1, 3)]) == [(0, 7)]  # blank one dropped
    assert review.snap_fragments(text, [(1, 3), (23, 25)], exact=True) == [(1, 3), (23, 25)]


DRAG_TEXT = "Pneumonie du lobe inférieur droit, sous amoxicilline."


@pytest.mark.parametrize("edge, pos, exact, expected", [
    # the end dropped inside "inférieur" snaps to the end of that word
    ("end", DRAG_TEXT.index("férieur"), False, (0, DRAG_TEXT.index(" droit"))),
    # ... or stays where it was dropped with the exact modifier
    ("end", DRAG_TEXT.index("férieur"), True, (0, DRAG_TEXT.index("férieur"))),
    # dropped after the comma that follows "droit": edge punctuation is trimmed
    ("end", DRAG_TEXT.index(",") + 1, True, (0, DRAG_TEXT.index(",") + 1)),
    ("end", DRAG_TEXT.index(",") + 1, False, None),
    # the start dragged left into "du": snaps to the start of "du"
    ("start", DRAG_TEXT.index("u lobe"), False, (DRAG_TEXT.index("du"), DRAG_TEXT.index(","))),
    # onto or past the other edge: refused, the span never becomes empty or reversed
    ("end", 0, False, None),
    ("start", DRAG_TEXT.index(","), False, None),
    # dropped inside the word it already ends: nothing changes
    ("end", DRAG_TEXT.index("droit") + 2, False, None),
])
def test_drag_boundary(edge, pos, exact, expected):
    start = 0 if edge == "end" else DRAG_TEXT.index("lobe")
    assert review.drag_boundary(DRAG_TEXT, start, DRAG_TEXT.index(","), edge, pos,
                                exact=exact) == expected
