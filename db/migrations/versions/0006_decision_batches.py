"""Bulk decisions that can be undone: ``decision_batches`` (one row per ``review
accept|reject|mark`` call), ``span_events.batch`` (the span decisions of a batch) and
``doc_events`` (the document status changes of a batch).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("span_events") as batch:
        batch.add_column(sa.Column("batch", sa.String(36), nullable=True))
    op.create_index("ix_span_events_batch", "span_events", ["batch"])
    op.create_table(
        "decision_batches",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("project_id", sa.Integer,
                  sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("annotator", sa.String(200), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("summary", sa.JSON, nullable=True),
        sa.Column("undone_by", sa.String(36), nullable=True),
    )
    op.create_index("ix_decision_batches_project", "decision_batches", ["project_id", "at"])
    op.create_table(
        "doc_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("doc_id", sa.Integer, nullable=False),
        sa.Column("batch", sa.String(36), nullable=True),
        sa.Column("before", sa.String(20), nullable=False),
        sa.Column("after", sa.String(20), nullable=False),
        sa.Column("annotator", sa.String(200), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_doc_events_batch", "doc_events", ["batch"])
    op.create_index("ix_doc_events_doc", "doc_events", ["doc_id"])


def downgrade() -> None:
    op.drop_index("ix_doc_events_doc", "doc_events")
    op.drop_index("ix_doc_events_batch", "doc_events")
    op.drop_table("doc_events")
    op.drop_index("ix_decision_batches_project", "decision_batches")
    op.drop_table("decision_batches")
    op.drop_index("ix_span_events_batch", "span_events")
    with op.batch_alter_table("span_events") as batch:
        batch.drop_column("batch")
