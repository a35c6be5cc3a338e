"""record provenance: per-shard domain, author and record-licence sums, record date span,
the source's crawler

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 06:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _sums(name: str, key: str, length: int, with_bytes: bool) -> None:
    columns = [
        sa.Column("shard_id", sa.String(length=64), nullable=False),
        sa.Column(key, sa.String(length=length), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
    ]
    if with_bytes:
        columns.append(sa.Column("bytes", sa.BigInteger(), nullable=False))
    columns.append(sa.Column("tokens", sa.BigInteger(), nullable=False))
    op.create_table(
        name,
        *columns,
        sa.ForeignKeyConstraint(
            ["shard_id"], ["shards.id"], name=op.f(f"fk_{name}_shard_id_shards")
        ),
        sa.PrimaryKeyConstraint("shard_id", key, name=op.f(f"pk_{name}")),
    )


def upgrade() -> None:
    op.add_column("sources", sa.Column("crawler", sa.String(length=200), nullable=True))
    op.add_column("shards", sa.Column("records_from", sa.Date(), nullable=True))
    op.add_column("shards", sa.Column("records_to", sa.Date(), nullable=True))
    _sums("shard_domains", "domain", 255, True)
    op.create_index("ix_shard_domains_domain", "shard_domains", ["domain"], unique=False)
    _sums("shard_authors", "author", 200, False)
    _sums("shard_record_licences", "licence", 1000, False)


def downgrade() -> None:
    op.drop_table("shard_record_licences")
    op.drop_table("shard_authors")
    op.drop_index("ix_shard_domains_domain", table_name="shard_domains")
    op.drop_table("shard_domains")
    op.drop_column("shards", "records_to")
    op.drop_column("shards", "records_from")
    op.drop_column("sources", "crawler")
