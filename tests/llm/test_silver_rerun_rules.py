"""Silver reruns never touch decided work (the fake OpenAI-compatible server is a separate
process): reviewed documents are left alone unless asked, a rejected (label, span) and the
original of an edited suggestion are never proposed again."""

from annotator.jobs import drive
from annotator.llm.silver import silver_job

FAST = {"model": "fake", "schema": "finemed-fr", "retry_base_delay": 0.01}


def test_silver_skips_reviewed_documents_unless_asked(store, fake_server):
    ids = store.document_ids()
    store.set_review_status(ids[0], "reviewed")
    res = drive(silver_job(store, base_url=fake_server.url, **FAST))
    assert res.total == len(ids) - 1
    assert store.get_document(ids[0]).spans == []
    assert len(fake_server.log()) == 2 * (len(ids) - 1)
    res = drive(silver_job(store, base_url=fake_server.url, include_reviewed=True, **FAST))
    assert res.total == 1 and store.get_document(ids[0]).spans


def test_rejected_and_edited_suggestions_are_not_proposed_again(store, fake_server):
    drive(silver_job(store, base_url=fake_server.url, passes=1, **FAST))
    doc_id = next(i for i in store.document_ids() if len(store.get_document(i).spans) >= 3)
    first, second = sorted(store.get_document(doc_id).spans, key=lambda s: s.start)[:2]
    store.update_span(first.id, status="rejected", annotator="alice")
    other = next(k for k in ("drug", "disease") if k != second.label)
    store.update_span(second.id, label=other, annotator="alice")  # now human, derived_from
    # another temperature is another run: the fake server gives the same answers again
    res = drive(silver_job(store, base_url=fake_server.url, passes=1, temperature=0.3,
                           **FAST))
    assert res.done == len(store.document_ids())  # the rerun did run on every document
    proposed = {(s.label, s.start, s.end) for s in store.get_document(doc_id).spans
                if s.status == "proposed"}
    assert (first.label, first.start, first.end) not in proposed
    assert (second.label, second.start, second.end) not in proposed
    assert proposed  # the rest of the answer was proposed again
