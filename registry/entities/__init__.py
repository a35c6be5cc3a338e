"""What leaves the registry: frozen pydantic models, built from ORM rows inside services.

The API uses them as response models and the CLI prints them, so both speak the same shapes.
One module per concept: ``catalogue``, ``shards``, ``ledger``, ``runs``, ``manifests``, ...
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Entity(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)
