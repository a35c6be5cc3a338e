"""training runs record their trainer's host and pid (issue 19, defect 12)

A resume on the same host may then check that pid instead of waiting for the heartbeat to go
stale. Both columns are nullable: runs opened before, or over the web API, have none.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 04:27:45.083801
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ADD COLUMN on both databases (no table copy on SQLite)
    op.add_column("training_runs", sa.Column("host", sa.String(length=300), nullable=True))
    op.add_column("training_runs", sa.Column("pid", sa.Integer(), nullable=True))


def downgrade() -> None:
    # DROP COLUMN: SQLite 3.35+ does it in place, so the tables that reference runs stay
    op.drop_column("training_runs", "pid")
    op.drop_column("training_runs", "host")
