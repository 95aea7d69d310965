"""Span ids are never reused (SQLite ``AUTOINCREMENT``, as PostgreSQL sequences already do).

Without it SQLite gives a new row the largest id + 1, so when a pre-label run replaces the
newest proposals their ids come back on the new proposals, and an edit aimed at a proposal a
person saw (by id) would land on a different span. The table is rebuilt once (its rows, ids,
CHECK constraints and indexes kept as they are at revision 0004).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _spans(autoincrement: bool) -> sa.Table:
    """The spans table as of revision 0004 (frozen here, not imported from db.tables)."""
    return sa.Table(
        "spans", sa.MetaData(),
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
        sa.Index("ix_spans_doc_pos", "doc_id", "start", "end"),
        sa.Index("ix_spans_source_status", "source", "status"),
        sa.Index("ix_spans_label", "label"),
        sa.Index("ix_spans_doc_source_status", "doc_id", "source", "status"),
        sqlite_autoincrement=autoincrement,
    )


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # other databases never reuse sequence values
    with op.batch_alter_table("spans", recreate="always", copy_from=_spans(autoincrement),
                              table_kwargs={"sqlite_autoincrement": autoincrement}):
        pass


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
