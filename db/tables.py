"""SQLAlchemy table definitions (declarative ORM). Alembic migrations under
``db/migrations`` create them; keep both in step (a test compares them)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class ProjectRow(Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    schema: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DocumentRow(Base):
    __tablename__ = "documents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    review_status: Mapped[str] = mapped_column(String(20), default="todo")
    hash: Mapped[str] = mapped_column(String(64))
    length: Mapped[int] = mapped_column(Integer)
    density: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    __table_args__ = (
        UniqueConstraint("project_id", "hash", name="uq_documents_project_hash"),
        CheckConstraint(
            "review_status IN ('todo','in_progress','reviewed','skipped')",
            name="ck_documents_review_status",
        ),
        Index("ix_documents_project_status", "project_id", "review_status"),
        # covering index of the GUI's document list (migration 0002)
        Index("ix_documents_list", "project_id", "id", "name", "review_status", "length",
              "density"),
    )


class SpanRow(Base):
    __tablename__ = "spans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    doc_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(200))
    fragments: Mapped[list | None] = mapped_column(JSON, nullable=True)
    source: Mapped[str] = mapped_column(String(20))
    source_version: Mapped[str | None] = mapped_column(Text, nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    annotator: Mapped[str | None] = mapped_column(String(200), nullable=True)
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    __table_args__ = (
        CheckConstraint("start >= 0 AND start < \"end\"", name="ck_spans_offsets"),
        CheckConstraint("status IN ('proposed','accepted','rejected')", name="ck_spans_status"),
        # no CHECK on ``source`` (migration 0009): sources come from a registry
        # (annotator.model.register_source) and are validated where spans are made
        Index("ix_spans_doc_pos", "doc_id", "start", "end"),
        Index("ix_spans_source_status", "source", "status"),
        Index("ix_spans_label", "label"),
        # span counts per source of a few documents (migration 0002)
        Index("ix_spans_doc_source_status", "doc_id", "source", "status"),
        # ids are never reused: an edit aimed at a span a person saw cannot land on a newer
        # span that took its id (migration 0005)
        {"sqlite_autoincrement": True},
    )


class SpanEventRow(Base):
    """Append-only history of span edits: review changes status, it never erases history."""

    __tablename__ = "span_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    span_id: Mapped[int] = mapped_column(Integer)
    doc_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(20))  # create, update, delete, restore
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    annotator: Mapped[str | None] = mapped_column(String(200), nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # the bulk decision this event belongs to (migration 0006); None for single edits
    batch: Mapped[str | None] = mapped_column(String(36), nullable=True)
    __table_args__ = (Index("ix_span_events_doc", "doc_id"),
                      Index("ix_span_events_batch", "batch"))


class DecisionBatchRow(Base):
    """One bulk decision (``review accept|reject|mark``, or the undo of one): who, when, what,
    with its span events (``span_events.batch``) and document changes (``doc_events``)."""

    __tablename__ = "decision_batches"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))  # accepted, rejected, mark:<status>, undo
    annotator: Mapped[str | None] = mapped_column(String(200), nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    undone_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    __table_args__ = (Index("ix_decision_batches_project", "project_id", "at"),)


class DocEventRow(Base):
    """Append-only history of document review-status changes made by bulk decisions."""

    __tablename__ = "doc_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    doc_id: Mapped[int] = mapped_column(Integer)
    batch: Mapped[str | None] = mapped_column(String(36), nullable=True)
    before: Mapped[str] = mapped_column(String(20))
    after: Mapped[str] = mapped_column(String(20))
    annotator: Mapped[str | None] = mapped_column(String(200), nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    __table_args__ = (Index("ix_doc_events_batch", "batch"), Index("ix_doc_events_doc", "doc_id"))


class AssignmentRow(Base):
    """Annotator ``annotator`` works on document ``doc_id`` in their own layer, a project
    named ``<project>::<annotator>`` holding the copy ``layer_doc_id`` (migration 0008)."""

    __tablename__ = "assignments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    doc_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    annotator: Mapped[str] = mapped_column(String(200))
    layer_doc_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    assigned_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    __table_args__ = (
        UniqueConstraint("doc_id", "annotator", name="uq_assignments_doc_annotator"),
        Index("ix_assignments_project_annotator", "project_id", "annotator"),
    )


class DocRunRow(Base):
    """Per-document outcome of a batch job (pre-label, silver) keyed by its configuration,
    so that a rerun with the same configuration skips what is done."""

    __tablename__ = "doc_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    run_key: Mapped[str] = mapped_column(String(128))
    doc_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))  # done, failed
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    stats: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    __table_args__ = (
        UniqueConstraint("kind", "run_key", "doc_id", name="uq_doc_runs"),
        Index("ix_doc_runs_doc", "doc_id"),
    )


class RunRow(Base):
    """One batch job: what ran, with which configuration, and its totals."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    run_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # running, done, failed, cancelled, interrupted (its process died while running)
    status: Mapped[str] = mapped_column(String(20), default="running")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # the process running the job (migration 0004): a ``running`` run whose process is gone
    # is reported as ``interrupted``
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    pid_started: Mapped[str | None] = mapped_column(String(40), nullable=True)


class LLMCallRow(Base):
    """Audit record of one LLM request/response (credentials never stored)."""

    __tablename__ = "llm_calls"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    doc_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    run_key: Mapped[str] = mapped_column(String(128))
    pass_no: Mapped[int] = mapped_column(Integer)
    window: Mapped[int] = mapped_column(Integer, default=0)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    hallucinations: Mapped[list | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    __table_args__ = (Index("ix_llm_calls_doc", "doc_id", "run_key"),)


class ModelRow(Base):
    """Model registry: what was trained on what, and how well it did."""

    __tablename__ = "models"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)
    backend: Mapped[str] = mapped_column(String(40), default="gliner2")
    base_model: Mapped[str] = mapped_column(Text)
    data_hash: Mapped[str] = mapped_column(String(64))
    data_size: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
