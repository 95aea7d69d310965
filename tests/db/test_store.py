"""Store invariants: CHECK constraints, foreign keys, WAL, migrations on open, all-or-nothing
imports, and the fast export query agreeing with iter_documents; on SQLite and PostgreSQL."""

import pytest
from sqlalchemy import delete, insert, text
from sqlalchemy.exc import IntegrityError

from annotator.model import Document, Span, SpanError
from db import Store
from db.engine import current_revision, head_revision
from db.export_queries import doc_ids_and_hashes, iter_export_documents
from db.store import D, S


@pytest.fixture
def store(db_url):
    """A store on a fresh database, once on SQLite and once on PostgreSQL (``db_url``)."""
    s = Store(db_url)
    yield s
    s.close()


def _doc(i: int, n_spans: int = 2) -> Document:
    t = f"Patient {i} : fièvre et toux."
    s = t.index("fièvre")
    return Document(text=t, name=f"d{i}",
                    spans=[Span(s, s + 6, "disease") for _ in range(n_spans)])


def test_migrations_applied_on_open_and_wal(store):
    assert current_revision(store.engine) == head_revision()
    if store.engine.dialect.name != "sqlite":
        return  # WAL and the foreign-key pragma are SQLite's (PostgreSQL enforces FKs)
    with store.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


@pytest.mark.parametrize("values", [
    {"start": -1, "end": 2}, {"start": 3, "end": 3}, {"start": 4, "end": 2},
    {"start": 0, "end": 2, "status": "maybe"},
])
def test_check_constraints_refuse_bad_spans(store, values):
    doc_id = store.add_document(_doc(1, 0))
    row = {"doc_id": doc_id, "label": "disease", "source": "human", "status": "accepted",
           **values}
    with pytest.raises(IntegrityError), store.engine.begin() as c:
        c.execute(insert(S).values(**row))


def test_a_registered_source_needs_no_migration(store):
    """Sources come from the registry (migration 0009 dropped the database's list): a new
    backend's source is stored and read back; an unregistered one is refused where spans
    are made, before the database."""
    from annotator.model import SpanError, register_source

    doc_id = store.add_document(_doc(1, 0))
    with pytest.raises(SpanError, match="unknown span source 'oracle'"):
        Span(0, 2, "disease", source="oracle", status="proposed")
    register_source("oracle_test", "Oracle", "model")
    store.add_spans(doc_id, [Span(0, 2, "disease", source="oracle_test", status="proposed")])
    assert [s.source for s in store.get_document(doc_id).spans] == ["oracle_test"]


def test_review_status_check_and_foreign_keys(store):
    with pytest.raises(IntegrityError), store.engine.begin() as c:
        c.execute(insert(S).values(doc_id=999, start=0, end=1, label="x", source="human",
                                   status="accepted"))
    doc_id = store.add_document(_doc(1))
    with pytest.raises(IntegrityError), store.engine.begin() as c:
        c.execute(text("UPDATE documents SET review_status='done' WHERE id=:i"), {"i": doc_id})
    with store.engine.begin() as c:
        c.execute(delete(D).where(D.c.id == doc_id))
    with store.engine.connect() as c:
        assert c.exec_driver_sql("SELECT count(*) FROM spans").scalar() == 0  # cascade


def test_import_is_all_or_nothing(store):
    store.import_documents([_doc(1)])
    bad = _doc(3)
    bad.spans.append(Span(0, 500, "disease"))
    with pytest.raises(SpanError):
        store.import_documents([_doc(2), bad, _doc(4)], batch_size=1)
    assert store.count_documents() == 1
    assert store.stats()["spans"] == 2


def test_duplicates_skipped_and_spans_checked_against_text(store):
    res = store.import_documents([_doc(1), _doc(1), _doc(2)])
    assert (res.added, res.skipped_duplicates, res.spans) == (2, 1, 4)
    with pytest.raises(SpanError):
        store.add_span(res.doc_ids[0], Span(0, 1000, "disease"))
    sp = store.add_span(res.doc_ids[0], Span(0, 7, "disease", source="gliner2",
                                             status="proposed"))
    store.update_span(sp.id, status="accepted", annotator="me")
    actions = [e["action"] for e in store.span_events(res.doc_ids[0])]
    assert actions == ["create", "update"]


