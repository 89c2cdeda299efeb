"""cached server checks; run indexes for the overview

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 20:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("servers") as batch:
        batch.add_column(sa.Column("last_check", sa.JSON(), nullable=True))
    # The overview reads each job's newest run and newest success: two index seeks a job.
    op.create_index("ix_runs_job_started", "runs", ["job_id", "started"])
    op.create_index("ix_runs_job_state_started", "runs", ["job_id", "state", "started"])


def downgrade() -> None:
    op.drop_index("ix_runs_job_state_started", table_name="runs")
    op.drop_index("ix_runs_job_started", table_name="runs")
    with op.batch_alter_table("servers") as batch:
        batch.drop_column("last_check")
