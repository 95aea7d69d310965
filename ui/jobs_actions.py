"""The "Jobs" menu: pre-label, LLM silver labels, import, export and training.

Each action asks for its options in a small dialog (defaults from ``ui.settings``) and starts
the core job with ``ui.workers.run_job_in_thread``; the GUI holds no job logic. A job whose
module is missing or fails to import is shown disabled, with the reason as its tooltip, and
is looked for again each time the menu opens.

The main window provides either ``db_url`` and ``project`` attributes or a ``store``
(``db.Store``, from which the URL and project are read); ``refresh()`` is called, when it
exists, after each job ends (finished, failed or cancelled: work done stays stored).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QRegularExpression, Qt
from PySide6.QtGui import QAction, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from annotator.errors import AnnotatorError
from annotator.options import coerce_value
from annotator.params import job_params
from ui import settings as st


@dataclass
class Field:
    """One option: ``kind`` is text, open (a file), save (a file), dir, choice, float, int,
    bool. An empty text/choice value is left out of the job's arguments; a text or choice
    value is read as ``type``. A float/int field that is ``optional`` shows "default" at the
    bottom of its range, and is then left out. ``advanced`` fields are under "More
    options", folded."""

    name: str
    label: str
    kind: str = "text"
    default: Any = ""
    choices: tuple = ()
    tooltip: str = ""
    type: type = str
    optional: bool = False
    bounds: tuple[float, float] | None = None
    advanced: bool = False
    required: bool = False  # Start asks for it
    placeholder: str = "default"  # an empty text field, or a spin box at its "default"


@dataclass
class JobSpec:
    """A job of the Jobs menu. Its fields are the job function's declared parameters
    (``annotator.params``: the same the command line's flags come from), with the GUI's own
    defaults (``defaults``: the project's model, say) and narrower ``choices`` where the
    window knows better; ``omit`` names parameters another part of the dialog sets (the gold
    dialog's ticks), ``more`` adds the registry's options (a backend's, a format's)."""

    key: str
    title: str
    module: str
    function: str
    defaults: Callable[[st.Settings], dict[str, Any]] = field(default=lambda s: {})
    choices: Callable[[st.Settings], dict[str, tuple]] = field(default=lambda s: {})
    omit: tuple[str, ...] = ()
    more: Callable[[], list[Field]] = field(default=lambda: [])
    extra: Callable[[st.Settings], dict[str, Any]] = field(default=lambda s: {})
    waiting: str = "starting"  # what the busy bar says until the first progress

    def fields(self, s: st.Settings) -> list[Field]:
        return job_fields(load_job_function(self), s, defaults=self.defaults(s),
                          choices=self.choices(s), omit=self.omit) + self.more()


def job_fields(fn: Callable[..., Any], s: st.Settings, *, defaults: dict[str, Any],
               choices: dict[str, tuple], omit: tuple[str, ...] = ()) -> list[Field]:
    """One field per declared parameter of job ``fn`` that the GUI offers; its default is
    ``defaults``' value, else the user's setting the parameter names, else the signature's."""
    out = []
    for p in job_params(fn):
        if not p.param.gui or p.name in omit:
            continue
        if p.name in defaults:
            default = defaults[p.name]
        elif p.param.setting and getattr(s.user, p.param.setting, None) is not None:
            default = getattr(s.user, p.param.setting)
        else:
            default = p.default
        common = {"tooltip": p.help, "type": p.type, "advanced": p.param.advanced,
                  "optional": p.optional, "required": p.required,
                  "placeholder": p.param.empty}
        options = choices.get(p.name) or p.choices()
        if options:
            if p.optional and default is None:
                options = ("", *options)
            out.append(Field(p.name, p.title, "choice", "" if default is None else default,
                             tuple(options), **common))
        elif p.type is bool and default is None:  # three states: the default, on, off
            out.append(Field(p.name, p.title, "choice", "", ("", "on", "off"), **common))
        elif p.type is bool:
            out.append(Field(p.name, p.title, "bool", bool(default), **common))
        elif p.param.widget:
            out.append(Field(p.name, p.title, p.param.widget, default or "", **common))
        elif p.param.bounds or (p.type is int and not p.optional):  # a spin box
            bounds = p.param.bounds or (min(0, default or 0), 10_000_000)
            out.append(Field(p.name, p.title, "float" if p.type is float else "int",
                             default, bounds=bounds, **common))
        else:  # text; empty is left out (the job's default)
            out.append(Field(p.name, p.title, "text", "" if default is None else str(default),
                             **common))
    return out


