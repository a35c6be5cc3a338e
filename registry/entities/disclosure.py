"""What the disclosure services hand out: a published disclosure, with or without its bytes."""

from __future__ import annotations

import builtins
from datetime import datetime

from pydantic import Field

from registry.entities import Entity


class DisclosureOut(Entity):
    """A published disclosure, addressed by ``hash``: the SHA-256 of its ``content``.

    ``content`` is filled only where the bytes are served (``get_published``, ``publish``), and
    never serialised: ``bytes`` is its length.
    """

    hash: str
    subject_kind: str
    subject: str
    format: str
    media_type: str
    bytes: int
    created_at: datetime
    content: builtins.bytes = Field(default=b"", exclude=True, repr=False)
