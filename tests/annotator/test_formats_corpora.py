"""corona2, pubtator, gliner (v1), gliner2, csv and conll: import -> store -> export keeps
every entity (same (label, fragments) per document)."""

import json
from pathlib import Path

import orjson
import pytest

from annotator.errors import FormatError
from annotator.formats import get_format
from annotator.formats.base import Errors
from annotator.formats.gliner2 import to_record
from annotator.io import export_job, import_job
from annotator.jobs import drive
from annotator.model import Document, Span
from annotator.schemas import load_schema
from db import Store

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def store(tmp_path):
    s = Store(str(tmp_path / "db.sqlite"))
    yield s
    s.close()


def entities(fmt: str, path: Path, **opts) -> list[tuple[str, list]]:
    """(text, sorted span keys) per document, in file order."""
    errors = Errors()
    docs = [(p.doc.text, sorted(sp.key() for sp in p.doc.spans))
            for p in get_format(fmt).read(path, errors, **opts)]
    errors.raise_if_any()
    return docs


@pytest.mark.parametrize("fmt,path,kw", [
    ("corona2", DATA / "corona2" / "corona2_fr.json", {"add_labels": True}),
    ("pubtator", DATA / "pubtator" / "corpus_pubtator.sample.txt", {}),
    ("gliner", DATA / "gliner" / "gliner_fr.json", {}),
    ("gliner2", DATA / "gliner2" / "gliner2_fr.jsonl", {}),
])
def test_round_trip_keeps_every_entity(store, tmp_path, fmt, path, kw):
    before = entities(fmt, path)
    summary = drive(import_job(store, fmt=fmt, path=path, **kw))
    assert summary.spans == sum(len(k) for _, k in before) > 0
    out = tmp_path / f"out{get_format(fmt).ext}"
    report = drive(export_job(store, fmt=fmt, out=out, review_status="all"))
    assert report.dropped == {}
    assert sorted(entities(fmt, out)) == sorted(before)


def test_corona2_edge_cases_kept(store, tmp_path):
    drive(import_job(store, fmt="corona2", path=DATA / "corona2", add_labels=True))
    doc = store.iter_documents().__next__()
    values = [doc.text[s.start:s.end] for s in doc.spans]
    assert "paracétamol " in values and "paracétamol" in values  # trailing space, near-dup
    out = tmp_path / "c.json"
    drive(export_job(store, fmt="corona2", out=out, review_status="all"))
    raw = out.read_text(encoding="utf-8")
    assert raw.startswith("\n{") and '"human_annotations":[]' in raw


def test_pubtator_offsets_title_abstract_and_multiple_semtypes(store, tmp_path):
    f = tmp_path / "p.txt"
    f.write_text("1|t|Fever in children\n1|a|Fever and cough.\n"
                 "1\t0\t5\tFever\tT038,T033\tUMLS:C0015967\n"
                 "1\t18\t23\tFever\tT033\tUMLS:C0015967\n\n", encoding="utf-8")
    drive(import_job(store, fmt="pubtator", path=f))
    assert store.get_schema().name == "medmentions-st21pv"
    doc = next(store.iter_documents())
    assert doc.text == "Fever in children Fever and cough."
    first = doc.spans[0]
    assert first.label == "T038" and first.meta["semtypes"] == ["T038", "T033"]
    bad = tmp_path / "bad.txt"
    bad.write_text("2|t|Cough\n2|a|x\n2\t0\t5\tCougX\tT184\tC1\n", encoding="utf-8")
    with pytest.raises(FormatError, match=r"bad\.txt:3: mention 'CougX'"):
        drive(import_job(store, fmt="pubtator", path=bad))


def test_gliner_v1_offsets_and_unaligned_spans_reported(store, tmp_path):
    docs = entities("gliner", DATA / "gliner" / "gliner_fr.json")
    text, keys = docs[0]
    assert text.startswith("Le patient présente une pneumopathie infectieuse")
    assert ("drug", ((text.index("amoxicilline"), text.index("amoxicilline") + 12),)) in keys
    doc = Document(text="Hypertension artérielle.", spans=[Span(0, 5, "disease"),
                                                          Span(0, 12, "disease")])
    store.set_schema(load_schema("finemed-fr"))
    store.add_document(doc)
    report = drive(export_job(store, fmt="gliner", out=tmp_path / "g.json",
                                review_status="all"))
    assert report.dropped == {"not_on_word_boundaries": 1}
    rec = json.loads((tmp_path / "g.json").read_text())[0]
    assert rec["tokenized_text"] == ["Hypertension", "artérielle", "."]
    assert rec["ner"] == [[0, 0, "disease"]]


