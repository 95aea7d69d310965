"""Issue 9, import side: every malformed record is refused through the real CLI with one
``error:`` line naming ``file:line`` (or the record) and the field, the database is unchanged
table by table, and the values that used to be coerced (null or object labels, float offsets,
string scores, non-object meta) are refused instead of stored."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import orjson
import pytest

from annotator.cli import main
from annotator.formats.base import Errors
from annotator.formats.validate import check_records
from db import Store

TEXT = "fièvre et toux"
DATA = Path(__file__).resolve().parents[1] / "data"


def dump_tables(db: Path) -> dict[str, list[tuple]]:
    """Every row of every table, sorted: the whole database content for a comparison."""
    con = sqlite3.connect(db)
    try:
        names = [n for (n,) in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {n: sorted(con.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr)
                for n in names}
    finally:
        con.close()


@pytest.fixture
def project(tmp_path) -> Path:
    """A SQLite project that already holds two documents, one span and a schema."""
    db = tmp_path / "p.sqlite"
    src = tmp_path / "seed.jsonl"
    src.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in (
        {"text": "douleur thoracique", "spans": [{"start": 0, "end": 7, "label": "DISO"}]},
        {"text": "sans particularité"})))
    assert main(["--db", str(db), "import", "--format", "jsonl", str(src),
                 "--add-labels"]) == 0
    return db


def refused(project: Path, capsys, fmt: str, path: Path, *extra: str) -> str:
    """Run the CLI import; assert it refused with one error line and changed nothing."""
    capsys.readouterr()
    before = dump_tables(project)
    rc = main(["--db", str(project), "import", "--format", fmt, str(path), "--add-labels",
               *extra])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.startswith("error: ") and err.count("error:") == 1, err
    assert "Traceback" not in err
    assert str(path) in err
    assert dump_tables(project) == before
    return err


def write_jsonl(tmp_path: Path, *records: object, name: str = "in.jsonl") -> Path:
    p = tmp_path / name
    p.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return p


# ---------------------------------------------------------------------- lists that are not
def test_jsonl_spans_an_integer(tmp_path, project, capsys):
    p = write_jsonl(tmp_path, {"text": TEXT, "spans": 5})
    err = refused(project, capsys, "jsonl", p)
    assert f"{p}:1: spans: must be a list, not 5" in err


def test_corona2_annotations_an_integer(tmp_path, project, capsys):
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"examples": [{"content": TEXT, "annotations": 5}]}))
    err = refused(project, capsys, "corona2", p)
    assert f"{p} (examples[0]): annotations: must be a list, not 5" in err


def test_gliner_ner_an_integer_and_an_entry_that_is_an_object(tmp_path, project, capsys):
    p = tmp_path / "g.json"
    p.write_text(json.dumps([{"tokenized_text": ["fièvre", "et", "toux"], "ner": 3}]))
    assert f"{p} (record 0): ner: must be a list, not 3" in refused(
        project, capsys, "gliner", p)
    p.write_text(json.dumps([{"tokenized_text": ["fièvre"], "ner": [{"0": 0, "1": 0}]}]))
    assert "(record 0, ner 0): expected [start_token, end_token, label], not {" in refused(
        project, capsys, "gliner", p)


def test_gliner2_mention_list_an_integer(tmp_path, project, capsys):
    p = write_jsonl(tmp_path, {"input": TEXT, "output": {"entities": {"DISO": 7}}})
    assert f"{p}:1: entities.DISO: must be a list, not 7" in refused(
        project, capsys, "gliner2", p)


# ---------------------------------------------------------------------- numbers
def test_corona2_infinite_and_fractional_offsets(tmp_path, project, capsys):
    p = tmp_path / "c.json"
    p.write_text('{"examples": [{"content": "fièvre", "annotations": '
                 '[{"start": Infinity, "end": 3, "tag_name": "DISO"}]}]}')
    assert f"{p}:1: invalid JSON" in refused(project, capsys, "corona2", p)
    p.write_text(json.dumps({"examples": [{"content": "fièvre", "annotations": [
        {"start": 1.5, "end": 3, "tag_name": "DISO"}]}]}))
    err = refused(project, capsys, "corona2", p)
    assert "(examples[0].annotations[0]): start: must be an integer, not 1.5" in err


def test_gliner_infinite_and_fractional_token_index(tmp_path, project, capsys):
    p = tmp_path / "g.json"
    p.write_text('[{"tokenized_text": ["fièvre", "et"], "ner": [[0, Infinity, "DISO"]]}]')
    assert f"{p}:1: invalid JSON" in refused(project, capsys, "gliner", p)
    p.write_text(json.dumps([{"tokenized_text": ["fièvre", "et"], "ner": [[0.5, 1, "DISO"]]}]))
    assert "(record 0, ner 0): start_token: must be an integer, not 0.5" in refused(
        project, capsys, "gliner", p)


def test_jsonl_offsets_bool_float_string_are_refused(tmp_path, project, capsys):
    p = write_jsonl(tmp_path, {"text": TEXT, "spans": [
        {"start": True, "end": 3, "label": "DISO"},
        {"start": 0, "end": 1.5, "label": "DISO"},
        {"start": "0", "end": 3, "label": "DISO"}]})
    err = refused(project, capsys, "jsonl", p)
    assert f"{p}:1: spans[0].start: must be an integer, not true" in err
    assert f"{p}:1: spans[1].end: must be an integer, not 1.5" in err
    assert f"{p}:1: spans[2].start: must be an integer, not '0'" in err


def test_huge_integer_offset_is_refused(tmp_path, project, capsys):
    p = tmp_path / "in.jsonl"
    p.write_text('{"text": "abc", "spans": [{"start": 0, "end": 99999999999999999999999, '
                 '"label": "DISO"}]}\n')
    assert f"{p}:1: spans[0].end: must be an integer" in refused(project, capsys, "jsonl", p)


# ---------------------------------------------------------------------- deep JSON, surrogates
@pytest.mark.parametrize("fmt", ["gliner", "corona2"])
def test_deeply_nested_json_is_refused_not_a_recursion_error(tmp_path, project, capsys, fmt):
    p = tmp_path / "deep.json"
    p.write_text("[" * 100_000 + "\n")
    assert f"{p}:1: invalid JSON: nested deeper than 1024 levels" in refused(
        project, capsys, fmt, p)


def test_deeply_nested_jsonl_line_is_refused(tmp_path, project, capsys):
    p = tmp_path / "deep.jsonl"
    p.write_text('{"text": "a", "meta": ' + "[" * 5000 + "\n")
    assert f"{p}:1: invalid JSON: nested deeper" in refused(project, capsys, "jsonl", p)


@pytest.mark.parametrize("fmt, body", [
    ("gliner", '[{"tokenized_text": ["a", "\\udfff"], "ner": []}]'),
    ("jsonl", '{"text": "a\\udfff b"}\n'),
    ("gliner2", '{"input": "a\\ud800", "output": {"entities": {}}}\n'),
    ("corona2", '{"examples": [{"content": "\\udfffa", "annotations": []}]}'),
])
def test_lone_surrogate_is_refused(tmp_path, project, capsys, fmt, body):
    p = tmp_path / ("in.json" if fmt in ("gliner", "corona2") else "in.jsonl")
    p.write_text(body)
    err = refused(project, capsys, fmt, p)
    assert f"{p}:1: invalid JSON" in err and "surrogate" in err


def test_validation_step_refuses_a_lone_surrogate_in_any_reader_output():
    """The backstop for a reader that could hand one on (JSON decoding refuses them first)."""
    from annotator.formats.base import Parsed
    from annotator.model import Document

    errors = Errors()
    check_records([Parsed(Document(text="ok \udfff", name="d"), origin="f.txt:3")], errors)
    assert [str(e) for e in errors.items] == [
        "f.txt:3: text: holds a lone surrogate '\\udfff' at character 3 (not valid Unicode "
        "text)"]


# ---------------------------------------------------------------------- CSV cells
def test_csv_cell_longer_than_the_csv_default_limit_imports(tmp_path, project, capsys):
    long_text = ("fièvre et toux " * 12_000) + "chez un enfant"  # ~180,000 characters
    assert len(long_text) > 131_072
    p = tmp_path / "big.csv"
    with open(p, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["ori_review", "minor_col"])
        w.writerow([long_text, "enfant"])
    assert main(["--db", str(project), "import", "--format", "csv", str(p),
                 "--add-labels"]) == 0
    with Store(str(project)) as store:
        doc = [d for d in store.iter_documents() if len(d.text) > 131_072]
        assert len(doc) == 1 and doc[0].text == long_text
        assert [(long_text[s.start:s.end], s.label) for s in doc[0].spans] == [
            ("enfant", "MinorChild")]


# ---------------------------------------------------------------------- folders name the file
@pytest.mark.parametrize("fmt, fixture, suffix", [
    ("pubtator", "pubtator/corpus_pubtator.sample.txt", ".txt"),
    ("corona2", "corona2/corona2_fr.json", ".json"),
    ("csv", "csv/reviews_fr.csv", ".csv"),
    ("gliner", "gliner/gliner_fr.json", ".json"),
    ("gliner2", "gliner2/gliner2_fr.jsonl", ".jsonl"),
    ("text", "maccrobat/MACCROBAT2020/21308977.txt", ".txt"),
])
def test_folder_import_names_the_file_that_is_not_utf8(tmp_path, project, capsys, fmt,
                                                       fixture, suffix):
    folder = tmp_path / "d"
    folder.mkdir()
    good = (DATA / fixture).read_bytes()
    (folder / f"a{suffix}").write_bytes(good)
    bad = folder / f"b{suffix}"
    nl = good.find(b"\n", len(good) // 2)  # a later line holds the bad byte
    cut = nl + 1 if nl >= 0 else len(good) // 2
    bad.write_bytes(good[:cut] + b"\xc3\x28 bad byte\n" + good[cut:])
    err = refused(project, capsys, fmt, folder)
    assert f"{bad}" in err and "not UTF-8" in err, err
    line = good[:cut].count(b"\n") + 1
    assert f"line {line}" in err or f"{bad}:{line}" in err, err


def test_conll_folder_names_the_file_that_is_not_utf8(tmp_path, project, capsys):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "a.conll").write_text("Fièvre\tB-DISO\n\n", encoding="utf-8")
    bad = folder / "b.conll"
    bad.write_bytes(b"toux\tB-DISO\n\xff\tO\n")
    err = refused(project, capsys, "conll", folder)
    assert f"{bad}: not UTF-8" in err


# ---------------------------------------------------------------------- accepted but wrong
def test_jsonl_null_line_is_an_error_naming_file_and_line(tmp_path, project, capsys):
    p = tmp_path / "in.jsonl"
    p.write_text('{"text": "un"}\nnull\n{"text": "deux"}\n')
    assert f"{p}:2: expected an object with a \"text\" string, not null" in refused(
        project, capsys, "jsonl", p)


@pytest.mark.parametrize("fmt, make, where", [
    ("jsonl", lambda: {"text": TEXT, "spans": [{"start": 0, "end": 6, "label": None}]},
     ":1: spans[0].label: must be a non-empty string, not null"),
    ("corona2", lambda: {"examples": [{"content": TEXT, "annotations": [
        {"start": 0, "end": 6, "tag_name": None}]}]},
     " (examples[0].annotations[0]): tag_name: must be a non-empty string, not null"),
    ("gliner", lambda: [{"tokenized_text": ["fièvre"], "ner": [[0, 0, None]]}],
     " (record 0, ner 0): label: must be a non-empty string, not null"),
])
def test_null_label_is_refused_not_stored_as_none(tmp_path, project, capsys, fmt, make,
                                                 where):
    p = tmp_path / ("in.jsonl" if fmt == "jsonl" else "in.json")
    data = make()
    p.write_bytes(orjson.dumps(data) + b"\n")
    err = refused(project, capsys, fmt, p)
    assert f"{p}{where}" in err
    with Store(str(project)) as store:
        assert "None" not in store.get_schema().keys


@pytest.mark.parametrize("fmt, make, where", [
    ("jsonl", lambda: {"text": TEXT, "spans": [{"start": 0, "end": 6, "label": {"k": 1}}]},
     ":1: spans[0].label: must be a non-empty string, not {'k': 1} (an object)"),
    ("corona2", lambda: {"examples": [{"content": TEXT, "annotations": [
        {"start": 0, "end": 6, "tag_name": ["DISO"]}]}]},
     " (examples[0].annotations[0]): tag_name: must be a non-empty string, not ['DISO']"),
    ("gliner", lambda: [{"tokenized_text": ["fièvre"], "ner": [[0, 0, {"k": 1}]]}],
     " (record 0, ner 0): label: must be a non-empty string, not {'k': 1}"),
])
def test_label_given_as_an_object_is_refused(tmp_path, project, capsys, fmt, make, where):
    p = tmp_path / ("in.jsonl" if fmt == "jsonl" else "in.json")
    p.write_bytes(orjson.dumps(make()) + b"\n")
    assert f"{p}{where}" in refused(project, capsys, fmt, p)


def test_string_and_bool_scores_are_refused(tmp_path, project, capsys):
    p = write_jsonl(tmp_path, {"text": TEXT, "spans": [
        {"start": 0, "end": 6, "label": "DISO", "score": "high"},
        {"start": 10, "end": 14, "label": "DISO", "score": True}]})
    err = refused(project, capsys, "jsonl", p)
    assert f"{p}:1: spans[0].score: must be a number or null, not 'high'" in err
    assert f"{p}:1: spans[1].score: must be a number or null, not true" in err


@pytest.mark.parametrize("meta", ["oops", [], ["a"], 3])
def test_jsonl_meta_that_is_not_an_object_is_refused(tmp_path, project, capsys, meta):
    p = write_jsonl(tmp_path, {"text": "un"}, {"text": TEXT, "meta": meta})
    assert f"{p}:2: meta: must be an object, not" in refused(project, capsys, "jsonl", p)


def test_span_meta_that_is_not_an_object_is_refused(tmp_path, project, capsys):
    p = write_jsonl(tmp_path, {"text": TEXT, "spans": [
        {"start": 0, "end": 6, "label": "DISO", "meta": "x"}]})
    assert f"{p}:1: spans[0].meta: must be an object, not 'x'" in refused(
        project, capsys, "jsonl", p)


def test_well_formed_values_still_import_and_export_to_brat(tmp_path, project, capsys):
    """The checks refuse only what is wrong: int and float scores, null meta, an empty span
    list, a jsonl meta object, and brat export of the result works."""
    p = write_jsonl(tmp_path, {"text": TEXT, "meta": {"k": [1, 2]}, "review_status": "reviewed",
                               "spans": [
        {"start": 0, "end": 6, "label": "DISO", "score": 1},
        {"start": 10, "end": 14, "label": "DISO", "score": 0.25, "meta": None}]},
        {"text": "rien", "spans": [], "meta": None})
    assert main(["--db", str(project), "import", "--format", "jsonl", str(p)]) == 0
    assert main(["--db", str(project), "export", "--format", "brat", "--out",
                 str(tmp_path / "out")]) == 0
    exported = [f.read_text(encoding="utf-8") for f in (tmp_path / "out").rglob("*.txt")]
    assert TEXT in exported
    with Store(str(project)) as store:
        doc = next(d for d in store.iter_documents() if d.text == TEXT)
        assert doc.meta == {"k": [1, 2]}
        assert sorted((s.start, s.end, s.score) for s in doc.spans) == [(0, 6, 1), (10, 14, 0.25)]
