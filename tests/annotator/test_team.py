"""Teams: balanced assignment, per-annotator layers, agreement between people and
adjudication, through the real CLI on SQLite (QUAERO fixture) and the pure core."""

import json
from collections import Counter
from pathlib import Path

import pytest

from annotator.cli import main
from annotator.errors import AnnotatorError
from annotator.evaluate import token_labels, tokenize
from annotator.model import Span
from annotator.team import adjudication_plan, fleiss_kappa, plan_assignment, team_agreement

DATA = Path(__file__).resolve().parents[1] / "data"
QUAERO = DATA / "quaero" / "corpus" / "train"


# ---------------------------------------------------------------------------- pure core
def test_assignment_is_balanced_distinct_and_seeded():
    docs = list(range(1, 31))
    plan = plan_assignment(docs, ["alice", "bob", "carol", "dan"], 3, seed=7)
    assert sorted(plan) == docs
    assert all(len(set(v)) == 3 for v in plan.values())
    load = Counter(a for v in plan.values() for a in v)
    assert sum(load.values()) == 90 and max(load.values()) - min(load.values()) <= 1
    assert plan == plan_assignment(docs, ["alice", "bob", "carol", "dan"], 3, seed=7)
    assert plan != plan_assignment(docs, ["alice", "bob", "carol", "dan"], 3, seed=8)


def test_assignment_completes_existing_and_counts_their_load():
    existing = {1: {"alice"}, 2: {"alice"}, 3: {"alice", "bob"}}
    plan = plan_assignment([1, 2, 3, 4], ["alice", "bob"], 2, existing=existing, seed=1)
    assert plan == {1: ["alice", "bob"], 2: ["alice", "bob"], 4: ["alice", "bob"]} or \
        plan == {1: ["bob"], 2: ["bob"], 4: ["alice", "bob"]}
    assert plan[1] == ["bob"] and plan[2] == ["bob"] and 3 not in plan
    one = plan_assignment([1, 2, 3, 4], ["alice", "bob"], 1, existing={1: {"alice"}}, seed=1)
    assert Counter(a for v in one.values() for a in v) + Counter(alice=1) == Counter(alice=2,
                                                                                    bob=2)


@pytest.mark.parametrize("names, n, message", [
    (["alice", "bob"], 3, "more than the 2 annotators"),
    (["alice", "alice"], 1, "twice"),
    (["al::ice"], 1, "may not contain"),
    (["alice"], 0, "at least 1"),
])
def test_assignment_refuses_impossible_requests(names, n, message):
    with pytest.raises(AnnotatorError, match=message):
        plan_assignment([1], names, n)


