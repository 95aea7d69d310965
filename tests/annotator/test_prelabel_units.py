"""Pre-labeling building blocks without models: alignment repair, window planning, merging
of overlapping windows, BIO decoding, lexicon matching and density arithmetic."""

import math

import pytest

from annotator.model import Span
from annotator.prelabel.align import AlignStats, align_span, check_or_repair
from annotator.prelabel.density import covered_chars, density, quantile, summarize
from annotator.prelabel.lexicon import LexiconPrelabeler
from annotator.prelabel.transformers_backend import decode_words, split_tag
from annotator.prelabel.windows import Candidate, TokenOffsets, merge_spans, plan_windows

TEXT = "Le patient  présente une pneumonie aiguë."


# ---------------------------------------------------------------- alignment
def test_exact_offsets_are_kept():
    s = TEXT.index("pneumonie")
    assert align_span(TEXT, s, s + 9, "pneumonie") == (s, s + 9)


def test_whitespace_slips_are_repaired():
    s = TEXT.index("présente")
    # offsets include the double space before the word
    assert align_span(TEXT, s - 2, s + 8, "présente") == (s, s + 8)
    # surface carries a trailing space the offsets do not
    assert align_span(TEXT, s, s + 8, "présente ") == (s, s + 8)
    # off by one around whitespace, both directions
    assert align_span(TEXT, s - 1, s + 7, "présente") == (s, s + 8)
    assert align_span(TEXT, s + 1, s + 9, "présente") == (s, s + 8)
    # no surface: offsets trimmed of whitespace
    assert align_span(TEXT, s - 1, s + 9, None) == (s, s + 8)


def test_unrepairable_spans_are_dropped_and_counted():
    stats = AlignStats()
    s = TEXT.index("pneumonie")
    assert check_or_repair(TEXT, s, s + 9, "pneumonie", stats) == (s, s + 9)
    assert check_or_repair(TEXT, s - 1, s + 8, "pneumonie", stats) == (s, s + 9)
    assert check_or_repair(TEXT, 0, 2, "pneumonie", stats) is None  # far away
    assert check_or_repair(TEXT, s, s + 9, "bronchite", stats) is None  # not in the text
    assert check_or_repair(TEXT, 10, 12, "  ", stats) is None  # whitespace only
    assert check_or_repair(TEXT, 40, 45, "x", stats) is None  # past the end
    assert (stats.kept, stats.repaired, stats.dropped) == (1, 1, 4)


# ---------------------------------------------------------------- windows
def word_tokens(text: str, sub: int = 2) -> TokenOffsets:
    """Every word split into ``sub`` pseudo sub-tokens (like WordPiece ##pieces)."""
    starts, ends, wids = [], [], []
    pos = 0
    for w, word in enumerate(text.split(" ")):
        for _ in range(sub):
            starts.append(pos)
            ends.append(pos + len(word))
            wids.append(w)
        pos += len(word) + 1
    return TokenOffsets(starts, ends, wids)


LONG = " ".join(f"mot{i}" for i in range(300))


def test_full_windows_cover_everything_on_word_boundaries():
    tok = word_tokens(LONG, sub=3)  # 900 tokens
    plan = plan_windows(tok, 100, overlap=20)
    assert not plan.truncated and plan.covered == (0, len(LONG))
    assert len(plan.windows) > 1
    covered = set()
    for w in plan.windows:
        assert w.n_tokens <= 100
        assert tok.is_word_start(w.tok_start) and tok.is_word_start(w.tok_end)
        covered.update(range(w.tok_start, w.tok_end))
    assert covered == set(range(len(tok)))
    for a, b in zip(plan.windows, plan.windows[1:]):
        assert b.tok_start < a.tok_end  # they overlap
        assert a.tok_end - b.tok_start <= 21
    assert not plan.windows[0].left_cut and not plan.windows[-1].right_cut
    assert all(w.right_cut for w in plan.windows[:-1])


def test_a_word_longer_than_a_window_is_split_rather_than_lost():
    tok = TokenOffsets(list(range(50)), list(range(1, 51)), [0] * 50)
    plan = plan_windows(tok, 16, overlap=4)
    assert set().union(*(range(w.tok_start, w.tok_end) for w in plan.windows)) == set(range(50))


def test_middle_mode_keeps_the_middle_tokens_and_says_so():
    tok = word_tokens(LONG, sub=2)  # 600 tokens
    plan = plan_windows(tok, 100, overlap=10, mode="middle", middle_tokens=200)
    assert plan.truncated
    first, last = plan.windows[0], plan.windows[-1]
    n_kept = last.tok_end - first.tok_start
    assert 198 <= n_kept <= 200
    assert abs(first.tok_start - (600 - last.tok_end)) <= 2  # centred
    assert plan.covered == (tok.starts[first.tok_start], tok.ends[last.tok_end - 1])
    short = word_tokens("un texte court", sub=1)
    p2 = plan_windows(short, 100, mode="middle", middle_tokens=200)
    assert not p2.truncated and len(p2.windows) == 1


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError):
        plan_windows(word_tokens("a b"), 10, mode="head")


