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
