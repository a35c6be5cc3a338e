"""Settings read from the environment (``PROVREG_*``), one place for every default."""

from __future__ import annotations

import getpass
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where the registry lives; SQLite file and a local store need nothing else installed."""

    model_config = SettingsConfigDict(env_prefix="PROVREG_", extra="ignore")

    database_url: str = Field(default="sqlite:///provreg.db")
    store: str = Field(default="store", description="shard store: a directory or fsspec URL")
    actor: str = Field(default_factory=getpass.getuser, description="who the audit log names")
    max_upload_bytes: int = Field(
        default=1024**3, gt=0, description="the largest shard body the API accepts (PUT content)"
    )
    # attestations (docs/attestations.md): without a key nothing is signed
    signing_key: str | None = Field(
        default=None, description="path of the private key (PEM, mode 0600) the registry signs with"
    )
    key_dir: str = Field(default="keys", description="where `key create` writes private keys")
    registry_id: str = Field(
        default="provreg", description="the registry's name in attestations and lineage events"
    )
    # OpenLineage (docs/lineage.md): any of the three, or none
    openlineage_url: str | None = Field(default=None, description="send run events over HTTP")
    openlineage_file: str | None = Field(default=None, description="append run events to a file")
    openlineage_console: bool = Field(default=False, description="print run events to stderr")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
