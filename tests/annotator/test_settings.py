"""The user's settings (annotator.settings): explicit arguments over ``ANNOTATOR_*`` variables
over the settings file; secrets never in the file; the old identity file migrated once; a bad
value names where it came from and the key."""

from __future__ import annotations

import json

import keyring
import pytest
from keyring.backends.fail import Keyring as FailKeyring
from memory_keyring import MemoryKeyring

from annotator import review
from annotator import settings as us
from annotator.settings import Settings, SettingsError, load_settings, save_settings

SECRET = "sk-test-0a1b2c3d4e5f-never-in-a-file"


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("ANNOTATOR_ANNOTATOR", "ANNOTATOR_LLM_MODEL", "ANNOTATOR_LLM_BASE_URL",
                 "ANNOTATOR_PRELABEL_THRESHOLD", "ANNOTATOR_PRELABEL_BATCH_SIZE",
                 "ANNOTATOR_DEVICE", "ANNOTATOR_LLM_API_KEY_ENV", "OPENAI_API_KEY", "MY_LLM_KEY"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def memory_keyring():
    old = keyring.get_keyring()
    kr = MemoryKeyring()
    keyring.set_keyring(kr)
    yield kr
    keyring.set_keyring(old)


def _file() -> dict:
    """The settings file's table, as written."""
    return us.read_file()


def test_where_the_file_is(tmp_path, clean_env):
    clean_env.setenv("ANNOTATOR_SETTINGS_FILE", str(tmp_path / "mine.toml"))
    assert us.settings_path() == tmp_path / "mine.toml"
    clean_env.delenv("ANNOTATOR_SETTINGS_FILE")
    clean_env.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert us.settings_path() == tmp_path / "cfg" / "medannotator" / "settings.toml"


def test_defaults_without_a_file(clean_env):
    s = Settings()
    assert not us.settings_path().exists()
    assert (s.annotator, s.prelabel_threshold, s.prelabel_batch_size, s.device) == (
        "", None, 8, None)
    assert s.llm_api_key_env == "OPENAI_API_KEY" and s.llm_base_url.startswith("http")
    assert s.annotator_name()  # the login when no name is set


def test_arguments_over_environment_over_file(clean_env):
    path = save_settings({"llm_model": "from-file", "prelabel_batch_size": 4,
                          "prelabel_threshold": 0.3})
    assert path == us.settings_path()
    assert _file() == {"llm_model": "from-file", "prelabel_batch_size": 4,
                       "prelabel_threshold": 0.3}
    s = Settings()
    assert (s.llm_model, s.prelabel_batch_size, s.prelabel_threshold) == ("from-file", 4, 0.3)
    clean_env.setenv("ANNOTATOR_LLM_MODEL", "from-env")
    clean_env.setenv("ANNOTATOR_PRELABEL_BATCH_SIZE", "16")
    clean_env.setenv("ANNOTATOR_PRELABEL_THRESHOLD", "")  # empty: unset, the file's counts
    s = Settings()
    assert (s.llm_model, s.prelabel_batch_size, s.prelabel_threshold) == ("from-env", 16, 0.3)
    s = Settings(llm_model="from-arg")
    assert (s.llm_model, s.prelabel_batch_size) == ("from-arg", 16)
    # load_settings: options left at None are not given, so they do not override
    assert load_settings(llm_model=None, prelabel_batch_size=2).llm_model == "from-env"
    assert load_settings(llm_model=None, prelabel_batch_size=2).prelabel_batch_size == 2


def test_saving_keeps_other_keys_and_never_writes_the_environment(clean_env):
    save_settings({"llm_model": "a", "device": "cuda:1"})
    clean_env.setenv("ANNOTATOR_LLM_BASE_URL", "http://env:1/v1")
    save_settings({"annotator": "  Dr Martin "})
    assert _file() == {"llm_model": "a", "device": "cuda:1", "annotator": "Dr Martin"}
    save_settings({"device": None})  # None removes the key
    assert "device" not in _file() and Settings().device is None
    with pytest.raises(SettingsError, match="api_key: secrets are never kept"):
        save_settings({"api_key": SECRET})
    with pytest.raises(SettingsError, match="unknown setting.*llm_modle"):
        save_settings({"llm_modle": "x"})
    with pytest.raises(SettingsError, match="llm_api_key_env.*name of an environment variable"):
        save_settings({"llm_api_key_env": SECRET})  # the key typed where its NAME goes
    assert SECRET not in us.settings_path().read_text(encoding="utf-8")


def test_a_secret_in_the_file_is_refused_naming_the_file_and_the_key(clean_env):
    us.settings_path().write_text(f'llm_api_key = "{SECRET}"\n', encoding="utf-8")
    with pytest.raises(SettingsError) as err:
        Settings()
    msg = str(err.value)
    assert str(us.settings_path()) in msg and "llm_api_key" in msg and "secrets" in msg
    assert SECRET not in msg


def test_the_api_key_comes_from_the_environment_or_the_keyring_only(clean_env,
                                                                     memory_keyring):
    assert us.api_key() is None and us.api_key_source() is None
    us.set_api_key(SECRET)
    assert memory_keyring.data == {("medannotator", "api_key"): SECRET}
    assert us.api_key() == SECRET and us.api_key_source() == "keyring"
    clean_env.setenv("MY_LLM_KEY", "sk-from-env")
    save_settings({"llm_api_key_env": "MY_LLM_KEY"})
    assert us.api_key() == "sk-from-env" and us.api_key_source() == "environment"
    assert SECRET not in us.settings_path().read_text(encoding="utf-8")
    us.set_api_key(None)
    assert memory_keyring.data == {}


def test_no_keyring_is_said(clean_env):
    old = keyring.get_keyring()
    keyring.set_keyring(FailKeyring())
    try:
        assert not us.keyring_available()
        with pytest.raises(us.KeyringUnavailableError):
            us.set_api_key("x")
    finally:
        keyring.set_keyring(old)


@pytest.mark.parametrize("line, key, what", [
    ('prelabel_threshold = "high"\n', "prelabel_threshold", "valid number"),
    ("prelabel_threshold = 1.5\n", "prelabel_threshold", "less than or equal to 1"),
    ("prelabel_batch_size = 0\n", "prelabel_batch_size", "greater than or equal to 1"),
    ('device = "gpu"\n', "device", "expected auto, cpu, cuda"),
    ('llm_modle = "qwen"\n', "llm_modle", "unknown setting"),
])
def test_a_bad_value_in_the_file_names_the_file_and_the_key(clean_env, line, key, what):
    us.settings_path().write_text(line, encoding="utf-8")
    with pytest.raises(SettingsError) as err:
        Settings()
    msg = str(err.value)
    assert msg.startswith(str(us.settings_path())) and key in msg and what in msg


def test_a_bad_value_in_the_environment_names_the_variable(clean_env):
    clean_env.setenv("ANNOTATOR_PRELABEL_BATCH_SIZE", "many")
    with pytest.raises(SettingsError, match=r"^\$ANNOTATOR_PRELABEL_BATCH_SIZE = 'many'"):
        Settings()


def test_a_file_that_is_not_toml_is_named(clean_env):
    us.settings_path().write_text("annotator = \n", encoding="utf-8")
    with pytest.raises(SettingsError, match="not valid TOML"):
        Settings()


def test_the_cli_reports_a_bad_settings_file_in_one_line(clean_env, tmp_path, capsys):
    from annotator.cli import main

    us.settings_path().write_text("prelabel_batch_size = -3\n", encoding="utf-8")
    rc = main(["--db", str(tmp_path / "x.sqlite"), "prelabel", "--backend", "lexicon"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and "prelabel_batch_size" in err
    assert str(us.settings_path()) in err


# ---------------------------------------------------------------- the annotator's name
def test_annotator_from_environment_over_the_file(clean_env):
    assert review.set_annotator(" dr.file ") == us.settings_path()
    assert review.get_annotator() == "dr.file" and _file() == {"annotator": "dr.file"}
    clean_env.setenv("ANNOTATOR_ANNOTATOR", "dr.env")
    assert review.get_annotator() == "dr.env"


def test_the_old_identity_file_is_migrated_once(tmp_path, clean_env):
    clean_env.delenv("ANNOTATOR_SETTINGS_FILE")
    clean_env.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    folder = tmp_path / "cfg" / "medannotator"
    folder.mkdir(parents=True)
    (folder / "identity.json").write_text(json.dumps({"annotator": "dr.old"}), "utf-8")
    (folder / "settings.toml").write_text('llm_model = "qwen"\n', "utf-8")
    assert review.get_annotator() == "dr.old"
    assert us.read_file(folder / "settings.toml") == {"llm_model": "qwen",
                                                      "annotator": "dr.old"}
    assert not (folder / "identity.json").exists()
    assert (folder / "identity.json.migrated").exists()
    assert review.get_annotator() == "dr.old"  # now from the settings file
    review.set_annotator("dr.new")
    assert review.get_annotator() == "dr.new"


def test_an_other_settings_file_leaves_the_identity_file_alone(tmp_path, clean_env):
    clean_env.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    folder = tmp_path / "cfg" / "medannotator"
    folder.mkdir(parents=True)
    (folder / "identity.json").write_text(json.dumps({"annotator": "dr.old"}), "utf-8")
    assert Settings().annotator == ""  # ANNOTATOR_SETTINGS_FILE names another file
    assert (folder / "identity.json").exists()


def test_the_settings_command_shows_sets_and_unsets(clean_env, capsys):
    from annotator.cli import main

    assert main(["settings", "set", "prelabel_threshold", "0.4"]) == 0
    assert main(["settings", "set", "llm_model", "qwen3"]) == 0
    assert _file() == {"prelabel_threshold": 0.4, "llm_model": "qwen3"}
    clean_env.setenv("ANNOTATOR_LLM_MODEL", "from-env")
    capsys.readouterr()
    assert main(["settings", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["prelabel_threshold"] == {"value": 0.4, "from": str(us.settings_path())}
    assert shown["llm_model"] == {"value": "from-env", "from": "$ANNOTATOR_LLM_MODEL"}
    assert shown["prelabel_batch_size"] == {"value": 8, "from": "default"}
    assert main(["settings", "unset", "prelabel_threshold"]) == 0
    assert _file() == {"llm_model": "qwen3"}
    assert main(["settings", "set", "prelabel_batch_size", "lots"]) == 2
    assert "prelabel_batch_size = 'lots'" in capsys.readouterr().err
    assert main(["settings", "set", "openai_api_key", SECRET]) == 2
    assert "secrets are never kept" in capsys.readouterr().err
    assert SECRET not in us.settings_path().read_text(encoding="utf-8")
    assert main(["settings", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(us.settings_path())
    assert main(["settings"]) == 0
    assert "llm_model" in capsys.readouterr().out
