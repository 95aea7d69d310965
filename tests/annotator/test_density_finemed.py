"""``density --method finemed`` (FineMed's published formula) beside the union-of-spans
density, on a real SQLite file through the CLI."""

import json

import pytest

from annotator.cli import main
from annotator.errors import AnnotatorError
from annotator.jobs import drive
from annotator.model import Document, Span
from annotator.prelabel.density import density, finemed_density
from annotator.prelabel.job import density_job
from db import Store

TEXT = "cancer du sein. Le cancer est traité. cancers"


def test_finemed_density_by_hand():
    assert len(TEXT) == 45
    spans = [Span(0, 14, "disease"), Span(19, 25, "disease"), Span(19, 25, "drug"),
             Span(30, 36, "medical_procedure")]
    # unique strings across labels: "cancer du sein" x1, "cancer" x3 (inside "cancer du sein"
    # and "cancers" too, as str.count counts), "traité" x1
    assert finemed_density(TEXT, spans) == pytest.approx((1 * 14 + 3 * 6 + 1 * 6) / 45)
    # the union counts each covered character once: [0,14) + [19,25) + [30,36)
    assert density(len(TEXT), spans) == pytest.approx(26 / 45)
    assert finemed_density("", []) is None and finemed_density(TEXT, []) == 0.0
    # a discontinuous span counts its fragments' strings
    frag = Span(0, 25, "disease", fragments=((0, 6), (19, 25)))
    assert finemed_density(TEXT, [frag]) == pytest.approx(3 * 6 / 45)
    # nested strings can exceed 1: "ab" x2 x2 chars + "abab" x1 x4 chars over 4 chars
    assert finemed_density("abab", [Span(0, 2, "x"), Span(0, 4, "x")]) == pytest.approx(2.0)


def test_cli_method_finemed_beside_the_stored_union(tmp_path, capsys):
    db = str(tmp_path / "d.sqlite")
    with Store(db) as store:
        ids = store.import_documents([Document(text=TEXT, name="a"),
                                      Document(text="rien ici", name="b")]).doc_ids
        store.add_span(ids[0], Span(0, 14, "disease"))
        store.add_span(ids[0], Span(19, 25, "disease", source="gliner2", status="proposed"))
        store.add_span(ids[0], Span(30, 36, "drug", source="gliner2", status="rejected"))
    assert main(["--db", db, "density", "--method", "finemed", "--json"]) == 0
    fm = json.loads(capsys.readouterr().out)
    assert fm["method"] == "finemed" and fm["computed"] == 2 and fm["count"] == 2
    assert fm["max"] == pytest.approx((14 + 3 * 6) / 45) and fm["min"] == 0.0
    with Store(db) as store:  # reported, not stored: the stored density is the union's
        assert [s.density for s in store.document_summaries()] == [None, None]
    assert main(["--db", db, "density", "--json"]) == 0
    un = json.loads(capsys.readouterr().out)
    assert un["method"] == "union" and un["max"] == pytest.approx(20 / 45)
    assert main(["--db", db, "density", "--method", "finemed", "--source", "gliner2",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["max"] == pytest.approx(3 * 6 / 45)
    with Store(db) as store:
        assert [s.density for s in store.document_summaries()] == [pytest.approx(20 / 45), 0.0]
    assert main(["--db", db, "density", "--method", "finemed"]) == 0
    out = capsys.readouterr().out
    assert "(finemed): 2" in out and f"max {(14 + 18) / 45:.4f}" in out


def test_finemed_above_one_is_counted_and_unknown_method_refused(tmp_path):
    with Store(str(tmp_path / "e.sqlite")) as store:
        (i,) = store.import_documents([Document(text="abab", name="a")]).doc_ids
        store.add_span(i, Span(0, 2, "x"))
        store.add_span(i, Span(0, 4, "y"))
        s = drive(density_job(store, method="finemed"))
        assert s["above_one"] == 1 and s["histogram"][-1]["count"] == 1
        with pytest.raises(AnnotatorError, match="unknown density method"):
            drive(density_job(store, method="words"))
