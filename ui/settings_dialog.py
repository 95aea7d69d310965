"""The settings dialog. Storage rules are in ``ui.settings``; the API key typed here goes to
the OS keyring only (or nowhere, with a message, when the machine has no keyring)."""

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
    QVBoxLayout,
    QWidget,
)

from ui import settings as st

BACKENDS = ("gliner2", "transformers")


class SettingsDialog(QDialog):
    """Edit the annotator name, pre-label model and threshold, and the LLM endpoint.

    ``store`` (optional, the GUI thread's store) receives the project settings.
    """

    def __init__(self, store: Any = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.store = store
        s = st.get_settings(store)

        self.annotator = QLineEdit(s.annotator)
        self.annotator.setToolTip("Recorded on every span you create or review")
        self.model = QLineEdit(s.model)
        self.model.setToolTip("A Hugging Face model id or a local model folder "
                              "(the project's default pre-label model)")
        browse = QPushButton("Folder…")
        browse.clicked.connect(self._browse_model)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(browse)
        self.backend = QComboBox()
        self.backend.addItems(BACKENDS)
        self.backend.setCurrentText(s.backend)
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setDecimals(2)
        self.threshold.setValue(s.threshold)

        self.llm_url = QLineEdit(s.llm_base_url)
        self.llm_url.setToolTip("An OpenAI-compatible endpoint, e.g. http://localhost:8080/v1")
        self.llm_model = QLineEdit(s.llm_model)
        self.api_key_env = QLineEdit(s.api_key_env)
        self.api_key_env.setToolTip("Environment variable read for the API key")
        self.api_key = QLineEdit()
        self.api_key.setEchoMode(QLineEdit.Password)
        self.key_status = QLabel()
        self.key_status.setWordWrap(True)
        self._update_key_status()
        self.api_key_env.textChanged.connect(self._update_key_status)

        people = QGroupBox("You")
        f0 = QFormLayout(people)
        f0.addRow("Annotator name", self.annotator)
        pre = QGroupBox("Pre-labeling (this project)")
        f1 = QFormLayout(pre)
        f1.addRow("Model id or path", model_row)
        f1.addRow("Backend", self.backend)
        f1.addRow("Threshold", self.threshold)
        llm = QGroupBox("LLM silver labels")
        f2 = QFormLayout(llm)
        f2.addRow("Endpoint URL", self.llm_url)
        f2.addRow("Model name", self.llm_model)
        f2.addRow("API key variable", self.api_key_env)
        f2.addRow("API key", self.api_key)
        f2.addRow("", self.key_status)

        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for w in (people, pre, llm, buttons):
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
            hint = f"Key: {where}. Typed keys go to the OS keyring, never the project database."
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
