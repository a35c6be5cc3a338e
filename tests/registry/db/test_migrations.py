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

    declared: list[str] = []
    for name in ("0001_initial_schema.py", "0012_manifest_record_sums.py"):
        spec = util.spec_from_file_location(name[:5], migrate.migrations_dir() / "versions" / name)
        assert spec and spec.loader
        module = util.module_from_spec(spec)
        spec.loader.exec_module(module)
        declared += module.APPEND_ONLY_TABLES
    assert tuple(declared) == APPEND_ONLY_TABLES


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


def _a_source(conn: sa.Connection) -> None:
    """Source 1, as a revision's own SQL writes it (the models may have moved on)."""
    conn.execute(sa.text(
        "INSERT INTO sources (name, uri, kind, licence_expression, tdm_checked, tdm_respected, "
        "pii, consent_status, status, created_at) VALUES ('s', 'u', 'web-crawl', 'MIT', false, "
        "false, false, 'unknown', 'active', CURRENT_TIMESTAMP)"
    ))  # fmt: skip


def test_0012_freezes_the_record_figures_of_the_manifests_that_exist(engine: Engine) -> None:
    migrate.downgrade(engine, "0011")
    ins = sa.text
    with engine.begin() as conn:
        _a_source(conn)
        conn.execute(
            ins(
                "INSERT INTO shards (id, source_id, bytes, records, tokens, format, store_uri, "
                "status, created_at, records_from, records_to) VALUES (:id, 1, 1, 3, 9, :f, 'u', "
                "'active', CURRENT_TIMESTAMP, :a, :b)"
            ),
            [
                {"id": "a" * 64, "f": "provreg-shard-v2", "a": "2024-01-02", "b": "2024-03-04"},
                {"id": "b" * 64, "f": "provreg-shard-v2", "a": "2023-05-06", "b": "2024-01-01"},
                {"id": "c" * 64, "f": "parquet", "a": None, "b": None},
            ],
        )
        conn.execute(
            ins("INSERT INTO shard_domains VALUES (:s, :d, :r, :b, :t)"),
            [
                {"s": "a" * 64, "d": "x.org", "r": 2, "b": 20, "t": 22},
                {"s": "b" * 64, "d": "x.org", "r": 1, "b": 5, "t": 6},
                {"s": "b" * 64, "d": "y.org", "r": 1, "b": 7, "t": 8},
            ],
        )
        conn.execute(
            ins("INSERT INTO shard_authors VALUES (:s, :a, 1, 3)"),
            [{"s": "a" * 64, "a": "ann"}, {"s": "b" * 64, "a": "ann"}, {"s": "b" * 64, "a": "bo"}],
        )
        conn.execute(
            ins("INSERT INTO shard_record_licences VALUES (:s, 'CC-BY-NC-4.0', 1, 3)"),
            [{"s": "a" * 64}, {"s": "b" * 64}],
        )
        for h, shards in (("1" * 64, "abc"), ("2" * 64, "c")):
            conn.execute(ins(
                "INSERT INTO manifests (hash, name, intended_use, merkle_root, shard_count, "
                "total_bytes, total_records, total_tokens, document, created_at) VALUES "
                f"('{h}', '{h[0]}', 'research', '{h}', 1, 1, 1, 1, '{{}}', CURRENT_TIMESTAMP)"
            ))  # fmt: skip
            conn.execute(
                ins("INSERT INTO manifest_shards VALUES (:h, :s)"),
                [{"h": h, "s": c * 64} for c in shards],
            )
    migrate.upgrade(engine)
    with engine.connect() as conn:
        domains = conn.execute(ins(
            "SELECT manifest_hash, domain, records, bytes, tokens FROM manifest_domain_sums "
            "ORDER BY domain"
        )).all()  # fmt: skip
        summary = conn.execute(ins(
            "SELECT manifest_hash, profiled_shards, records_from, records_to, authors "
            "FROM manifest_record_summaries"
        )).all()  # fmt: skip
        licences = conn.execute(ins("SELECT * FROM manifest_record_licence_sums")).all()
    one = "1" * 64
    assert [tuple(r) for r in domains] == [(one, "x.org", 3, 25, 28), (one, "y.org", 1, 7, 8)]
    assert [(r[0], r[1], str(r[2]), str(r[3]), r[4]) for r in summary] == [
        (one, 2, "2023-05-06", "2024-03-04", 2)  # the v1 manifest "2...": no figures at all
    ]
    assert [tuple(r) for r in licences] == [(one, "CC-BY-NC-4.0", 2, 6)]
    for statement in (
        "UPDATE manifest_domain_sums SET bytes = 0",
        "DELETE FROM manifest_record_summaries",
    ):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text(statement))


