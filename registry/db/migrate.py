"""Schema migrations through Alembic: the only way the schema changes, also for ``provreg init``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from registry.errors import SchemaOutOfDate

_HERE = Path(__file__).resolve().parent


def migrations_dir() -> Path:
    """Where the Alembic scripts are: inside the installed package, or ``alembic/`` in a checkout.

    The repository keeps them in the top-level ``alembic/`` folder; the wheel ships the same
    files as ``registry/db/migrations/`` (see ``setup.py``), because a top-level ``alembic``
    package would shadow the Alembic library itself.

    Raises:
        SchemaOutOfDate: neither place holds the migrations (a broken install).
    """
    for candidate in (_HERE / "migrations", _HERE.parents[1] / "alembic"):
        if (candidate / "env.py").is_file():
            return candidate
    raise SchemaOutOfDate(f"provreg's migrations are missing from {_HERE}: reinstall provreg")


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    # configparser interpolates %: escape it (URL-encoded options contain %3D).
    url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["engine"] = engine
    return cfg


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)


def ensure_at_head(engine: Engine) -> None:
    """Refuse to work on a database whose schema is not the one this code was written for.

    Raises:
        SchemaOutOfDate: the database is empty or at another revision.
    """
    current, head = current_revision(engine), head_revision(engine)
    if current != head:
        where = "has no provreg schema" if current is None else f"is at revision {current}"
        raise SchemaOutOfDate(
            f"database {engine.url.render_as_string(hide_password=True)} {where}; "
            f"this provreg expects {head}: run `provreg init`"
        )
