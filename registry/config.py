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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
