"""The initial migration creates exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from registry.db import migrate
from registry.db.models import APPEND_ONLY_TABLES, Base
from registry.errors import SchemaOutOfDate


def test_upgrade_matches_models_and_downgrade_empties(engine: Engine) -> None:
    assert migrate.current_revision(engine) == migrate.head_revision(engine)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []

    migrate.downgrade(engine, "base")
    tables = set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    assert tables == set()
    with pytest.raises(SchemaOutOfDate, match="provreg init"):
        migrate.ensure_at_head(engine)

    migrate.upgrade(engine)
    assert set(sa.inspect(engine).get_table_names()) >= set(Base.metadata.tables)


def test_migration_names_the_same_frozen_tables_as_the_models() -> None:
    from importlib import util

    spec = util.spec_from_file_location(
        "m0001", migrate.migrations_dir() / "versions" / "0001_initial_schema.py"
    )
    assert spec and spec.loader
    module = util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.APPEND_ONLY_TABLES == APPEND_ONLY_TABLES


@pytest.mark.parametrize("table", ["manifests", "ledger_entries"])
def test_database_refuses_updates_and_deletes_of_frozen_tables(engine: Engine, table: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO sources (name, uri, kind, licence_expression, tdm_checked, "
                "tdm_respected, pii, consent_status, status, created_at) VALUES "
                "('s', 'u', 'synthetic', 'MIT', false, false, false, 'unknown', 'active', "
                "CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO contributors (name, kind, created_at) VALUES ('c', 'person', CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO manifests (hash, name, intended_use, merkle_root, shard_count, "
                "total_bytes, total_records, total_tokens, document, created_at) VALUES "
                "(:h, 'm', 'research', :h, 0, 0, 0, 0, '{}', CURRENT_TIMESTAMP)"
            ),
            {"h": "a" * 64},
        )
        conn.execute(
            sa.text(
                "INSERT INTO ledger_entries (key, source_id, contributor_id, terms_model, currency, "
                "amount_minor, kind, created_at) VALUES ('k', 1, 1, 'flat', 'EUR', 5, 'charge', "
                "CURRENT_TIMESTAMP)"
            )
        )
    column = "name" if table == "manifests" else "note"
    for statement in (f"UPDATE {table} SET {column} = 'x'", f"DELETE FROM {table}"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text(statement))
    with engine.connect() as conn:
        assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() == 1


def test_0011_flags_the_shards_already_in_the_record_key_index(engine: Engine) -> None:
    migrate.downgrade(engine, "0010")
    source = (
        "INSERT INTO sources (name, uri, kind, licence_expression, tdm_checked, tdm_respected, "
        "pii, consent_status, status, created_at) VALUES ('s', 'u', 'synthetic', 'MIT', false, "
        "false, false, 'unknown', 'active', CURRENT_TIMESTAMP)"
    )
    shard = (
        "INSERT INTO shards (id, source_id, bytes, records, tokens, format, store_uri, status, "
        "created_at) VALUES (:id, 1, 1, 1, 1, 'provreg-shard-v2', 'u', 'active', "
        "CURRENT_TIMESTAMP)"
    )
    with engine.begin() as conn:
        conn.execute(sa.text(source))
        conn.execute(sa.text(shard), [{"id": "a" * 64}, {"id": "b" * 64}])
        conn.execute(
            sa.text(
                "INSERT INTO shard_record_keys (kind, key, shard_id, records, tokens) "
                "VALUES ('record', 7, :id, 1, 1)"
            ),
            {"id": "a" * 64},
        )
    migrate.upgrade(engine)
    with engine.connect() as conn:
        flags = {i: v for i, v in conn.execute(sa.text("SELECT id, keys_indexed FROM shards"))}
    assert {k: bool(v) for k, v in flags.items()} == {"a" * 64: True, "b" * 64: False}
