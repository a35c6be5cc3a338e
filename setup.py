"""Packaging beyond what ``pyproject.toml`` can say: the migrations ship inside the package.

The repository keeps Alembic's scripts in the top-level ``alembic/`` folder, but an installed
``alembic`` package would shadow the Alembic library, so the wheel carries them as
``registry/db/migrations/`` (``registry.db.migrate.migrations_dir`` finds either).
"""

from setuptools import find_packages, setup

MIGRATIONS = "registry.db.migrations"

setup(
    packages=[
        *find_packages(include=["registry*", "trainer*", "manifests*", "api*", "cli*"]),
        MIGRATIONS,
        f"{MIGRATIONS}.versions",
    ],
    package_dir={MIGRATIONS: "alembic", f"{MIGRATIONS}.versions": "alembic/versions"},
    package_data={"registry": ["data/*", "data/**/*"], MIGRATIONS: ["script.py.mako"]},
)
