"""The statistics view: progress, spans per label and per source, density, and agreement of
each source with people, drawn as Qt Charts. The numbers come from ``annotator.overview``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSeries,
    QBarSet,
    QChart,
    QChartView,
    QHorizontalBarSeries,
    QPieSeries,
    QStackedBarSeries,
    QValueAxis,
)
from PySide6.QtCore import QMargins, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QLabel,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from annotator.overview import Overview, compute_overview

STATUS_COLORS = {"reviewed": "#4caf50", "in_progress": "#ffb300", "todo": "#b0bec5",
                 "skipped": "#8d6e63", "accepted": "#4caf50", "proposed": "#64b5f6",
                 "rejected": "#e57373"}
METRIC_COLORS = {"precision": "#5c6bc0", "recall": "#26a69a", "f1": "#ef6c00"}
MAX_LABELS = 15
HISTOGRAM_BINS = 10  # density bins over [0, 1]
DENSITY_TITLE = "density (share of characters in spans)"
# The charts never shrink below what their tick labels need (Qt Charts elides a category
# label to "…" when its slot is too small): the grid scrolls instead, e.g. in the short
# Statistics dock of the main window.
CHART_MIN_WIDTH, CHART_MIN_HEIGHT = 300, 230


def _chart(title: str) -> QChart:
    chart = QChart()
    chart.setTitle(title)
    chart.setAnimationOptions(QChart.NoAnimation)
    chart.setMargins(QMargins(4, 4, 4, 4))
    chart.legend().setAlignment(Qt.AlignBottom)
    return chart


def _axes(chart: QChart, series: Any, categories: list[str], *, horizontal: bool = False,
          max_value: float | None = None, value_title: str = "") -> None:
    chart.addSeries(series)
    cat = QBarCategoryAxis()
    cat.append(categories)
    val = QValueAxis()
    if max_value is not None and max_value <= 1:  # scores
        val.setRange(0, 1)
        val.setTickCount(6)
        val.setLabelFormat("%.1f")
    else:  # counts: whole numbers on round ticks
        val.setRange(0, max_value or 1)
        val.applyNiceNumbers()
        val.setLabelFormat("%d")
    if value_title:
        val.setTitleText(value_title)
    chart.addAxis(cat, Qt.AlignLeft if horizontal else Qt.AlignBottom)
    chart.addAxis(val, Qt.AlignBottom if horizontal else Qt.AlignLeft)
    series.attachAxis(cat)
    series.attachAxis(val)


def _nice_max(v: float) -> float:
    return max(4.0, float(v) * 1.05)


TEAM_COLUMNS = ("Annotator", "Annotator", "Documents", "Strict F1", "Partial F1",
                "Token kappa", "Lowest label (strict F1)")


class StatsView(QWidget):
    """Five charts over the project; ``refresh()`` recomputes them from the store.

    ``charts`` maps a name (progress, labels, sources, density, agreement) to its QChart.
    """

    def __init__(self, store_factory: Callable[[], Any], parent: QWidget | None = None):
        super().__init__(parent)
        self._store_factory = store_factory
        self._store: Any = None
        self.overview: Overview | None = None
        self.charts: dict[str, QChart] = {}
        self.views: dict[str, QChartView] = {}
        self._names: dict[str, str] = {}
        self.setWindowTitle("Statistics")
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.content = QWidget()
        grid = QGridLayout(self.content)
        grid.setContentsMargins(0, 0, 0, 0)
        places = {"progress": (0, 0, 1, 1), "sources": (0, 1, 1, 1), "agreement": (0, 2, 1, 1),
                  "labels": (1, 0, 1, 2), "density": (1, 2, 1, 1)}
        for name, (r, c, rs, cs) in places.items():
            view = QChartView(_chart(name))
            view.setRenderHint(QPainter.Antialiasing)
            view.setMinimumSize(CHART_MIN_WIDTH, CHART_MIN_HEIGHT)
            grid.addWidget(view, r, c, rs, cs)
            self.views[name] = view
        # agreement between the annotators of a team (annotator assign), when there is one
        self.team_title = QLabel("")
        self.team = QTableWidget(0, len(TEAM_COLUMNS))
        self.team.setHorizontalHeaderLabels(TEAM_COLUMNS)
        self.team.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.team.verticalHeader().setVisible(False)
        self.team.horizontalHeader().setStretchLastSection(True)
        self.team.setMinimumHeight(120)
        self.team_agreement: Any = None
        grid.addWidget(self.team_title, 2, 0, 1, 3)
        grid.addWidget(self.team, 3, 0, 1, 3)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.NoFrame)
        self.scroll.setWidget(self.content)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.scroll, 1)

    @property
    def store(self) -> Any:
        if self._store is None:
            self._store = self._store_factory()
        return self._store

    def label_names(self) -> dict[str, str]:
        """The schema's display name of each label key (a key without one is shown as is)."""
        schema = self.store.get_schema()
        return {lab.key: lab.name or lab.key for lab in schema.labels} if schema else {}

    def refresh(self) -> Overview:
        """Recompute the numbers and redraw every chart."""
        ov = compute_overview(self.store, bins=HISTOGRAM_BINS)
        self.overview = ov
        self._names = self.label_names()
        self._set("progress", self._progress_chart(ov))
        self._set("labels", self._labels_chart(ov))
        self._set("sources", self._sources_chart(ov))
        self._set("density", self._density_chart(ov))
        self._set("agreement", self._agreement_chart(ov))
        self._team_table()
        n_spans = sum(ov.spans_by_source.values())
        self.summary.setText(
            f"<b>{ov.reviewed} / {ov.documents}</b> documents reviewed "
            f"({100 * ov.progress:.0f}%) · {n_spans} spans · "
            f"{len(ov.spans_by_label)} labels in use · agreement measured on "
            f"{ov.reference_docs} reference document(s) · density: {ov.density_kind}")
        return ov

    def _team_table(self) -> None:
        """Pairwise agreement between annotators (``agreement --by annotator``)."""
        shared = self.store.shared_store()
        team = shared.agreement_by_annotator() if shared.annotators() else None
        self.team_agreement = team
        self.team_title.setVisible(team is not None)
        self.team.setVisible(team is not None)
        if team is None:
            return
        fk = "–" if team.fleiss_kappa is None else f"{team.fleiss_kappa:.3f}"
        self.team_title.setText(
            f"<b>Agreement between annotators</b> (documents both reviewed) · Fleiss' kappa "
            f"{fk} over {team.fleiss_documents} documents")
        self.team.setRowCount(len(team.pairs))
        for r, p in enumerate(team.pairs):
            worst = min(p.per_label.items(), key=lambda kv: kv[1]["strict_f1"], default=None)
            cells = (p.a, p.b, str(p.documents), f"{p.strict_f1:.3f}", f"{p.partial_f1:.3f}",
                     f"{p.kappa:.3f}",
                     f"{worst[0]} {worst[1]['strict_f1']:.2f}" if worst else "")
            for c, value in enumerate(cells):
                self.team.setItem(r, c, QTableWidgetItem(value))
        self.team.resizeColumnsToContents()

    def _set(self, name: str, chart: QChart) -> None:
        old = self.views[name].chart()
        self.views[name].setChart(chart)
        self.charts[name] = chart
        if old is not None and old is not chart:
            old.deleteLater()

    # ---------------------------------------------------------------- charts
    def _progress_chart(self, ov: Overview) -> QChart:
        chart = _chart(f"Progress: {ov.reviewed} / {ov.documents} reviewed")
        pie = QPieSeries()
        pie.setHoleSize(0.45)
        for status, n in ov.by_status.items():
            if n:
                sl = pie.append(f"{status.replace('_', ' ')} ({n})", n)
                sl.setColor(QColor(STATUS_COLORS.get(status, "#999999")))
        chart.addSeries(pie)
        chart.legend().setAlignment(Qt.AlignRight)
        return chart

    def _labels_chart(self, ov: Overview) -> QChart:
        items = list(ov.spans_by_label.items())[:MAX_LABELS]
        more = len(ov.spans_by_label) - len(items)
        chart = _chart("Spans per label (not rejected)"
                       + (f", top {MAX_LABELS} of {len(ov.spans_by_label)}" if more > 0 else ""))
        items.reverse()  # largest on top
        bars = QBarSet("spans")
        bars.setColor(QColor("#5c6bc0"))
        bars.append([float(n) for _, n in items])
        series = QHorizontalBarSeries()
        series.append(bars)
        series.setLabelsVisible(True)
        _axes(chart, series, [self._names.get(k, k) for k, _ in items], horizontal=True,
              max_value=_nice_max(max((n for _, n in items), default=1)))
        chart.legend().setVisible(False)
        # one text line per bar, plus the title and the value axis
        line = QFontMetrics(chart.axes(Qt.Vertical)[0].labelsFont()).height() + 8
        self.views["labels"].setMinimumHeight(max(CHART_MIN_HEIGHT, 90 + line * len(items)))
        return chart

    def _sources_chart(self, ov: Overview) -> QChart:
        chart = _chart("Spans per source and status")
        sources = list(ov.spans_by_source_status)
        series = QStackedBarSeries()
        for status in ("accepted", "proposed", "rejected"):
            bars = QBarSet(status)
            bars.setColor(QColor(STATUS_COLORS[status]))
            bars.append([float(ov.spans_by_source_status[s].get(status, 0)) for s in sources])
            series.append(bars)
        _axes(chart, series, sources,
              max_value=_nice_max(max(ov.spans_by_source.values(), default=1)))
        return chart

    def _density_chart(self, ov: Overview) -> QChart:
        """Histogram of the documents' medical-entity density over [0, 1] (bins of equal
        width, labelled by their lower bound)."""
        median = (f", median {ov.density_median:.2f}" if ov.density_median is not None
                  else "")
        chart = _chart(f"Documents by entity density ({len(ov.density)} docs{median})")
        self.views["density"].setToolTip(
            f"{ov.density_kind or 'density'}: characters covered by the union of the "
            "non-rejected spans / characters of the document")
        bars = QBarSet("documents")
        bars.setColor(QColor("#26a69a"))
        bars.append([float(n) for _, _, n in ov.histogram])
        series = QBarSeries()
        series.setBarWidth(0.95)
        series.append(bars)
        cats = [f"{lo:.2f}".rstrip("0").rstrip(".") if lo else "0" for lo, _, _ in ov.histogram]
        _axes(chart, series, cats, value_title="documents",
              max_value=_nice_max(max((n for _, _, n in ov.histogram), default=1)))
        axis = chart.axes(Qt.Horizontal)[0]
        axis.setTitleText(DENSITY_TITLE)
        chart.legend().setVisible(False)
        # every bin wide enough for its tick ("0.1") and the axis title on one line
        fm = QFontMetrics(axis.labelsFont())
        slot = max(fm.horizontalAdvance(c) for c in cats) + 14 if cats else 0
        title = QFontMetrics(axis.titleFont()).horizontalAdvance(DENSITY_TITLE) + 24
        self.views["density"].setMinimumWidth(
            max(CHART_MIN_WIDTH, 70 + max(slot * len(cats), title)))
        return chart

    def _agreement_chart(self, ov: Overview) -> QChart:
        chart = _chart("Agreement with people (strict span P / R / F1)")
        sources = list(ov.agreement)
        series = QBarSeries()
        for metric, color in METRIC_COLORS.items():
            bars = QBarSet(metric)
            bars.setColor(QColor(color))
            bars.append([float(getattr(ov.agreement[s], metric)) for s in sources])
            series.append(bars)
        _axes(chart, series, sources, max_value=1.0)
        if not sources:
            chart.setTitle(chart.title() + " — no reviewed documents yet")
        return chart
