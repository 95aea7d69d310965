"""Indexes for the review desk on large projects (100k documents).

* ``ix_documents_list`` covers the document list query (``db.gui_queries.document_rows``:
  id, name, review status, length, density of one project in id order), so SQLite answers
  it from the index without reading the pages that hold the documents' text (and without
  a temporary B-tree for the ORDER BY).
* ``ix_spans_doc_source_status`` covers span counts per source (``span_counts``) for a set
  of documents: the GROUP BY reads the index only.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_documents_list", "documents",
                    ["project_id", "id", "name", "review_status", "length", "density"])
    op.create_index("ix_spans_doc_source_status", "spans", ["doc_id", "source", "status"])


def downgrade() -> None:
    op.drop_index("ix_spans_doc_source_status", table_name="spans")
    op.drop_index("ix_documents_list", table_name="documents")
