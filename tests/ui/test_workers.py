"""ui.workers: a real job on a worker thread, with its own Store, progress and Cancel."""

from __future__ import annotations

import functools
import threading
import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QDialogButtonBox, QPushButton

from annotator.errors import AnnotatorError
from annotator.jobs import Progress
from annotator.model import Document
from db import Store
from ui.workers import run_job_in_thread


def slow_import_job(store, *, n, gate=None, gate_after=None, step_s=0.0, threads=None):
    """Commit one document per step, then yield. From step ``gate_after`` on, each step
    waits for ``gate`` first (lets a test cancel at a known point)."""
    if threads is not None:
        threads.append((threading.get_ident(), store))
    for i in range(n):
        if gate is not None and gate_after is not None and i >= gate_after:
            assert gate.wait(10), "test never opened the gate"
        if step_s:
            time.sleep(step_s)
        store.add_document(Document(text=f"document number {i}", name=f"d{i}"))
        yield Progress(i + 1, n, f"committed d{i}")
    return {"added": n}


def test_job_runs_in_its_own_thread_and_store_and_returns_result(qtbot, store, db_path):
    threads = []
    handle = run_job_in_thread(
        None, lambda s: slow_import_job(s, n=5, threads=threads), "Import",
        opener=functools.partial(Store, db_path, "default"), show_dialog=False)
    seen = []
    handle.progress.connect(lambda p: seen.append(p.done))
    with qtbot.waitSignal(handle.finished, timeout=10_000) as blocker:
        pass
    assert blocker.args == [{"added": 5}]
    assert handle.state == "finished" and handle.result == {"added": 5}
    (tid, worker_store), = threads
    assert tid != threading.get_ident()
    assert worker_store is not store and worker_store.url == store.url
    assert seen and seen[-1] == 5  # the last progress is never throttled away
    assert store.count_documents() == 5


def test_cancel_midway_keeps_committed_docs_and_window_stays_responsive(qtbot, store, db_path):
    gate = threading.Event()
    handle = run_job_in_thread(
        None, lambda s: slow_import_job(s, n=50, gate=gate, gate_after=3), "Slow import",
        opener=functools.partial(Store, db_path, "default"))
    dialog = handle.dialog
    assert dialog is not None and dialog.isVisible()

    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(5)
    # the job is blocked in its 4th step: the GUI thread keeps processing events meanwhile
    qtbot.waitUntil(lambda: handle.last_progress is not None
                    and handle.last_progress.done == 3, timeout=10_000)
    qtbot.waitUntil(lambda: len(ticks) >= 10, timeout=10_000)
    assert handle.is_running()
    assert "3 / 50" in dialog.labelText()

    cancel = [b for b in dialog.findChildren(QPushButton) if b.text() == "Cancel"]
    assert cancel, "progress dialog has a Cancel button"
    with qtbot.waitSignal(handle.cancelled, timeout=10_000):
        qtbot.mouseClick(cancel[0], Qt.LeftButton)
        gate.set()
    qtbot.waitSignal(handle.ended, timeout=10_000)
    timer.stop()
    assert handle.state == "cancelled"
    # the unit in flight when Cancel was pressed (d3) completes; nothing after it runs
    assert store.count_documents() == 4
    assert [d.name for d in store.iter_documents(with_spans=False)] == ["d0", "d1", "d2", "d3"]
    qtbot.waitUntil(lambda: handle.dialog is None, timeout=5_000)


def failing_job(store, *, after):
    for i in range(after):
        store.add_document(Document(text=f"ok {i}", name=f"ok{i}"))
        yield Progress(i + 1, None, "")
    raise AnnotatorError("data.jsonl:3: 'text' is missing")


def test_error_shows_message_box_and_done_work_stays(qtbot, store, db_path):
    handle = run_job_in_thread(None, lambda s: failing_job(s, after=2), "Import",
                               opener=functools.partial(Store, db_path, "default"))
    with qtbot.waitSignal(handle.failed, timeout=10_000) as blocker:
        pass
    assert blocker.args == ["data.jsonl:3: 'text' is missing"]
    box = handle.error_box
    assert box is not None and box.isVisible()
    assert box.text() == "data.jsonl:3: 'text' is missing"
    assert store.count_documents() == 2
    box.findChild(QDialogButtonBox).buttons()[0].click()


def test_factory_error_is_reported_not_raised(qtbot, db_path):
    def factory(store):
        raise ImportError("annotator.prelabel is not installed")

    handle = run_job_in_thread(None, factory, "Pre-label",
                               opener=functools.partial(Store, db_path, "default"),
                               show_dialog=False)
    with qtbot.waitSignal(handle.failed, timeout=10_000) as blocker:
        pass
    assert "annotator.prelabel is not installed" in blocker.args[0]
    assert handle.state == "failed"


# ---------------------------------------------------------------------------- Jobs menu
class FakeMainWindow:
    """What ui.jobs_actions needs from GUI-A's main window: menuBar, statusBar, store,
    refresh."""

    def __new__(cls, store):
        from PySide6.QtWidgets import QMainWindow

        class _W(QMainWindow):
            def __init__(self):
                super().__init__()
                self.store = store
                self.refreshed = 0

            def refresh(self):
                self.refreshed += 1

        return _W()


