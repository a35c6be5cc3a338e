"""The lineage tests run on a registry with a signing key (attested manifests)."""

from tests.registry.attest.conftest import signed  # noqa: F401 (a fixture)
