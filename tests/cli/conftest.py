"""Fixtures the CLI tests share with the registry tests."""

from tests.registry.attest.conftest import signed  # noqa: F401 (a fixture: a registry with a key)
