"""takedown: the record key index (hashed URLs and record ids per shard), takedowns, the
shards each one revoked and replaced, manifests rebased after a takedown

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
    op.create_table(
        "takedowns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("selector", sa.String(length=2100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedowns")),
    )
    op.create_table(
        "takedown_shards",
        sa.Column("takedown_id", sa.Integer(), nullable=False),
        sa.Column("shard_id", sa.String(length=64), nullable=False),
        sa.Column("replacement_id", sa.String(length=64), nullable=True),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["takedown_id"], ["takedowns.id"], name=op.f("fk_takedown_shards_takedown_id_takedowns")
        ),
        sa.ForeignKeyConstraint(
            ["shard_id"], ["shards.id"], name=op.f("fk_takedown_shards_shard_id_shards")
        ),
        sa.ForeignKeyConstraint(
            ["replacement_id"], ["shards.id"], name=op.f("fk_takedown_shards_replacement_id_shards")
        ),
        sa.PrimaryKeyConstraint("takedown_id", "shard_id", name=op.f("pk_takedown_shards")),
    )
    op.create_index("ix_takedown_shards_shard", "takedown_shards", ["shard_id"], unique=False)
    op.create_table(
        "manifest_rebases",
        sa.Column("manifest_hash", sa.String(length=64), nullable=False),
        sa.Column("rebased_from", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["manifest_hash"],
            ["manifests.hash"],
            name=op.f("fk_manifest_rebases_manifest_hash_manifests"),
        ),
        sa.ForeignKeyConstraint(
            ["rebased_from"],
            ["manifests.hash"],
            name=op.f("fk_manifest_rebases_rebased_from_manifests"),
        ),
        sa.PrimaryKeyConstraint("manifest_hash", name=op.f("pk_manifest_rebases")),
    )
    op.create_index("ix_manifest_rebases_from", "manifest_rebases", ["rebased_from"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_manifest_rebases_from", table_name="manifest_rebases")
    op.drop_table("manifest_rebases")
    op.drop_index("ix_takedown_shards_shard", table_name="takedown_shards")
    op.drop_table("takedown_shards")
    op.drop_table("takedowns")
    op.drop_index("ix_shard_record_keys_shard", table_name="shard_record_keys")
    op.drop_table("shard_record_keys")
