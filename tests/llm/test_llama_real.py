"""End to end against a REAL OpenAI-compatible server process: the xllamacpp llama.cpp server
with the tiny SmolLM2-135M demo model (``annotator llm-serve``, 1 thread, answers <= 128
tokens). The model is tiny: these tests check the plumbing, not entity quality."""

import json

import pytest

from annotator.jobs import drive
from annotator.llm.request_record import calls_with_bodies
from annotator.llm.serve import MODEL_NAME
from annotator.llm.silver import silver_job
from db import llm_audit

pytestmark = pytest.mark.slow


def test_two_passes_against_real_llama_server(store, llama_server):
    url, _log = llama_server
    ids = store.document_ids()[:2]
    kw = {"base_url": url, "model": MODEL_NAME, "schema": "finemed-fr", "doc_ids": ids,
          "concurrency": 2,
              "max_tokens": 128, "max_entities": 3, "max_retries": 1, "timeout": 120,
              "retry_base_delay": 0.1}
    res = drive(silver_job(store, **kw))
    assert res.done + res.failed == 2
    assert res.done >= 1, res.failures  # the grammar keeps even a tiny model's JSON valid
    calls = calls_with_bodies(store)
    for doc_id in ids:
        mine = [c for c in calls if c["doc_id"] == doc_id]
        if doc_id in res.failures:
            assert store.get_document(doc_id).spans == []
            continue
        p1, p2 = [c for c in mine if c["pass_no"] == 1], [c for c in mine if c["pass_no"] == 2]
        assert len(p1) == 1 and len(p2) == 1
        assert p1[0]["usage"]["total_tokens"] > 0 and p2[0]["usage"]["total_tokens"] > 0
        # pass 2 saw the validated pass-1 answer
        p1_content = json.loads(p1[0]["response"]["choices"][0]["message"]["content"])
        p1_entities = [{"text": e["text"], "label": e["label"]}
                       for e in p1_content["entities"]]
        seen = {(e["text"], e["label"]) for e in p1_entities}
        dedup = [e for i, e in enumerate(p1_entities)
                 if (e["text"], e["label"]) not in {(x["text"], x["label"])
                                                    for x in p1_entities[:i]}]
        assert len(dedup) == len(seen)
        pass1_json = json.dumps({"entities": dedup}, ensure_ascii=False)
        assert pass1_json in p2[0]["request"]["body"]["messages"][1]["content"]
        # the real server accepts response_format json_schema: no fallback was needed
        assert p1[0]["request"]["mode"] == "json_schema"
        doc = store.get_document(doc_id)
        for sp in doc.spans:  # only grounded spans are stored
            assert sp.source in ("llm_pass1", "llm_pass2") and sp.status == "proposed"
            texts = {e["text"] for e in p1_entities} if sp.source == "llm_pass1" else None
            if texts is not None:
                surface = doc.text[sp.start:sp.end]
                assert any(" ".join(t.split()).casefold() == " ".join(surface.split())
                           .casefold() for t in texts)
    n = llm_audit.count_calls(store)
    again = drive(silver_job(store, **kw))
    assert again.skipped == res.done
    if res.failed == 0:
        assert again.calls == 0 and llm_audit.count_calls(store) == n  # zero new calls
