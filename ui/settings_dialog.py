"""The settings dialog. Where each value is kept is ``ui.settings``'s business (the user's
settings file through ``annotator.settings``; the project's default model in the project);
the API key typed here goes to the OS keyring only (or nowhere, with a message, when the
machine has no keyring)."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from annotator.prelabel.registry import backends, get_backend
from annotator.settings import settings_path
from ui import settings as st

DEVICES = ("auto", "cpu", "cuda", "mps")


def model_backends() -> tuple[str, ...]:
    """The pre-labeling backends that run a model (a project default model is one of
    theirs), plugins' included."""
    return tuple(name for name in backends() if get_backend(name).uses_model)


class SettingsDialog(QDialog):
    """Edit the annotator name, the project's default model, the pre-label preferences and
    the LLM endpoint.

    ``store`` (optional, the GUI thread's store) receives the project's default model.
    """

    def __init__(self, store: Any = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.store = store
        s = st.get_settings(store)

        self.annotator = QLineEdit(s.annotator)
        self.annotator.setToolTip("Recorded on every span you create or review")
        self.model = QLineEdit(s.model)
        self.model.setToolTip("A Hugging Face model id or a local model folder: the project's "
                              "default pre-label model (also set by training and by "
                              "`annotator models set-default`)")
        browse = QPushButton("Folder…")
        browse.clicked.connect(self._browse_model)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(browse)
        self.backend = QComboBox()
        self.backend.addItems(model_backends())
        self.backend.setCurrentText(s.backend)
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setDecimals(2)
        self.threshold.setValue(s.threshold)
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 4096)
        self.batch_size.setValue(s.batch_size)
        self.device = QComboBox()
        self.device.setEditable(True)  # cuda:1 and the like
        self.device.addItems(DEVICES)
        self.device.setCurrentText(s.device)
        self.device.setToolTip("auto: the GPU when torch sees one")

        self.llm_url = QLineEdit(s.llm_base_url)
        self.llm_url.setToolTip("An OpenAI-compatible endpoint, e.g. http://localhost:8080/v1")
        self.llm_model = QLineEdit(s.llm_model)
        self.api_key_env = QLineEdit(s.api_key_env)
        self.api_key_env.setToolTip("The NAME of the environment variable read for the API "
                                    "key (never the key itself)")
        self.api_key = QLineEdit()
        self.api_key.setEchoMode(QLineEdit.Password)
        self.key_status = QLabel()
        self.key_status.setWordWrap(True)
        self._update_key_status()
        self.api_key_env.textChanged.connect(self._update_key_status)

        people = QGroupBox("You")
        f0 = QFormLayout(people)
        f0.addRow("Annotator name", self.annotator)
        project = QGroupBox("This project's default model")
        fp = QFormLayout(project)
        fp.addRow("Model id or path", model_row)
        fp.addRow("Backend", self.backend)
        pre = QGroupBox("Pre-labeling")
        f1 = QFormLayout(pre)
        f1.addRow("Threshold", self.threshold)
        f1.addRow("Batch size", self.batch_size)
        f1.addRow("Device", self.device)
        llm = QGroupBox("LLM silver labels")
        f2 = QFormLayout(llm)
        f2.addRow("Endpoint URL", self.llm_url)
        f2.addRow("Model name", self.llm_model)
        f2.addRow("API key variable", self.api_key_env)
        f2.addRow("API key", self.api_key)
        f2.addRow("", self.key_status)
        where = QLabel(f"Your settings are kept in {settings_path()} (ANNOTATOR_* environment "
                       "variables override them); the default model in the project.")
        where.setWordWrap(True)

        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for w in (people, project, pre, llm, where, buttons):
            layout.addWidget(w)
        self.setMinimumWidth(520)

    def _browse_model(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Model folder", self.model.text())
        if path:
            self.model.setText(path)

    def _update_key_status(self) -> None:
        env = self.api_key_env.text().strip() or st.DEFAULT_ENV
        source = st.api_key_source(env)
        has_keyring = st.keyring_available()
        where = {"environment": f"set in ${env}", "keyring": "stored in the OS keyring",
                 None: "not set (local servers need none)"}[source]
        if has_keyring:
            self.api_key.setPlaceholderText("type a key to store it in the OS keyring")
            hint = (f"Key: {where}. Typed keys go to the OS keyring, never the project database "
                    "or the settings file.")
        else:
            self.api_key.setEnabled(False)
            self.api_key.setPlaceholderText("no OS keyring on this machine")
            hint = f"Key: {where}. No OS keyring here: set ${env} in the environment."
        self.api_key.setToolTip(hint)
        self.key_status.setText(hint)

    def values(self) -> st.Settings:
        return st.Settings(
            annotator=self.annotator.text().strip(),
            model=self.model.text().strip(),
            backend=self.backend.currentText(),
            threshold=float(self.threshold.value()),
            batch_size=int(self.batch_size.value()),
            device=self.device.currentText().strip() or "auto",
            llm_base_url=self.llm_url.text().strip(),
            llm_model=self.llm_model.text().strip(),
            api_key_env=self.api_key_env.text().strip() or st.DEFAULT_ENV,
        )

    def accept(self) -> None:
        try:
            st.save_settings(self.values(), self.store)
            key = self.api_key.text()
            if key:
                st.set_api_key(key)
                self.api_key.clear()
        except st.AnnotatorError as exc:
            QMessageBox.warning(self, "Settings", str(exc))
            return
        super().accept()
