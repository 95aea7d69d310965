"""The bulk fast paths give the same results as the general ones: the jsonl parser's inline
span check (Span.trusted) against the validating constructor, and the batched GLiNER2 export
against ``to_record`` per document, filters, discontinuous spans and other projects included."""

import gc
from collections import Counter

import orjson
import pytest

from annotator.errors import FormatError
from annotator.formats.base import Errors
from annotator.formats.gliner2 import to_record
from annotator.formats.jsonl import parse_line
from annotator.io import export_job, import_job
from annotator.jobs import drive
from annotator.model import Document, Span
from annotator.schemas import load_schema
from db import Store

TEXT = "Fièvre et toux ; asthme sous insuline."


def test_trusted_span_equals_validated_span():
    kw = {"source": "gliner2", "status": "proposed", "score": 0.5, "source_version": "v1",
          "annotator": "me", "meta": {"k": 1}}
    assert Span.trusted(0, 6, "disease", **kw) == Span(0, 6, "disease", **kw)
    assert Span.trusted(0, 6, "disease") == Span(0, 6, "disease")
    assert Span.trusted(0, 6, "x").meta == {}


@pytest.mark.parametrize("span, message", [
    ({"start": 0, "end": 99, "label": "disease"}, "ends past the text"),
    ({"start": 5, "end": 5, "label": "disease"}, "0 <= start < end"),
    ({"start": -1, "end": 3, "label": "disease"}, "0 <= start < end"),
    ({"start": 0, "end": 3, "label": ""}, "empty label"),
    ({"start": 0, "end": 3, "label": "disease", "source": "nope"}, "unknown span source"),
    ({"start": 0, "end": 3, "label": "disease", "status": ["x"]}, "unknown span status"),
    ({"start": "0", "end": 3, "label": "disease"}, "start: must be an integer"),
    ({"start": 0, "end": 3}, "expected an object"),
])
def test_jsonl_parser_still_rejects_bad_spans_with_file_and_line(span, message):
    errors = Errors()
    raw = orjson.dumps({"text": TEXT, "spans": [{"start": 0, "end": 6, "label": "ok"}, span]})
    parsed = parse_line(raw, "f.jsonl", 7, errors)
    assert len(errors) == 1
    assert "f.jsonl:7" in str(errors.items[0]) and message in str(errors.items[0])
    assert parsed.doc.spans == [Span(0, 6, "ok", source="import")]
    assert parsed.where == ["f.jsonl:7"]


def test_jsonl_parser_fast_and_general_spans_agree():
    spans = [{"start": 0, "end": 6, "label": "disease"},
             {"start": 10, "end": 14, "label": "disease", "source": "human",
              "status": "rejected", "score": 0.2, "meta": {"a": 1}},
             {"start": 0, "end": 14, "label": "disease", "fragments": [[0, 6], [10, 14]]},
             {"start": 17, "end": 23, "label": "disease", "fragments": None, "meta": None}]
    errors = Errors()
    parsed = parse_line(orjson.dumps({"text": TEXT, "spans": spans}), "f", 1, errors)
    assert not errors.items
    assert parsed.doc.spans == [
        Span(0, 6, "disease", source="import"),
        Span(10, 14, "disease", source="human", status="rejected", score=0.2, meta={"a": 1}),
        Span(0, 14, "disease", ((0, 6), (10, 14)), source="import"),
        Span(17, 23, "disease", source="import")]


def test_import_restores_gc_state_even_on_error(tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_bytes(b'{"text": "abc", "spans": [{"start": 0, "end": 9, "label": "disease"}]}\n')
    assert gc.isenabled()
    with Store(str(tmp_path / "db.sqlite")) as store, pytest.raises(FormatError, match=":1"):
        drive(import_job(store, fmt="jsonl", path=f, schema="finemed-fr"))
    assert gc.isenabled()


def _store_with_variety(tmp_path) -> Store:
    other = Store(str(tmp_path / "db.sqlite"), project="other")  # interleaved ids
    store = Store(str(tmp_path / "db.sqlite"))
    store.set_schema(load_schema("finemed-fr").with_labels(["extra"]))
    for i in range(9):
        t = f"{i} : {TEXT}"
        o = len(t) - len(TEXT)
        spans = [Span(o + 17, o + 23, "disease"), Span(o, o + 6, "disease"),
                 Span(o + 10, o + 14, "extra", source="gliner2", status="proposed")]
        if i % 3 == 1:
            spans.append(Span.from_fragments([(o, o + 6), (o + 10, o + 14)], "disease"))
        if i % 4 == 2:
            spans.append(Span(o + 29, o + 37, "drug", status="rejected"))
        store.import_documents([Document(text=t, name=f"d{i}", spans=spans if i != 5 else [])])
        other.import_documents([Document(text=f"other {i}",
                                         spans=[Span(0, 5, "disease")])])
    store.set_review_status(store.document_ids()[3], "reviewed")
    other.close()
    return store


@pytest.mark.parametrize("kw", [
    {}, {"descriptions": True}, {"mentions": "strings"}, {"status": "accepted"},
    {"status": "reviewed"}, {"source": "gliner2"}, {"status": "rejected,todo"},
    {"review_status": "all"}, {"status": "all", "review_status": "todo,reviewed"},
    {"status": "accepted,proposed", "review_status": "all", "source": "gliner2"},
])
def test_batched_gliner2_export_matches_to_record(tmp_path, kw):
    from annotator.io import status_filters

    store = _store_with_variety(tmp_path)
    out = tmp_path / "out.jsonl"
    summary = drive(export_job(store, fmt="gliner2", out=out, **kw))
    span_status, review = status_filters(kw.get("status"), "gliner2",
                                         kw.get("review_status"))
    schema = store.get_schema()
    expected, counter = [], Counter()
    for doc in store.iter_documents(review_status=review, span_status=span_status,
                                    span_source=kw.get("source")):
        expected.append(to_record(doc, schema, descriptions=kw.get("descriptions", False),
                                  plain_strings=kw.get("mentions") == "strings",
                                  dropped=counter))
    dropped = dict(counter)
    got = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert got == expected
    assert out.read_bytes() == b"".join(orjson.dumps(r) + b"\n" for r in expected)
    assert summary.documents == len(expected) and summary.dropped == dropped
    assert summary.spans == sum(len(v) for r in expected
                                for v in r["output"]["entities"].values())
    store.close()
