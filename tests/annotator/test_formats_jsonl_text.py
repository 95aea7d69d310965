"""Native jsonl (lossless) and plain text."""

from pathlib import Path

import orjson
import pytest

from annotator.errors import FormatError
from annotator.io import export_job, import_job
from annotator.jobs import drive
from annotator.model import Document, Span
from annotator.schemas import load_schema
from db import Store


@pytest.fixture
def store(tmp_path):
    s = Store(str(tmp_path / "db.sqlite"))
    yield s
    s.close()


def test_jsonl_round_trip_keeps_everything(store, tmp_path):
    doc = Document(text="Toux sèche et fièvre\u200b depuis 3 jours.", name="d1",
                   meta={"k": [1, 2]}, review_status="reviewed")
    doc.spans = [
        Span(0, 10, "disease", source="gliner2", source_version="v1", score=0.9,
             status="proposed", annotator=None, meta={"x": 1}),
        Span.from_fragments([(0, 4), (14, 20)], "disease", source="human", annotator="me"),
        Span(14, 20, "disease", source="llm_pass2", status="rejected"),
    ]
    store.set_schema(load_schema("finemed-fr"))
    store.add_document(doc)
    out = tmp_path / "a.jsonl"
    drive(export_job(store, fmt="jsonl", out=out))
    other = Store(str(tmp_path / "db2.sqlite"))
    drive(import_job(other, fmt="jsonl", path=out))
    out2 = tmp_path / "b.jsonl"
    drive(export_job(other, fmt="jsonl", out=out2))
    a, b = orjson.loads(out.read_bytes()), orjson.loads(out2.read_bytes())
    a.pop("id"), b.pop("id")
    assert a == b
    assert {s["status"] for s in b["spans"]} == {"proposed", "accepted", "rejected"}
    assert any(s["fragments"] == [[0, 4], [14, 20]] for s in b["spans"])


def test_jsonl_bad_line_names_file_and_line(store, tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"text": "ok", "spans": []}\n{"text": "x", oops}\n', encoding="utf-8")
    with pytest.raises(FormatError, match=r"bad\.jsonl:2: invalid JSON"):
        drive(import_job(store, fmt="jsonl", path=f))
    assert store.count_documents() == 0


def test_text_folder_round_trip(store, tmp_path):
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "a" / "one.txt").write_bytes("Ligne 1\r\nLigne 2\u00a0fin".encode())
    (src / "two.txt").write_bytes(b"deux\n")
    drive(import_job(store, fmt="text", path=src))
    assert sorted(d.name for d in store.iter_documents()) == ["a/one", "two"]
    out = tmp_path / "out"
    drive(export_job(store, fmt="text", out=out, review_status="all"))
    for rel in ("a/one.txt", "two.txt"):
        assert (out / rel).read_bytes() == (src / rel).read_bytes()


def test_path_that_does_not_exist(store, tmp_path):
    with pytest.raises(FormatError, match="no such file"):
        drive(import_job(store, fmt="text", path=Path(tmp_path / "nope")))
