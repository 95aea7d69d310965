"""Span sources come from a registry, not from a list in the database: a pre-labeling
backend (the tool's own or a plugin's, ``annotator.model.register_source``) needs no
migration. The CHECK constraint ``ck_spans_source`` is dropped; the source is validated
where spans are made (``annotator.model.Span``). SQLite rebuilds the table once (ids,
AUTOINCREMENT, the other CHECK constraints and the indexes kept as they are).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
SOURCE_CHECK = ("source IN ('human','import','gliner2','transformers','lexicon',"
                "'llm_pass1','llm_pass2')")


def _spans(with_source_check: bool) -> sa.Table:
    """The spans table as of revision 0008 (frozen here, not imported from db.tables)."""
    checks = [sa.CheckConstraint('start >= 0 AND start < "end"', name="ck_spans_offsets"),
              sa.CheckConstraint("status IN ('proposed','accepted','rejected')",
                                 name="ck_spans_status")]
    if with_source_check:
        checks.append(sa.CheckConstraint(SOURCE_CHECK, name="ck_spans_source"))
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
        *checks,
        sa.Index("ix_spans_doc_pos", "doc_id", "start", "end"),
        sa.Index("ix_spans_source_status", "source", "status"),
        sa.Index("ix_spans_label", "label"),
        sa.Index("ix_spans_doc_source_status", "doc_id", "source", "status"),
        sqlite_autoincrement=True,
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("spans", recreate="always", copy_from=_spans(False),
                                  table_kwargs={"sqlite_autoincrement": True}):
            pass
    else:
        op.drop_constraint("ck_spans_source", "spans", type_="check")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("spans", recreate="always", copy_from=_spans(True),
                                  table_kwargs={"sqlite_autoincrement": True}):
            pass
    else:
        op.create_check_constraint("ck_spans_source", "spans", SOURCE_CHECK)
