"""``train --backend transformers`` and the GLiNER2 prompt-length check.

Must-show for the token classifier: the tiny random BERT token classifier (fixture
``tiny_token_classifier``: 2 layers, 64 hidden, local cased WordPiece) fine-tuned for a few CPU
steps on the QUAERO sample (10 MEDLINE titles + the start of one EMEA drug label, quaero
schema) reaches a clearly higher span F1 on its training documents than its random head, and
the saved folder pre-labels the project through ``prelabel_job(backend="transformers")``
with no label map.

Prompt length (tiny BERT GLiNER2, 512 absolute positions): the full quaero descriptions make
a training prompt of ~546 tokens (with gliner2's synthetic ``entity i`` label names) and are
refused with the token counts before any training step; cut to 10 words (a ~440-token
prompt) they leave room, and training chunks are cut again until prompt + text fit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotator.errors import AnnotatorError
from annotator.io import import_job
from annotator.jobs import drive
from annotator.model import Document, LabelSchema, Span
from annotator.training import train_job
from db import Store
from db.registry import get_default, list_models

QUAERO = Path(__file__).resolve().parents[1] / "data" / "quaero" / "corpus" / "train"
FAST = {"lr": 3e-3, "task_lr": 1e-2, "batch_size": 4, "split": "train=1",
        "eval_split": "train"}


def _emea_slice(chars: int = 700) -> Document:
    from annotator.formats.base import Errors
    from annotator.formats.brat import read

    doc = next(iter(read(QUAERO / "EMEA", Errors()))).doc
    cut = doc.text.index("\n", chars)
    return Document(text=doc.text[:cut], name="EMEA/425_6[:slice]",
                    spans=[s for s in doc.spans if s.end <= cut])


@pytest.fixture
def quaero_store(tmp_path) -> Store:
    store = Store(str(tmp_path / "q.sqlite"), "quaero")
    drive(import_job(store, fmt="brat", path=str(QUAERO / "MEDLINE"), schema="quaero"))
    store.import_documents([_emea_slice()])
    for summary in store.document_summaries():  # the curated corpus: gold where annotated
        if summary.n_spans:
            store.set_review_status(summary.id, "reviewed")
    yield store
    store.close()


# ---------------------------------------------------------------- token classifier
@pytest.mark.slow
def test_token_classifier_training_raises_f1_and_prelabels(quaero_store, tiny_token_classifier,
                                                           tmp_path):
    from transformers import AutoConfig

    from annotator.prelabel.job import prelabel_job
    from annotator.training.bio import bio_label_list

    steps = []
    res = drive(train_job(quaero_store, base_model=str(tiny_token_classifier),
                          out=str(tmp_path / "tc"), backend="transformers", max_steps=60,
                          **FAST),
                on_progress=lambda p: steps.append(p.done) if p.message == "training" else None)
    before, after = res.base_report.micro.f1, res.new_report.micro.f1
    print(f"\ntiny BERT token classifier: {res.steps} steps, {res.seconds_per_step:.3f} s/step, "
          f"micro F1 {before:.3f} -> {after:.3f} on {res.n_eval} training docs")
    print(res.new_report.table("after"))
    assert res.n_train == res.n_eval == 9
    assert steps == list(range(1, 61)) and res.steps == 60  # one Progress per step
    assert after >= before + 0.3 and after >= 0.5  # the loop learns, not only runs
    # label set = the project schema in BIO form: prelabel needs no label map
    schema = quaero_store.get_schema()
    cfg = AutoConfig.from_pretrained(res.out)
    assert [cfg.id2label[i] for i in range(cfg.num_labels)] == bio_label_list(schema)
    info = json.loads((Path(res.out) / "annotator_training.json").read_text("utf-8"))
    assert info["data_hash"] == res.data_hash and info["params"]["backend"] == "transformers"
    assert info["params"]["bio_export"]["dropped"]  # nested QUAERO spans BIO cannot carry
    (model,) = list_models(quaero_store)
    assert model.backend == "transformers" and model.path == res.out
    assert res.made_default and get_default(quaero_store).path == res.out
    # Pre-label the same texts in a second project without their gold spans: on the training
    # project itself every prediction equal to an imported span is (rightly) not re-proposed,
    # so with precision 1.0 nothing new would be stored there.
    bare = Store(quaero_store.url, "bare")
    try:
        bare.set_schema(schema)
        bare.import_documents([Document(text=d.text, name=d.name)
                               for d in quaero_store.iter_documents()])
        totals = drive(prelabel_job(bare, model=res.out, backend="transformers"))
        assert totals["docs"] == 11 and totals["spans"] > 0 and totals["unmapped"] == 0
        assert totals["skipped_existing"] == 0
        stored = [s for d in bare.iter_documents(span_source="transformers") for s in d.spans]
        assert len(stored) == totals["spans"]
        assert all(s.status == "proposed" and s.label in schema.keys for s in stored)
    finally:
        bare.close()


def test_encode_labels_first_subtoken_of_each_word(tiny_token_classifier):
    from transformers import AutoTokenizer

    from annotator.training.bio import IGNORE, bio_records, encode, tag_spans

    tok = AutoTokenizer.from_pretrained(str(tiny_token_classifier))
    text = "Traitement par amoxicilline 1 g ; pneumonie du lobe inférieur droit."
    a = text.index("amoxicilline")
    p = text.index("pneumonie du lobe")
    doc = Document(text=text, spans=[Span(a, a + len("amoxicilline"), "CHEM"),
                                     Span(p, p + len("pneumonie du lobe"), "DISO"),
                                     Span(p, p + len("pneumonie"), "DISO")])  # nested: dropped
    records, report = bio_records([doc])
    assert report["spans"] == 2 and report["dropped"] == {"overlapping": 1}
    assert tag_spans(records[0]["tags"]) == [(a, a + 12, "CHEM"), (p, p + 17, "DISO")]
    label2id = {"O": 0, "B-CHEM": 1, "I-CHEM": 2, "B-DISO": 3, "I-DISO": 4}
    (feat,) = encode(tok, records, label2id, 64)
    enc = tok(text, return_offsets_mapping=True)
    got = {}
    for t, lab in enumerate(feat["labels"]):
        if lab != IGNORE:
            s, e = enc["offset_mapping"][t]
            got.setdefault(lab, []).append(text[s:e])
    # word-initial sub-tokens only; every word labelled
    assert len(got[1]) == 1 and 2 not in got  # one word: one labelled sub-token, no I-CHEM
    assert got[1][0] == text[a:enc["offset_mapping"][enc.char_to_token(a)][1]]
    assert [w for w in got[4]] == ["du", "lobe"]
    assert got[3] == [text[p:enc["offset_mapping"][enc.char_to_token(p)][1]]]
    n_words = len({w for w in enc.word_ids() if w is not None})
    assert sum(lab != IGNORE for lab in feat["labels"]) == n_words


def test_encode_windows_long_text(tiny_token_classifier):
    from transformers import AutoTokenizer

    from annotator.training.bio import bio_records, encode

    tok = AutoTokenizer.from_pretrained(str(tiny_token_classifier))
    text = " ".join(f"mot{i} fièvre" for i in range(200))
    records, _ = bio_records([Document(text=text)], max_words=10_000)
    feats = encode(tok, records, {"O": 0}, 64)
    assert len(feats) > 1 and all(len(f["input_ids"]) <= 64 for f in feats)


def test_cancel_saves_and_registers_nothing(quaero_store, tiny_token_classifier, tmp_path):
    job = train_job(quaero_store, base_model=str(tiny_token_classifier),
                    out=str(tmp_path / "tc"), backend="transformers", max_steps=50, **FAST)
    for p in job:
        if p.message == "training" and p.done == 2:
            job.close()
            break
    assert not (tmp_path / "tc").exists() and list_models(quaero_store) == []


def test_transformers_backend_refuses_lora(quaero_store, tiny_token_classifier, tmp_path):
    with pytest.raises(AnnotatorError, match="lora"):
        drive(train_job(quaero_store, base_model=str(tiny_token_classifier),
                        out=str(tmp_path / "x"), backend="transformers", lora=True))


def test_cli_train_transformers(quaero_store, tiny_token_classifier, tmp_path, capsys):
    from annotator.cli import main

    rc = main(["--db", quaero_store.url, "--project", "quaero", "train", "--backend",
               "transformers", "--base-model", str(tiny_token_classifier), "--out",
               str(tmp_path / "m"), "--max-steps", "2", "--split", "train=0.5,test=0.5",
               "--max-regression", "1"])
    out = capsys.readouterr().out
    assert rc == 0 and "base model on" in out and "new model on" in out
    assert "registered as model 1 (default)" in out
    assert (tmp_path / "m" / "config.json").exists()


# ---------------------------------------------------------------- GLiNER2 prompt length
def _quaero_short_descriptions(words: int = 10) -> LabelSchema:
    from annotator.schemas import load_schema

    schema = load_schema("quaero")
    for lab in schema.labels:
        lab.description = " ".join(lab.description.split()[:words])
    return schema


def test_prompt_that_leaves_no_room_is_refused_before_training(quaero_store, tiny_gliner2_bert,
                                                              tmp_path):
    seen = []  # the store holds the quaero schema with its full descriptions
    with pytest.raises(AnnotatorError) as err:
        drive(train_job(quaero_store, base_model=str(tiny_gliner2_bert), out=str(tmp_path / "m"),
                        descriptions=True, max_steps=1, **FAST),
              on_progress=lambda p: seen.append(p.message))
    msg = str(err.value)
    assert "prompt (10 labels with descriptions) takes" in msg and "512 positions" in msg
    assert "without --descriptions" in msg
    assert "training" not in seen and not (tmp_path / "m").exists()


def test_chunks_are_cut_until_prompt_and_text_fit(tiny_gliner2_bert):
    from gliner2 import GLiNER2

    from annotator.training import to_records
    from annotator.training.gliner2_prompt import encoder_positions, fit_records, input_length

    model = GLiNER2.from_pretrained(str(tiny_gliner2_bert))
    schema = _quaero_short_descriptions()  # a ~440-token prompt
    doc = _emea_slice(1500)
    assert encoder_positions(model) == 512
    naive = to_records([doc], schema, descriptions=True)
    assert max(input_length(model, r) for r in naive) > 512  # what crashed inside gliner2
    records, recut = fit_records(model, [doc], schema, descriptions=True)
    assert recut > 0 and len(records) > len(naive)
    assert all(input_length(model, r) <= 512 for r in records)
    assert "".join(r["input"] for r in records) == doc.text
    kept = sum(len(m) for r in records for m in r["output"]["entities"].values())
    # cuts never fall inside a span (discontinuous spans are not GLiNER2 data)
    assert kept == len([s for s in doc.spans if not s.fragments])
    # without descriptions the prompt is short and nothing is cut again
    assert fit_records(model, [doc], schema)[1] == 0


@pytest.mark.slow
def test_gliner2_training_with_long_descriptions_no_longer_overflows(quaero_store,
                                                                    tiny_gliner2_bert, tmp_path):
    """Before the check, a ~440-token prompt + a 128-word EMEA chunk crashed in the encoder
    with a size mismatch; now the chunk is cut again and training runs."""
    quaero_store.set_schema(_quaero_short_descriptions())
    res = drive(train_job(quaero_store, base_model=str(tiny_gliner2_bert),
                          out=str(tmp_path / "m"), descriptions=True, max_steps=1,
                          make_default=False, **FAST))
    assert res.steps == 1
    assert list_models(quaero_store)[0].params["chunks_recut_to_fit"] > 0


def test_span_longer_than_the_room_names_the_document(tiny_gliner2_bert):
    from gliner2 import GLiNER2

    from annotator.training.gliner2_prompt import fit_records

    model = GLiNER2.from_pretrained(str(tiny_gliner2_bert))
    # 600 words: over 512 tokens whatever vocabulary the tiny tokenizer learnt
    text = " ".join(["hypertension artérielle sévère"] * 200)
    doc = Document(text=text, name="long-span", id=7, spans=[Span(0, len(text), "DISO")])
    with pytest.raises(AnnotatorError,
                       match=r"document 'long-span(#\d+)?' \(id 7\).*encoder has 512"):
        fit_records(model, [doc], _quaero_short_descriptions(), descriptions=True)


def test_relative_position_encoder_is_not_limited(tiny_gliner2_deberta):
    from gliner2 import GLiNER2

    from annotator.training.gliner2_prompt import encoder_positions

    assert encoder_positions(GLiNER2.from_pretrained(str(tiny_gliner2_deberta))) is None


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_device_fails_before_any_work(quaero_store, tiny_token_classifier, tmp_path,
                                                   capsys):
    from annotator.cli import main

    seen = []
    for backend in ("transformers", "gliner2"):
        with pytest.raises(AnnotatorError, match="'cuda' requested but CUDA is not available"):
            drive(train_job(quaero_store, base_model=str(tiny_token_classifier),
                            out=str(tmp_path / backend), backend=backend, device="cuda",
                            max_steps=1, **FAST), on_progress=seen.append)
    assert seen == [] and list_models(quaero_store) == []
    assert not (tmp_path / "transformers").exists() and not (tmp_path / "gliner2").exists()
    rc = main(["--db", quaero_store.url, "--project", "quaero", "train", "--base-model",
               str(tiny_token_classifier), "--out", str(tmp_path / "cli"), "--device", "cuda"])
    assert rc == 2 and "CUDA is not available" in capsys.readouterr().err


def test_auto_device_is_recorded_with_the_model(quaero_store, tiny_token_classifier, tmp_path):
    import torch

    res = drive(train_job(quaero_store, base_model=str(tiny_token_classifier),
                          out=str(tmp_path / "tc"), backend="transformers", max_steps=2,
                          **FAST))
    (model,) = list_models(quaero_store)
    assert model.path == res.out
    assert model.params["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
