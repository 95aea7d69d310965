"""Team work: ``assignments`` (which annotator works on which document, and where their
layer's copy of it is). An annotator's layer is a project of its own, named
``<project>::<annotator>`` (``db.team_queries``).

Revision ID: 0008
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer,
                  sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("doc_id", sa.Integer,
                  sa.ForeignKey("documents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("annotator", sa.String(200), nullable=False),
        sa.Column("layer_doc_id", sa.Integer,
                  sa.ForeignKey("documents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("assigned_by", sa.String(200), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("doc_id", "annotator", name="uq_assignments_doc_annotator"),
    )
    op.create_index("ix_assignments_project_annotator", "assignments",
                    ["project_id", "annotator"])


def downgrade() -> None:
    op.drop_index("ix_assignments_project_annotator", "assignments")
    op.drop_table("assignments")