def test_fast_export_query_matches_iter_documents(store):
    docs = [_doc(i, 3) for i in range(12)]
    docs[3].spans[0].status = "rejected"
    docs[5].spans[1].source = "gliner2"
    store.import_documents(docs)
    store.set_review_status(docs[4].id, "reviewed")

    def key(ds):
        return [(d.id, d.text, d.meta, [(s.id, s.key(), s.status, s.source) for s in d.spans])
                for d in ds]

    for kw in ({}, {"span_status": ["accepted"]}, {"span_source": ["gliner2"]},
               {"review_status": "reviewed"}):
        assert key(iter_export_documents(store, batch_size=5, **kw)) == \
            key(store.iter_documents(batch_size=5, **kw))
    ids = [i for i, _ in doc_ids_and_hashes(store)]
    assert ids == store.document_ids()
    assert key(iter_export_documents(store, ids=ids[2:7], batch_size=2)) == \
        key(store.iter_documents(ids=ids[2:7]))


def test_bulk_import_matches_store_import(db_url):
    from db.bulk_import import import_documents_fast

    def docs():
        out = [_doc(i, 2) for i in range(7)] + [_doc(3)]
        out[2].spans.append(Span.from_fragments([(0, 3), (5, 7)], "disease", meta={"a": 1},
                                                source="gliner2", score=0.5, status="proposed"))
        return out

    a, b = Store(db_url, "a"), Store(db_url, "b")  # (PostgreSQL: the store's own import)
    ra = a.import_documents(docs())
    with b.transaction() as c:
        rb = import_documents_fast(b, docs(), conn=c, batch_size=3)
    assert (ra.added, ra.skipped_duplicates, ra.spans) == (rb.added, rb.skipped_duplicates,
                                                           rb.spans) == (7, 1, 15)

    def rows(s):
        return [(d.name, d.text, d.hash, d.meta, [(x.key(), x.source, x.score, x.status, x.meta)
                                                  for x in d.spans]) for d in s.iter_documents()]

    assert rows(a) == rows(b)
    assert all(sp.created_at is not None for d in b.iter_documents() for sp in d.spans)
    bad = _doc(99)
    bad.spans.append(Span(0, 999, "disease"))
    with pytest.raises(SpanError), b.transaction() as c:
        import_documents_fast(b, [_doc(50), bad], conn=c, batch_size=1)
    assert b.count_documents() == 7


def test_span_tuple_stream_matches_documents(store):
    from db.export_queries import iter_span_tuples

    docs = [_doc(i, 2) for i in range(9)]
    docs[1].spans.append(Span.from_fragments([(0, 3), (5, 7)], "disease"))
    docs[2].spans[0].status = "rejected"
    store.import_documents(docs)
    for kw in ({}, {"span_status": ["accepted"]}):
        fast = list(iter_span_tuples(store, batch_size=4, **kw))
        slow = [(d.id, d.text, [(s.start, s.end, s.label, s.is_discontinuous) for s in d.spans])
                for d in store.iter_documents(**kw)]
        assert fast == slow


def test_a_project_cannot_touch_another_projects_rows(db_url):
    import pytest

    from annotator.model import Document, Span
    from db import Store, StoreError

    a, b = Store(db_url, "a"), Store(db_url, "b")
    doc_id = a.add_document(Document(text="fièvre"))
    span = a.add_span(doc_id, Span(0, 6, "disease"))
    with pytest.raises(StoreError):
        b.get_span(span.id)
    with pytest.raises(StoreError):
        b.delete_span(span.id)
    with pytest.raises(StoreError):
        b.set_review_status(doc_id, "reviewed")
    with pytest.raises(StoreError):
        b.set_source_status(doc_id, "human", "rejected", from_status="accepted")
    assert a.get_document(doc_id).review_status == "todo"
    assert [s.status for s in a.get_document(doc_id).spans] == ["accepted"]
