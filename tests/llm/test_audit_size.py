"""The LLM audit is compact (at most 3 KB of database growth per call, spans included) and the
exact request of every call is rebuilt from what it stores, for both protocols."""

from __future__ import annotations

import json

import pytest

from annotator.jobs import drive
from annotator.llm.request_record import RebuildError, rebuild_body
from annotator.llm.silver import review_reasoning, silver_job
from annotator.model import Document
from db import Store, llm_audit

FAST = {"model": "fake", "schema": "finemed-fr", "retry_base_delay": 0.01, "concurrency": 1}
SENTENCES = [
    "Patient hospitalisé pour une pneumonie traitée par amoxicilline.",
    "Diabète de type 2 sous insuline, glycémie instable.",
    "L'IRM montre une tumeur ; le scanner thoracique est normal.",
    "Fièvre persistante malgré le paracétamol, hypertension connue.",
    "Douleur au niveau du rein droit, cœur de taille normale.",
]


def canonical(body: dict) -> str:
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _db_bytes(store: Store) -> int:
    with store.engine.connect() as c:
        c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = c.exec_driver_sql("PRAGMA page_count").scalar()
        return pages * c.exec_driver_sql("PRAGMA page_size").scalar()


@pytest.mark.parametrize("protocol", ["v1", "finemed"])
@pytest.mark.parametrize("reject_json_schema", [False, True])
def test_rebuilt_body_equals_what_the_server_received(store, fake_server, protocol,
                                                      reject_json_schema):
    fake_server.control(reject_json_schema=reject_json_schema)
    res = drive(silver_job(store, base_url=fake_server.url, protocol=protocol, **FAST))
    assert res.done == 4 and res.failed == 0
    received = [r["body"] for r in fake_server.log()]
    if reject_json_schema:  # the refused json_schema tries are not calls of their own
        received = [b for b in received if b["response_format"]["type"] != "json_schema"]
    rows = llm_audit.calls(store)
    assert len(rows) == len(received) == 8
    for row in rows:
        assert "body" not in row["request"]
        assert row["request"]["mode"] == ("json_object" if reject_json_schema
                                          else "json_schema")
    # requests of documents in flight interleave: compare as multisets, byte for byte
    assert sorted(canonical(rebuild_body(store, r)) for r in rows) == sorted(
        canonical(b) for b in received)


def test_failed_call_is_rebuilt_too(store, fake_server):
    # 400 on json_schema, not retried: the call fails for good
    fake_server.control(script=[{"status": 400}])
    res = drive(silver_job(store, base_url=fake_server.url, protocol="finemed", doc_ids=[1],
                           **FAST))
    assert res.failed == 1
    (row,) = llm_audit.calls(store)
    assert row["error"].startswith("HTTP 400")
    (sent,) = (r["body"] for r in fake_server.log())  # a 400 is not retried
    assert canonical(rebuild_body(store, row)) == canonical(sent)


def test_changed_prompt_is_reported_not_rebuilt_wrong(store, fake_server):
    drive(silver_job(store, base_url=fake_server.url, protocol="v1", doc_ids=[1], **FAST))
    row = llm_audit.calls(store)[0]
    row["request"]["prompts"] = row["request"]["prompts"].split("#")[0] + "#00000000"
    with pytest.raises(RebuildError, match="prompt files changed"):
        rebuild_body(store, row)
    row = llm_audit.calls(store)[0]
    row["request"]["window"] = [0, 10]  # not the text that was sent
    with pytest.raises(RebuildError, match="not the one sent"):
        rebuild_body(store, row)


@pytest.mark.parametrize("protocol", ["v1", "finemed"])
def test_database_grows_at_most_3kb_per_call(tmp_path, fake_server, protocol):
    docs = [Document(text=f"Observation {i}. " + " ".join(SENTENCES[(i + k) % 5]
                                                           for k in range(1 + i % 4)),
                     name=f"doc{i}") for i in range(120)]
    with Store(str(tmp_path / "size.db")) as st:
        st.import_documents(docs)
        before = _db_bytes(st)
        res = drive(silver_job(st, base_url=fake_server.url, protocol=protocol,
                               **(FAST | {"concurrency": 8})))
        assert res.done == 120 and res.calls == 240
        growth = _db_bytes(st) - before
        spans = sum(len(d.spans) for d in st.iter_documents())
        assert spans > 240  # the growth measured includes the spans stored
        assert growth / res.calls <= 3072, f"{growth / res.calls:.0f} bytes per call"
        if protocol == "finemed":  # the review reasoning is still read from the audit
            notes = review_reasoning(st, 1)
            assert notes and notes[0]["false_positives"]
