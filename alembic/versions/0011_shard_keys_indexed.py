"""shards.keys_indexed: which shards have their rows in the record key index

Impact by URL or record id says how many v2 shards predate the index (their records cannot be
found through it). Counting them with a NOT EXISTS probe per shard cost 0.3 s at 100k shards and
grows with the shard count; a flag with an index makes it one index range.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "shards",
        sa.Column("keys_indexed", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.execute(
        "UPDATE shards SET keys_indexed = TRUE WHERE EXISTS "
        "(SELECT 1 FROM shard_record_keys k WHERE k.shard_id = shards.id)"
    )
    op.create_index("ix_shards_keys_indexed", "shards", ["format", "keys_indexed"])


def downgrade() -> None:
    op.drop_index("ix_shards_keys_indexed", table_name="shards")
    with op.batch_alter_table("shards") as batch:
        batch.drop_column("keys_indexed")
