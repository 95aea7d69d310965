"""Which process runs a batch job: ``runs.pid``, ``runs.host`` and ``runs.pid_started`` (the
process's start time as the OS reports it, so that a reused process id is told apart). A
``running`` run whose process is gone (killed, crashed, power cut) is reported as
``interrupted`` and marked so by the next run; the job's finished documents stay done.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("pid", sa.Integer, nullable=True))
        batch.add_column(sa.Column("host", sa.String(255), nullable=True))
        batch.add_column(sa.Column("pid_started", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("pid_started")
        batch.drop_column("host")
        batch.drop_column("pid")
