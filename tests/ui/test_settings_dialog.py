"""Settings: per-user values in the user settings file (annotator.settings), the project's
default model in the store, the API key only in the OS keyring or the environment (never the
database, never the settings file)."""

from __future__ import annotations

from pathlib import Path

import keyring
import pytest
from keyring.backends.fail import Keyring as FailKeyring
from memory_keyring import MemoryKeyring
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QDialog

SECRET = "sk-test-9f8e7d6c5b4a-never-in-the-db"


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """The user settings file (and any QSettings) and the key sources confined to the test."""
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(tmp_path / "qsettings"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("ANNOTATOR_SETTINGS_FILE", str(tmp_path / "config" / "settings.toml"))
    for var in ("ANNOTATOR_ANNOTATOR", "ANNOTATOR_PRELABEL_THRESHOLD", "ANNOTATOR_LLM_MODEL",
                "ANNOTATOR_LLM_BASE_URL", "OPENAI_API_KEY", "MY_LLM_KEY"):
        monkeypatch.delenv(var, raising=False)
    old = keyring.get_keyring()
    yield tmp_path
    keyring.set_keyring(old)


@pytest.fixture
def memory_keyring(isolated):
    kr = MemoryKeyring()
    keyring.set_keyring(kr)
    return kr


def _all_bytes(db_path: str) -> bytes:
    return b"".join(p.read_bytes() for p in Path(db_path).parent.glob(Path(db_path).name + "*"))


def test_dialog_saves_user_and_project_settings_and_key_only_in_keyring(
        qtbot, isolated, memory_keyring, store, db_path):
    from ui import settings as st
    from ui.settings_dialog import SettingsDialog

    dlg = SettingsDialog(store)
    qtbot.addWidget(dlg)
    assert dlg.api_key.isEnabled()
    dlg.annotator.setText("Dr Martin")
    dlg.model.setText("/models/finemed-v2")
    dlg.threshold.setValue(0.35)
    dlg.llm_url.setText("http://127.0.0.1:9000/v1")
    dlg.llm_model.setText("qwen2.5-7b")
    qtbot.keyClicks(dlg.api_key, SECRET)
    dlg.accept()
    assert dlg.result() == QDialog.DialogCode.Accepted

    assert memory_keyring.data[("medannotator", "api_key")] == SECRET
    # the default model is the project's, kept once (with its backend); the rest is the user's
    assert store.get_setting("default_model") == "/models/finemed-v2"
    assert store.get_setting("default_backend") == "gliner2"
    assert store.get_setting("prelabel_threshold") is None
    from annotator.settings import read_file

    written = read_file(isolated / "config" / "settings.toml")
    assert written == {"annotator": "Dr Martin", "prelabel_threshold": pytest.approx(0.35),
                       "llm_base_url": "http://127.0.0.1:9000/v1", "llm_model": "qwen2.5-7b"}
    s = st.get_settings(store)
    assert (s.annotator, s.llm_base_url, s.llm_model) == ("Dr Martin", "http://127.0.0.1:9000/v1",
                                                         "qwen2.5-7b")
    assert s.threshold == pytest.approx(0.35)
    from annotator.review import get_annotator

    assert get_annotator() == "Dr Martin"
    # the secret is nowhere but the keyring: not the database, not the settings file
    assert SECRET.encode() not in _all_bytes(db_path)
    for f in isolated.rglob("*"):
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes(), f
    assert st.get_api_key() == SECRET
    assert st.api_key_source() == "keyring"


def test_key_from_environment_wins_and_no_keyring_disables_the_field(
        qtbot, isolated, monkeypatch, store):
    from ui import settings as st
    from ui.settings_dialog import SettingsDialog

    keyring.set_keyring(FailKeyring())
    monkeypatch.setenv("MY_LLM_KEY", SECRET)
    assert not st.keyring_available()
    with pytest.raises(st.KeyringUnavailableError):
        st.set_api_key("x")
    assert st.get_api_key("MY_LLM_KEY") == SECRET
    assert st.api_key_source("MY_LLM_KEY") == "environment"
    assert st.get_api_key() is None
    dlg = SettingsDialog(store)
    qtbot.addWidget(dlg)
    assert not dlg.api_key.isEnabled()
    assert "No OS keyring" in dlg.key_status.text()
    dlg.api_key_env.setText("MY_LLM_KEY")
    assert "set in $MY_LLM_KEY" in dlg.key_status.text()


def test_defaults_without_store(isolated):
    from ui import settings as st

    s = st.get_settings()
    assert s.threshold == st.DEFAULT_THRESHOLD and s.api_key_env == "OPENAI_API_KEY"
    assert s.model  # the default pre-label model id
