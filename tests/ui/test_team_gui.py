"""The Team menu: the window opens on the annotator's own layer, switches to the gold, and
the curation view builds the gold from the layers with A / R / Ctrl+Enter."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from annotator.model import Document, LabelSchema, Span


def span(start, end, label, source="gliner2", score=None):
    return Span(start, end, label, source=source, status="proposed", score=score)


@pytest.fixture
def team_project(store, monkeypatch):
    from db.review_queries import decide_proposals, mark_documents_batch
    from db.team_queries import assign, layer_store

    store.set_schema(LabelSchema.from_dict({"name": "t", "labels": [
        {"key": "DISO", "name": "Disorders"}, {"key": "CHEM", "name": "Chemicals"}]}))
    text = "fièvre et toux sous aspirine"
    store.import_documents([Document(text=text, name="d1", spans=[
        span(0, 6, "DISO", source="gliner2", score=0.9),
        span(10, 14, "DISO", source="gliner2", score=0.6),
        span(20, 28, "CHEM", source="gliner2", score=0.8)])])
    assign(store, ["alice", "bob"], 2)
    for who, labels in (("alice", None), ("bob", ["CHEM"])):
        lay = layer_store(store, who)
        decide_proposals(lay, "accepted", labels=labels, annotator=who)
        mark_documents_batch(lay, lay.document_ids(), "reviewed", annotator=who)
    # bob also accepted "fièvre", so only "toux" (alice alone) is a disagreement
    lay = layer_store(store, "bob")
    sp = next(s for s in lay.get_document(lay.document_ids()[0]).spans if s.start == 0)
    lay.update_span(sp.id, status="accepted", annotator="bob")
    return store


def _main_window(qtbot, store, who, monkeypatch):
    from db.team_queries import work_store
    from ui.main_window import MainWindow

    monkeypatch.setenv("ANNOTATOR_ANNOTATOR", who)
    win = MainWindow(work_store(store, who))
    qtbot.addWidget(win)
    return win


def test_window_opens_on_the_annotators_layer_and_switches_to_the_gold(
        qtbot, team_project, monkeypatch):
    from ui.team import switch_layer

    win = _main_window(qtbot, team_project, "alice", monkeypatch)
    assert win.store.project == "default::alice"
    assert "alice's layer" in win.who.text()
    doc = win.store.get_document(win.store.document_ids()[0])
    assert {s.status for s in doc.spans} == {"accepted"}  # her decisions, not the gold's
    switch_layer(win)
    assert win.store.project == "default"
    gold = win.store.get_document(win.store.document_ids()[0])
    assert {s.status for s in gold.spans} == {"proposed"}
    switch_layer(win)
    assert win.store.project == "default::alice"


def test_curation_view_auto_agrees_then_resolves_with_keys(qtbot, team_project, monkeypatch):
    from ui.team import open_curation

    win = _main_window(qtbot, team_project, "carol", monkeypatch)  # a curator: no layer
    assert win.store.project == "default"
    dlg = open_curation(win)
    qtbot.addWidget(dlg)
    qtbot.waitUntil(lambda: dlg.handle is None, timeout=20000)
    gold = {(s.start, s.end, s.label): s.status
            for s in team_project.get_document(team_project.document_ids()[0]).spans}
    # agreed (fièvre, aspirine) taken into the gold; toux (alice only) left to resolve
    assert gold == {(0, 6, "DISO"): "accepted", (20, 28, "CHEM"): "accepted",
                    (10, 14, "DISO"): "proposed"}
    header = [dlg.table.horizontalHeaderItem(c).text() for c in range(dlg.table.columnCount())]
    assert header == ["Text", "Label", "Offsets", "alice", "bob", "Gold"]
    row = dlg.table.selectionModel().selectedRows()[0].row()
    assert dlg.table.item(row, 0).text() == "toux"  # the cursor is on the open row
    assert [dlg.table.item(row, c).text() for c in (3, 4)] == ["✓", "·"]
    qtbot.keyClick(dlg, Qt.Key.Key_R)
    gold = {(s.start, s.end, s.label): (s.status, s.annotator)
            for s in team_project.get_document(team_project.document_ids()[0]).spans}
    assert gold[(10, 14, "DISO")] == ("rejected", "carol")
    assert dlg._unresolved(dlg.current_doc()) == 0
    dlg.table.selectRow(row)
    qtbot.keyClick(dlg, Qt.Key.Key_A)  # a curator may change their mind
    doc = team_project.get_document(team_project.document_ids()[0])
    assert {(s.start, s.status) for s in doc.spans} >= {(10, "accepted")}
    qtbot.keyClick(dlg, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert team_project.get_document(team_project.document_ids()[0]).review_status \
        == "reviewed"
    # the layers were only read
    from db.team_queries import layer_store

    bob = layer_store(team_project, "bob")
    assert {s.start: s.status for s in bob.get_document(bob.document_ids()[0]).spans} \
        == {0: "accepted", 10: "proposed", 20: "accepted"}


def test_statistics_view_shows_agreement_between_annotators(qtbot, team_project):
    from ui.stats_view import StatsView

    view = StatsView(lambda: team_project)
    qtbot.addWidget(view)
    view.refresh()
    assert view.team.rowCount() == 1
    cells = [view.team.item(0, c).text() for c in range(view.team.columnCount())]
    # alice 3 spans, bob 2, both on fièvre and aspirine: strict F1 = 2*2/(3+2)
    assert cells[:4] == ["alice", "bob", "1", "0.800"]
    assert "Fleiss" in view.team_title.text()
