"""import_job / export_job: all-or-nothing imports, labels, filters and splits."""

import sqlite3
from pathlib import Path

import orjson
import pytest

from annotator.errors import AnnotatorError, FormatError
from annotator.io import export_job, import_job
from annotator.jobs import drive
from annotator.model import Document, Span
from annotator.schemas import load_schema
from annotator.split import assign_splits, parse_split
from db import Store

DATA = Path(__file__).resolve().parents[1] / "data"
QUAERO = DATA / "quaero" / "corpus"


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "db.sqlite"


@pytest.fixture
def store(db_path):
    s = Store(str(db_path))
    yield s
    s.close()


def dump(path: Path) -> list[str]:
    con = sqlite3.connect(path)
    try:
        return list(con.iterdump())
    finally:
        con.close()


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


GOOD = {"text": "Fièvre et toux.", "spans": [{"start": 0, "end": 6, "label": "disease"}]}


@pytest.mark.parametrize("bad_line,expected", [
    ({"text": "abc", "spans": [{"start": 1, "end": 9, "label": "disease"}]}, "past the text"),
    ({"text": "abc", "spans": [{"start": 0, "end": 2, "label": "nope"}]}, "label 'nope'"),
    (None, "invalid JSON"),
])
def test_broken_input_leaves_the_database_exactly_as_before(store, db_path, tmp_path,
                                                            bad_line, expected):
    drive(import_job(store, fmt="jsonl", path=write_jsonl(tmp_path / "ok.jsonl", [GOOD])))
    before = dump(db_path)
    f = write_jsonl(tmp_path / "in.jsonl", [{"text": "autre texte", "spans": []}] +
                    ([bad_line] if bad_line else []))
    if bad_line is None:
        with open(f, "ab") as fh:
            fh.write(b'{"text": "broken"\n')
    with pytest.raises(FormatError) as exc:
        drive(import_job(store, fmt="jsonl", path=f, schema="finemed-fr"))
    assert f"{f}:2" in str(exc.value) and expected in str(exc.value)
    assert dump(db_path) == before


def test_failure_while_writing_rolls_back_schema_and_documents(store, db_path, monkeypatch):
    import db.bulk_import as bulk

    before = dump(db_path)
    real = bulk.import_documents_fast

    def failing(*a, **kw):
        real(*a, **kw)  # rows inserted in the transaction ...
        raise RuntimeError("disk full")  # ... then something fails before commit

    monkeypatch.setattr(bulk, "import_documents_fast", failing)
    with pytest.raises(RuntimeError):
        drive(import_job(store, fmt="brat", path=QUAERO, schema="quaero"))
    assert dump(db_path) == before
    assert store.get_schema() is None


def test_schema_label_map_add_labels_as_proposed_and_duplicates(store, tmp_path):
    s = drive(import_job(store, fmt="brat", path=QUAERO, label_map="quaero__finemed-fr",
                         as_proposed=True))
    assert store.get_schema().name == "finemed-fr"
    assert s.added == 11 and s.dropped_spans  # GEOG / OBJC / PHEN dropped
    stats = store.stats()
    assert stats["spans_by_status"] == {"proposed": s.spans}
    assert stats["spans_by_source"] == {"import": s.spans}
    assert set(stats["spans_by_label"]) <= set(load_schema("finemed-fr").keys)
    again = drive(import_job(store, fmt="brat", path=QUAERO, label_map="quaero__finemed-fr"))
    assert again.added == 0 and again.skipped_duplicates == 11
    f = write_jsonl(tmp_path / "n.jsonl", [{"text": "Un chat.", "spans": [
        {"start": 3, "end": 7, "label": "animal"}]}])
    with pytest.raises(FormatError, match="label 'animal'"):
        drive(import_job(store, fmt="jsonl", path=f))
    res = drive(import_job(store, fmt="jsonl", path=f, add_labels=True))
    assert res.new_labels == ["animal"] and "animal" in store.get_schema()
    with pytest.raises(AnnotatorError, match="already uses schema"):
        drive(import_job(store, fmt="jsonl", path=f, schema="quaero"))


def _project(store):
    store.set_schema(load_schema("finemed-fr"))
    for i in range(40):
        store.add_document(Document(text=f"Document {i} : asthme.", name=f"d{i}", spans=[
            Span(len(f"Document {i} : "), len(f"Document {i} : asthme"), "disease",
                 source="gliner2", status="proposed"),
            Span(0, 8, "medical_procedure", source="human", status="rejected")]))


