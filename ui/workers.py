"""Run core jobs (generators yielding ``annotator.jobs.Progress``) on a worker thread.

The window never blocks: a job runs on ``QThreadPool.globalInstance()`` and reports back
through queued Qt signals, which the GUI thread delivers between its own events.

Invariants:

* The worker opens its OWN ``db.Store(db_url, project)`` inside the worker thread and closes it
  when the job ends; no Store or domain object crosses threads except the job's result and
  ``Progress`` values (plain dataclasses, handed over by value through the signal).
* Cancel sets a ``threading.Event``; ``annotator.jobs.drive`` closes the generator at its next
  ``yield``. Jobs commit each finished unit before yielding, so the work already done stays.
* Exactly one of ``finished(result)``, ``failed(message)`` or ``cancelled()`` is emitted per
  run, always followed by ``ended()``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QWidget

from annotator.errors import AnnotatorError, CancelledError
from annotator.jobs import Job, Progress, drive

log = logging.getLogger(__name__)

JobFactory = Callable[[Any], Job]
"""``(store) -> Job``: called on the worker thread with the worker's own Store."""

_RUNNING: set[JobHandle] = set()  # keeps handles alive until their job ends


class _Signals(QObject):
    """Signals emitted from the worker thread; receivers live in the GUI thread (queued).

    Progress is coalesced: the worker stores the latest ``Progress`` and signals only when
    the GUI has taken the previous one, so a job yielding thousands of steps a second cannot
    flood the event loop, and the GUI always ends up with the latest value.
    """

    progress_ready = Signal()
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    ended = Signal()


class _JobRunnable(QRunnable):
    def __init__(self, factory: JobFactory, opener: Callable[[], Any], handle: JobHandle):
        super().__init__()
        self.setAutoDelete(True)
        self._factory, self._opener = factory, opener
        self._cancel, self._signals = handle.cancel_event, handle._signals
        self._done, self._post_progress = handle.done_event, handle._post_progress

    def run(self) -> None:  # worker thread: it owns the store it opens
        sig = self._signals
        post = self._post_progress

        store = None
        try:
            store = self._opener()
            if self._cancel.is_set():
                raise CancelledError("cancelled before start")
            result = drive(self._factory(store), post, self._cancel)
        except CancelledError:
            sig.cancelled.emit()
        except AnnotatorError as exc:
            sig.failed.emit(str(exc))
        except Exception as exc:  # a bug, not the user's: keep the traceback in the log
            log.exception("job failed")
            sig.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            sig.finished.emit(result)
        finally:
            if store is not None:
                store.close()
            self._done.set()
            sig.ended.emit()


