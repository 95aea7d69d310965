"""Spans indexed by (doc_id, start, end) instead of doc_id alone: reading a document's spans
in text order (export, the review desk) walks the index instead of sorting.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_spans_doc_pos", "spans", ["doc_id", "start", "end"])
    op.drop_index("ix_spans_doc", table_name="spans")


def downgrade() -> None:
    op.create_index("ix_spans_doc", "spans", ["doc_id"])
    op.drop_index("ix_spans_doc_pos", table_name="spans")