def test_fleiss_kappa_matches_the_published_example():
    # Fleiss (1971) as worked on Wikipedia: 10 subjects, 14 raters, 5 categories, kappa 0.210
    table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0],
             [2, 2, 8, 1, 1], [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2],
             [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    items = [{str(j): c for j, c in enumerate(row) if c} for row in table]
    assert fleiss_kappa(items) == pytest.approx(0.2099, abs=5e-4)
    assert fleiss_kappa([{"O": 2}, {"O": 2}]) is None  # one category only: undefined
    assert fleiss_kappa([{"O": 1}]) is None  # one rating: left out


def test_pair_agreement_on_a_small_case_worked_by_hand():
    text = "fièvre et toux sèche"
    a = {1: [Span(0, 6, "DISO"), Span(10, 14, "DISO")]}
    b = {1: [Span(0, 6, "DISO"), Span(10, 20, "DISO")]}
    res = team_agreement({1: text}, {"a": a, "b": b}, {"a": {1}, "b": {1}})
    p = res.pairs[0]
    # strict: 1 match of 2 + 2 spans -> F1 0.5; partial: both pairs overlap -> 1.0
    assert (p.strict_f1, p.partial_f1) == (0.5, 1.0)
    # tokens fièvre/et/toux/sèche: a = D O D O, b = D O D D -> po 3/4, pe (2*3 + 2*1)/16
    assert p.kappa == pytest.approx((0.75 - 0.5) / (1 - 0.5))
    assert p.per_label == {"DISO": {"strict_f1": 0.5}}
    # two raters: Fleiss = Scott's pi, pe from pooled shares (5/8 D, 3/8 O)
    pe = (5 / 8) ** 2 + (3 / 8) ** 2
    assert res.fleiss_kappa == pytest.approx((0.75 - pe) / (1 - pe), abs=1e-6)


def test_agreement_only_counts_documents_both_reviewed():
    texts = {1: "fièvre", 2: "toux"}
    a = {1: [Span(0, 6, "DISO")], 2: [Span(0, 4, "DISO")]}
    b = {1: [Span(0, 6, "DISO")], 2: []}
    res = team_agreement(texts, {"a": a, "b": b}, {"a": {1, 2}, "b": {1}})
    assert res.pairs[0].documents == 1 and res.pairs[0].strict_f1 == 1.0


def test_adjudication_plan_splits_agreed_and_pending():
    pl = adjudication_plan(1, {"a": [Span(0, 6, "DISO"), Span(10, 14, "DISO")],
                               "b": [Span(0, 6, "DISO")], "c": [Span(0, 6, "DISO")]})
    assert pl.agreed == [(0, 6, "DISO")]
    assert pl.pending == {(10, 14, "DISO"): ["a"]}


# ---------------------------------------------------------------------------- the CLI
def _run(capsys, *argv):
    capsys.readouterr()
    rc = main(list(argv))
    out = capsys.readouterr().out
    assert rc == 0, out
    return out


def _docs(db, project="default"):
    from db import Store

    with Store(db, project, create=False) as store:
        return list(store.iter_documents())


def _layer_names(db, who):
    return [d.name for d in _docs(db, f"default::{who}")]


@pytest.fixture
def quaero_team(db_url, capsys):
    """QUAERO (11 documents) imported as proposals, each assigned to alice and bob; on
    SQLite and on a real PostgreSQL server."""
    db = db_url
    _run(capsys, "--db", db, "import", "--format", "brat", "--schema", "quaero",
         "--as-proposed", str(QUAERO))
    out = json.loads(_run(capsys, "--db", db, "assign", "--annotators", "alice,bob",
                          "--per-document", "2", "--seed", "3", "--json"))
    return db, out


def _gold_spans(db):
    """Every span of the shared project as (doc name, start, end, label, fragments, text)."""
    return [(d.name, s.start, s.end, s.label, s.fragments, d.text)
            for d in _docs(db) for s in d.spans]


def _statuses(db, project):
    return Counter(s.status for d in _docs(db, project) for s in d.spans)


def test_two_annotators_on_quaero_agreement_and_adjudication_by_hand(quaero_team, capsys,
                                                                     tmp_path):
    db, assigned = quaero_team
    spans = _gold_spans(db)
    n_docs = 11
    assert assigned["assigned"] == 2 * n_docs and assigned["load"] == {"alice": 11, "bob": 11}
    assert assigned["proposals_copied"] == 2 * len(spans)
    # alice accepts everything; bob accepts the disorders and rejects the rest
    _run(capsys, "--db", db, "--annotator", "alice", "review", "accept")
    _run(capsys, "--db", db, "review", "accept", "--label", "DISO", "--annotator", "bob")
    _run(capsys, "--db", db, "--annotator", "bob", "review", "reject")
    for who in ("alice", "bob"):
        _run(capsys, "--db", db, "review", "mark", "reviewed", *_layer_names(db, who),
             "--annotator", who)
    # the shared project is untouched by the layers' decisions
    assert set(_statuses(db, "default")) == {"proposed"}
    assert {d.review_status for d in _docs(db)} == {"todo"}

    got = json.loads(_run(capsys, "--db", db, "agreement", "--by", "annotator", "--json"))
    # by hand: alice has every span, bob the DISO ones (distinct offsets+label per document)
    keys = {(n, s, e, lab) for n, s, e, lab, _t, _x in spans}
    diso = {k for k in keys if k[3] == "DISO"}
    pair, = got["pairs"]
    assert (pair["a"], pair["b"], pair["documents"]) == ("alice", "bob", n_docs)
    assert pair["n_a"] == len(keys) and pair["n_b"] == len(diso)
    assert pair["strict_f1"] == pytest.approx(2 * len(diso) / (len(keys) + len(diso)), abs=1e-6)
    assert pair["per_label"]["DISO"] == {"strict_f1": 1.0}
    assert all(v["strict_f1"] == 0.0 for lab, v in pair["per_label"].items() if lab != "DISO")
    # token kappa from the confusion table, and Fleiss (two raters: Scott's pi)
    texts = {d.name: d.text for d in _docs(db)}
    frags = {(n, s, e, lab): f for n, s, e, lab, f, _x in spans}  # discontinuous: parts only
    la, lb = [], []
    for name, text in texts.items():
        toks = tokenize(text)
        mine = [Span(s, e, lab, fragments=frags[(n, s, e, lab)]) for n, s, e, lab in keys
                if n == name]
        la += token_labels(text, mine, toks)
        lb += token_labels(text, [sp for sp in mine if sp.label == "DISO"], toks)
    n = len(la)
    po = sum(x == y for x, y in zip(la, lb)) / n
    ca, cb = Counter(la), Counter(lb)
    pe = sum(ca[k] * cb[k] for k in ca) / n ** 2
    assert pair["kappa"] == pytest.approx((po - pe) / (1 - pe), abs=1e-6)
    pooled = ca + cb
    pe_pi = sum((v / (2 * n)) ** 2 for v in pooled.values())
    assert got["fleiss_kappa"] == pytest.approx((po - pe_pi) / (1 - pe_pi), abs=1e-6)

    adj = json.loads(_run(capsys, "--db", db, "adjudicate", "--auto-agree", "--json"))
    assert adj["adjudicated"] == len(diso) and adj["pending"] == len(keys) - len(diso)
    assert adj["documents"] == n_docs and adj["waiting"] == 0
    assert {(p["document"], p["start"], p["end"], p["label"]) for p in adj["pending_spans"]} \
        == keys - diso
    assert all(p["accepted_by"] == ["alice"] and p["not_by"] == ["bob"]
               for p in adj["pending_spans"])
    # the gold: the agreed spans, accepted, on the documents left without a disagreement
    complete = {n for n in texts if not any(k[0] == n for k in keys - diso)}
    assert adj["completed"] == len(complete)
    out = tmp_path / "gold.jsonl"
    _run(capsys, "--db", db, "export", "--format", "jsonl", "--out", str(out),
         "--status", "accepted", "--review-status", "reviewed")
    exported = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["name"] for r in exported} == complete
    assert {(r["name"], s["start"], s["end"], s["label"]) for r in exported
            for s in r["spans"]} == {k for k in diso if k[0] in complete}
    # a rerun changes nothing
    again = json.loads(_run(capsys, "--db", db, "adjudicate", "--auto-agree", "--json"))
    assert again["written"] == 0 and again["adjudicated"] == adj["adjudicated"]