class JobHandle(QObject):
    """A running (or ended) job. Lives in the GUI thread; its signals arrive there.

    Signals: ``progress(Progress)`` (coalesced: the latest step, not every step),
    ``finished(result)``, ``failed(message)``,
    ``cancelled()``, ``ended()``.
    """

    progress = Signal(object)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    ended = Signal()

    def __init__(self, title: str, parent: QObject | None = None):
        super().__init__(parent)
        self.title = title
        self.cancel_event = threading.Event()
        self.done_event = threading.Event()
        self.result: Any = None
        self.error: str | None = None
        self.state = "running"  # running | finished | failed | cancelled
        self.last_progress: Progress | None = None
        self.dialog: QProgressDialog | None = None
        self.error_box: QMessageBox | None = None
        self._signals = _Signals()
        self._lock = threading.Lock()
        self._latest: Progress | None = None
        self._pending = False
        self._signals.progress_ready.connect(self._on_progress, Qt.QueuedConnection)
        self._signals.finished.connect(self._on_finished, Qt.QueuedConnection)
        self._signals.failed.connect(self._on_failed, Qt.QueuedConnection)
        self._signals.cancelled.connect(self._on_cancelled, Qt.QueuedConnection)
        self._signals.ended.connect(self._on_ended, Qt.QueuedConnection)

    # ---------------------------------------------------------------- control
    def cancel(self) -> None:
        """Ask the job to stop at its next step (thread-safe; finished units stay stored)."""
        self.cancel_event.set()
        if self.dialog is not None:
            self.dialog.setLabelText(f"{self.title}: cancelling after the current step…")

    def is_running(self) -> bool:
        return self.state == "running"

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the worker thread is done (tests, shutdown). Signals still need the
        event loop to be delivered."""
        return self.done_event.wait(timeout)

    def _post_progress(self, p: Progress) -> None:  # worker thread
        with self._lock:
            self._latest = p
            if self._pending:
                return
            self._pending = True
        self._signals.progress_ready.emit()

    # ---------------------------------------------------------------- slots (GUI thread)
    @Slot()
    def _on_progress(self) -> None:
        with self._lock:
            p, self._pending = self._latest, False
        if p is None:
            return
        self.last_progress = p
        if self.dialog is not None and not self.cancel_event.is_set():
            if p.total:
                self.dialog.setRange(0, int(p.total))
                self.dialog.setValue(min(int(p.done), int(p.total)))
            else:
                self.dialog.setRange(0, 0)  # busy indicator
            text = (f"{self.title}: {p.done:,} / {p.total:,} done" if p.total
                    else f"{self.title}: working…")
            if p.message:
                text += f"\n{p.message}"
            self.dialog.setLabelText(text)
        self.progress.emit(p)

    @Slot(object)
    def _on_finished(self, result: Any) -> None:
        self.result, self.state = result, "finished"
        self.finished.emit(result)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.error, self.state = message, "failed"
        if self.dialog is not None:  # dialog shown => the user sees errors too
            box = QMessageBox(QMessageBox.Critical, self.title, message, QMessageBox.Ok,
                              self.dialog.parentWidget())
            box.setAttribute(Qt.WA_DeleteOnClose)
            box.open()  # not exec(): the event loop keeps running
            self.error_box = box
        self.failed.emit(message)

    @Slot()
    def _on_cancelled(self) -> None:
        self.state = "cancelled"
        self.cancelled.emit()

    @Slot()
    def _on_ended(self) -> None:
        if self.dialog is not None:
            self.dialog.canceled.disconnect(self.cancel)
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None
        _RUNNING.discard(self)
        self.ended.emit()


def run_job_in_thread(
    parent: QWidget | None,
    job_factory: JobFactory,
    title: str,
    *,
    opener: Callable[[], Any],
    show_dialog: bool = True,
    pool: QThreadPool | None = None,
    waiting: str = "starting (opening the project)",
) -> JobHandle:
    """Start ``job_factory(store)`` on a worker thread with its own store, ``opener()``
    (``store.opener()`` of the window's store: the same database and project).

    With ``show_dialog`` a non-modal progress dialog with a Cancel button follows the job and
    errors are shown in a message box (the message is the ``AnnotatorError`` text). Connect to
    the handle's ``finished(result)`` to use the result. Until the job's first progress the
    dialog says what it waits for (``waiting``, e.g. "loading the model"), never a bare bar.
    """
    handle = JobHandle(title)
    if show_dialog:
        dlg = QProgressDialog(f"{title}: {waiting}…", "Cancel", 0, 0, parent)
        dlg.setWindowTitle(title)
        dlg.setWindowModality(Qt.NonModal)
        dlg.setAutoClose(False)
        dlg.setAutoReset(False)
        dlg.setMinimumDuration(0)
        dlg.setMinimumWidth(380)
        dlg.canceled.connect(handle.cancel)
        dlg.show()
        handle.dialog = dlg
    _RUNNING.add(handle)
    runnable = _JobRunnable(job_factory, opener, handle)
    (pool or QThreadPool.globalInstance()).start(runnable)
    return handle


def running_jobs() -> list[JobHandle]:
    """Jobs started and not yet ended (e.g. to ask before closing the window)."""
    return [h for h in _RUNNING if h.is_running()]
