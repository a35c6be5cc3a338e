"""Shared fixtures: a real registry database per test, on SQLite and (when configured) PostgreSQL.

PostgreSQL runs where ``PROVREG_TEST_POSTGRES_URL`` names a database (``.ci/run`` sets it); each
test gets its own schema there, dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from typer.testing import CliRunner

from cli import common
from cli.main import app
from registry.catalogue import licences
from registry.config import get_settings
from registry.db import migrate
from registry.db.engine import make_engine, transaction
from registry.db.models import Base

PG_URL = os.environ.get("PROVREG_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if PG_URL:
        return
    skip = pytest.mark.skip(reason="PostgreSQL tests need PROVREG_TEST_POSTGRES_URL")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated, seeded SQLite file; tests copy it instead of migrating again."""
    path = tmp_path_factory.mktemp("template") / "registry.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with transaction(engine, actor="test") as session:
        licences.seed(session)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def _pg_schema_url(schema: str) -> str:
    assert PG_URL is not None
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """URL of an empty-but-initialised registry (schema at head, licences seeded)."""
    if request.param == "sqlite":
        path = tmp_path / "registry.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)  # type: ignore[arg-type]
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = _pg_schema_url(schema)
    engine = make_engine(url)
    migrate.upgrade(engine)
    with transaction(engine, actor="test") as session:
        licences.seed(session)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> Callable[..., Any]:
    """``with tx() as session:`` — one committed transaction, as a command would open it."""

    def tx(actor: str = "test") -> Any:
        return transaction(engine, actor=actor)

    return tx


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: compare two to prove a failure changed nothing."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = conn.execute(sa.select(table)).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


class Cli:
    """Runs the real ``provreg`` command in-process against one database."""

    def __init__(self, url: str, store: Path) -> None:
        self.env = {
            "PROVREG_DATABASE_URL": url,
            "PROVREG_STORE": str(store),
            "PROVREG_ACTOR": "tester",
        }
        self.runner = CliRunner()

    def __call__(self, *args: str, ok: bool = True) -> Any:
        get_settings.cache_clear()
        common.engine.cache_clear()
        old = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        try:
            result = self.runner.invoke(app, list(args), catch_exceptions=False)
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            get_settings.cache_clear()
            common.engine.cache_clear()
        if ok and result.exit_code != 0:
            raise AssertionError(
                f"provreg {' '.join(args)} failed ({result.exit_code}):\n{result.output}"
            )
        return result


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> Cli:
    return Cli(db_url, tmp_path / "store")
