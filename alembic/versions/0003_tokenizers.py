"""tokenizers: trained tokenizer files, content-addressed, with the manifest they came from

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 03:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tokenizers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("vocab_size", sa.Integer(), nullable=False),
        sa.Column("manifest_hash", sa.String(length=64), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("store_uri", sa.String(length=2000), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["manifest_hash"],
            ["manifests.hash"],
            name=op.f("fk_tokenizers_manifest_hash_manifests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tokenizers")),
    )
    op.create_index("ix_tokenizers_manifest", "tokenizers", ["manifest_hash"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_tokenizers_manifest", table_name="tokenizers")
    op.drop_table("tokenizers")