def test_gliner2_plain_strings_find_all_occurrences_and_to_record():
    docs = entities("gliner2", DATA / "gliner2" / "gliner2_fr.jsonl")
    text, keys = docs[0]
    dysp = [k for k in keys if text[k[1][0][0]:k[1][0][1]] == "dyspnée"]
    assert len(dysp) == 2
    schema = load_schema("finemed-fr")
    doc = Document(text="Asthme ; asthme.", spans=[Span(0, 6, "disease"), Span(9, 15, "disease"),
                                                  Span.from_fragments([(0, 2), (9, 11)], "drug")])
    rec = to_record(doc, schema)
    assert rec["input"] == doc.text
    assert rec["output"]["entities"]["disease"] == [
        {"text": "Asthme", "start": 0, "end": 6}, {"text": "asthme", "start": 9, "end": 15}]
    assert set(rec["output"]["entities"]) == set(schema.keys)  # negatives listed
    assert "entity_descriptions" not in rec["output"]
    rec = to_record(doc, schema, descriptions=True, plain_strings=True)
    assert rec["output"]["entities"]["disease"] == ["Asthme", "asthme"]
    assert rec["output"]["entity_descriptions"]["drug"].startswith("Chemical substance")


@pytest.mark.slow
def test_gliner2_records_load_in_gliner2(tmp_path, store):
    pytest.importorskip("gliner2")
    from gliner2.training.data import InputExample

    drive(import_job(store, fmt="gliner2", path=DATA / "gliner2"))
    out = tmp_path / "g2.jsonl"
    drive(export_job(store, fmt="gliner2", out=out, descriptions=True, review_status="all"))
    for line in out.read_bytes().splitlines():
        ex = InputExample.from_dict(orjson.loads(line))
        assert ex.validate() == []


def test_csv_locates_all_occurrences_with_word_boundaries(store, tmp_path):
    path = DATA / "csv" / "reviews_fr.csv"
    docs = entities("csv", path)
    text, keys = docs[0]
    elle = [k for k in keys if k[0] == "MinorChild" and text[k[1][0][0]:k[1][0][1]] == "elle"]
    assert len(elle) == 1  # "elle" once as a word, not inside "rassurée"... nor "elle" in "était"
    text2, keys2 = docs[1]
    il = [k for k in keys2 if k[0] == "MinorChild" and text2[k[1][0][0]:k[1][0][1]] == "il"]
    assert len(il) == 2  # two "il", not the one inside "n'a" / "pédiatre"
    drive(import_job(store, fmt="csv", path=path, add_labels=True))
    out = tmp_path / "o.csv"
    drive(export_job(store, fmt="csv", out=out, review_status="all"))
    assert sorted(entities("csv", out)) == sorted(d for d in docs if d[0])
    bad = tmp_path / "bad.csv"
    bad.write_text("ori_review,minor_col\nBonjour,absent\n", encoding="utf-8")
    with pytest.raises(FormatError, match=r"bad\.csv:2: row 1: minor_col string 'absent'"):
        entities("csv", bad)


def test_conll_bio_reports_what_it_drops(store, tmp_path):
    store.set_schema(load_schema("finemed-fr"))
    text = "Cancer du col utérin traité.\nRadiothérapie."
    store.add_document(Document(text=text, spans=[
        Span(0, 6, "disease"), Span(0, 20, "disease"), Span(10, 20, "body_part"),
        Span.from_fragments([(0, 6), (14, 20)], "disease"), Span(29, 42, "medical_procedure"),
        Span(1, 6, "disease")]))
    report = drive(export_job(store, fmt="conll", out=tmp_path / "o.conll",
                                review_status="all"))
    assert report.dropped == {"overlapping": 2, "discontinuous": 1,
                              "not_on_token_boundaries": 1}
    lines = (tmp_path / "o.conll").read_text().split("\n")
    assert lines[2:7] == ["Cancer\tB-disease", "du\tI-disease", "col\tI-disease",
                          "utérin\tI-disease", "traité\tO"]
    assert "Radiothérapie\tB-medical_procedure" in lines
    back = entities("conll", tmp_path / "o.conll")
    assert [k[0] for k in back[0][1]] == ["disease", "medical_procedure"]
