"""GLiNER2 over whole documents: windows in the model's own tokens on both tokenizer
families (WordPiece BERT, SentencePiece/Unigram DeBERTa-v2), offsets mapped back, nothing
truncated, short documents identical to ``extract_entities``."""

import pytest

from annotator.prelabel.windows import fast_token_offsets, plan_windows

pytestmark = pytest.mark.slow

LABELS = {"disease": "maladie ou symptôme", "drug": "médicament", "body_part": "partie du corps"}


# random tiny heads score near 0.5: a lower threshold keeps spans for any build of the model
THRESHOLD = 0.2


@pytest.fixture(scope="module", params=["bert", "deberta"])
def tiny_gliner2(request):
    """Both tokenizer families, through the same engine."""
    name = {"bert": "tiny_gliner2_bert", "deberta": "tiny_gliner2_deberta"}[request.param]
    return request.getfixturevalue(name)


@pytest.fixture(scope="module")
def engine(tiny_gliner2):
    """batch_size=1: each window runs alone, exactly as ``extract_entities`` runs it (with
    random weights every score sits near 0.5, where padding noise in a batch could flip a
    span across the threshold)."""
    from annotator.prelabel.gliner2_backend import GLiNER2Prelabeler

    return GLiNER2Prelabeler(str(tiny_gliner2), LABELS, threshold=THRESHOLD, batch_size=1)


def naive_window_loop(engine, text, plan):
    """Reference: ``extract_entities`` window by window, offsets shifted to the document."""
    raw = {}
    for w in plan.windows:
        s = 0 if not w.left_cut else w.start
        e = len(text) if not w.right_cut else w.end
        res = engine.extractor.extract_entities(text[s:e], LABELS, threshold=THRESHOLD,
                                                include_spans=True, include_confidence=True)
        for label, items in res["entities"].items():
            for it in items:
                n = e - s
                if it["start"] < n:  # gliner2 appends '.' to the window; that is not text
                    surface = it["text"][:n - it["start"]].rstrip()
                    a = s + it["start"]
                    raw.setdefault((label, a, a + len(surface)), surface)
    return raw


def test_long_document_is_windowed_not_truncated(engine, fr_long_text):
    text = fr_long_text
    plan = plan_windows(engine.token_offsets(text), engine.text_budget, overlap=engine.overlap)
    assert plan.n_tokens > 512 * 3 and len(plan.windows) > 3
    assert not plan.truncated and plan.covered == (0, len(text.rstrip()))
    # every encoder input, label prompt included, fits the model's 512 positions
    assert max(engine.input_length(text[w.start:w.end]) for w in plan.windows) <= 512

    [pred] = engine.predict_docs([text])
    assert pred.windows == len(plan.windows) and not pred.truncated and pred.dropped == 0
    assert pred.spans
    raw = naive_window_loop(engine, text, plan)
    kept = {(sp.label, sp.start, sp.end) for sp in pred.spans}
    for label, s, e in raw:  # a raw span is kept, or lost to an overlapping one in another window
        assert (label, s, e) in kept or any(
            k[0] == label and k[1] < e and s < k[2] for k in kept)
    for sp in pred.spans:
        surface = raw.get((sp.label, sp.start, sp.end))
        assert surface is not None, "every span comes from a window's raw prediction"
        assert text[sp.start:sp.end] == surface.strip() == text[sp.start:sp.end].strip()
        assert sp.source == "gliner2" and sp.status == "proposed" and THRESHOLD <= sp.score <= 1
    # spans are found in every window
    for w in plan.windows:
        assert any(w.start <= sp.start and sp.end <= w.end for sp in pred.spans), w


def test_short_document_equals_extract_entities(engine):
    text = "Le patient présente une pneumonie traitée par amoxicilline 1 g matin et soir."
    ref = engine.extractor.extract_entities(text, LABELS, threshold=THRESHOLD, include_spans=True,
                                            include_confidence=True)
    expected = sorted((it["start"], it["end"], label, round(it["confidence"], 6))
                      for label, items in ref["entities"].items() for it in items)
    [pred] = engine.predict_docs([text])
    assert pred.windows == 1
    assert sorted((s.start, s.end, s.label, s.score) for s in pred.spans) == expected


def test_middle_mode_reads_only_the_middle_tokens(tiny_gliner2, fr_long_text):
    from annotator.prelabel.gliner2_backend import GLiNER2Prelabeler

    eng = GLiNER2Prelabeler(str(tiny_gliner2), LABELS, window="middle")
    [pred] = eng.predict_docs([fr_long_text])
    assert pred.truncated
    lo, hi = pred.covered
    assert 0 < lo < hi < len(fr_long_text)
    assert abs(lo - (len(fr_long_text) - hi)) < len(fr_long_text) * 0.1  # about centred
    assert all(lo <= s.start and s.end <= hi for s in pred.spans)
    assert "window=middle" in eng.source_version


def test_fast_tokenizer_offsets_on_both_families(tiny_gliner2, fr_long_text):
    """The transformers-side offset mapping, on WordPiece and on Unigram: each token's
    offsets point into the document, windows fit, and cover every token."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_gliner2))
    ids, offs = fast_token_offsets(tok, fr_long_text)
    assert len(ids) == len(offs) > 512
    covered = set()
    for i, (s, e) in enumerate(zip(offs.starts, offs.ends)):
        assert 0 <= s <= e <= len(fr_long_text)
        assert i == 0 or s >= offs.starts[i - 1]  # monotone
        covered.update(range(s, e))
    # every non-space character of the document belongs to a token
    assert {i for i, ch in enumerate(fr_long_text) if not ch.isspace()} <= covered
    plan = plan_windows(offs, 510, overlap=32)
    assert len(plan.windows) > 1 and not plan.truncated
    for w in plan.windows:
        n = len(tok(fr_long_text[w.start:w.end], add_special_tokens=True)["input_ids"])
        assert n <= 512 + 2  # re-tokenizing a window may differ at its edges by a token


def test_prompt_too_long_for_the_model_is_a_clear_error(tiny_gliner2_bert):
    from annotator.errors import AnnotatorError
    from annotator.prelabel.gliner2_backend import GLiNER2Prelabeler
    from annotator.schemas import load_schema

    # FineMed's 8 descriptions, each said 4 times: far more than 512 tokens of prompt
    labels = {k: " ".join([d] * 4) for k, d in load_schema("finemed-fr").descriptions().items()}
    with pytest.raises(AnnotatorError, match="label prompt"):
        GLiNER2Prelabeler(str(tiny_gliner2_bert), labels)
