"""Issue 11, item 6: `evaluate` refuses an empty side (exit 2, one line) and warns when the
predicted source cannot by construction propose what the gold holds. Through the real CLI
on a real SQLite file."""

from __future__ import annotations

import json

import pytest

from annotator.cli import main
from annotator.model import Span

DOCS = [
    {"text": "Asthme sévère sous salbutamol.", "name": "gold1",
     "spans": [{"start": 0, "end": 6, "label": "disease"},
               {"start": 19, "end": 29, "label": "drug"}]},
    {"text": "Pas d'asthme ; salbutamol arrêté.", "name": "plain"},
]


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in DOCS),
                    encoding="utf-8")
    db = str(tmp_path / "p.sqlite")
    assert main(["--db", db, "import", "--format", "jsonl", str(path),
                 "--schema", "finemed-fr"]) == 0
    return db


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    return err


def test_a_source_with_no_span_is_refused(db, capsys):
    assert main(["--db", db, "evaluate", "--gold", "import", "--pred", "gliner2"]) == 2
    err = _one_error_line(capsys)
    assert "--pred gliner2" in err and "no span on the 2 documents" in err
    assert "import 2" in err  # what is there instead
    # a name that is neither a source nor an annotator of the project
    assert main(["--db", db, "evaluate", "--gold", "dr.nobody", "--pred", "import"]) == 2
    assert "--gold dr.nobody" in _one_error_line(capsys)


def test_an_empty_split_side_is_refused(db, capsys):
    # the gold documents split so that the held-out side holds none of them
    assert main(["--db", db, "evaluate", "--gold", "import", "--pred", "import",
                 "--split", "test", "--ratios", "train=1,test=0"]) == 2
    err = _one_error_line(capsys)
    assert "--gold import" in err and "the 0 test documents" in err


def test_gold_against_the_lexicon_warns_that_it_cannot_match(db, capsys):
    # the lexicon is made of the accepted strings, and pre-label never proposes a (label,
    # span) already accepted: on the gold document it proposes nothing it could match
    assert main(["--db", db, "prelabel", "--backend", "lexicon"]) == 0
    capsys.readouterr()
    assert main(["--db", db, "evaluate", "--gold", "import", "--pred", "lexicon",
                 "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["micro"]["f1"] == 0.0
    warning = [ln for ln in err.splitlines() if ln.startswith("warning: ")]
    assert len(warning) == 1
    assert "2 of 2 --gold import spans (on 1 document)" in warning[0]
    assert "lexicon cannot match them" in warning[0]


def test_no_warning_for_gold_decided_after_the_run(db, capsys):
    from db import Store

    assert main(["--db", db, "prelabel", "--backend", "lexicon"]) == 0
    with Store(db) as st:  # a person marks "asthme" on the other document afterwards
        plain = next(d for d in st.iter_documents() if d.name == "plain")
        st.add_span(plain.id, Span(6, 12, "disease", source="human", status="accepted",
                                   annotator="dr.test"))
    capsys.readouterr()
    assert main(["--db", db, "evaluate", "--gold", "human", "--pred", "lexicon"]) == 0
    out, err = capsys.readouterr()
    assert "warning" not in err
    assert "lexicon against human on 2 documents" in out
