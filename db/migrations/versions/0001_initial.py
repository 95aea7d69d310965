"""Initial schema: projects, documents, spans, span events, runs, LLM audit, model registry.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("schema", sa.JSON, nullable=True),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("meta", sa.JSON, nullable=False),
        sa.Column("review_status", sa.String(20), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("length", sa.Integer, nullable=False),
        sa.Column("density", sa.Float, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("project_id", "hash", name="uq_documents_project_hash"),
        sa.CheckConstraint("review_status IN ('todo','in_progress','reviewed','skipped')",
                           name="ck_documents_review_status"),
    )
    op.create_index("ix_documents_project_status", "documents", ["project_id", "review_status"])
    op.create_table(
        "spans",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("doc_id", sa.Integer, sa.ForeignKey("documents.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("start", sa.Integer, nullable=False),
        sa.Column("end", sa.Integer, nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("fragments", sa.JSON, nullable=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("source_version", sa.Text, nullable=True),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("annotator", sa.String(200), nullable=True),
        sa.Column("meta", sa.JSON, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint('start >= 0 AND start < "end"', name="ck_spans_offsets"),
        sa.CheckConstraint("status IN ('proposed','accepted','rejected')", name="ck_spans_status"),
        sa.CheckConstraint(
            "source IN ('human','import','gliner2','transformers','lexicon',"
            "'llm_pass1','llm_pass2')",
            name="ck_spans_source",
        ),
    )
    op.create_index("ix_spans_doc", "spans", ["doc_id"])
    op.create_index("ix_spans_source_status", "spans", ["source", "status"])
    op.create_index("ix_spans_label", "spans", ["label"])
    op.create_table(
        "span_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("span_id", sa.Integer, nullable=False),
        sa.Column("doc_id", sa.Integer, nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("before", sa.JSON, nullable=True),
        sa.Column("after", sa.JSON, nullable=True),
        sa.Column("annotator", sa.String(200), nullable=True),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index("ix_span_events_doc", "span_events", ["doc_id"])
    op.create_table(
        "doc_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("run_key", sa.String(128), nullable=False),
        sa.Column("doc_id", sa.Integer, sa.ForeignKey("documents.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("stats", sa.JSON, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("kind", "run_key", "doc_id", name="uq_doc_runs"),
    )
    op.create_index("ix_doc_runs_doc", "doc_runs", ["doc_id"])
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("run_key", sa.String(128), nullable=True),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("stats", sa.JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
    )
    op.create_table(
        "llm_calls",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("doc_id", sa.Integer, sa.ForeignKey("documents.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("run_key", sa.String(128), nullable=False),
        sa.Column("pass_no", sa.Integer, nullable=False),
        sa.Column("window", sa.Integer, nullable=False),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("response", sa.JSON, nullable=True),
        sa.Column("usage", sa.JSON, nullable=True),
        sa.Column("hallucinations", sa.JSON, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_llm_calls_doc", "llm_calls", ["doc_id", "run_key"])
    op.create_table(
        "models",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("backend", sa.String(40), nullable=False),
        sa.Column("base_model", sa.Text, nullable=False),
        sa.Column("data_hash", sa.String(64), nullable=False),
        sa.Column("data_size", sa.Integer, nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("is_default", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )


def downgrade() -> None:
    for name in ("models", "llm_calls", "runs", "doc_runs", "span_events", "spans",
                 "documents", "projects"):
        op.drop_table(name)