def test_jobs_menu_lists_every_job(qtbot, store):
    from ui import jobs_actions

    mw = FakeMainWindow(store)
    qtbot.addWidget(mw)
    actions = jobs_actions.install_job_actions(mw)
    titles = [a.text() for a in mw.jobs_menu.actions() if a.text()]
    assert titles == ["Pre-label…", "LLM silver labels…", "Import…", "Export…", "Train…",
                      "Settings…"]
    for spec in jobs_actions.JOBS:  # the project's own modules: all there, all enabled
        assert callable(jobs_actions.load_job_function(spec))
        assert actions[spec.key].isEnabled()


def test_import_then_export_from_the_jobs_menu(qtbot, store, tmp_path):
    from ui import jobs_actions

    src = tmp_path / "in.jsonl"
    src.write_text(
        '{"name": "a", "text": "Aspirine 500 mg.", "spans": '
        '[{"start": 0, "end": 8, "label": "CHEM", "source": "import", "status": "accepted"}]}\n'
        '{"name": "b", "text": "Pas de traitement."}\n', encoding="utf-8")
    mw = FakeMainWindow(store)
    qtbot.addWidget(mw)
    jobs_actions.install_job_actions(mw)
    handle = jobs_actions.start_job(mw, "import", {"path": str(src), "fmt": "jsonl",
                                                   "schema": "finemed-fr", "add_labels": True})
    with qtbot.waitSignal(handle.ended, timeout=20_000):
        pass
    assert handle.state == "finished", handle.error
    assert store.count_documents() == 2
    assert mw.refreshed == 1
    assert "added 2" in mw.statusBar().currentMessage()

    out = tmp_path / "out.jsonl"
    handle = jobs_actions.start_job(mw, "export", {"fmt": "jsonl", "out": str(out)})
    with qtbot.waitSignal(handle.ended, timeout=20_000):
        pass
    assert handle.state == "finished", handle.error
    assert out.read_text(encoding="utf-8").count("\n") == 2


def test_options_dialog_takes_defaults_from_settings(qtbot, store, tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings

    from annotator.settings import save_settings
    from ui import jobs_actions
    from ui import settings as st

    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(tmp_path / "qs"))
    monkeypatch.delenv("ANNOTATOR_PRELABEL_THRESHOLD", raising=False)
    save_settings({"prelabel_threshold": 0.7, "prelabel_batch_size": 3})  # the user's
    spec = next(j for j in jobs_actions.JOBS if j.key == "prelabel")
    dlg = jobs_actions.OptionsDialog("Pre-label", spec.fields(st.get_settings(store)))
    qtbot.addWidget(dlg)
    vals = dlg.values()
    assert vals["threshold"] == 0.7 and vals["backend"] == "gliner2" and vals["model"]
    assert vals["batch_size"] == 3  # a field of the dialog (More options), from the setting

    def job(store, *, model, threshold):
        pass

    assert jobs_actions.accepted_kwargs(job, {"model": "m", "threshold": 0.1, "x": 1}) == {
        "model": "m", "threshold": 0.1}


def test_prelabel_dialog_offers_every_backend_and_runs_the_lexicon(qtbot, store, tmp_path):
    """The Pre-label dialog's choices are the engine's backends; the lexicon runs from it
    (model and device are not used by that backend) and its proposals reach the database."""
    from annotator.model import Span
    from annotator.prelabel.registry import backends
    from ui import jobs_actions
    from ui import settings as st

    spec = next(j for j in jobs_actions.JOBS if j.key == "prelabel")
    fields = {f.name: f for f in spec.fields(st.get_settings(store))}
    assert fields["backend"].choices == backends()
    assert backends()[:3] == ("gliner2", "transformers", "lexicon")
    assert set(fields["window"].choices) == {"full", "middle"}
    assert fields["device"].default == "auto"
    store.import_documents([
        Document(text="Aspirine 500 mg le matin.", name="a",
                 spans=[Span(0, 8, "drug", source="human", status="accepted")]),
        Document(text="Pas d'aspirine ; Aspirine arrêtée.", name="b")])
    mw = FakeMainWindow(store)
    qtbot.addWidget(mw)
    jobs_actions.install_job_actions(mw)
    dlg = jobs_actions.OptionsDialog("Pre-label", list(fields.values()))
    qtbot.addWidget(dlg)
    values = {**dlg.values(), "backend": "lexicon"}
    handle = jobs_actions.start_job(mw, "prelabel", values)
    with qtbot.waitSignal(handle.ended, timeout=20_000):
        pass
    assert handle.state == "finished", handle.error
    (b,) = [d for d in store.iter_documents(span_source="lexicon") if d.name == "b"]
    # a capitalised first letter matches by default (issue 12): both occurrences
    assert [(b.text[s.start:s.end], s.status) for s in b.spans] == [
        ("aspirine", "proposed"), ("Aspirine", "proposed")]
