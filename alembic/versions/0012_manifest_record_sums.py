"""Frozen record figures per manifest: domain sums, record-licence sums, a summary row

A manifest's shards and their per-domain, per-licence and per-author rows never change, so the
record figures a disclosure shows are summed once, at creation (``registry.disclosure.frozen``),
instead of joining every (shard, domain) row at each disclosure. This revision creates the
tables and freezes every manifest that already exists, with the same statements.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen with the manifest, as its rows are: the database refuses UPDATE and DELETE (0001's
# triggers; registry.db.models.APPEND_ONLY_TABLES lists them all, checked by a test).
APPEND_ONLY_TABLES = (
    "manifest_domain_sums",
    "manifest_record_licence_sums",
    "manifest_record_summaries",
)

# The statements as this revision ran them (registry.disclosure.frozen may change later).
_V2 = "provreg-shard-v2"
_BACKFILL = (
    "INSERT INTO manifest_domain_sums (manifest_hash, domain, records, bytes, tokens) "
    "SELECT m.manifest_hash, d.domain, sum(d.records), sum(d.bytes), sum(d.tokens) "
    "FROM manifest_shards m JOIN shard_domains d ON d.shard_id = m.shard_id "
    "GROUP BY m.manifest_hash, d.domain",
    "INSERT INTO manifest_record_licence_sums (manifest_hash, licence, records, tokens) "
    "SELECT m.manifest_hash, l.licence, sum(l.records), sum(l.tokens) "
    "FROM manifest_shards m JOIN shard_record_licences l ON l.shard_id = m.shard_id "
    "GROUP BY m.manifest_hash, l.licence",
    "INSERT INTO manifest_record_summaries "
    "(manifest_hash, profiled_shards, records_from, records_to, authors) "
    "SELECT m.manifest_hash, count(*), min(s.records_from), max(s.records_to), "
    "(SELECT count(DISTINCT a.author) FROM manifest_shards ma "
    " JOIN shard_authors a ON a.shard_id = ma.shard_id WHERE ma.manifest_hash = m.manifest_hash) "
    "FROM manifest_shards m JOIN shards s ON s.id = m.shard_id "
    f"WHERE s.format = '{_V2}' GROUP BY m.manifest_hash",
)


def _fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["manifest_hash"], ["manifests.hash"], name=op.f(f"fk_{table}_manifest_hash_manifests")
    )


def upgrade() -> None:
    op.create_table(
        "manifest_domain_sums",
        sa.Column("manifest_hash", sa.String(length=64), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        _fk("manifest_domain_sums"),
        sa.PrimaryKeyConstraint("manifest_hash", "domain", name=op.f("pk_manifest_domain_sums")),
    )
    op.create_table(
        "manifest_record_licence_sums",
        sa.Column("manifest_hash", sa.String(length=64), nullable=False),
        sa.Column("licence", sa.String(length=1000), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        _fk("manifest_record_licence_sums"),
        sa.PrimaryKeyConstraint(
            "manifest_hash", "licence", name=op.f("pk_manifest_record_licence_sums")
        ),
    )
    op.create_table(
        "manifest_record_summaries",
        sa.Column("manifest_hash", sa.String(length=64), nullable=False),
        sa.Column("profiled_shards", sa.BigInteger(), nullable=False),
        sa.Column("records_from", sa.Date(), nullable=True),
        sa.Column("records_to", sa.Date(), nullable=True),
        sa.Column("authors", sa.BigInteger(), nullable=False),
        _fk("manifest_record_summaries"),
        sa.PrimaryKeyConstraint("manifest_hash", name=op.f("pk_manifest_record_summaries")),
    )
    for statement in _BACKFILL:
        op.execute(statement)
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in APPEND_ONLY_TABLES:
        if postgres:  # provreg_refuse_change() is 0001's
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION provreg_refuse_change()"
            )
            continue
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'provreg: {verb} on {table} refused: "
                "the table is append-only'); END"
            )


def downgrade() -> None:
    # dropping a table drops its triggers
    op.drop_table("manifest_record_summaries")
    op.drop_table("manifest_record_licence_sums")
    op.drop_table("manifest_domain_sums")
