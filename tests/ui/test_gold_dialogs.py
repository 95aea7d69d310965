"""The Export and Train dialogs take the gold by default, offer the CLI's filters and show a
summary of what would be written before anything is (issue 11); Edit > Bulk decisions…
undoes a bulk decision made on the command line."""

from __future__ import annotations

import json

import pytest
from PySide6.QtWidgets import QDialogButtonBox, QWidget

from annotator.model import Document, Span

TEXT = "Patient sous metformine pour diabete de type 2."
MET, DIAB = (13, 23), (29, 46)


def _doc(name, status, spans):
    return Document(text=f"{TEXT} {name}", name=name, review_status=status, spans=spans)


@pytest.fixture
def project(db_path):
    """reviewed: an accepted DRUG and a proposed DISEASE (lexicon); todo: an accepted DRUG;
    in_progress: a rejected DISEASE and a discontinuous accepted DISEASE."""
    from db import Store

    assert TEXT[MET[0]:MET[1]] == "metformine" and TEXT[DIAB[0]:DIAB[1]] == "diabete de type 2"
    store = Store(db_path)
    store.import_documents([
        _doc("done", "reviewed", [Span(*MET, "DRUG", source="import"),
                                  Span(*DIAB, "DISEASE", source="lexicon", status="proposed")]),
        _doc("open", "todo", [Span(*MET, "DRUG", source="import")]),
        _doc("half", "in_progress", [
            Span(*DIAB, "DISEASE", source="gliner2", status="rejected"),
            Span(29, 46, "DISEASE", source="human", fragments=((29, 36), (40, 46)))]),
    ])
    store.close()
    return db_path


class _Window(QWidget):
    """A stand-in main window: what the dialogs use of one is its store."""

    def __init__(self, url):
        super().__init__()
        from db import Store

        self.store = Store(url, "default")


def _dialog(qtbot, project, key):
    from ui import jobs_actions

    mw = _Window(project)
    qtbot.addWidget(mw)
    dlg = jobs_actions.options_dialog(mw, next(j for j in jobs_actions.JOBS if j.key == key))
    qtbot.addWidget(dlg)
    _KEEP.append(mw)  # the window owns the dialog: it must outlive the test
    return dlg


_KEEP: list[QWidget] = []


def _start(dlg):
    return dlg.buttons.button(QDialogButtonBox.StandardButton.Ok)


def test_export_dialog_defaults_to_gold_and_summarises_before_writing(qtbot, project,
                                                                      tmp_path):
    dlg = _dialog(qtbot, project, "export")
    dlg.editors["fmt"].setCurrentText("conll")
    assert dlg.filters() == {"review_status": "reviewed", "status": "accepted"}
    assert dlg.wait_for_preview()
    prev = dlg.preview
    assert (prev.documents, prev.spans) == (1, 1)  # the reviewed document's accepted DRUG
    assert prev.by_label == {"DRUG": 1} and prev.review_status == ["reviewed"]
    text = dlg.summary.toPlainText()
    assert "1 documents, 1 spans" in text and "DRUG 1" in text
    assert not list(tmp_path.glob("*.conll"))  # the preview wrote nothing where users look
    assert not _start(dlg).isEnabled()  # nowhere to write yet
    dlg.editors["out"].setText(str(tmp_path / "gold.conll"))
    assert _start(dlg).isEnabled()  # where to write does not need a new summary


def test_export_dialog_widening_shows_what_the_format_cannot_carry(qtbot, project, tmp_path):
    dlg = _dialog(qtbot, project, "export")
    dlg.editors["fmt"].setCurrentText("conll")
    dlg.doc_boxes["in_progress"].setChecked(True)
    assert not _start(dlg).isEnabled()  # the summary shown is for the old filters
    assert dlg.wait_for_preview()
    assert dlg.preview.documents == 2 and dlg.preview.dropped == {"discontinuous": 1}
    assert "Not carried by the format: 1 discontinuous" in dlg.summary.toPlainText()
    dlg.span_boxes["proposed"].setChecked(True)
    dlg.source_boxes["import"].setChecked(False)
    assert dlg.filters() == {"review_status": "in_progress,reviewed",
                             "status": "proposed,accepted",
                             "source": "human,gliner2,transformers,lexicon,llm_pass1,llm_pass2"}
    assert dlg.wait_for_preview()
    assert dlg.preview.by_source == {"lexicon": 1, "human": 1}
    for box in dlg.span_boxes.values():
        box.setChecked(False)
    assert "Tick at least one span status" in dlg.summary.toPlainText()
    assert not _start(dlg).isEnabled()


