"""signals: opt-out signal observations (append-only evidence), their later readings, and the
observations each shard's ingest applied

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 06:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
APPEND_ONLY = ("signal_observations", "signal_parses")


def upgrade() -> None:
    op.create_table(
        "signal_observations",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("origin", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("url_path", sa.String(length=2000), nullable=True),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("parsed", sa.Text(), nullable=False),
        sa.Column("vocabulary", sa.String(length=60), nullable=False),
        sa.Column("via", sa.String(length=40), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('robots.txt', 'tdmrep.json', 'http-header', 'html')",
            name=op.f("ck_signal_observations_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signal_observations")),
    )
    op.create_index(
        "ix_signal_observations_origin", "signal_observations", ["origin", "observed_at"]
    )
    op.create_table(
        "signal_parses",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("observation_id", BigId, nullable=False),
        sa.Column("vocabulary", sa.String(length=60), nullable=False),
        sa.Column("parsed", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["observation_id"],
            ["signal_observations.id"],
            name=op.f("fk_signal_parses_observation_id_signal_observations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signal_parses")),
    )
    op.create_index("ix_signal_parses_observation", "signal_parses", ["observation_id"])
    op.create_table(
        "shard_signal_observations",
        sa.Column("shard_id", sa.String(length=64), nullable=False),
        sa.Column("observation_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["shard_id"], ["shards.id"], name=op.f("fk_shard_signal_observations_shard_id_shards")
        ),
        sa.ForeignKeyConstraint(
            ["observation_id"],
            ["signal_observations.id"],
            name=op.f("fk_shard_signal_observations_observation_id_signal_observations"),
        ),
        sa.PrimaryKeyConstraint(
            "shard_id", "observation_id", name=op.f("pk_shard_signal_observations")
        ),
    )
    op.create_index(
        "ix_shard_signal_observations_observation",
        "shard_signal_observations",
        ["observation_id"],
    )
    op.create_table(
        "signal_exclusions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.String(length=250), nullable=False),
        sa.Column("origin", sa.String(length=300), nullable=False),
        sa.Column("signal", sa.String(length=40), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("crawler", sa.String(length=200), nullable=False),
        sa.Column("judged_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_signal_exclusions_source_id_sources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signal_exclusions")),
    )
    op.create_index("ix_signal_exclusions_source", "signal_exclusions", ["source_id"])
    _append_only()


def _append_only() -> None:
    """Evidence is never edited: the database refuses UPDATE and DELETE (``0001``'s function)."""
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION provreg_refuse_change()"
            )
        return
    for table in APPEND_ONLY:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'provreg: {verb} on {table} refused: "
                "the table is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
    else:
        for table in APPEND_ONLY:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER {table}_no_{verb}")
    op.drop_index("ix_signal_exclusions_source", table_name="signal_exclusions")
    op.drop_table("signal_exclusions")
    op.drop_index(
        "ix_shard_signal_observations_observation", table_name="shard_signal_observations"
    )
    op.drop_table("shard_signal_observations")
    op.drop_index("ix_signal_parses_observation", table_name="signal_parses")
    op.drop_table("signal_parses")
    op.drop_index("ix_signal_observations_origin", table_name="signal_observations")
    op.drop_table("signal_observations")
