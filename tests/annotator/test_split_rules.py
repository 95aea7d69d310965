"""Issue 11, item 6: `--split` writes into an explicit folder, refuses ratios that do not sum
to 1, and names the files it wrote. Through the real CLI on a real SQLite file."""

from __future__ import annotations

import json

import pytest

from annotator.cli import main
from annotator.errors import AnnotatorError
from annotator.split import parse_split


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps({"text": f"Document {i} : asthme.", "spans": [
        {"start": len(f"Document {i} : "), "end": len(f"Document {i} : asthme"),
         "label": "disease"}]}) + "\n" for i in range(10)), encoding="utf-8")
    db = str(tmp_path / "p.sqlite")
    assert main(["--db", db, "import", "--format", "jsonl", str(path),
                 "--schema", "finemed-fr"]) == 0
    return db


def _export(db, out, split, *extra):
    # the lossless jsonl format: every document, whatever its review status
    return main(["--db", db, "export", "--format", "jsonl", "--out", str(out),
                 "--split", split, *extra])


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    return err


@pytest.mark.parametrize("spec, says", [
    ("train=0.8,test=0.3", "sum to 1.1, not 1"),
    ("train=0.5", "would leave 50% of the documents out"),
    ("train=0.7,dev=0.1,test=0.1", "sum to 0.9, not 1"),
    ("train=1.5,test=-0.5", "between 0 and 1"),
])
def test_ratios_that_do_not_sum_to_one_are_refused(db, tmp_path, capsys, spec, says):
    out = tmp_path / "splits"
    assert _export(db, out, spec) == 2
    err = _error(capsys)
    assert says in err and spec in err
    assert not out.exists()  # nothing written, no folder made
    with pytest.raises(AnnotatorError, match="not rescaled|documents out|between"):
        parse_split(spec)


def test_ratios_that_sum_to_one_pass_unchanged():
    assert parse_split("train=0.8,dev=0.1,test=0.1") == {"train": 0.8, "dev": 0.1,
                                                         "test": 0.1}
    assert parse_split("train=1") == {"train": 1.0}


def test_split_refuses_a_file_name_or_an_existing_file(db, tmp_path, capsys):
    named = tmp_path / "train.jsonl"
    assert _export(db, named, "train=0.8,test=0.2") == 2
    err = _error(capsys)
    assert str(named) in err and "looks like a file name (.jsonl)" in err
    assert f"e.g. {tmp_path / 'train'}" in err
    assert not named.exists()  # no folder called train.jsonl
    existing = tmp_path / "notes"
    existing.write_text("keep me\n")
    assert _export(db, existing, "train=0.8,test=0.2") == 2
    assert "is an existing file" in _error(capsys)
    assert existing.read_text() == "keep me\n"


def test_split_names_the_files_it_wrote(db, tmp_path, capsys):
    out = tmp_path / "exports.v2"  # a folder name with a dot is fine
    assert _export(db, out, "train=0.8,test=0.2") == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"  train: 8 documents, 8 spans -> {out / 'train.jsonl'}" in lines
    assert f"  test: 2 documents, 2 spans -> {out / 'test.jsonl'}" in lines
    assert sorted(p.name for p in out.iterdir()) == ["test.jsonl", "train.jsonl"]
    assert _export(db, out, "train=0.8,test=0.2", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["out"] == [str(out / "train.jsonl"), str(out / "test.jsonl")]
    assert {k: (v["documents"], v["path"]) for k, v in summary["splits"].items()} == {
        "train": (8, str(out / "train.jsonl")), "test": (2, str(out / "test.jsonl"))}
    # an existing folder is used as it is, even with a file-like name
    folder = tmp_path / "old.json"
    folder.mkdir()
    assert _export(db, folder, "train=0.5,test=0.5") == 0
    assert sorted(p.name for p in folder.iterdir()) == ["test.jsonl", "train.jsonl"]
