"""Shared pytest configuration and fixtures."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Tests never reach a model hub and never need a display. Set before anything imports
# huggingface_hub / transformers / Qt (they read these at import time).
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
if str(TESTS_DIR) not in sys.path:  # lets test modules `import tiny_models`
    sys.path.insert(0, str(TESTS_DIR))

import pytest


@pytest.fixture(autouse=True)
def _own_user_settings(tmp_path, monkeypatch):
    """Each test reads and writes its own user settings file (annotator.settings), never the
    developer's (nor their old identity file, which only the default location migrates)."""
    monkeypatch.setenv("ANNOTATOR_SETTINGS_FILE", str(tmp_path / "user-settings.toml"))

@pytest.fixture(autouse=True)
def _own_registries():
    """A span source or backend a test registers (a plugin's spans read back, a test source)
    is gone after it: the registries are process-wide."""
    from annotator import model
    from annotator.prelabel import registry

    sources, backends = dict(model._SOURCES), dict(registry._BACKENDS)
    loaded = registry._plugins_loaded
    yield
    model._SOURCES.clear()
    model._SOURCES.update(sources)
    registry._BACKENDS.clear()
    registry._BACKENDS.update(backends)
    registry._plugins_loaded = loaded

# --- tiny offline models ---
# Small real models built locally through the library code paths (see tests/tiny_models.py),
# cached under $ANNOTATOR_TEST_MODELS or <repo>/.cache/test-models so reruns are instant.


@pytest.fixture(scope="session")
def test_models_dir() -> Path:
    root = os.environ.get("ANNOTATOR_TEST_MODELS")
    path = Path(root).expanduser() if root else REPO_ROOT / ".cache" / "test-models"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def tiny_gliner2_bert(test_models_dir: Path) -> Path:
    """GLiNER2 over a tiny random BERT + local WordPiece tokenizer (count head pinned to 1)."""
    import tiny_models

    return tiny_models.build_tiny_gliner2_bert(test_models_dir / "tiny-gliner2-bert")


@pytest.fixture(scope="session")
def tiny_gliner2_deberta(test_models_dir: Path) -> Path:
    """GLiNER2 over a tiny random DeBERTa-v2 + local Unigram tokenizer (count head pinned)."""
    import tiny_models

    return tiny_models.build_tiny_gliner2_deberta(test_models_dir / "tiny-gliner2-deberta")


@pytest.fixture(scope="session")
def gliner2_minilm(test_models_dir: Path) -> Path:
    """GLiNER2 over the pretrained all-MiniLM-L6-v2 encoder (random heads, count pinned)."""
    import tiny_models

    return tiny_models.build_gliner2_minilm(test_models_dir / "gliner2-minilm")


@pytest.fixture(scope="session")
def tiny_token_classifier(test_models_dir: Path) -> Path:
    """Tiny BertForTokenClassification (tiny_models.DEFAULT_NER_LABELS) + WordPiece tokenizer."""
    import tiny_models

    return tiny_models.build_tiny_token_classifier(test_models_dir / "tiny-token-classifier-bert")


@pytest.fixture(scope="session")
def tiny_token_classifier_xlmr(test_models_dir: Path) -> Path:
    """Tiny XLMRobertaForTokenClassification + XLM-R-style Unigram tokenizer."""
    import tiny_models

    return tiny_models.build_tiny_xlmr_token_classifier(
        test_models_dir / "tiny-token-classifier-xlmr"
    )


# --- a real PostgreSQL server (tests/pgserver.py) ---
# One server per test session, started on 127.0.0.1 on a free port in a temporary folder and
# stopped (by its own pid) at the end; each test gets a fresh database. Tests that need it are
# skipped only when no PostgreSQL server binaries are installed (Debian: postgresql).


@pytest.fixture(scope="session")
def pg_server():
    import pgserver

    bindir = pgserver.find_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (initdb, postgres) on PATH or in "
                    "/usr/lib/postgresql/*/bin: install the postgresql package "
                    "(scripts/system_deps.sh)")
    server = pgserver.PgServer(bindir).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_migrated(pg_server) -> str:
    """A database migrated once to the newest revision: the template of ``pg_url``'s."""
    from db import Store

    name = pg_server.create_database("migrated")
    Store(pg_server.url(name)).close()  # applies the migrations; no connection stays open
    return name


@pytest.fixture
def pg_url(pg_server, pg_migrated) -> str:
    """The URL of a fresh PostgreSQL database at the newest schema revision."""
    return pg_server.url(pg_server.create_database(template=pg_migrated))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def db_url(request, tmp_path) -> str:
    """A fresh, empty database of each kind: a SQLite file path, a PostgreSQL URL (the
    ``slow`` marker: it starts the server)."""
    if request.param == "sqlite":
        return str(tmp_path / "db.sqlite")
    return request.getfixturevalue("pg_url")