def option_fields(kind: str) -> list[Field]:
    """One field per registered format option (``annotator.formats.format_options``: the
    same declarations the command line's flags come from); a field another format's
    option leaves at its default changes nothing."""
    from annotator.formats import format_options

    out = []
    for key, (opt, owners) in format_options(kind).items():
        tip = f"{', '.join(owners)} only: {opt.help}"
        if opt.type is bool:
            out.append(Field(key, opt.title or key, "bool", bool(opt.default), tooltip=tip))
        else:  # text: an empty one is left out; numbers are read by the option's type
            default = "" if opt.default is None else str(opt.default)
            out.append(Field(key, opt.title or key, "text", default, tooltip=tip))
    return out


def backend_option_fields() -> list[Field]:
    """One field per option of the registered pre-labeling backends (the declarations the
    ``prelabel`` flags come from); an option another backend leaves at its default changes
    nothing, one that was set is refused by name when the job starts."""
    from annotator.prelabel.registry import backends, get_backend

    seen: dict[str, tuple[Any, list[str]]] = {}
    for name in backends():
        for opt in get_backend(name).options:
            seen.setdefault(opt.name, (opt, []))[1].append(name)
    out = []
    for key, (opt, owners) in seen.items():
        tip = f"{', '.join(owners)} only: {opt.help}"
        title = opt.title or key
        if opt.type is bool and opt.default is None:  # three states: the default, on, off
            out.append(Field(key, title, "choice", "", ("", "on", "off"), tooltip=tip))
        elif opt.type is bool:
            out.append(Field(key, title, "bool", bool(opt.default), tooltip=tip))
        elif opt.choices:
            out.append(Field(key, title, "choice", "", ("", *opt.choices), tooltip=tip))
        else:  # text; empty is left out
            out.append(Field(key, title, "text", "" if opt.default is None
                             else str(opt.default), tooltip=tip))
    return out


def _devices(s: st.Settings) -> tuple[str, ...]:
    """The device choices, the one in the settings included."""
    return tuple(dict.fromkeys(("auto", "cpu", "cuda", s.device)))


def _formats(writable: bool) -> tuple:
    """Format names from the registry, plugins' included; the Import dialog offers those
    that can read, the Export dialog (``writable``) those that can write."""
    from annotator.formats import format_names, get_format

    names = format_names()
    return tuple(k for k in names
                 if (get_format(k).can_write() if writable else get_format(k).can_read()))


JOBS: tuple[JobSpec, ...] = (
    JobSpec("prelabel", "Pre-label", "annotator.prelabel.job", "prelabel_job",
            defaults=lambda s: {"model": s.model, "backend": s.backend, "device": s.device},
            choices=lambda s: {"device": _devices(s)},
            more=backend_option_fields,  # the backends' own options (plugins' included)
            waiting="loading the model (local cache first, then the hub)"),
    JobSpec("silver", "LLM silver labels", "annotator.llm.silver", "silver_job",
            extra=lambda s: {"api_key": st.get_api_key(s.api_key_env)},
            waiting="connecting to the LLM endpoint"),
    JobSpec("import", "Import", "annotator.io", "import_job",
            defaults=lambda s: {"fmt": "jsonl"},
            choices=lambda s: {"fmt": _formats(False)},
            more=lambda: option_fields("read")),
    JobSpec("export", "Export", "annotator.io", "export_job",
            defaults=lambda s: {"fmt": "jsonl"},
            choices=lambda s: {"fmt": _formats(True)},
            omit=("status", "review_status", "source"),  # the gold dialog's ticks
            more=lambda: option_fields("write")),
    JobSpec("train", "Train", "annotator.training", "train_job",
            defaults=lambda s: {"base_model": s.model, "device": s.device},
            choices=lambda s: {"device": _devices(s)},
            omit=("status", "review_status"),  # the gold dialog's ticks
            waiting="loading the base model"),
)
JOB_KEYS = tuple(j.key for j in JOBS)


def load_job_function(spec: JobSpec) -> Callable[..., Any]:
    """The job function (the module is the project's own: an import error is a bug and is
    raised as such)."""
    return getattr(importlib.import_module(spec.module), spec.function)


