"""The Export and Train dialogs: the job's options, which gold they take, and a summary of
what would be written before anything is.

The filters are the CLI's (``--review-status``, ``--status``, ``--source``), with the same
default: the gold, accepted spans of reviewed documents (everything for the lossless jsonl).
Each change of an option starts a dry run on a worker thread (``annotator.gold_preview``,
the real writers into a temporary folder); its summary (documents, spans per label, what the
format cannot carry) is shown and **Start** is enabled only once the summary matches the
options on screen.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialogButtonBox,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QWidget,
)

from annotator.model import REVIEW_STATUSES, STATUSES, source_info, sources
from ui.jobs_actions import Field, OptionsDialog

# how the dialog names the person and import sources; the others go by their registered title
_SOURCE_TITLES = {"human": "people (edited)", "import": "imported"}
DEBOUNCE_MS = 250
# the options a preview depends on (the others, such as where to write, do not change it)
def _preview_fields() -> dict[str, set[str]]:
    from annotator.formats import format_options

    return {"export": {"fmt", "split", "seed", "descriptions", *format_options("write")},
            "train": {"split", "seed"}}


_PREVIEW_FIELDS = _preview_fields()


class GoldOptionsDialog(OptionsDialog):
    """``kind`` is ``"export"`` (preview: a dry-run export) or ``"train"`` (preview: the
    training documents per split). ``opener`` opens the preview worker's store
    (``store.opener()``)."""

    def __init__(self, title: str, fields: list[Field], kind: str, opener: Any,
                 parent: QWidget | None = None):
        super().__init__(title, fields, parent)
        self.kind, self._opener = kind, opener
        self._generation = 0  # bumps with every change; older previews are ignored
        self._shown: int | None = None  # generation of the preview on screen
        self.preview = None
        self._handles: list[Any] = []
        box = QGroupBox("Take")
        grid = QGridLayout(box)
        self.doc_boxes = self._checks(grid, 0, "Documents", REVIEW_STATUSES, {"reviewed"})
        self.span_boxes = self._checks(grid, 1, "Spans", STATUSES, {"accepted"})
        self.source_boxes = {} if kind == "train" else self._checks(  # train: every source
            grid, 2, "Sources", sources(), set(sources()),
            titles={n: _SOURCE_TITLES.get(n, source_info(n).title) for n in sources()},
            columns=4)
        self.body.addWidget(box)
        self.summary = QPlainTextEdit()
        self.summary.setReadOnly(True)
        self.summary.setMinimumHeight(150)
        self.body.addWidget(QLabel("Summary (before anything is written)"))
        self.body.addWidget(self.summary)
        self._touched = False
        self._timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._timer.timeout.connect(self._start_preview)
        for name, w in self.editors.items():
            slot = self._changed if name in _PREVIEW_FIELDS[kind] else self._update_ok
            for sig in ("currentTextChanged", "textChanged", "valueChanged", "toggled"):
                if hasattr(w, sig):
                    getattr(w, sig).connect(slot)
                    break
        fmt = self.editors.get("fmt")
        if isinstance(fmt, QComboBox):
            fmt.currentTextChanged.connect(self._format_changed)
            self._format_changed(fmt.currentText())
        self.setMinimumWidth(620)
        self._changed()

    def _checks(self, grid: QGridLayout, row: int, title: str, values, ticked: set[str], *,
                titles: dict[str, str] | None = None, columns: int = 4) -> dict[str, QCheckBox]:
        grid.addWidget(QLabel(title), 2 * row, 0)
        boxes = {}
        for i, v in enumerate(values):
            b = QCheckBox((titles or {}).get(v, v.replace("_", " ")))
            b.setChecked(v in ticked)
            b.toggled.connect(self._filters_touched)
            grid.addWidget(b, 2 * row + i // columns, 1 + i % columns)
            boxes[v] = b
        return boxes

    # ------------------------------------------------------------------ options
    def _filters_touched(self) -> None:
        if not getattr(self, "_setting", False):
            self._touched = True
        self._changed()

    def _format_changed(self, fmt: str) -> None:
        """jsonl is the lossless format: everything, unless the user chose otherwise."""
        if self._touched:
            return
        self._setting = True
        try:
            lossless = fmt == "jsonl"
            for v, b in self.doc_boxes.items():
                b.setChecked(lossless or v == "reviewed")
            for v, b in self.span_boxes.items():
                b.setChecked(lossless or v == "accepted")
        finally:
            self._setting = False

    @staticmethod
    def _ticked(boxes: dict[str, QCheckBox]) -> list[str]:
        return [v for v, b in boxes.items() if b.isChecked()]

    def filters(self) -> dict[str, str]:
        """``review_status``, ``status`` and ``source`` as the CLI spells them (all sources
        ticked: no source filter)."""
        out = {"review_status": ",".join(self._ticked(self.doc_boxes)),
               "status": ",".join(self._ticked(self.span_boxes))}
        sources = self._ticked(self.source_boxes)
        if len(sources) < len(self.source_boxes):
            out["source"] = ",".join(sources)
        return out

    def values(self) -> dict[str, Any]:
        return {**super().values(), **self.filters()}

    def _problem(self) -> str | None:
        bad = self.problem(needed=False)  # a value that is not a number yet
        if bad:
            return bad[0]
        f = self.filters()
        if not f["review_status"]:
            return "Tick at least one document status."
        if not f["status"]:
            return "Tick at least one span status."
        if f.get("source") == "":
            return "Tick at least one source."
        return None

    # ------------------------------------------------------------------ preview
    def _changed(self, *_: Any) -> None:
        self._generation += 1
        self.buttons.button(QDialogButtonBox.Ok).setEnabled(False)
        problem = self._problem()
        if problem:
            self.summary.setPlainText(problem)
            self._timer.stop()
            return
        self.summary.setPlainText("Counting…")
        self._timer.start()

    def _preview_args(self) -> dict[str, Any]:
        v = self.values()
        keep = {"status", "review_status", "source", *_PREVIEW_FIELDS[self.kind]}
        if self.kind == "train":
            keep.discard("source")
        return {k: v[k] for k in keep if k in v}

    def _start_preview(self) -> None:
        from annotator import gold_preview
        from ui.workers import run_job_in_thread

        generation, args = self._generation, self._preview_args()
        fn = gold_preview.train_preview_job if self.kind == "train" else (
            gold_preview.preview_job)
        handle = run_job_in_thread(self, lambda store: fn(store, **args), "Summary",
                                   opener=self._opener, show_dialog=False)
        handle.finished.connect(lambda result: self._show(generation, result))
        handle.failed.connect(lambda message: self._show_error(generation, message))
        self._handles = [*self._handles, handle][-4:]

    def _show(self, generation: int, preview: Any) -> None:
        if generation != self._generation:
            return  # the options changed since: a newer preview is on its way
        self.preview, self._shown = preview, generation
        self.summary.setPlainText("\n".join(preview.lines()))
        self._update_ok()

    def _update_ok(self, *_: Any) -> None:
        """Start: once the summary of the options on screen is shown, and a target given."""
        ok = self.buttons.button(QDialogButtonBox.Ok)
        out = self.editors.get("out")
        has_out = not isinstance(out, QLineEdit) or bool(out.text().strip())
        current = self._shown == self._generation
        ok.setEnabled(current and has_out)
        ok.setToolTip("" if ok.isEnabled() else
                      "Say where to write first" if current else "Wait for the summary")

    def _show_error(self, generation: int, message: str) -> None:
        if generation == self._generation:
            self.summary.setPlainText(f"Cannot export with these options: {message}")

    def wait_for_preview(self, timeout_ms: int = 30_000) -> bool:
        """Process events until the preview of the current options is shown (tests, and
        scripts driving the dialog); False on timeout."""
        from PySide6.QtCore import QCoreApplication, QDeadlineTimer, QThread

        deadline = QDeadlineTimer(timeout_ms)
        while self._shown != self._generation and not deadline.hasExpired():
            QCoreApplication.processEvents()
            QThread.msleep(10)
        return self._shown == self._generation