def test_0013_copies_each_shards_source_and_size_onto_its_consumption_rows(engine: Engine) -> None:
    """The backfill copies the shard's facts, the author rows survive the table's rebuild, and
    afterwards the composite foreign key refuses a row whose copy is not its shard's."""
    migrate.downgrade(engine, "0012")
    ins = sa.text
    with engine.begin() as conn:
        _a_source(conn)
        conn.execute(
            ins(
                "INSERT INTO shards (id, source_id, bytes, records, tokens, format, store_uri, "
                "status, created_at) VALUES (:id, 1, 1, :r, :t, 'provreg-shard-v2', 'u', 'active', "
                "CURRENT_TIMESTAMP)"
            ),
            [{"id": "a" * 64, "r": 3, "t": 9}, {"id": "b" * 64, "r": 2, "t": 5}],
        )
        conn.execute(ins("INSERT INTO shard_authors VALUES (:s, 'ann', 1, 4)"), [{"s": "a" * 64}])
        conn.execute(ins(
            "INSERT INTO manifests (hash, name, intended_use, merkle_root, shard_count, "
            "total_bytes, total_records, total_tokens, document, created_at) VALUES "
            f"('{'1' * 64}', 'm', 'research', '{'1' * 64}', 2, 2, 5, 14, '{{}}', CURRENT_TIMESTAMP)"
        ))  # fmt: skip
        conn.execute(ins(
            "INSERT INTO training_runs (id, manifest_hash, status, config, seed, started_at, tokenizer, "
            f"code_version, steps_done) VALUES ('r', '{'1' * 64}', 'completed', '{{}}', 0, CURRENT_TIMESTAMP, "
            "'provreg.bytes/1', 't', 1)"
        ))  # fmt: skip
        conn.execute(
            ins(
                "INSERT INTO consumption (run_id, shard_id, tokens, records, updated_at) "
                "VALUES ('r', :s, :t, :r, CURRENT_TIMESTAMP)"
            ),
            [{"s": "a" * 64, "t": 18, "r": 6}, {"s": "b" * 64, "t": 3, "r": 1}],
        )
    migrate.upgrade(engine)
    with engine.connect() as conn:
        copied = conn.execute(ins(
            "SELECT shard_id, tokens, records, source_id, shard_tokens, shard_records "
            "FROM consumption ORDER BY shard_id"
        )).all()  # fmt: skip
        authors = conn.execute(ins("SELECT shard_id, author, records, tokens FROM shard_authors"))
        assert [tuple(r) for r in authors] == [("a" * 64, "ann", 1, 4)]
    assert [tuple(r) for r in copied] == [("a" * 64, 18, 6, 1, 9, 3), ("b" * 64, 3, 1, 1, 5, 2)]
    wrong = (
        "INSERT INTO consumption (run_id, shard_id, tokens, records, updated_at, source_id, "
        "shard_tokens, shard_records) VALUES ('r2', :s, 1, 0, CURRENT_TIMESTAMP, 1, :t, 3)"
    )
    with engine.begin() as conn:
        conn.execute(ins(
            "INSERT INTO training_runs (id, manifest_hash, status, config, seed, started_at, tokenizer, "
            f"code_version, steps_done) VALUES ('r2', '{'1' * 64}', 'running', '{{}}', 0, CURRENT_TIMESTAMP, "
            "'provreg.bytes/1', 't', 1)"
        ))  # fmt: skip
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(ins(wrong), {"s": "a" * 64, "t": 8})  # shard a holds 9 tokens, not 8
    with engine.begin() as conn:
        conn.execute(ins(wrong), {"s": "a" * 64, "t": 9})  # the true copy is accepted