def test_export_from_the_dialog_writes_exactly_what_the_summary_said(qtbot, project,
                                                                     tmp_path):
    from ui import jobs_actions

    dlg = _dialog(qtbot, project, "export")
    out = tmp_path / "gold.jsonl"
    dlg.editors["fmt"].setCurrentText("gliner2")
    dlg.editors["out"].setText(str(out))
    assert dlg.wait_for_preview() and _start(dlg).isEnabled()
    preview = dlg.preview
    mw = dlg.parent()
    handle = jobs_actions.start_job(mw, "export", dlg.values())
    with qtbot.waitSignal(handle.ended, timeout=30_000):
        pass
    assert handle.state == "finished", handle.error
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == preview.documents == 1
    assert handle.result.spans == preview.spans == 1


def test_jsonl_is_lossless_unless_the_user_chose_filters(qtbot, project):
    dlg = _dialog(qtbot, project, "export")
    dlg.editors["fmt"].setCurrentText("jsonl")
    assert dlg.wait_for_preview()
    assert dlg.preview.documents == 3 and dlg.preview.spans == 5
    dlg.editors["fmt"].setCurrentText("conll")  # back to gold while untouched
    assert dlg.filters() == {"review_status": "reviewed", "status": "accepted"}
    dlg.doc_boxes["todo"].setChecked(True)  # touched: the user's choice stays
    dlg.editors["fmt"].setCurrentText("jsonl")
    assert dlg.filters() == {"review_status": "todo,reviewed", "status": "accepted"}


def test_train_dialog_summarises_the_training_documents_per_split(qtbot, project,
                                                                  monkeypatch):
    dlg = _dialog(qtbot, project, "train")
    assert not dlg.source_boxes  # training takes every source of the gold
    assert dlg.wait_for_preview()
    prev = dlg.preview
    assert prev.documents == 1 and prev.by_label == {"DRUG": 1}
    assert sum(prev.splits.values()) == 1 and set(prev.splits) == {"train", "dev", "test"}
    assert "Split: train" in dlg.summary.toPlainText()
    dlg.doc_boxes["todo"].setChecked(True)
    assert dlg.wait_for_preview() and dlg.preview.documents == 2
    assert dlg.values()["review_status"] == "todo,reviewed"

    from PySide6.QtWidgets import QMessageBox

    warned = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warned.append(a[2]))
    dlg.editors["out"].setText(str(project) + ".model")
    dlg.editors["lr"].setText("5e")  # a number half typed: Start says which, and waits
    assert "lr" not in dlg.values()
    dlg.accept()
    assert dlg.result() == 0 and warned and "learning rate" in warned[0].lower()
    dlg.editors["lr"].setText("5e-5")
    assert dlg.values()["lr"] == pytest.approx(5e-5)


def test_bulk_decision_is_undone_from_the_window(qtbot, project, monkeypatch):
    from db import Store
    from db.review_queries import decide_proposals, list_batches
    from ui.main_window import MainWindow

    monkeypatch.setenv("ANNOTATOR_ANNOTATOR", "dr.test")
    store = Store(project)
    open_id = next(d.id for d in store.iter_documents() if d.name == "done")
    res = decide_proposals(store, "accepted", sources=["lexicon"], annotator="curator")
    assert res.spans == 1
    w = MainWindow(store)
    qtbot.addWidget(w)
    w.show_bulk_history()
    dlg = w._bulk_history
    assert dlg.table.rowCount() == 1 and "accepted 1 proposals" in dlg.table.item(0, 2).text()
    assert dlg.table.item(0, 1).text() == "curator"
    dlg.table.selectRow(0)
    assert dlg.undo_button.isEnabled()
    handle = dlg.undo_selected()
    with qtbot.waitSignal(handle.ended, timeout=30_000):
        pass
    assert handle.state == "finished", handle.error
    spans = store.get_document(open_id).spans
    assert [s.status for s in spans if s.source == "lexicon"] == ["proposed"]
    assert "1 spans" in dlg.message.text()
    batches = list_batches(store)
    assert [b.kind for b in batches] == ["undo", "accepted"]
    assert batches[0].annotator == "dr.test" and batches[1].undone_by == batches[0].id
    dlg.table.selectRow(1)  # the undone decision cannot be undone twice
    assert not dlg.undo_button.isEnabled()
    store.close()
