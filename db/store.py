"""The project store: the only API the core and the GUI use to read and write the database.

Every public method runs in its own transaction (or inside ``store.transaction()`` when one is
passed along as ``conn``) and hands plain ``annotator.model`` dataclasses back.
Workers on other threads open their own ``Store`` on the same URL.

Writes run in ``store.transaction()``, which takes the write lock when it begins (SQLite
``BEGIN IMMEDIATE``; other databases lock the rows an edit reads with ``SELECT ... FOR
UPDATE``): an edit checks that its span is still there and that its UPDATE/DELETE touched it
inside the transaction that writes it, and raises ``SpanGoneError`` (recording nothing) when
another process deleted or replaced it first.

The project row is created by the first write transaction of a new project (so a refused
import leaves no empty project behind); reads of a project that does not exist yet see no
rows. ``Store(..., create=False)`` refuses a missing project instead.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from annotator.errors import AnnotatorError, SpanGoneError, StoreError  # noqa: F401
from annotator.model import (
    Document,
    DocumentSummary,
    LabelSchema,
    Span,
    SpanError,
    content_hash,
    is_source,
    register_source,
)

from .engine import (
    check_connection,
    display_url,
    make_engine,
    migrate,
    resolve_url,
    write_engine,
)
from .port import QueriesMixin
from .tables import (
    DocRunRow,
    DocumentRow,
    ProjectRow,
    RunRow,
    SpanEventRow,
    SpanRow,
)

D = DocumentRow.__table__
S = SpanRow.__table__
P = ProjectRow.__table__
E = SpanEventRow.__table__
DR = DocRunRow.__table__
R = RunRow.__table__


NO_PROJECT = -1  # the project id of a project not created yet: matches no row


# the store's errors are the core's (annotator.errors), so that callers need not import db


@dataclass
class ImportResult:
    added: int = 0
    skipped_duplicates: int = 0
    spans: int = 0
    doc_ids: list[int] = field(default_factory=list)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def span_to_row(sp: Span, doc_id: int, now: datetime) -> dict[str, Any]:
    return {
        "doc_id": doc_id,
        "start": sp.start,
        "end": sp.end,
        "label": sp.label,
        "fragments": [list(f) for f in sp.fragments] if sp.fragments else None,
        "source": sp.source,
        "source_version": sp.source_version,
        "score": sp.score,
        "status": sp.status,
        "annotator": sp.annotator,
        "meta": sp.meta or None,
        "created_at": sp.created_at or now,
        "updated_at": sp.updated_at or now,
    }


def row_to_span(r: Any) -> Span:
    m = r._mapping
    frags = m["fragments"]
    if not is_source(m["source"]):
        # written by a backend this process does not have (a plugin installed elsewhere):
        # the database only holds sources a writer validated
        register_source(m["source"], kind="model")
    return Span(
        start=m["start"],
        end=m["end"],
        label=m["label"],
        fragments=tuple(tuple(f) for f in frags) if frags else None,
        source=m["source"],
        source_version=m["source_version"],
        score=m["score"],
        status=m["status"],
        annotator=m["annotator"],
        meta=m["meta"] or {},
        id=m["id"],
        doc_id=m["doc_id"],
        created_at=m.get("created_at"),
        updated_at=m.get("updated_at"),
    )


# separates a project's name from an annotator's in the name of the annotator's layer
LAYER_SEP = "::"

HUMAN_SOURCES = frozenset({"human", "import"})


def is_suggestion(sp: Span) -> bool:
    """A span a machine proposed (pre-labelers, LLM passes) or any span still ``proposed``."""
    return sp.status == "proposed" or sp.source not in HUMAN_SOURCES


def derived_from(sp: Span) -> dict[str, Any]:
    """The provenance an edited suggestion keeps: what the machine proposed."""
    return {"source": sp.source, "source_version": sp.source_version, "score": sp.score,
            "label": sp.label, "start": sp.start, "end": sp.end,
            "fragments": [list(f) for f in sp.fragments] if sp.fragments else None}


def span_snapshot(sp: Span) -> dict[str, Any]:
    """JSON-able state of a span, for the event history and undo."""
    row = span_to_row(sp, 0, None)  # type: ignore[arg-type]
    for key in ("doc_id", "created_at", "updated_at"):
        del row[key]
    return row


SPAN_COLUMNS = [S.c[n] for n in (
    "id", "doc_id", "start", "end", "label", "fragments", "source", "source_version", "score",
    "status", "annotator", "meta", "created_at", "updated_at",
)]


class Store(QueriesMixin):
    """One project inside one database: the core's store port (``annotator.ports``)."""

    def __init__(self, db: str | None = None, project: str = "default", *, create: bool = True):
        """Open ``project`` in database ``db`` (see ``db.engine.resolve_url``).

        ``create`` True: a missing project is created by the first write. ``create`` False:
        a missing SQLite file or project is refused (``DatabaseError`` / ``StoreError``
        listing the projects there) and nothing is created."""
        self.url = resolve_url(db, create=create)
        self.engine = make_engine(self.url)
        self._writer = write_engine(self.engine)
        self._local = threading.local()  # the write transaction open on this thread
        self._lengths: dict[int, int] = {}  # doc id -> text length (see _doc_length)
        check_connection(self.engine)
        migrate(self.engine)
        self.project = project
        self._pid: int | None = self._lookup_project()
        if self._pid is None and not create:
            names = self.list_projects()
            raise StoreError(f"no project {project!r} in {display_url(self.url)}; projects: "
                             + (", ".join(names) if names else "none"))

    @property
    def display_name(self) -> str:
        return display_url(self.url)

    def opener(self, project: str | None = None, *, create: bool = True) -> Callable[[], Store]:
        return functools.partial(Store, self.url, self.project if project is None else project,
                                 create=create)

    def open_other(self, db: str, project: str = "default") -> Store:
        return Store(db, project)

    def sibling(self, project: str) -> Store:
        """The store of another project of this database, sharing this one's engine and
        its open write transaction on this thread (a write there joins it): an annotator's
        layer (``db.team_queries``). Closing it leaves this store's engine open."""
        other = Store.__new__(Store)
        other.url, other.engine, other._writer = self.url, self.engine, self._writer
        other._local = self._local
        other._lengths = self._lengths  # doc ids are unique across projects
        other.project = project
        other._pid = other._lookup_project()
        other._is_sibling = True
        return other

    @property
    def project_id(self) -> int:
        """The project's row id; ``NO_PROJECT`` (matches no row) until its first write."""
        if self._pid is None:
            self._pid = self._lookup_project()
        return NO_PROJECT if self._pid is None else self._pid

    @property
    def project_exists(self) -> bool:
        return self.project_id != NO_PROJECT

    # ------------------------------------------------------------------ basics
    def close(self) -> None:
        if not getattr(self, "_is_sibling", False):
            self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self, conn: Connection | None = None) -> Iterator[Connection]:
        """A write transaction holding the write lock from its start (SQLite ``BEGIN
        IMMEDIATE``); nested use with an existing ``conn`` joins it, and so does a store
        write made on this thread while this store's transaction is open (a second
        transaction would wait for the lock the first one holds). The first write of a new
        project creates its row inside this transaction (rolled back with it)."""
        conn = conn if conn is not None else getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        had_project = self._pid is not None
        try:
            with self._writer.begin() as c:
                self._local.conn = c
                try:
                    if self._pid is None:
                        self._pid = self._create_project(c)
                    yield c
                finally:
                    self._local.conn = None
        except BaseException:
            if not had_project:  # the project row went with the rollback
                self._pid = None
            raise

    def _lookup_project(self) -> int | None:
        with self.engine.connect() as c:
            pid = c.execute(select(P.c.id).where(P.c.name == self.project)).scalar()
        return None if pid is None else int(pid)

    def _create_project(self, c: Connection) -> int:
        pid = c.execute(select(P.c.id).where(P.c.name == self.project)).scalar()
        if pid is None:
            values = {"name": self.project, "settings": {}, "created_at": _now()}
            if c.dialect.name == "postgresql":  # another process may insert it concurrently
                from sqlalchemy.dialects.postgresql import insert as pg_insert

                c.execute(pg_insert(P).values(**values).on_conflict_do_nothing(
                    index_elements=["name"]))
                pid = c.execute(select(P.c.id).where(P.c.name == self.project)).scalar()
            else:
                pid = c.execute(insert(P).values(**values)).inserted_primary_key[0]
        return int(pid)

    def list_projects(self) -> list[str]:
        """The projects people name; annotators' layers (``NAME::annotator``) left out."""
        with self.engine.connect() as c:
            return [n for n in c.execute(select(P.c.name).order_by(P.c.name)).scalars()
                    if LAYER_SEP not in n]

    # ------------------------------------------------------------------ schema / settings
    def get_schema(self) -> LabelSchema | None:
        with self.engine.connect() as c:
            data = c.execute(select(P.c.schema).where(P.c.id == self.project_id)).scalar()
        return LabelSchema.from_dict(data) if data else None

    def set_schema(self, schema: LabelSchema, conn: Connection | None = None) -> None:
        with self.transaction(conn) as c:
            c.execute(update(P).where(P.c.id == self.project_id).values(schema=schema.to_dict()))

    def get_setting(self, key: str, default: Any = None) -> Any:
        with self.engine.connect() as c:
            settings = c.execute(select(P.c.settings).where(P.c.id == self.project_id)).scalar()
        return (settings or {}).get(key, default)

    def set_setting(self, key: str, value: Any) -> None:
        with self.transaction() as c:
            settings = dict(
                c.execute(select(P.c.settings).where(P.c.id == self.project_id)).scalar() or {}
            )
            settings[key] = value
            c.execute(update(P).where(P.c.id == self.project_id).values(settings=settings))

    # ------------------------------------------------------------------ documents
    def import_documents(
        self,
        docs: Iterable[Document],
        *,
        skip_duplicates: bool = True,
        conn: Connection | None = None,
        batch_size: int = 2000,
        progress: Callable[[int], None] | None = None,
    ) -> ImportResult:
        """Insert documents with their spans in ONE transaction: all or nothing.

        Documents whose text is already in the project (same content hash) are skipped and
        counted. Every span is checked against its text before anything is written.
        """
        result = ImportResult()
        with self.transaction(conn) as c:
            seen = set(c.execute(select(D.c.hash).where(D.c.project_id == self.project_id))
                       .scalars())
            batch: list[Document] = []

            def flush() -> None:
                if not batch:
                    return
                now = _now()
                rows = [
                    {
                        "project_id": self.project_id,
                        "name": d.name,
                        "text": d.text,
                        "meta": d.meta or {},
                        "review_status": d.review_status,
                        "hash": d.hash,
                        "length": len(d.text),
                        "density": d.density,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for d in batch
                ]
                ids = c.execute(
                    insert(D).returning(D.c.id, sort_by_parameter_order=True), rows
                ).scalars().all()
                span_rows = []
                for d, doc_id in zip(batch, ids):
                    d.id = doc_id
                    span_rows.extend(span_to_row(sp, doc_id, now) for sp in d.spans)
                if span_rows:
                    c.execute(insert(S), span_rows)
                result.spans += len(span_rows)
                result.added += len(batch)
                result.doc_ids.extend(ids)
                if progress:
                    progress(result.added + result.skipped_duplicates)
                batch.clear()

            for d in docs:
                d.check_spans()
                if d.hash in seen:
                    if not skip_duplicates:
                        raise StoreError(f"{d.name or 'document'}: duplicate of a stored text")
                    result.skipped_duplicates += 1
                    continue
                seen.add(d.hash)
                batch.append(d)
                if len(batch) >= batch_size:
                    flush()
            flush()
        return result

    def add_document(self, doc: Document) -> int:
        res = self.import_documents([doc], skip_duplicates=False)
        return res.doc_ids[0]

    def _doc_filter(self, review_status: str | Sequence[str] | None = None):
        cond = [D.c.project_id == self.project_id]
        if review_status:
            statuses = [review_status] if isinstance(review_status, str) else list(review_status)
            cond.append(D.c.review_status.in_(statuses))
        return and_(*cond)

    def count_documents(self, review_status: str | Sequence[str] | None = None) -> int:
        with self.engine.connect() as c:
            return int(c.execute(select(func.count()).select_from(D)
                                 .where(self._doc_filter(review_status))).scalar())

    def document_ids(self, review_status: str | Sequence[str] | None = None) -> list[int]:
        with self.engine.connect() as c:
            return list(c.execute(select(D.c.id).where(self._doc_filter(review_status))
                                  .order_by(D.c.id)).scalars())

    def _span_query(self, doc_ids, status=None, source=None):
        q = select(*SPAN_COLUMNS).where(S.c.doc_id.in_(doc_ids))
        if status:
            q = q.where(S.c.status.in_([status] if isinstance(status, str) else list(status)))
        if source:
            q = q.where(S.c.source.in_([source] if isinstance(source, str) else list(source)))
        return q.order_by(S.c.doc_id, S.c.start, S.c.end, S.c.id)

    @staticmethod
    def _row_to_doc(m: Any) -> Document:
        return Document(
            text=m["text"], name=m["name"], meta=m["meta"] or {},
            review_status=m["review_status"], id=m["id"], density=m["density"], hash=m["hash"],
        )

    def get_document(
        self, doc_id: int, *, with_spans: bool = True, span_status=None, span_source=None
    ) -> Document:
        with self.engine.connect() as c:
            row = c.execute(select(D).where(D.c.id == doc_id,
                                            D.c.project_id == self.project_id)).first()
            if row is None:
                raise StoreError(f"no document {doc_id} in project {self.project!r}")
            doc = self._row_to_doc(row._mapping)
            if with_spans:
                doc.spans = [row_to_span(r) for r in
                             c.execute(self._span_query([doc_id], span_status, span_source))]
        return doc

    def iter_documents(
        self,
        *,
        ids: Sequence[int] | None = None,
        review_status: str | Sequence[str] | None = None,
        span_status=None,
        span_source=None,
        with_spans: bool = True,
        batch_size: int = 1000,
    ) -> Iterator[Document]:
        """Stream documents (ordered by id) with their spans, ``batch_size`` at a time."""
        all_ids = list(ids) if ids is not None else self.document_ids(review_status)
        for i in range(0, len(all_ids), batch_size):
            chunk = all_ids[i:i + batch_size]
            with self.engine.connect() as c:
                docs = {
                    r.id: self._row_to_doc(r._mapping)
                    for r in c.execute(select(D).where(D.c.id.in_(chunk),
                                                       D.c.project_id == self.project_id))
                }
                if with_spans and docs:
                    for r in c.execute(self._span_query(list(docs), span_status, span_source)):
                        docs[r.doc_id].spans.append(row_to_span(r))
            for doc_id in chunk:
                if doc_id in docs:
                    yield docs[doc_id]

    def document_summaries(self) -> list[DocumentSummary]:
        """Light rows for document lists: no text, span counts per source (non-rejected)."""
        with self.engine.connect() as c:
            counts: dict[int, dict[str, int]] = defaultdict(dict)
            q = (select(S.c.doc_id, S.c.source, func.count())
                 .join(D, D.c.id == S.c.doc_id)
                 .where(D.c.project_id == self.project_id, S.c.status != "rejected")
                 .group_by(S.c.doc_id, S.c.source))
            for doc_id, source, n in c.execute(q):
                counts[doc_id][source] = n
            rows = c.execute(select(D.c.id, D.c.name, D.c.review_status, D.c.length, D.c.density)
                             .where(D.c.project_id == self.project_id).order_by(D.c.id))
            return [
                DocumentSummary(id=r.id, name=r.name, review_status=r.review_status,
                                length=r.length, density=r.density,
                                n_spans=sum(counts[r.id].values()),
                                counts_by_source=counts.get(r.id, {}))
                for r in rows
            ]

    def set_review_status(self, doc_id: int, status: str) -> None:
        Document(text="", review_status=status)  # validates the value
        with self.transaction() as c:
            self._doc_length(c, doc_id)  # the document must belong to this project
            res = c.execute(update(D).where(D.c.id == doc_id).values(review_status=status,
                                                                     updated_at=_now()))
            if res.rowcount != 1:
                raise StoreError(f"no document {doc_id} in project {self.project!r}")

    def set_density(self, doc_id: int, density: float | None,
                    conn: Connection | None = None) -> None:
        with self.transaction(conn) as c:
            c.execute(update(D).where(D.c.id == doc_id, D.c.project_id == self.project_id)
                      .values(density=density))

    def _doc_length(self, c: Connection, doc_id: int) -> int:
        """The document's length (it belongs to this project, or StoreError). Texts never
        change after import, so lengths are cached; a deleted document's id is never reused
        (its spans go with it, and a write to it fails on the foreign key)."""
        n = self._lengths.get(doc_id)
        if n is not None:
            return n
        n = c.execute(select(D.c.length).where(D.c.id == doc_id,
                                               D.c.project_id == self.project_id)).scalar()
        if n is None:
            raise StoreError(f"no document {doc_id} in project {self.project!r}")
        if len(self._lengths) > 10_000:
            self._lengths.clear()
        self._lengths[doc_id] = int(n)
        return int(n)

    # ------------------------------------------------------------------ spans
    def _event(self, c: Connection, span_id: int, doc_id: int, action: str,
               before: dict | None, after: dict | None, annotator: str | None) -> None:
        c.execute(insert(E).values(span_id=span_id, doc_id=doc_id, action=action, before=before,
                                   after=after, annotator=annotator, at=_now()))

    def get_span(self, span_id: int, conn: Connection | None = None) -> Span:
        if conn is None:
            with self.engine.connect() as c:
                return self.get_span(span_id, conn=c)
        r = conn.execute(select(*SPAN_COLUMNS).join(D, D.c.id == S.c.doc_id).where(
            S.c.id == span_id, D.c.project_id == self.project_id)).first()
        if r is None:
            raise StoreError(f"no span {span_id}")
        return row_to_span(r)

    def _span_for_write(self, c: Connection, span_id: int) -> Span:
        """The span as it is inside write transaction ``c``, its row locked (PostgreSQL
        ``FOR UPDATE``; SQLite holds the database write lock already)."""
        r = c.execute(select(*SPAN_COLUMNS).join(D, D.c.id == S.c.doc_id).where(
            S.c.id == span_id, D.c.project_id == self.project_id).with_for_update(of=S)).first()
        if r is None:
            raise SpanGoneError(_gone_message([span_id]), span_ids=[span_id])
        return row_to_span(r)

    def add_span(self, doc_id: int, span: Span, *, conn: Connection | None = None) -> Span:
        """Store one span after checking it fits its text; returns it with its id."""
        with self.transaction(conn) as c:
            n = self._doc_length(c, doc_id)
            if span.end > n:
                raise SpanError(f"document {doc_id}: span [{span.start}, {span.end}) ends past "
                                f"the text (length {n})")
            now = _now()
            row = span_to_row(span, doc_id, now)
            if span.id is not None:  # restoring a deleted span keeps its id
                row["id"] = span.id
            new_id = c.execute(insert(S).values(**row)).inserted_primary_key[0]
            self._event(c, new_id, doc_id, "create", None, span_snapshot(span), span.annotator)
        span.id, span.doc_id = int(new_id), doc_id
        span.created_at = span.created_at or now
        span.updated_at = span.updated_at or now
        return span

    def add_spans(self, doc_id: int, spans: Sequence[Span], *,
                  conn: Connection | None = None) -> int:
        """Bulk insert spans for a document (no per-span events: batch jobs record runs)."""
        if not spans:
            return 0
        with self.transaction(conn) as c:
            n = self._doc_length(c, doc_id)
            for sp in spans:
                if sp.end > n:
                    raise SpanError(f"document {doc_id}: span [{sp.start}, {sp.end}) "
                                    f"{sp.label!r} ends past the text (length {n})")
            now = _now()
            c.execute(insert(S), [span_to_row(sp, doc_id, now) for sp in spans])
        return len(spans)

    def replace_proposals(
        self, doc_id: int, source: str, spans: Sequence[Span], *,
        conn: Connection | None = None,
    ) -> int:
        """Replace the ``proposed`` spans of ``source`` on a document by ``spans``.

        Spans of that source that a person already accepted or rejected are kept as they are.
        Two processes replacing them at once take turns (``lock_document``): the second
        deletes what the first inserted, so proposals are never doubled.
        """
        with self.transaction(conn) as c:
            self.lock_document(doc_id, c)
            c.execute(delete(S).where(S.c.doc_id == doc_id, S.c.source == source,
                                      S.c.status == "proposed"))
            return self.add_spans(doc_id, spans, conn=c)

    def lock_document(self, doc_id: int, conn: Connection) -> None:
        """Lock the document's row until write transaction ``conn`` ends: writers of its
        proposals and run marks take turns, and what the second one reads after waiting
        includes what the first committed (PostgreSQL ``SELECT ... FOR NO KEY UPDATE``, which
        edits of its spans do not wait for; SQLite's write transaction holds the database
        lock already)."""
        conn.execute(select(D.c.id).where(D.c.id == doc_id).with_for_update(key_share=True))

    def update_span(
        self, span_id: int, *, label: str | None = None, status: str | None = None,
        start: int | None = None, end: int | None = None,
        annotator: str | None = None, restore: dict[str, Any] | None = None,
        conn: Connection | None = None,
    ) -> Span:
        """Change a span's label, status or offsets; the change is recorded in the history.

        Editing the label or offsets of a suggestion (a machine source, or any ``proposed``
        span) is a person's decision: the span becomes ``human`` and ``accepted`` (unless
        ``status`` says otherwise), loses the machine's score and version, and keeps where it
        came from in ``meta["derived_from"]`` (source, version, score, label, offsets).
        ``restore`` (undo) puts ``source``, ``source_version``, ``score`` and ``meta`` back
        exactly as given instead."""
        with self.transaction(conn) as c:
            old = self._span_for_write(c, span_id)
            new = Span(
                start=old.start if start is None else start,
                end=old.end if end is None else end,
                label=label or old.label,
                fragments=old.fragments if start is None and end is None else None,
                source=old.source, source_version=old.source_version, score=old.score,
                status=status or old.status, annotator=annotator or old.annotator,
                meta=old.meta, id=old.id, doc_id=old.doc_id, created_at=old.created_at,
            )
            if restore is not None:
                new.source = restore.get("source", new.source)
                new.source_version = restore.get("source_version")
                new.score = restore.get("score")
                new.meta = dict(restore.get("meta") or {})
                Span.__post_init__(new)  # a restored source must still be a known one
            elif (new.label, new.parts) != (old.label, old.parts) and is_suggestion(old):
                new.meta = {**(old.meta or {}),
                            "derived_from": (old.meta or {}).get("derived_from")
                            or derived_from(old)}
                new.source, new.source_version, new.score = "human", None, None
                new.status = status or "accepted"
            if new.end > self._doc_length(c, old.doc_id):
                raise SpanError(f"span {span_id}: [{new.start}, {new.end}) ends past the text")
            new.updated_at = _now()
            res = c.execute(update(S).where(S.c.id == span_id).values(
                start=new.start, end=new.end, label=new.label, status=new.status,
                fragments=[list(f) for f in new.fragments] if new.fragments else None,
                source=new.source, source_version=new.source_version, score=new.score,
                meta=new.meta or None, annotator=new.annotator, updated_at=new.updated_at))
            if res.rowcount != 1:
                raise SpanGoneError(_gone_message([span_id]), doc_id=old.doc_id,
                                    span_ids=[span_id])
            self._event(c, span_id, old.doc_id, "update", span_snapshot(old), span_snapshot(new),
                        annotator)
        return new

    def delete_span(self, span_id: int, *, annotator: str | None = None) -> Span:
        """Delete a span; its last state stays in the history and is returned (for undo)."""
        with self.transaction() as c:
            old = self._span_for_write(c, span_id)
            res = c.execute(delete(S).where(S.c.id == span_id))
            if res.rowcount != 1:
                raise SpanGoneError(_gone_message([span_id]), doc_id=old.doc_id,
                                    span_ids=[span_id])
            self._event(c, span_id, old.doc_id, "delete", span_snapshot(old), None, annotator)
        return old

    def set_source_status(
        self, doc_id: int, source: str, status: str, *, from_status: str = "proposed",
        annotator: str | None = None, expected_ids: Iterable[int] | None = None,
    ) -> list[int]:
        """Accept or reject all ``from_status`` spans of one source on a document.
        Returns the ids changed.

        ``expected_ids``: the spans the person saw (the GUI passes them). When the document's
        ``from_status`` spans of that source are no longer exactly those (a newer pre-label
        run replaced them, another edit decided some), ``SpanGoneError`` is raised and
        nothing is changed."""
        with self.transaction() as c:
            self._doc_length(c, doc_id)  # the document must belong to this project
            ids = list(c.execute(select(S.c.id).where(
                S.c.doc_id == doc_id, S.c.source == source, S.c.status == from_status)
                .order_by(S.c.id).with_for_update()).scalars())
            if expected_ids is not None:
                seen = set(expected_ids)
                if set(ids) != seen:
                    gone = sorted(seen - set(ids))
                    raise SpanGoneError(
                        _gone_message(gone) if gone else
                        f"document {doc_id}: the {from_status} {source} spans changed since "
                        "they were shown (a newer pre-label run?); nothing was changed",
                        doc_id=doc_id, span_ids=gone)
            for sid in ids:
                self.update_span(sid, status=status, annotator=annotator, conn=c)
        return ids

    def span_events(self, doc_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in
                    c.execute(select(E).where(E.c.doc_id == doc_id).order_by(E.c.id))]

    # ------------------------------------------------------------------ batch-job bookkeeping
    def done_doc_ids(self, kind: str, run_key: str, status: str = "done") -> set[int]:
        with self.engine.connect() as c:
            return set(c.execute(select(DR.c.doc_id).where(
                DR.c.kind == kind, DR.c.run_key == run_key, DR.c.status == status)).scalars())

    def claim_doc_run(self, kind: str, run_key: str, doc_id: int, conn: Connection) -> bool:
        """In write transaction ``conn``: lock the document (``lock_document``) and tell
        whether run ``run_key`` still has to write it. False: another process marked it done
        for that run meanwhile, and what it wrote stands."""
        self.lock_document(doc_id, conn)
        return conn.execute(select(DR.c.status).where(
            DR.c.kind == kind, DR.c.run_key == run_key, DR.c.doc_id == doc_id)).scalar() != "done"

    def mark_doc_run(self, kind: str, run_key: str, doc_id: int, status: str, *,
                     error: str | None = None, stats: dict | None = None,
                     conn: Connection | None = None) -> None:
        with self.transaction(conn) as c:
            self.lock_document(doc_id, c)  # two processes marking it take turns
            c.execute(delete(DR).where(DR.c.kind == kind, DR.c.run_key == run_key,
                                       DR.c.doc_id == doc_id))
            c.execute(insert(DR).values(kind=kind, run_key=run_key, doc_id=doc_id, status=status,
                                        error=error, stats=stats, updated_at=_now()))

    def doc_runs(self, doc_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in
                    c.execute(select(DR).where(DR.c.doc_id == doc_id).order_by(DR.c.id))]

    def start_run(self, kind: str, config: dict, run_key: str | None = None) -> int:
        """Record a batch job as ``running`` in this process (its pid, host and process start
        time). Runs of the project left ``running`` by a process that is gone are marked
        ``interrupted`` first: their finished documents stay done and this run resumes them."""
        with self.transaction() as c:
            stale = [r.id for r in c.execute(select(R.c.id, R.c.pid, R.c.host, R.c.pid_started)
                                             .where(R.c.project_id == self.project_id,
                                                    R.c.status == "running"))
                     if _run_is_dead(r.pid, r.host, r.pid_started)]
            if stale:
                c.execute(update(R).where(R.c.id.in_(stale), R.c.status == "running")
                          .values(status="interrupted"))
            pid = os.getpid()
            return int(c.execute(insert(R).values(
                project_id=self.project_id, kind=kind, run_key=run_key, config=config, stats={},
                status="running", started_at=_now(), pid=pid, host=_HOST,
                pid_started=_process_started(pid))).inserted_primary_key[0])

    def finish_run(self, run_id: int, stats: dict, status: str = "done") -> None:
        with self.transaction() as c:
            c.execute(update(R).where(R.c.id == run_id).values(stats=stats, status=status,
                                                               finished_at=_now()))

    def runs(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The project's batch jobs, oldest first. A run stored as ``running`` whose process
        is gone (same host, pid dead or reused) is reported with status ``interrupted``."""
        q = select(R).where(R.c.project_id == self.project_id)
        if kind:
            q = q.where(R.c.kind == kind)
        with self.engine.connect() as c:
            rows = [dict(r._mapping) for r in c.execute(q.order_by(R.c.id))]
        for row in rows:
            if row["status"] == "running" and _run_is_dead(row["pid"], row["host"],
                                                           row["pid_started"]):
                row["status"] = "interrupted"
        return rows

    # ------------------------------------------------------------------ statistics
    def stats(self) -> dict[str, Any]:
        """Counts for ``annotator stats`` and the GUI overview."""
        with self.engine.connect() as c:
            by_status = dict(c.execute(
                select(D.c.review_status, func.count()).where(D.c.project_id == self.project_id)
                .group_by(D.c.review_status)).all())
            join = S.join(D, D.c.id == S.c.doc_id)
            span_rows = c.execute(
                select(S.c.label, S.c.source, S.c.status, func.count()).select_from(join)
                .where(D.c.project_id == self.project_id)
                .group_by(S.c.label, S.c.source, S.c.status)).all()
            dens = c.execute(select(func.avg(D.c.density), func.count(D.c.density))
                             .where(D.c.project_id == self.project_id)).first()
        labels: dict[str, int] = defaultdict(int)
        sources: dict[str, int] = defaultdict(int)
        statuses: dict[str, int] = defaultdict(int)
        for label, source, status, n in span_rows:
            statuses[status] += n
            sources[source] += n
            if status != "rejected":
                labels[label] += n
        total = sum(by_status.values())
        runs: dict[str, int] = defaultdict(int)
        for run in self.runs():
            runs[run["status"]] += 1
        return {
            "project": self.project,
            "documents": total,
            "reviewed": by_status.get("reviewed", 0),
            "documents_by_status": by_status,
            "spans": sum(statuses.values()),
            "spans_by_status": dict(statuses),
            "spans_by_source": dict(sources),
            "spans_by_label": dict(sorted(labels.items(), key=lambda kv: -kv[1])),
            "density_mean": dens[0],
            "documents_with_density": dens[1],
            "runs_by_status": dict(runs),
        }


_HOST = socket.gethostname()


def _process_started(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux ``/proc``), which
    tells a reused pid apart; None where the OS does not say."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[19].decode() if len(fields) > 19 else None


def _process_alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        pass
    except OSError:
        return True  # cannot tell (e.g. no signals on this platform): assume it runs
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return True
    if fields and fields[0] in (b"Z", b"X"):  # a zombie: killed, not reaped yet
        return False
    return started is None or len(fields) <= 19 or fields[19].decode() == started


def _run_is_dead(pid: int | None, host: str | None, started: str | None) -> bool:
    """True when a ``running`` run's process is known to be gone: it ran on this host and
    its pid is dead or now belongs to another process. Runs of other hosts (or from before
    pids were recorded) cannot be checked and count as running."""
    return pid is not None and host == _HOST and not _process_alive(int(pid), started)


def _gone_message(span_ids: Sequence[int]) -> str:
    which = ", ".join(str(i) for i in span_ids)
    return (f"span{'s' if len(span_ids) > 1 else ''} {which} no longer exist"
            f"{'' if len(span_ids) > 1 else 's'}: deleted or replaced (e.g. by a newer "
            "pre-label run) before this edit; nothing was changed")


def open_store(db: str | None = None, project: str = "default", *,
               create: bool = True) -> Store:
    return Store(db, project, create=create)


__all__ = ["Store", "StoreError", "SpanGoneError", "ImportResult", "open_store",
           "content_hash"]
