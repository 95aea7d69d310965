"""Issue 12, point 5: the statistics panel stays readable where it is docked (the short
bottom dock of the main window): tick labels are whole, never Qt Charts' elided "…", the
density axis title is whole, and labels are shown with the schema's display names."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

ELLIPSIS = "…"


def _texts(view) -> list[str]:
    """The visible text items Qt Charts drew in a chart view (titles, ticks, legend)."""
    out = []
    for it in view.scene().items():
        if it.type() == 8 and it.isVisible():  # QGraphicsTextItem::Type
            obj = it.toGraphicsObject()
            if hasattr(obj, "toPlainText") and obj.toPlainText():
                out.append(obj.toPlainText())
    return out


@pytest.fixture
def sample_window(qtbot, store, monkeypatch):
    from annotator.samples import seed_sample_project
    from ui.main_window import MainWindow

    monkeypatch.setenv("ANNOTATOR_ANNOTATOR", "dr.test")
    seed_sample_project(store)
    w = MainWindow(store)
    qtbot.addWidget(w)
    w.resize(1100, 760)  # a laptop window: the dock is short and each chart narrow
    w.show()
    qtbot.waitExposed(w)
    w.show_document(store.document_ids()[0])
    w.show_statistics()
    for _ in range(5):
        QApplication.processEvents()
    return w


def test_docked_statistics_ticks_are_whole_numbers(sample_window):
    sv = sample_window._panels["Statistics"]
    assert sv.isVisible()
    density = _texts(sv.views["density"])
    # the ten bin ticks are real numbers, drawn whole
    ticks = [t for t in density if t.replace(".", "", 1).isdigit()]
    assert {"0", "0.1", "0.5", "0.9"} <= set(ticks)
    for name, view in sv.views.items():
        assert not [t for t in _texts(view) if ELLIPSIS in t], name
    # the axis title is whole, and fits the chart's width
    from ui.stats_view import DENSITY_TITLE

    assert DENSITY_TITLE in density
    chart = sv.charts["density"]
    fm_title = chart.axes()[0].titleFont()
    from PySide6.QtGui import QFontMetrics

    assert QFontMetrics(fm_title).horizontalAdvance(DENSITY_TITLE) <= chart.size().width()


def test_statistics_label_names_not_keys(sample_window, store):
    sv = sample_window._panels["Statistics"]
    schema = store.get_schema()
    names = {lab.key: lab.name for lab in schema.labels}
    assert names["living_beings"] != "living_beings"
    shown = _texts(sv.views["labels"])
    in_use = list(sv.overview.spans_by_label)
    assert "living_beings" in in_use
    for key in in_use:
        assert names[key] in shown
        if names[key] != key:
            assert key not in shown
    # every label has a row tall enough for one line: no label elided
    assert not [t for t in shown if ELLIPSIS in t]
