"""takedown: the record key index (hashed URLs and record ids per shard)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 07:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shard_record_keys",
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.Column("shard_id", sa.String(length=64), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("kind IN ('url', 'record')", name=op.f("ck_shard_record_keys_kind")),
        sa.ForeignKeyConstraint(
            ["shard_id"], ["shards.id"], name=op.f("fk_shard_record_keys_shard_id_shards")
        ),
        sa.PrimaryKeyConstraint("kind", "key", "shard_id", name=op.f("pk_shard_record_keys")),
    )
    op.create_index("ix_shard_record_keys_shard", "shard_record_keys", ["shard_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_shard_record_keys_shard", table_name="shard_record_keys")
    op.drop_table("shard_record_keys")
