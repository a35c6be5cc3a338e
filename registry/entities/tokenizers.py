"""What the tokenizers service hands out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from registry.entities import Entity


class TokenizerOut(Entity):
    """A trained tokenizer file: ``id`` is the SHA-256 of its bytes, ``manifest`` the manifest
    whose records it was trained on, ``settings`` what (with that manifest) reproduces it."""

    id: str
    kind: str
    vocab_size: int
    manifest: str
    settings: dict[str, Any]
    store_uri: str
    bytes: int
    created_at: datetime