def test_merge_keeps_one_copy_with_the_max_score():
    cands = [Candidate(10, 20, "drug", 0.6, window=0, edge=5),
             Candidate(10, 20, "drug", 0.9, window=1, edge=50),
             Candidate(10, 20, "disease", 0.7, window=1, edge=50)]
    out = merge_spans(cands)
    assert [(c.label, c.start, c.end, c.score) for c in out] == [
        ("disease", 10, 20, 0.7), ("drug", 10, 20, 0.9)]


def test_merge_prefers_the_span_away_from_a_window_edge():
    near_edge = Candidate(95, 100, "disease", 0.95, window=0, edge=0)  # cut by window 0's end
    central = Candidate(90, 110, "disease", 0.6, window=1, edge=40)
    same_window = Candidate(92, 96, "disease", 0.7, window=1, edge=42)
    out = merge_spans([near_edge, central, same_window])
    assert {(c.start, c.end) for c in out} == {(90, 110), (92, 96)}


# ---------------------------------------------------------------- BIO decoding
def test_split_tag_and_decode_words():
    assert split_tag("B-DRUG") == ("B", "DRUG") and split_tag("O") == ("O", "")
    assert split_tag("DRUG") == ("I", "DRUG")
    tags = [("B-DRUG", 0.9), ("I-DRUG", 0.7), ("O", 0.9), ("I-FORM", 0.5), ("B-FORM", 0.6),
            ("S-DOSE", 0.8), ("I-DOSE", 0.4)]
    assert decode_words(tags) == [(0, 2, "DRUG", pytest.approx(0.8)), (3, 4, "FORM", 0.5),
                                  (4, 5, "FORM", 0.6), (5, 6, "DOSE", 0.8), (6, 7, "DOSE", 0.4)]


# ---------------------------------------------------------------- lexicon
def test_lexicon_labels_every_whole_word_occurrence():
    text = ("Insuffisance rénale aiguë. Pas d'insuffisance rénale chronique. "
            "Glande surrénale normale. IRA sur insuffisance rénale aiguë ; rénale.")
    lex = LexiconPrelabeler({"insuffisance rénale aiguë": "disease", "rénale": "body_part"},
                            exact_case=True)
    spans = lex.predict([text])[0]
    got = [(text[s.start:s.end], s.label) for s in spans]
    # the longer entry wins where both match; "rénale" alone is found everywhere else
    assert got == [("rénale", "body_part"), ("rénale", "body_part"),
                   ("insuffisance rénale aiguë", "disease"), ("rénale", "body_part")]
    # with exact case 'Insuffisance' (capital) is only found case-insensitively; 'surrénale'
    # never
    assert "surrénale" not in {g for g, _ in got}
    ci = LexiconPrelabeler({"insuffisance rénale aiguë": "disease"}, case_insensitive=True)
    got_ci = [text[s.start:s.end] for s in ci.predict([text])[0]]
    assert got_ci == ["Insuffisance rénale aiguë", "insuffisance rénale aiguë"]
    assert all(s.source == "lexicon" and s.status == "proposed" and s.score == 1.0
               for s in spans)


def test_lexicon_boundaries_with_accents_and_punctuation_entries():
    text = "œdème, Œdème. préœdème ; TA 12/8 ; 12/8 mmHg"
    lex = LexiconPrelabeler({"œdème": "disease", "12/8": "vital_function"},
                            case_insensitive=True)
    got = [(s.start, text[s.start:s.end]) for s in lex.predict([text])[0]]
    assert got == [(0, "œdème"), (7, "Œdème"), (28, "12/8"), (35, "12/8")]


def test_lexicon_from_spans_takes_the_most_frequent_label():
    lex = LexiconPrelabeler.from_spans([("fièvre", "disease"), ("fièvre", "disease"),
                                        ("fièvre", "vital_function"), (" toux ", "disease")])
    assert lex.entries == {"fièvre": "disease", "toux": "disease"}


# ---------------------------------------------------------------- density
def test_density_by_hand():
    # 40 characters; spans [0,10) and [5,15) overlap -> 15 covered; [20,24)+[30,34)
    # discontinuous -> 8 more; [38, 45) is clipped to the text -> 2 more. 25 / 40.
    spans = [Span(0, 10, "a"), Span(5, 15, "b"),
             Span.from_fragments([(20, 24), (30, 34)], "c"), Span(38, 45, "d")]
    assert covered_chars(spans, 40) == 25
    assert density(40, spans) == 25 / 40
    assert density(40, []) == 0.0
    assert density(0, []) is None


def test_density_summary_by_hand():
    s = summarize([0.1, 0.2, 0.4, None, 1.0], bins=5)
    assert s["count"] == 4 and s["missing"] == 1
    assert s["mean"] == pytest.approx(0.425)
    assert s["median"] == pytest.approx(0.3)
    assert s["min"] == 0.1 and s["max"] == 1.0
    assert s["quantiles"]["p50"] == pytest.approx(0.3)
    assert s["quantiles"]["p25"] == pytest.approx(0.175)
    assert [b["count"] for b in s["histogram"]] == [1, 1, 1, 0, 1]
    assert quantile([1.0, 3.0], 0.5) == 2.0 and math.isnan(quantile([], 0.5))
    assert summarize([])["mean"] is None


def test_resolve_device_auto_and_unavailable_cuda():
    import torch

    from annotator.errors import AnnotatorError
    from annotator.prelabel.loading import resolve_device

    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("CPU") == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(AnnotatorError, match="CUDA is not available"):
            resolve_device("cuda:0")
