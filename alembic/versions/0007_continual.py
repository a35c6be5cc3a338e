"""continual: followers, increments (delta and replay shards), held-out eval shards

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 06:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "continual_followers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("dataset", sa.String(length=200), nullable=False),
        sa.Column("dataset_version", sa.String(length=50), nullable=False),
        sa.Column("origin_run_id", sa.String(length=32), nullable=False),
        sa.Column("origin_weights", sa.String(length=64), nullable=False),
        sa.Column("replay", sa.String(length=64), nullable=False),
        sa.Column("eval_fraction", sa.String(length=64), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["origin_run_id"],
            ["training_runs.id"],
            name=op.f("fk_continual_followers_origin_run_id_training_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_continual_followers")),
        sa.UniqueConstraint(
            "dataset",
            "dataset_version",
            "origin_weights",
            "replay",
            "eval_fraction",
            "seed",
            name=op.f("uq_continual_followers_dataset"),
        ),
    )
    op.create_table(
        "continual_increments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("follower_id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("manifest_hash", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("delta_shards", sa.BigInteger(), nullable=False),
        sa.Column("delta_tokens", sa.BigInteger(), nullable=False),
        sa.Column("replay_shards", sa.BigInteger(), nullable=False),
        sa.Column("replay_tokens", sa.BigInteger(), nullable=False),
        sa.Column("drift", sa.Text(), nullable=True),
        sa.Column("growth", sa.Text(), nullable=True),
        sa.Column("eval_losses", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["follower_id"],
            ["continual_followers.id"],
            name=op.f("fk_continual_increments_follower_id_continual_followers"),
        ),
        sa.ForeignKeyConstraint(
            ["manifest_hash"],
            ["manifests.hash"],
            name=op.f("fk_continual_increments_manifest_hash_manifests"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["training_runs.id"],
            name=op.f("fk_continual_increments_run_id_training_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_continual_increments")),
        sa.UniqueConstraint(
            "follower_id", "number", name=op.f("uq_continual_increments_follower_id")
        ),
    )
    op.create_table(
        "continual_increment_shards",
        sa.Column("increment_id", sa.Integer(), nullable=False),
        sa.Column("shard_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["increment_id"],
            ["continual_increments.id"],
            name=op.f("fk_continual_increment_shards_increment_id_continual_increments"),
        ),
        sa.ForeignKeyConstraint(
            ["shard_id"],
            ["shards.id"],
            name=op.f("fk_continual_increment_shards_shard_id_shards"),
        ),
        sa.PrimaryKeyConstraint(
            "increment_id", "shard_id", name=op.f("pk_continual_increment_shards")
        ),
    )
    op.create_table(
        "manifest_eval_shards",
        sa.Column("manifest_hash", sa.String(length=64), nullable=False),
        sa.Column("shard_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["manifest_hash"],
            ["manifests.hash"],
            name=op.f("fk_manifest_eval_shards_manifest_hash_manifests"),
        ),
        sa.ForeignKeyConstraint(
            ["shard_id"], ["shards.id"], name=op.f("fk_manifest_eval_shards_shard_id_shards")
        ),
        sa.PrimaryKeyConstraint("manifest_hash", "shard_id", name=op.f("pk_manifest_eval_shards")),
    )


def downgrade() -> None:
    op.drop_table("manifest_eval_shards")
    op.drop_table("continual_increment_shards")
    op.drop_table("continual_increments")
    op.drop_table("continual_followers")