def accepted_kwargs(fn: Callable[..., Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` limited to the parameters ``fn`` takes (all of them if it takes **kw)."""
    params = inspect.signature(fn).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return dict(kwargs)
    return {k: v for k, v in kwargs.items() if k in params}


class OptionsDialog(QDialog):
    """A form built from ``Field``s; ``values()`` gives the job's keyword arguments. The
    advanced fields are in a "More options" part below, folded until asked for."""

    def __init__(self, title: str, fields: list[Field], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.fields = fields
        self.editors: dict[str, QWidget] = {}
        form, more = QFormLayout(), QFormLayout()
        for f in fields:
            editor, row = self._editor(f)
            if f.tooltip:
                editor.setToolTip(f.tooltip)
            self.editors[f.name] = editor
            (more if f.advanced else form).addRow(f.label, row)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Start")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        self.more_button = QToolButton(text="More options", checkable=True)
        self.more_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.more_button.setArrowType(Qt.ArrowType.RightArrow)
        self.more_box = QWidget()
        self.more_box.setLayout(more)
        self.more_box.setVisible(False)
        self.more_button.toggled.connect(self._fold)
        if more.rowCount():
            layout.addWidget(self.more_button)
            layout.addWidget(self.more_box)
        self.body = QVBoxLayout()  # subclasses add their widgets here, above the buttons
        layout.addLayout(self.body)
        layout.addWidget(buttons)
        self.setMinimumWidth(460)

    def accept(self) -> None:
        """Start, unless a value cannot be read or a field the job needs is empty (the field
        is named, and focused)."""
        from PySide6.QtWidgets import QMessageBox

        problem = self.problem()
        if problem:
            message, f = problem
            if f.advanced:
                self.more_button.setChecked(True)
            self.editors[f.name].setFocus()
            QMessageBox.warning(self, self.windowTitle(), message)
            return
        super().accept()

    def problem(self, *, needed: bool = True) -> tuple[str, Field] | None:
        """What keeps the job from starting, and the field to fix: a value that is not a
        number yet (``1e``), or (``needed``) a needed field left empty; None when it can
        start."""
        for f in self.fields:
            try:
                self._value(f)
            except AnnotatorError as exc:
                return str(exc), f
        given = self.values()
        missing = [f for f in self.fields if f.required and f.name not in given]
        if needed and missing:
            return "Needed: " + ", ".join(f.label for f in missing), missing[0]
        return None

    def _fold(self, shown: bool) -> None:
        self.more_box.setVisible(shown)
        self.more_button.setArrowType(Qt.ArrowType.DownArrow if shown
                                      else Qt.ArrowType.RightArrow)
        self.adjustSize()

    def _editor(self, f: Field) -> tuple[QWidget, Any]:
        if f.kind == "choice":
            w = QComboBox()
            w.addItems([str(c) for c in f.choices])
            w.setCurrentText(str(f.default))
            return w, w
        if f.kind in ("float", "int"):
            lo, hi = f.bounds or ((0.0, 1.0) if f.kind == "float" else (0, 10_000_000))
            if f.kind == "float":
                w = QDoubleSpinBox()
                w.setDecimals(3)
                step = 0.05 if hi - lo <= 1 else 1.0
            else:
                w, step = QSpinBox(), 1
            w.setSingleStep(step)
            if f.optional:  # one step below the range reads "default": left out
                w.setRange(lo - step, hi)
                w.setSpecialValueText(f.placeholder)
            else:
                w.setRange(lo, hi)
            w.setValue(w.minimum() if f.default is None else f.default)
            return w, w
        if f.kind == "bool":
            w = QCheckBox()
            w.setChecked(bool(f.default))
            return w, w
        w = QLineEdit(str(f.default or ""))
        if f.optional and f.placeholder:  # what leaving it empty means
            w.setPlaceholderText(f.placeholder)
        if f.kind == "text" and f.type in (int, float):
            w.setValidator(QRegularExpressionValidator(QRegularExpression(
                r"-?\d+" if f.type is int else r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?"), w))
        if f.kind not in ("open", "save", "dir"):
            return w, w
        row = QHBoxLayout()
        row.addWidget(w, 1)
        browse = QPushButton("Browse…")
        browse.clicked.connect(lambda: self._browse(f, w))
        row.addWidget(browse)
        return w, row

    def _browse(self, f: Field, edit: QLineEdit) -> None:
        if f.kind == "open":
            path, _ = QFileDialog.getOpenFileName(self, f.label, edit.text())
        elif f.kind == "save":
            path, _ = QFileDialog.getSaveFileName(self, f.label, edit.text())
        else:
            path = QFileDialog.getExistingDirectory(self, f.label, edit.text())
        if path:
            edit.setText(path)

    _LEFT_OUT = object()

    def _value(self, f: Field) -> Any:
        """The value of field ``f`` as its type (``_LEFT_OUT``: empty, or "default"); a text
        that is not a number raises AnnotatorError naming the field."""
        w = self.editors[f.name]
        if isinstance(w, (QDoubleSpinBox, QSpinBox)):
            if w.specialValueText() and w.value() == w.minimum():
                return self._LEFT_OUT
            return float(w.value()) if isinstance(w, QDoubleSpinBox) else int(w.value())
        if isinstance(w, QCheckBox):
            return w.isChecked()
        v = w.currentText() if isinstance(w, QComboBox) else w.text().strip()
        if v == "":
            return self._LEFT_OUT
        return v if f.type is str else coerce_value(v, f.type, f.label)

    def values(self) -> dict[str, Any]:
        """The job's keyword arguments; a field whose text is not a number yet is left out
        (``problem()`` says so, and Start refuses)."""
        out: dict[str, Any] = {}
        for f in self.fields:
            try:
                v = self._value(f)
            except AnnotatorError:
                continue
            if v is not self._LEFT_OUT:
                out[f.name] = v
        return out


# ---------------------------------------------------------------------------- wiring
def opener_of(main_window: Any) -> Any:
    """What opens a worker's own store on the window's database and project."""
    return main_window.store.opener()


# How each number of a job result reads in a message ({} is the number). Keys not here and
# not in _INTERNAL read as their words ("new_labels" -> "new labels 3"); keys whose value is
# 0 are left out, except those in _ALWAYS.
_PHRASES: dict[str, str] = {
    # pre-label
    "docs": "{} documents pre-labelled",
    "spans": "{} spans",
    "already_done": "{} already pre-labelled with this model (left as they were)",
    "skipped_existing": "{} not proposed again (a person already decided on them)",
    "dropped_misaligned": "{} dropped (they did not match the text)",
    "repaired": "{} boundaries repaired",
    "unmapped": "{} with a label outside the schema (left out)",
    "truncated_docs": "{} documents read in their middle 512 tokens only",
    "failed": "{} documents failed",
    "done_concurrently": "{} written meanwhile by another run of this model (kept)",
    # import
    "documents_read": "read {} documents",
    "added": "added {} documents",
    "skipped_duplicates": "{} already in the project (skipped)",
    # export
    "documents": "wrote {} documents",
    # density
    "computed": "density computed for {} documents",
    "count": "{} documents with a density",
}
_INTERNAL = {"run_key", "source_version", "windows", "statuses", "sources", "doc_ids",
             "histogram", "quantiles", "splits", "path", "schema", "format", "out", "std",
             "min", "max", "missing", "median"}
_ALWAYS = {"docs", "spans", "added", "documents", "computed"}


def _as_data(result: Any) -> dict[str, Any] | None:
    if hasattr(result, "as_dict"):
        return result.as_dict()
    if dataclasses.is_dataclass(result):
        return dataclasses.asdict(result)
    return result if isinstance(result, dict) else None


def summarize(result: Any) -> str:
    """A one-line summary of a job result, in plain words ("12 documents pre-labelled, 43
    suggestions"): internal keys (run keys, window counts) are left out."""
    if result is None:
        return "done"
    data = _as_data(result)
    if data is None:
        return str(result)[:200]
    parts = []
    if isinstance(data.get("source"), str) and "docs" in data:
        parts.append(f"source {data['source']}")
    for k, v in data.items():
        if k in _INTERNAL or k == "source" or isinstance(v, bool):
            continue
        if isinstance(v, dict) and v and all(isinstance(n, int) for n in v.values()):
            what = "not carried by the format" if k == "dropped" else k.replace("_", " ")
            parts.append(f"{what}: " + ", ".join(f"{n} {x.replace('_', ' ')}"
                                                 for x, n in v.items()))
        elif isinstance(v, float):
            if k == "mean":
                parts.append(f"mean density {v:.2f}")
        elif isinstance(v, int):
            if v or k in _ALWAYS:
                phrase = "{} suggestions" if k == "spans" and "docs" in data else (
                    _PHRASES.get(k, k.replace("_", " ") + " {}"))
                parts.append(phrase.format(f"{v:,}"))
    return ", ".join(parts[:8]) or "done"


def show_export_report(main_window: Any, result: Any) -> Any:
    """A dialog (not modal) with what an export wrote: the files, the counts and what the
    format could not carry (the summary's ``dropped``). Returns the dialog."""
    from PySide6.QtWidgets import QMessageBox

    data = _as_data(result) or {}
    files = data.get("out") or []
    lines = [f"Format: {data.get('format', '?')}",
             f"Documents: {data.get('documents', 0):,}    Spans: {data.get('spans', 0):,}",
             "", "Written:", *[f"  {f}" for f in files]]
    dropped = data.get("dropped") or {}
    lines += ["", "Not carried by this format (left out of the files):"] if dropped else [
        "", "Everything exported was carried by the format."]
    lines += [f"  {n:,} spans: {why.replace('_', ' ')}" for why, n in sorted(dropped.items())]
    for name, info in (data.get("splits") or {}).items():
        if isinstance(info, dict) and "documents" in info:
            lines.append(f"Split {name}: {info['documents']:,} documents")
    box = QMessageBox(QMessageBox.Icon.Information, "Export finished", "\n".join(lines),
                      QMessageBox.StandardButton.Ok, main_window)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.setModal(False)
    box.show()
    main_window._export_report = box
    return box


def start_job(main_window: Any, key: str, options: dict[str, Any]):
    """Start job ``key`` with ``options`` on a worker thread; returns the JobHandle."""
    from ui.workers import run_job_in_thread

    spec = next(j for j in JOBS if j.key == key)
    fn = load_job_function(spec)
    kwargs = accepted_kwargs(fn, {**spec.extra(st.get_settings()), **options})
    handle = run_job_in_thread(main_window, lambda store: fn(store, **kwargs), spec.title,
                               opener=opener_of(main_window), waiting=spec.waiting)

    def ended() -> None:
        bar = main_window.statusBar() if hasattr(main_window, "statusBar") else None
        if bar is not None:
            text = {"finished": f"{spec.title}: {summarize(handle.result)}",
                    "cancelled": f"{spec.title}: cancelled (finished work is stored)",
                    "failed": f"{spec.title} failed: {handle.error}"}.get(handle.state, "")
            bar.showMessage(text, 15_000)
        if spec.key == "export" and handle.state == "finished":
            show_export_report(main_window, handle.result)
        refresh = getattr(main_window, "refresh", None)
        if callable(refresh):
            refresh()

    handle.ended.connect(ended)
    main_window._job_handles = [*getattr(main_window, "_job_handles", []), handle][-20:]
    return handle


def options_dialog(main_window: Any, spec: JobSpec) -> OptionsDialog:
    """The options dialog of job ``spec``: Export and Train also choose which gold they take
    and show what would be written before starting (``ui.gold_dialog``)."""
    store = getattr(main_window, "store", None)
    fields = spec.fields(st.get_settings(store))
    if spec.key in ("export", "train"):
        from ui.gold_dialog import GoldOptionsDialog

        return GoldOptionsDialog(f"{spec.title}…", fields, spec.key, opener_of(main_window),
                                 main_window)
    return OptionsDialog(f"{spec.title}…", fields, main_window)


def _ask_and_start(main_window: Any, spec: JobSpec) -> None:
    dlg = options_dialog(main_window, spec)
    if dlg.exec() == QDialog.DialogCode.Accepted:
        start_job(main_window, spec.key, dlg.values())


def install_job_actions(main_window: Any) -> dict[str, QAction]:
    """Add the Jobs menu to ``main_window`` (with Settings… unless the window has its own
    ``show_settings``); returns the actions by key."""
    bar = main_window.menuBar()
    help_menu = next((a for a in bar.actions() if a.text().replace("&", "") == "Help"), None)
    if help_menu is not None:  # Jobs comes before Help, as in every desktop application
        from PySide6.QtWidgets import QMenu

        menu = QMenu("&Jobs", bar)
        bar.insertMenu(help_menu, menu)
    else:
        menu = bar.addMenu("&Jobs")
    menu.setToolTipsVisible(True)
    actions: dict[str, QAction] = {}
    for spec in JOBS:
        act = QAction(f"{spec.title}…", main_window)
        act.setToolTip(f"Start {spec.title.lower()} on a background thread")
        act.triggered.connect(lambda _=False, s=spec: _ask_and_start(main_window, s))
        menu.addAction(act)
        actions[spec.key] = act
    if not hasattr(main_window, "show_settings"):  # the main window may have its own
        menu.addSeparator()
        settings = QAction("Settings…", main_window)
        settings.triggered.connect(lambda: _open_settings(main_window))
        menu.addAction(settings)
        actions["settings"] = settings
    main_window.jobs_menu = menu
    return actions


def _open_settings(main_window: Any) -> None:
    from ui.settings_dialog import SettingsDialog

    SettingsDialog(getattr(main_window, "store", None), main_window).exec()
