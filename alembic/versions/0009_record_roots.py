"""record roots: each v2 shard's Merkle root over its record ids (manifest format /2 leaves)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 07:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("shards", sa.Column("record_root", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("shards", "record_root")
