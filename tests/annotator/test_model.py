"""Span and document invariants."""

import pytest

from annotator.model import Document, LabelSchema, Span, SpanError
from annotator.schemas import list_label_maps, list_schemas, load_label_map, load_schema


def test_span_offsets_are_half_open_and_checked():
    text = "Douleur thoracique"
    sp = Span(8, 18, "disease")
    assert sp.surface(text) == "thoracique"
    with pytest.raises(SpanError):
        Span(5, 5, "disease")
    with pytest.raises(SpanError):
        Span(-1, 3, "disease")
    with pytest.raises(SpanError, match="ends past the text"):
        Span(8, 19, "disease").check(text, "doc.txt")


def test_discontinuous_span_keeps_fragments_and_joins_surface_with_a_space():
    text = "cancer du sein et de l'ovaire"
    sp = Span.from_fragments([(21, 29), (0, 9)], "disease")
    assert (sp.start, sp.end) == (0, 29)
    assert sp.fragments == ((0, 9), (21, 29))
    assert sp.surface(text) == "cancer du l'ovaire"
    with pytest.raises(SpanError, match="overlap"):
        Span(0, 10, "x", fragments=((0, 6), (5, 10)))
    with pytest.raises(SpanError, match="do not span"):
        Span(0, 12, "x", fragments=((0, 3), (5, 10)))


def test_unknown_source_or_status_is_refused():
    with pytest.raises(SpanError):
        Span(0, 1, "x", source="oracle")
    with pytest.raises(SpanError):
        Span(0, 1, "x", status="maybe")


def test_document_hash_depends_on_exact_text():
    assert Document(text="a\u200bb").hash != Document(text="ab").hash
    with pytest.raises(ValueError):
        Document(text="a", review_status="done")


def test_shipped_schemas_and_maps_are_consistent():
    assert {"finemed-fr", "posology", "maccrobat", "quaero", "medmentions-st21pv"} <= set(
        list_schemas())
    fm = load_schema("finemed-fr")
    assert fm.keys == ["disease", "drug", "body_part", "medical_procedure", "molecular_marker",
                       "clinical_device", "vital_function", "living_beings"]
    assert fm.get("drug").description.startswith("Chemical substance for therapy")
    for name in list_label_maps():
        lm = load_label_map(name)
        if lm.from_schema:
            assert set(load_schema(lm.from_schema).keys) <= set(lm.mapping)
        target = load_schema(lm.to_schema)
        assert {v for v in lm.mapping.values() if v} <= set(target.keys)


def test_schema_round_trips_and_extends():
    s = load_schema("posology")
    assert LabelSchema.from_dict(s.to_dict()) == s
    ext = s.with_labels(["ROUTE", "DRUG"])
    assert ext.keys == s.keys + ["ROUTE"]