def test_export_filters_and_deterministic_split(store, tmp_path):
    _project(store)
    out = tmp_path / "split"
    wide = {"status": "accepted,proposed", "review_status": "all"}
    s = drive(export_job(store, fmt="gliner2", out=out, split="train=0.8,dev=0.1,test=0.1",
                         seed=7, **wide))
    assert {k: v["documents"] for k, v in s.splits.items()} == {"train": 32, "dev": 4,
                                                               "test": 4}
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    drive(export_job(store, fmt="gliner2", out=out, split="train=0.8,dev=0.1,test=0.1",
                     seed=7, **wide))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first
    assert s.spans == 40  # rejected spans left out unless asked for
    s = drive(export_job(store, fmt="jsonl", out=tmp_path / "r.jsonl", status="rejected"))
    assert s.spans == 40
    lines = (tmp_path / "r.jsonl").read_bytes().splitlines()
    assert {sp["status"] for ln in lines for sp in orjson.loads(ln)["spans"]} == {"rejected"}
    s = drive(export_job(store, fmt="jsonl", out=tmp_path / "h.jsonl", source="gliner2"))
    assert s.spans == 40
    with pytest.raises(AnnotatorError, match="unknown --status"):
        drive(export_job(store, fmt="jsonl", out=tmp_path / "x.jsonl", status="bogus"))


def test_split_depends_only_on_seed_and_document():
    hashes = [f"h{i}" for i in range(100)]
    ratios = parse_split("train=0.8,dev=0.1,test=0.1")
    a = assign_splits(hashes, ratios, seed=42)
    assert a == assign_splits(hashes, ratios, seed=42)
    assert a != assign_splits(hashes, ratios, seed=1)
    assert a.count("train") == 80 and a.count("dev") == 10
    assert dict(zip(hashes, a)) == dict(zip(hashes[::-1], assign_splits(hashes[::-1], ratios)))


def test_default_export_is_the_gold_accepted_spans_of_reviewed_documents(store, tmp_path):
    """Proposals and unreviewed documents never reach an export unless asked for; a reviewed
    document without an accepted span is a negative example and is exported."""
    store.set_schema(load_schema("finemed-fr"))
    texts = ["asthme et toux.", "fièvre et toux.", "rien à signaler.", "toux sèche."]
    ids = []
    for i, t in enumerate(texts):
        ids.append(store.add_document(Document(text=t, name=f"d{i}", spans=[
            Span(0, t.index(" "), "disease", source="human", status="accepted"),
            Span(t.index("toux"), t.index("toux") + 4, "disease", source="lexicon",
                 status="proposed", score=0.5)] if i != 2 else [])))
    store.set_review_status(ids[0], "reviewed")
    store.set_review_status(ids[2], "reviewed")  # no span: a negative example
    store.set_review_status(ids[3], "in_progress")
    for fmt, name in (("gliner2", "g.jsonl"), ("conll", "c.conll"), ("brat", "b")):
        s = drive(export_job(store, fmt=fmt, out=tmp_path / name))
        assert (s.documents, s.spans) == (2, 1), fmt
        assert s.span_status == ["accepted"] and s.review_status == ["reviewed"]
    recs = [orjson.loads(x) for x in (tmp_path / "g.jsonl").read_bytes().splitlines()]
    assert [r["input"] for r in recs] == [texts[0], texts[2]]
    assert recs[0]["output"]["entities"]["disease"] == [{"text": "asthme", "start": 0,
                                                          "end": 6}]
    assert not any(v for k, v in recs[0]["output"]["entities"].items() if k != "disease")
    # widening is explicit
    s = drive(export_job(store, fmt="gliner2", out=tmp_path / "w.jsonl",
                         review_status="reviewed,in_progress", status="accepted,proposed"))
    assert (s.documents, s.spans) == (3, 4)
    s = drive(export_job(store, fmt="gliner2", out=tmp_path / "a.jsonl", review_status="all",
                         status="all"))
    assert (s.documents, s.spans) == (4, 6)
    # the lossless jsonl keeps everything by default
    s = drive(export_job(store, fmt="jsonl", out=tmp_path / "all.jsonl"))
    assert (s.documents, s.spans) == (4, 6)
    with pytest.raises(AnnotatorError, match="unknown --review-status"):
        drive(export_job(store, fmt="gliner2", out=tmp_path / "x.jsonl", review_status="done"))
