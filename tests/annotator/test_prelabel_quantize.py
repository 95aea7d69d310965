"""The faster, approximate GLiNER2 modes (``quantize="int8"`` / ``"bf16"``): the encoder is
replaced on a copy of the model (the exact model is untouched), the mode is part of the
source version and run key, spans stay aligned, and unknown modes or backends are refused."""

import pytest

from annotator.errors import AnnotatorError

LABELS = {"disease": "maladie ou symptôme", "drug": "médicament"}
TEXT = ("Le patient présente une pneumonie traitée par amoxicilline. "
        "Antécédents : diabète de type 2 et hypertension artérielle.")


@pytest.fixture(scope="module")
def exact(tiny_gliner2_bert):
    from annotator.prelabel.gliner2_backend import GLiNER2Prelabeler

    return GLiNER2Prelabeler(str(tiny_gliner2_bert), LABELS, batch_size=2)


@pytest.mark.parametrize("mode", ["int8", "bf16"])
def test_quantized_prelabel_runs_on_a_copy_and_is_versioned(exact, tiny_gliner2_bert, mode):
    import torch

    from annotator.prelabel.gliner2_backend import GLiNER2Prelabeler

    fast = GLiNER2Prelabeler(str(tiny_gliner2_bert), LABELS, batch_size=2,
                             extractor=exact.extractor, quantize=mode)
    assert fast.extractor is not exact.extractor
    assert not any(type(m).__module__.startswith("torch.ao") for m in exact.extractor.modules())
    if mode == "int8":
        assert any(type(m).__module__.startswith("torch.ao") for m in fast.extractor.modules())
    assert all(p.dtype == torch.float32 for p in exact.extractor.parameters())
    assert fast.source_version == exact.source_version + f";quantize={mode}"
    assert fast.run_key() != exact.run_key()
    assert fast.text_budget == exact.text_budget
    [pred] = fast.predict_docs([TEXT])
    for sp in pred.spans:
        assert TEXT[sp.start:sp.end] == TEXT[sp.start:sp.end].strip() and sp.end > sp.start


def test_unknown_quantization_is_refused(exact, tiny_gliner2_bert):
    from annotator.prelabel.gliner2_backend import GLiNER2Prelabeler

    with pytest.raises(AnnotatorError, match="quantization"):
        GLiNER2Prelabeler(str(tiny_gliner2_bert), LABELS, extractor=exact.extractor,
                          quantize="int4")


def test_quantize_is_refused_for_other_backends():
    from annotator.prelabel.job import build_prelabeler

    with pytest.raises(AnnotatorError, match="only implemented for the gliner2 backend"):
        build_prelabeler(None, backend="lexicon", quantize="int8")


def test_cli_accepts_quantize():
    import argparse

    from annotator.cli import prelabel as cli

    ap = argparse.ArgumentParser()
    cli.register(ap.add_subparsers())
    args = ap.parse_args(["prelabel", "--quantize", "int8"])
    assert args.quantize == "int8"
    assert ap.parse_args(["prelabel"]).quantize is None