def test_layers_are_independent_and_undo_stays_in_the_layer(quaero_team, capsys):
    db, _ = quaero_team
    _run(capsys, "--db", db, "--annotator", "alice", "review", "accept", "--label", "CHEM")

    def statuses(project):
        return _statuses(db, project)

    n_chem = len([s for s in _gold_spans(db) if s[3] == "CHEM"])
    assert statuses("default::alice")["accepted"] == n_chem
    assert "accepted" not in statuses("default::bob")
    assert "accepted" not in statuses("default")
    hist = json.loads(_run(capsys, "--db", db, "--annotator", "alice", "review", "history",
                           "--json"))
    assert [b["kind"] for b in hist] == ["accepted"]
    assert json.loads(_run(capsys, "--db", db, "--annotator", "bob", "review", "history",
                           "--json")) == []
    _run(capsys, "--db", db, "--annotator", "alice", "review", "undo")
    assert "accepted" not in statuses("default::alice")
    # layers are projects of their own, which the project list leaves out
    from sqlalchemy import text

    from db import Store

    with Store(db) as store:
        with store.engine.connect() as c:
            assert set(c.execute(text("SELECT name FROM projects")).scalars()) == {
                "default", "default::alice", "default::bob"}
        assert store.list_projects() == ["default"]


def test_assign_is_idempotent_and_refuses_a_layer(quaero_team, capsys, tmp_path):
    db, first = quaero_team
    again = json.loads(_run(capsys, "--db", db, "assign", "--annotators", "alice,bob",
                            "--per-document", "2", "--json"))
    assert again["assigned"] == 0 and again["load"] == first["load"]
    rc = main(["--db", db, "--project", "default::alice", "assign", "--annotators", "carol"])
    assert rc == 2
    assert "layer" in capsys.readouterr().err
