"""Statistics: the numbers (annotator.overview) and the StatsView charts drawn from them."""

from __future__ import annotations

import pytest

from annotator import overview
from annotator.model import Document, Span


@pytest.fixture
def reviewed_project(store, make_span):
    """Two reviewed documents and one to do; gliner2 and llm_pass2 suggestions."""
    t = "aspirine et paracetamol"
    #    0       8  11         23
    d1 = Document(text=t, name="r1", review_status="reviewed", spans=[
        make_span(0, 8, "DRUG", "gliner2", status="accepted"),
        make_span(12, 23, "DRUG", "gliner2", status="rejected"),  # reviewer said no
        make_span(0, 8, "DRUG", "llm_pass2", status="proposed"),
        make_span(12, 23, "DISEASE", "human"),
    ])
    d2 = Document(text=t + ".", name="r2", review_status="reviewed", spans=[
        make_span(0, 8, "DRUG", "human"),
    ])
    d3 = Document(text=t + "!", name="todo", spans=[make_span(0, 8, "DRUG", "gliner2")])
    store.import_documents([d1, d2, d3])
    store.set_density(store.document_ids()[0], 0.1)
    store.set_density(store.document_ids()[1], 0.3)
    return store


def test_overview_numbers(reviewed_project):
    ov = overview.compute_overview(reviewed_project, bins=2)
    assert (ov.documents, ov.reviewed) == (3, 2)
    assert ov.progress == pytest.approx(2 / 3)
    assert ov.by_status["todo"] == 1
    assert ov.spans_by_label == {"DRUG": 4, "DISEASE": 1}
    assert ov.spans_by_source_status["gliner2"] == {"accepted": 1, "rejected": 1,
                                                    "proposed": 1}
    # stored densities where present; "todo" has none: union of its non-rejected spans
    # ([0, 8) of 24 characters)
    assert ov.density_kind == "stored + computed density"
    assert sorted(ov.density) == pytest.approx([0.1, 0.3, 8 / 24])
    assert [(lo, hi, n) for lo, hi, n in ov.histogram] == [(0.0, 0.5, 3), (0.5, 1.0, 0)]
    # reference = accepted spans of reviewed docs: d1 {aspirine DRUG, paracetamol DISEASE},
    # d2 {aspirine DRUG}. gliner2 (its rejected suggestion counts): tp 1, fp 1, fn 2.
    g = ov.agreement["gliner2"]
    assert (g.precision, g.recall) == (pytest.approx(0.5), pytest.approx(1 / 3))
    assert g.n_pred == 2 and g.n_ref == 3 and g.docs == 2
    assert ov.agreement["llm_pass2"].precision == 1.0
    assert set(ov.agreement) == {"gliner2", "llm_pass2"}


def test_density_falls_back_to_union_coverage(store, make_span):
    """Without a stored density, FineMed's density is computed: characters covered by the
    union of the non-rejected spans (nested/overlapping ones count once) / characters."""
    store.import_documents([
        Document(text="x" * 500, spans=[make_span(0, 10, "A", "gliner2"),
                                        make_span(5, 20, "B", "llm_pass1"),  # overlaps
                                        make_span(2, 4, "A", "human"),  # nested
                                        make_span(100, 200, "A", "gliner2",
                                                  status="rejected")]),
        Document(text="y" * 10, name="no spans"),
        Document(text="z" * 100, name="discontinuous", spans=[  # its fragments only
            Span(0, 30, "A", fragments=((0, 5), (25, 30)), source="gliner2",
                 status="proposed")]),
    ])
    kind, vals = overview.densities(store)
    assert kind == "computed density"
    assert sorted(vals) == [0.0, pytest.approx(20 / 500), pytest.approx(10 / 100)]


def test_histogram_bins():
    assert overview.histogram([]) == []
    assert overview.histogram([1.0, 1.0]) == [(1.0, 1.0, 2)]
    h = overview.histogram([0.0, 0.5, 1.0], bins=2)
    assert [n for _, _, n in h] == [1, 2]


def test_stats_view_builds_charts(qtbot, store_factory, reviewed_project):
    from PySide6.QtCharts import QBarSeries, QPieSeries, QStackedBarSeries

    from ui.stats_view import StatsView

    view = StatsView(store_factory)
    qtbot.addWidget(view)
    view.resize(1100, 700)
    view.show()
    view.refresh()
    assert set(view.charts) == {"progress", "labels", "sources", "density", "agreement"}
    pie = view.charts["progress"].series()[0]
    assert isinstance(pie, QPieSeries)
    assert sorted(s.value() for s in pie.slices()) == [1.0, 2.0]
    assert "2 / 3 reviewed" in view.charts["progress"].title()
    sources = view.charts["sources"].series()[0]
    assert isinstance(sources, QStackedBarSeries) and len(sources.barSets()) == 3
    agreement = view.charts["agreement"].series()[0]
    assert isinstance(agreement, QBarSeries)
    f1 = next(b for b in agreement.barSets() if b.label() == "f1")
    assert f1.count() == 2 and f1.at(0) == pytest.approx(0.4)  # gliner2: 2*1/(2+1+2)
    labels = view.charts["labels"].series()[0]
    assert [labels.barSets()[0].at(i) for i in range(2)] == [1.0, 4.0]
    assert "2 / 3" in view.summary.text()
    # refresh replaces the charts (no stale series pile up)
    store_factory().set_review_status(store_factory().document_ids()[2], "reviewed")
    view.refresh()
    assert "3 / 3 reviewed" in view.charts["progress"].title()
    assert view.grab().width() > 0
