"""Settlement without the shard lookups: each consumption row carries its shard's source and
size, enforced by a foreign key; shard_authors clustered by shard on SQLite

Settling a run summed its consumption per source and per author by joining each consumption
row to its shard (source, tokens, records): a million lookups by a 64-character key, twice.
A shard is content-addressed and never changes, so its source and size can be copied onto the
consumption row, and a composite foreign key to ``shards (id, source_id, tokens, records)``
(the unique index ``ix_shards_sizes``) makes the copy impossible to get wrong. The per-source
sums read one covering index (``ix_consumption_run_cover``, now with the copies), and the
per-author sums join consumption to ``shard_authors`` alone, in shard order, which on SQLite
becomes a ``WITHOUT ROWID`` table (its rows live in its primary key: one B-tree descent a
shard). Figures in ``docs/ledger.md``.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 18:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FK = "fk_consumption_shard_id_shards"
_SIZES = ("source_id", "shard_tokens", "shard_records")
_COVER = ["run_id", "shard_id", "tokens", "records"]
_COVER_WITH_SIZES = [*_COVER, "source_id", "shard_tokens", "shard_records"]

_SHARD_AUTHORS = (
    "CREATE TABLE {name} (shard_id VARCHAR(64) NOT NULL, author VARCHAR(200) NOT NULL, "
    "records BIGINT NOT NULL, tokens BIGINT NOT NULL, "
    "CONSTRAINT pk_shard_authors PRIMARY KEY (shard_id, author), "
    "CONSTRAINT fk_shard_authors_shard_id_shards FOREIGN KEY(shard_id) REFERENCES shards (id))"
    "{options}"
)

_CONSUMPTION = (
    "CREATE TABLE consumption_new (run_id VARCHAR(32) NOT NULL, shard_id VARCHAR(64) NOT NULL, "
    "tokens BIGINT NOT NULL, records BIGINT NOT NULL, updated_at DATETIME NOT NULL, {sizes}"
    "CONSTRAINT pk_consumption PRIMARY KEY (run_id, shard_id), "
    "CONSTRAINT fk_consumption_run_id_training_runs FOREIGN KEY(run_id) "
    "REFERENCES training_runs (id), "
    "CONSTRAINT fk_consumption_shard_id_shards FOREIGN KEY({fk}) REFERENCES shards ({ref}))"
)
_NEW_SIZES = (
    "source_id INTEGER NOT NULL, shard_tokens BIGINT NOT NULL, shard_records BIGINT NOT NULL, "
)


def _rebuild_shard_authors(options: str) -> None:
    """SQLite cannot change a table's storage in place: a copy under the same name."""
    op.execute(_SHARD_AUTHORS.format(name="shard_authors_new", options=options))
    op.execute(
        "INSERT INTO shard_authors_new (shard_id, author, records, tokens) "
        "SELECT shard_id, author, records, tokens FROM shard_authors"
    )
    op.execute("DROP TABLE shard_authors")
    op.execute("ALTER TABLE shard_authors_new RENAME TO shard_authors")


def _rebuild_consumption(with_sizes: bool) -> None:
    """SQLite cannot add a foreign key to a table: a copy under the same name, its indexes
    made again."""
    if with_sizes:
        ddl = _CONSUMPTION.format(
            sizes=_NEW_SIZES,
            fk="shard_id, source_id, shard_tokens, shard_records",
            ref="id, source_id, tokens, records",
        )
        copy = (
            "INSERT INTO consumption_new (run_id, shard_id, tokens, records, updated_at, "
            "source_id, shard_tokens, shard_records) SELECT c.run_id, c.shard_id, c.tokens, "
            "c.records, c.updated_at, s.source_id, s.tokens, s.records FROM consumption c "
            "JOIN shards s ON s.id = c.shard_id"
        )
    else:
        ddl = _CONSUMPTION.format(sizes="", fk="shard_id", ref="id")
        copy = (
            "INSERT INTO consumption_new (run_id, shard_id, tokens, records, updated_at) "
            "SELECT run_id, shard_id, tokens, records, updated_at FROM consumption"
        )
    op.execute(ddl)
    op.execute(copy)
    op.execute("DROP TABLE consumption")
    op.execute("ALTER TABLE consumption_new RENAME TO consumption")
    op.create_index("ix_consumption_shard", "consumption", ["shard_id"])
    cover = _COVER_WITH_SIZES if with_sizes else _COVER
    op.create_index("ix_consumption_run_cover", "consumption", cover)


def upgrade() -> None:
    op.create_index(
        "ix_shards_sizes", "shards", ["id", "source_id", "tokens", "records"], unique=True
    )
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_shard_authors(" WITHOUT ROWID")
        _rebuild_consumption(with_sizes=True)
    else:
        op.add_column("consumption", sa.Column("source_id", sa.Integer(), nullable=True))
        op.add_column("consumption", sa.Column("shard_tokens", sa.BigInteger(), nullable=True))
        op.add_column("consumption", sa.Column("shard_records", sa.BigInteger(), nullable=True))
        op.execute(
            "UPDATE consumption SET source_id = s.source_id, shard_tokens = s.tokens, "
            "shard_records = s.records FROM shards s WHERE s.id = consumption.shard_id"
        )
        for column in _SIZES:
            op.alter_column("consumption", column, nullable=False)
        op.drop_constraint(_FK, "consumption", type_="foreignkey")
        op.create_foreign_key(
            _FK,
            "consumption",
            "shards",
            ["shard_id", *_SIZES],
            ["id", "source_id", "tokens", "records"],
        )
        op.drop_index("ix_consumption_run_cover", table_name="consumption")
        op.create_index("ix_consumption_run_cover", "consumption", _COVER_WITH_SIZES)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_consumption(with_sizes=False)
        _rebuild_shard_authors("")
    else:
        op.drop_index("ix_consumption_run_cover", table_name="consumption")
        op.create_index("ix_consumption_run_cover", "consumption", _COVER)
        op.drop_constraint(_FK, "consumption", type_="foreignkey")
        op.create_foreign_key(_FK, "consumption", "shards", ["shard_id"], ["id"])
        for column in reversed(_SIZES):
            op.drop_column("consumption", column)
    op.drop_index("ix_shards_sizes", table_name="shards")
