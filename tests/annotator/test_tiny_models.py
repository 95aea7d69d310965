"""The tiny offline models load back like a user's model and produce well-formed output."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import tiny_models

pytestmark = pytest.mark.slow

FRENCH = (
    "Mme D., 82 ans, présente un œdème des membres inférieurs et une insuffisance "
    "cardiaque ; traitement par furosémide 40\u202fmg et paracétamol 1\u00a0g."
)
SECOND = "Œdème aigu du poumon sous amiodarone 200 mg/j."
LABELS = {"disease": "a disease or symptom", "drug": "a drug name"}
GLINER2_FIXTURES = ("tiny_gliner2_bert", "tiny_gliner2_deberta", "gliner2_minilm")


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from an unrelated working directory with the offline switches on."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    return tmp_path


@pytest.fixture(params=GLINER2_FIXTURES)
def gliner2_path(request: pytest.FixtureRequest) -> Path:
    return request.getfixturevalue(request.param)


def load_gliner2(path: Path):
    from gliner2 import GLiNER2

    return GLiNER2.from_pretrained(str(path))


def flatten(result: dict) -> list[tuple[str, dict]]:
    """``{"entities": {label: [ {text, confidence, start, end}, ... ]}}`` -> pairs."""
    assert set(result) == {"entities"}
    return [(label, ent) for label, ents in result["entities"].items() for ent in ents]


def assert_valid_entities(text: str, result: dict) -> list[tuple[str, dict]]:
    pairs = flatten(result)
    for label, ent in pairs:
        assert label in LABELS
        assert set(ent) == {"text", "confidence", "start", "end"}
        assert 0 <= ent["start"] < ent["end"] <= len(text), ent
        assert text[ent["start"] : ent["end"]] == ent["text"], ent
        assert 0.0 <= ent["confidence"] <= 1.0
    return pairs


# --- GLiNER2 -----------------------------------------------------------------


def test_gliner2_folder_is_self_contained(gliner2_path: Path) -> None:
    for name in (
        "config.json",
        "encoder_config/config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    ):
        assert (gliner2_path / name).is_file(), name
    config = json.loads((gliner2_path / "config.json").read_text("utf-8"))
    assert config["architecture"] == "span"
    # model_name is a label, never a path into a temporary build directory.
    assert not os.path.isabs(config["model_name"])


def test_gliner2_loads_elsewhere_and_extracts(gliner2_path: Path, elsewhere: Path) -> None:
    model = load_gliner2(gliner2_path)
    assert type(model).__name__ == "GLiNER2"
    assert model.processor.tokenizer.is_fast
    assert model.processor.tokenizer.model_max_length == 512
    result = model.extract_entities(
        FRENCH, LABELS, threshold=0.0, include_spans=True, include_confidence=True
    )
    assert len(assert_valid_entities(FRENCH, result)) > 0


def test_gliner2_batch_extract_entities(gliner2_path: Path, elsewhere: Path) -> None:
    model = load_gliner2(gliner2_path)
    texts = [FRENCH, SECOND]
    results = model.batch_extract_entities(
        texts,
        list(LABELS),
        batch_size=2,
        threshold=0.0,
        include_spans=True,
        include_confidence=True,
    )
    assert len(results) == 2
    for text, result in zip(texts, results):
        assert len(assert_valid_entities(text, result)) > 0


def test_gliner2_tokenizer_offsets_map_to_text(gliner2_path: Path, elsewhere: Path) -> None:
    tokenizer = load_gliner2(gliner2_path).processor.tokenizer
    encoding = tokenizer(FRENCH, return_offsets_mapping=True, add_special_tokens=False)
    offsets = encoding["offset_mapping"]
    assert len(offsets) == len(encoding["input_ids"]) > 0
    previous_end = 0
    for start, end in offsets:
        assert 0 <= start <= end <= len(FRENCH)
        assert start >= previous_end - 1  # monotonic (Metaspace may re-cover one space)
        previous_end = end
    # Windowing by tokens and mapping back gives the original characters.
    window = offsets[3:9]
    assert FRENCH[window[0][0] : window[-1][1]].strip()


def test_pinned_count_head_is_what_makes_entities_appear(tiny_gliner2_bert: Path) -> None:
    import torch

    model = load_gliner2(tiny_gliner2_bert)
    probe = torch.randn(7, model.hidden_size)
    assert model.count_pred(probe).argmax(-1).tolist() == [1] * 7

    # A count head that predicts 0 instances (what an untrained head often does) silences
    # the model entirely, whatever the threshold.
    with torch.no_grad():
        model.count_pred[-1].bias.zero_()
        model.count_pred[-1].bias[0] = 10.0
    silent = model.extract_entities(
        FRENCH, LABELS, threshold=0.0, include_spans=True, include_confidence=True
    )
    assert flatten(silent) == []

    tiny_models.pin_count_head(model, n=1)
    assert model.count_pred(probe).argmax(-1).tolist() == [1] * 7
    loud = model.extract_entities(
        FRENCH, LABELS, threshold=0.0, include_spans=True, include_confidence=True
    )
    assert len(assert_valid_entities(FRENCH, loud)) > 0


def test_pin_count_head_rejects_bad_input(tiny_gliner2_bert: Path) -> None:
    model = load_gliner2(tiny_gliner2_bert)
    with pytest.raises(ValueError):
        tiny_models.pin_count_head(model, n=20)
    with pytest.raises(TypeError):
        tiny_models.pin_count_head(object())


# --- transformers token classification -----------------------------------------


@pytest.mark.parametrize(
    ("fixture", "model_class"),
    [
        ("tiny_token_classifier", "BertForTokenClassification"),
        ("tiny_token_classifier_xlmr", "XLMRobertaForTokenClassification"),
    ],
)
def test_token_classifier_loads_elsewhere(
    request: pytest.FixtureRequest, fixture: str, model_class: str, elsewhere: Path
) -> None:
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    path = request.getfixturevalue(fixture)
    model = AutoModelForTokenClassification.from_pretrained(str(path))
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    assert type(model).__name__ == model_class
    assert tokenizer.is_fast
    labels = list(tiny_models.DEFAULT_NER_LABELS)
    assert [model.config.id2label[i] for i in range(len(labels))] == labels
    assert model.config.label2id == {label: i for i, label in enumerate(labels)}

    encoding = tokenizer(FRENCH, return_offsets_mapping=True, return_tensors="pt")
    offsets = encoding.pop("offset_mapping")[0].tolist()
    with torch.no_grad():
        logits = model(**encoding).logits
    assert logits.shape == (1, len(offsets), len(labels))
    for start, end in offsets:
        assert 0 <= start <= end <= len(FRENCH)


def test_token_classifier_pipeline_offsets(tiny_token_classifier: Path, elsewhere: Path) -> None:
    from transformers import pipeline

    ner = pipeline(
        "token-classification",
        model=str(tiny_token_classifier),
        aggregation_strategy="simple",
        device="cpu",
    )
    entities = ner(FRENCH)
    assert entities
    for ent in entities:
        assert 0 <= ent["start"] < ent["end"] <= len(FRENCH)
        assert ent["entity_group"] in {label[2:] for label in tiny_models.DEFAULT_NER_LABELS[1:]}


def test_custom_labels(tmp_path: Path) -> None:
    from transformers import AutoConfig

    labels = ("O", "B-X", "I-X")
    path = tiny_models.build_tiny_token_classifier(tmp_path / "custom", labels)
    assert AutoConfig.from_pretrained(str(path)).id2label == {0: "O", 1: "B-X", 2: "I-X"}


# --- builders ------------------------------------------------------------------


def test_builders_are_idempotent(tiny_gliner2_bert: Path) -> None:
    stamp = tiny_gliner2_bert / tiny_models.STAMP_NAME
    before = stamp.stat().st_mtime_ns
    assert tiny_models.build_tiny_gliner2_bert(tiny_gliner2_bert) == tiny_gliner2_bert
    assert stamp.stat().st_mtime_ns == before


def test_builder_refuses_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a model", "utf-8")
    with pytest.raises(FileExistsError):
        tiny_models.build_tiny_token_classifier(tmp_path)
    assert (tmp_path / "notes.txt").read_text("utf-8") == "not a model"


def test_corpus_covers_french() -> None:
    corpus = "\n".join(tiny_models.medical_corpus())
    for char in "œŒéèàçêîôù’«»µ°":
        assert char in corpus


def test_vocabularies_are_the_same_in_every_process() -> None:
    """Two processes build the same vocabularies (ids included), so a fresh CI clone gets the
    tiny models this suite was written against. The ``tokenizers`` trainers broke ties in
    Rust hash-map order and gave a different vocabulary per process."""
    import subprocess
    import sys

    code = (
        "import hashlib, json, tiny_models as t\n"
        "vocabs = [t.train_wordpiece_tokenizer().get_vocab(),\n"
        "          t.train_wordpiece_tokenizer(lowercase=False).get_vocab(),\n"
        "          t.train_unigram_tokenizer().get_vocab(),\n"
        "          t.train_unigram_tokenizer(flavor='xlmr').get_vocab()]\n"
        "print(hashlib.sha256(json.dumps([sorted(v.items()) for v in vocabs]).encode())"
        ".hexdigest())\n"
    )
    tests_dir = Path(tiny_models.__file__).parent
    digests = {
        subprocess.run([sys.executable, "-c", code], cwd=tests_dir, check=True,
                       capture_output=True, text=True).stdout.strip()
        for _ in range(2)
    }
    assert len(digests) == 1 and len(next(iter(digests))) == 64
