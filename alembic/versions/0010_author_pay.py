"""author pay: sources.pay_authors, contributor kind author, source authors -> contributors,
per-(run, source, author) consumption derived at settlement

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 08:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KINDS_OLD = "kind IN ('person', 'organisation')"
_KINDS_NEW = "kind IN ('person', 'organisation', 'author')"


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("pay_authors", sa.String(length=64), nullable=True))
    with op.batch_alter_table("contributors") as batch:
        batch.drop_constraint(op.f("ck_contributors_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_contributors_kind"), _KINDS_NEW)
    op.create_table(
        "source_authors",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("contributor_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_source_authors_source_id_sources")
        ),
        sa.ForeignKeyConstraint(
            ["contributor_id"],
            ["contributors.id"],
            name=op.f("fk_source_authors_contributor_id_contributors"),
        ),
        sa.PrimaryKeyConstraint("source_id", "author", name=op.f("pk_source_authors")),
    )
    op.create_index(
        "ix_source_authors_contributor", "source_authors", ["contributor_id"], unique=False
    )
    op.create_table(
        "author_consumption",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["training_runs.id"],
            name=op.f("fk_author_consumption_run_id_training_runs"),
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_author_consumption_source_id_sources")
        ),
        sa.PrimaryKeyConstraint(
            "run_id", "source_id", "author", name=op.f("pk_author_consumption")
        ),
    )


def downgrade() -> None:
    op.drop_table("author_consumption")
    op.drop_index("ix_source_authors_contributor", table_name="source_authors")
    op.drop_table("source_authors")
    op.execute("DELETE FROM contributors WHERE kind = 'author'")
    with op.batch_alter_table("contributors") as batch:
        batch.drop_constraint(op.f("ck_contributors_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_contributors_kind"), _KINDS_OLD)
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("pay_authors")
