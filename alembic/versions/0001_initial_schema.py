"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 05:37:24.235619
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Frozen tables: kept in sync with registry.models.APPEND_ONLY_TABLES by a test.
APPEND_ONLY_TABLES = ("manifests", "manifest_shards", "ledger_entries", "disclosures")


revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("object_kind", sa.String(length=50), nullable=False),
        sa.Column("object_id", sa.String(length=200), nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_log_hash")),
    )
    op.create_table(
        "contributors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("contact", sa.String(length=300), nullable=True),
        sa.Column("payout_ref", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('person', 'organisation')", name=op.f("ck_contributors_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contributors")),
        sa.UniqueConstraint("name", name=op.f("uq_contributors_name")),
    )
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=50), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasets")),
        sa.UniqueConstraint("name", "version", name="uq_datasets_name_version"),
    )
    op.create_table(
        "disclosures",
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("subject_kind", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("format", sa.String(length=20), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("hash", name=op.f("pk_disclosures")),
    )
    op.create_index("ix_disclosures_subject", "disclosures", ["subject"], unique=False)

    op.create_table(
        "licences",
        sa.Column("spdx_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("family", sa.String(length=40), nullable=False),
        sa.Column("commercial_use", sa.Boolean(), nullable=False),
        sa.Column("derivatives", sa.Boolean(), nullable=False),
        sa.Column("attribution", sa.Boolean(), nullable=False),
        sa.Column("share_alike", sa.Boolean(), nullable=False),
        sa.Column("non_commercial", sa.Boolean(), nullable=False),
        sa.Column("no_ai_training", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("spdx_id", name=op.f("pk_licences")),
    )
    op.create_table(
        "manifests",
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("intended_use", sa.String(length=40), nullable=False),
        sa.Column("parent_hash", sa.String(length=64), nullable=True),
        sa.Column("merkle_root", sa.String(length=64), nullable=False),
        sa.Column("shard_count", sa.BigInteger(), nullable=False),
        sa.Column("total_bytes", sa.BigInteger(), nullable=False),
        sa.Column("total_records", sa.BigInteger(), nullable=False),
        sa.Column("total_tokens", sa.BigInteger(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_hash"], ["manifests.hash"], name=op.f("fk_manifests_parent_hash_manifests")
        ),
        sa.PrimaryKeyConstraint("hash", name=op.f("pk_manifests")),
        sa.UniqueConstraint("name", name=op.f("uq_manifests_name")),
    )
    op.create_index("ix_manifests_parent", "manifests", ["parent_hash"], unique=False)

    op.create_table(
        "sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("uri", sa.String(length=2000), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("licence_expression", sa.String(length=1000), nullable=False),
        sa.Column("collected_from", sa.Date(), nullable=True),
        sa.Column("collected_to", sa.Date(), nullable=True),
        sa.Column("jurisdiction", sa.String(length=100), nullable=True),
        sa.Column("tdm_checked", sa.Boolean(), nullable=False),
        sa.Column("tdm_respected", sa.Boolean(), nullable=False),
        sa.Column("pii", sa.Boolean(), nullable=False),
        sa.Column("pii_measures", sa.Text(), nullable=True),
        sa.Column("consent_status", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("revoked_reason", sa.Text(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "consent_status IN ('not-required', 'consented', 'opted-out', 'unknown')",
            name=op.f("ck_sources_consent_status"),
        ),
        sa.CheckConstraint(
            "kind IN ('web-crawl', 'public-dataset', 'licensed', 'user-contributed', 'synthetic', 'proprietary')",
            name=op.f("ck_sources_kind"),
        ),
        sa.CheckConstraint("status IN ('active', 'revoked')", name=op.f("ck_sources_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sources")),
        sa.UniqueConstraint("name", name=op.f("uq_sources_name")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("contributor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('admin', 'curator', 'trainer', 'reader', 'contributor')",
            name=op.f("ck_api_tokens_role"),
        ),
        sa.ForeignKeyConstraint(
            ["contributor_id"],
            ["contributors.id"],
            name=op.f("fk_api_tokens_contributor_id_contributors"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_api_tokens_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "compensation_terms",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=10), nullable=False),
        sa.Column("amount", sa.String(length=64), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.CheckConstraint(
            "model IN ('per-mtok', 'flat', 'pool', 'none')",
            name=op.f("ck_compensation_terms_model"),
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_compensation_terms_source_id_sources")
        ),
        sa.PrimaryKeyConstraint("source_id", name=op.f("pk_compensation_terms")),
    )
    op.create_table(
        "pools",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("manifest_hash", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["manifest_hash"], ["manifests.hash"], name=op.f("fk_pools_manifest_hash_manifests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pools")),
    )
    op.create_table(
        "shards",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.Column("format", sa.String(length=40), nullable=False),
        sa.Column("store_uri", sa.String(length=2000), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("revoked_reason", sa.Text(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('active', 'revoked')", name=op.f("ck_shards_status")),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_shards_source_id_sources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shards")),
    )
    op.create_index("ix_shards_source", "shards", ["source_id"], unique=False)

    op.create_table(
        "source_contributors",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("contributor_id", sa.Integer(), nullable=False),
        sa.Column("share", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["contributor_id"],
            ["contributors.id"],
            name=op.f("fk_source_contributors_contributor_id_contributors"),
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_source_contributors_source_id_sources")
        ),
        sa.PrimaryKeyConstraint("source_id", "contributor_id", name=op.f("pk_source_contributors")),
    )
    op.create_index(
        "ix_source_contributors_contributor",
        "source_contributors",
        ["contributor_id"],
        unique=False,
    )

    op.create_table(
        "training_runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("manifest_hash", sa.String(length=64), nullable=False),
        sa.Column("parent_run_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("tokenizer", sa.String(length=100), nullable=False),
        sa.Column("code_version", sa.String(length=100), nullable=False),
        sa.Column("steps_done", sa.BigInteger(), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("checkpoint_path", sa.String(length=2000), nullable=True),
        sa.Column("loss_summary", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'completed', 'failed', 'interrupted')",
            name=op.f("ck_training_runs_status"),
        ),
        sa.ForeignKeyConstraint(
            ["manifest_hash"],
            ["manifests.hash"],
            name=op.f("fk_training_runs_manifest_hash_manifests"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_run_id"],
            ["training_runs.id"],
            name=op.f("fk_training_runs_parent_run_id_training_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_runs")),
    )
    op.create_index("ix_training_runs_manifest", "training_runs", ["manifest_hash"], unique=False)

    op.create_table(
        "consumption",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("shard_id", sa.String(length=64), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["training_runs.id"], name=op.f("fk_consumption_run_id_training_runs")
        ),
        sa.ForeignKeyConstraint(
            ["shard_id"], ["shards.id"], name=op.f("fk_consumption_shard_id_shards")
        ),
        sa.PrimaryKeyConstraint("run_id", "shard_id", name=op.f("pk_consumption")),
    )
    op.create_index("ix_consumption_shard", "consumption", ["shard_id"], unique=False)
    op.create_index(
        "ix_consumption_run_cover",
        "consumption",
        ["run_id", "shard_id", "tokens", "records"],
        unique=False,
    )

    op.create_table(
        "dataset_shards",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("shard_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_dataset_shards_dataset_id_datasets")
        ),
        sa.ForeignKeyConstraint(
            ["shard_id"], ["shards.id"], name=op.f("fk_dataset_shards_shard_id_shards")
        ),
        sa.PrimaryKeyConstraint("dataset_id", "shard_id", name=op.f("pk_dataset_shards")),
    )
    op.create_index("ix_dataset_shards_shard", "dataset_shards", ["shard_id"], unique=False)

    op.create_table(
        "ledger_entries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("pool_id", sa.Integer(), nullable=True),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("contributor_id", sa.Integer(), nullable=False),
        sa.Column("terms_model", sa.String(length=10), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column(
            "reverses_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('charge', 'reversal')", name=op.f("ck_ledger_entries_kind")),
        sa.ForeignKeyConstraint(
            ["contributor_id"],
            ["contributors.id"],
            name=op.f("fk_ledger_entries_contributor_id_contributors"),
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"], ["pools.id"], name=op.f("fk_ledger_entries_pool_id_pools")
        ),
        sa.ForeignKeyConstraint(
            ["reverses_id"],
            ["ledger_entries.id"],
            name=op.f("fk_ledger_entries_reverses_id_ledger_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["training_runs.id"], name=op.f("fk_ledger_entries_run_id_training_runs")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_ledger_entries_source_id_sources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("key", name=op.f("uq_ledger_entries_key")),
    )
    op.create_index(
        "ix_ledger_entries_contributor_created",
        "ledger_entries",
        ["contributor_id", "created_at"],
        unique=False,
    )
    op.create_index("ix_ledger_entries_run", "ledger_entries", ["run_id"], unique=False)

    op.create_table(
        "manifest_shards",
        sa.Column("manifest_hash", sa.String(length=64), nullable=False),
        sa.Column("shard_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["manifest_hash"],
            ["manifests.hash"],
            name=op.f("fk_manifest_shards_manifest_hash_manifests"),
        ),
        sa.ForeignKeyConstraint(
            ["shard_id"], ["shards.id"], name=op.f("fk_manifest_shards_shard_id_shards")
        ),
        sa.PrimaryKeyConstraint("manifest_hash", "shard_id", name=op.f("pk_manifest_shards")),
    )
    op.create_index("ix_manifest_shards_shard", "manifest_shards", ["shard_id"], unique=False)

    op.create_table(
        "weights",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("manifest_hash", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=2000), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["manifest_hash"], ["manifests.hash"], name=op.f("fk_weights_manifest_hash_manifests")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["training_runs.id"], name=op.f("fk_weights_run_id_training_runs")
        ),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_weights")),
    )
    op.create_index("ix_weights_run", "weights", ["run_id"], unique=False)
    _create_append_only_triggers()


def downgrade() -> None:
    _drop_append_only_triggers()
    op.drop_table("weights")
    op.drop_table("manifest_shards")
    op.drop_table("ledger_entries")
    op.drop_table("dataset_shards")
    op.drop_table("consumption")
    op.drop_table("training_runs")
    op.drop_table("source_contributors")
    op.drop_table("shards")
    op.drop_table("pools")
    op.drop_table("compensation_terms")
    op.drop_table("api_tokens")
    op.drop_table("sources")
    op.drop_table("manifests")
    op.drop_table("licences")
    op.drop_table("disclosures")
    op.drop_table("datasets")
    op.drop_table("contributors")
    op.drop_table("audit_log")


def _create_append_only_triggers() -> None:
    """The database itself refuses UPDATE and DELETE on frozen tables, whatever the client."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION provreg_refuse_change() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'provreg: % on % refused: the table is append-only', TG_OP, TG_TABLE_NAME
                    USING ERRCODE = 'restrict_violation';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        for table in APPEND_ONLY_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION provreg_refuse_change()"
            )
    else:
        for table in APPEND_ONLY_TABLES:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'provreg: {verb} on {table} refused: "
                    "the table is append-only'); END"
                )


def _drop_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY_TABLES:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        op.execute("DROP FUNCTION provreg_refuse_change()")
    else:
        for table in APPEND_ONLY_TABLES:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER {table}_no_{verb}")
