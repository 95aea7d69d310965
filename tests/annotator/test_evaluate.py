"""Evaluation numbers checked by hand (TP/FP/FN reasoning written out in comments)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotator.evaluate import (
    Counts,
    agreement,
    cohen_kappa,
    evaluate,
    match_spans,
    plot_per_label,
    regressions,
    select_spans,
    token_kappa,
    token_labels,
    tokenize,
)
from annotator.model import Span


def S(start, end, label, **kw):
    return Span(start, end, label, **kw)


# Gold                        Pred
# g1 DISO [0,5)               p1 DISO [0,5)     exact copy of g1
# g2 DISO [10,20)             p2 DISO [10,15)   overlaps g2, other end
# g3 CHEM [30,35)             p3 CHEM [30,35)   exact copy of g3
# g4 ANAT [40,45)             p4 CHEM [30,35)   duplicate of p3
#                             p5 ANAT [50,55)   nowhere near g4
#                             p6 CHEM [40,45)   g4's offsets, wrong label
GOLD = {"d1": [S(0, 5, "DISO"), S(10, 20, "DISO"), S(30, 35, "CHEM"), S(40, 45, "ANAT")]}
PRED = {"d1": [S(0, 5, "DISO"), S(10, 15, "DISO"), S(30, 35, "CHEM"), S(30, 35, "CHEM"),
               S(50, 55, "ANAT"), S(40, 45, "CHEM")]}


def test_strict_numbers_by_hand():
    rep = evaluate(GOLD, PRED, mode="strict")
    # DISO: g1=p1 TP; p2 has other offsets -> FP, g2 unmatched -> FN.  P=1/2 R=1/2 F=1/2
    assert rep.per_label["DISO"] == Counts(tp=1, fp=1, fn=0 + 1)
    # CHEM: g3=p3 TP; p4 duplicate -> FP (one-to-one); p6 wrong label -> FP. no FN.
    #       P=1/3 R=1/1 F=2*1/(2*1+2+0)=1/2
    assert rep.per_label["CHEM"] == Counts(tp=1, fp=2, fn=0)
    # ANAT: p5 -> FP, g4 -> FN.  P=R=F=0
    assert rep.per_label["ANAT"] == Counts(tp=0, fp=1, fn=1)
    d = rep.to_dict()
    assert d["per_label"]["DISO"] == pytest.approx({"precision": .5, "recall": .5, "f1": .5})
    assert d["per_label"]["CHEM"] == pytest.approx({"precision": 1 / 3, "recall": 1.0,
                                                    "f1": .5})
    assert d["per_label"]["ANAT"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    # micro: TP=2 FP=4 FN=2 -> P=2/6 R=2/4 F=4/(4+4+2)=0.4
    assert d["micro"] == pytest.approx({"precision": 1 / 3, "recall": .5, "f1": .4})
    # macro: mean over DISO, CHEM, ANAT
    assert d["macro"] == pytest.approx({"precision": (.5 + 1 / 3 + 0) / 3,
                                        "recall": (.5 + 1 + 0) / 3,
                                        "f1": (.5 + .5 + 0) / 3})
    json.dumps(d)  # JSON-able
    assert set(d) >= {"micro", "macro", "per_label"}


def test_partial_numbers_by_hand():
    rep = evaluate(GOLD, PRED, mode="partial")
    # DISO: g1-p1 and g2-p2 overlap with the same label -> TP=2, nothing left over.
    assert rep.per_label["DISO"] == Counts(2, 0, 0)
    # CHEM: g3 takes one of p3/p4, the other is FP; p6 overlaps no CHEM gold -> FP.
    assert rep.per_label["CHEM"] == Counts(1, 2, 0)
    # ANAT: p5 [50,55) does not overlap g4 [40,45) -> FP and FN.
    assert rep.per_label["ANAT"] == Counts(0, 1, 1)
    # micro: TP=3 FP=3 FN=1 -> P=.5 R=.75 F=6/(6+3+1)=.6
    assert rep.micro.scores() == pytest.approx({"precision": .5, "recall": .75, "f1": .6})


def test_partial_matching_is_one_to_one_and_maximal():
    # gold A [0,10), B [20,30); pred X [5,25) overlaps both (5 chars each), Y [0,3) only A.
    # A greedy "first gold takes its best pred" would pair A-X and leave B alone (TP=1);
    # the maximum matching pairs A-Y and B-X (TP=2).
    gold = [S(0, 10, "DISO"), S(20, 30, "DISO")]
    pred = [S(5, 25, "DISO"), S(0, 3, "DISO")]
    assert match_spans(gold, pred, "partial") == [(0, 1), (1, 0)]
    assert evaluate({1: gold}, {1: pred}, mode="partial").micro == Counts(2, 0, 0)


def test_strict_compares_fragments():
    gold = [Span.from_fragments([(0, 3), (8, 12)], "DISO")]
    hull = [S(0, 12, "DISO")]
    same = [Span.from_fragments([(8, 12), (0, 3)], "DISO")]
    assert evaluate({1: gold}, {1: hull}).micro == Counts(0, 1, 1)
    assert evaluate({1: gold}, {1: same}).micro == Counts(1, 0, 0)
    # partial: the hull overlaps the fragments
    assert evaluate({1: gold}, {1: hull}, mode="partial").micro == Counts(1, 0, 0)


def test_labels_restrict_and_fix_macro():
    rep = evaluate(GOLD, PRED, labels=["DISO", "LIVB"])
    assert set(rep.per_label) == {"DISO", "LIVB"}
    # LIVB has no span anywhere: scores 0 and pulls the macro down
    assert rep.macro["f1"] == pytest.approx((.5 + 0) / 2)


def test_documents_only_on_one_side():
    rep = evaluate({"a": [S(0, 1, "X")]}, {"b": [S(0, 1, "X")]})
    assert rep.per_label["X"] == Counts(0, 1, 1)


def test_regressions_use_margin():
    base = evaluate({1: [S(0, 1, "A"), S(2, 3, "B")]}, {1: [S(0, 1, "A"), S(2, 3, "B")]})
    new = evaluate({1: [S(0, 1, "A"), S(2, 3, "B")]}, {1: [S(0, 1, "A")]})
    assert regressions(base, new, 0.05) == {"B": (1.0, 0.0)}
    assert regressions(base, new, 1.0) == {}
    assert regressions(new, base, 0.05) == {}


def test_tokenize_and_token_labels():
    text = "Fièvre et toux sèche ."
    assert [text[s:e] for s, e in tokenize(text)] == ["Fièvre", "et", "toux", "sèche", "."]
    # nested: the longest span labels the token
    spans = [S(10, 20, "DISO"), S(10, 14, "ANAT")]
    assert token_labels(text, spans) == ["O", "O", "DISO", "DISO", "O"]


def test_kappa_by_hand():
    text = "Fièvre et toux sèche ."
    a = [S(0, 6, "DISO"), S(10, 20, "DISO")]   # tokens: D O D D O
    b = [S(0, 6, "DISO"), S(10, 14, "DISO")]   # tokens: D O D O O
    # p_o = 4/5 = .8 ; a: D=3 O=2, b: D=2 O=3 ; p_e = (3*2 + 2*3)/25 = .48
    # kappa = (.8 - .48) / (1 - .48) = .32/.52
    assert token_kappa({1: text}, {1: a}, {1: b}) == pytest.approx(0.32 / 0.52)
    assert cohen_kappa(list("DODDO"), list("DODDO")) == 1.0
    assert cohen_kappa(list("OOO"), list("OOO")) == 1.0
    # kappa is 0 when agreement equals chance: a always D, b half D
    assert cohen_kappa(list("DDDD"), list("DDOO")) == pytest.approx(0.0)


def test_agreement_matrix():
    text = "Fièvre et toux sèche ."
    sets = {
        "alice": {1: [S(0, 6, "DISO"), S(10, 20, "DISO")]},
        "bob": {1: [S(0, 6, "DISO"), S(10, 14, "DISO")]},
        "gliner2": {1: [S(0, 6, "DISO"), S(10, 20, "DISO")]},
    }
    res = agreement({1: text}, sets)
    assert list(res) == [("alice", "bob"), ("alice", "gliner2"), ("bob", "gliner2")]
    # alice vs bob: strict TP=1 FP=1 FN=1 -> F1 = 2/(2+1+1) = .5
    assert res[("alice", "bob")]["f1"] == pytest.approx(.5)
    assert res[("alice", "gliner2")] == pytest.approx({"f1": 1.0, "kappa": 1.0, "n_a": 2,
                                                       "n_b": 2})


def test_select_spans_by_source_or_annotator():
    spans = [S(0, 1, "A", source="import"), S(0, 1, "A", source="human", annotator="ann"),
             S(2, 3, "A", source="gliner2", status="rejected"),
             S(2, 3, "A", source="gliner2", status="proposed")]
    assert len(select_spans(spans, "import")) == 1
    assert len(select_spans(spans, "gliner2")) == 1  # rejected ones never count
    assert select_spans(spans, "ann")[0].source == "human"


def test_plot_writes_png(tmp_path):
    rep = evaluate(GOLD, PRED)
    out = plot_per_label({"strict": rep, "partial": evaluate(GOLD, PRED, mode="partial")},
                         str(tmp_path / "f1.png"))
    assert Path(out).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------- CLI
@pytest.fixture
def cli_db(tmp_path):
    """One document: import spans are gold, gliner2 proposals and a human annotator's spans
    are the predictions (the GOLD/PRED case above, plus a rejected proposal that never
    counts)."""
    from annotator.model import Document, LabelSchema
    from annotator.schemas import load_schema
    from db import Store

    db = str(tmp_path / "e.sqlite")
    store = Store(db, "p")
    store.set_schema(LabelSchema.from_dict(load_schema("quaero").to_dict()))
    text = "x" * 60
    spans = [Span(s.start, s.end, s.label, source="import") for s in GOLD["d1"]]
    spans += [Span(s.start, s.end, s.label, source="gliner2", status="proposed")
              for s in PRED["d1"]]
    spans.append(Span(20, 25, "DISO", source="gliner2", status="rejected"))
    spans.append(Span(0, 5, "DISO", source="human", annotator="alice"))
    store.import_documents([Document(text=text, spans=spans)])
    store.close()
    return db


def _cli(capsys, *argv):
    from annotator.cli import main

    rc = main(list(argv))
    return rc, capsys.readouterr()


def test_cli_evaluate_json_by_hand(cli_db, capsys, tmp_path):
    rc, out = _cli(capsys, "--db", cli_db, "--project", "p", "evaluate", "--gold", "import",
                   "--pred", "gliner2", "--json", "--plot", str(tmp_path / "p.png"))
    assert rc == 0
    d = json.loads(out.out)
    assert set(d) >= {"micro", "macro", "per_label"}
    assert set(d["micro"]) == {"precision", "recall", "f1"}
    # same numbers as test_strict_numbers_by_hand (the rejected proposal is ignored)
    assert d["micro"] == pytest.approx({"precision": 1 / 3, "recall": .5, "f1": .4})
    # macro over the 10 quaero labels: the 7 labels without spans score 0
    assert d["macro"]["f1"] == pytest.approx((.5 + .5 + 0) / 10)
    assert (tmp_path / "p.png").exists()
    rc, out = _cli(capsys, "--db", cli_db, "--project", "p", "evaluate", "--gold", "import",
                   "--pred", "gliner2", "--json", "--partial")
    assert json.loads(out.out)["micro"] == pytest.approx({"precision": .5, "recall": .75,
                                                          "f1": .6})
    # an annotator name as SOURCE
    rc, out = _cli(capsys, "--db", cli_db, "--project", "p", "evaluate", "--gold", "import",
                   "--pred", "alice", "--json")
    assert json.loads(out.out)["micro"] == pytest.approx({"precision": 1.0, "recall": .25,
                                                          "f1": .4})


def test_cli_agreement_and_models(cli_db, capsys):
    rc, out = _cli(capsys, "--db", cli_db, "--project", "p", "agreement", "--sources",
                   "import,gliner2,alice", "--json")
    rows = json.loads(out.out)
    assert [(r["a"], r["b"]) for r in rows] == [("import", "gliner2"), ("import", "alice"),
                                                ("gliner2", "alice")]
    assert rows[0]["f1"] == pytest.approx(.4)
    assert -1.0 <= rows[0]["kappa"] <= 1.0
    rc, out = _cli(capsys, "--db", cli_db, "--project", "p", "models", "list")
    assert rc == 0 and "no models registered" in out.out
    rc, out = _cli(capsys, "--db", cli_db, "--project", "p", "models", "set-default", "7")
    assert rc == 2 and "no model 7" in out.err
