"""Finding one shard: by its full id or a unique prefix, as a row (inside ``registry/``) or as
the ``ShardOut`` that leaves it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from registry.db.lookup import resolve_prefix
from registry.db.models import Shard, Source
from registry.entities.shards import ShardOut
from registry.errors import NotFound
from registry.shards.datasets import shard_out


def resolve_shard_id(session: Session, id_or_prefix: str) -> str:
    """The full id of the shard named by its id or a unique prefix of 8+ hex characters.

    Raises:
        InvalidInput: malformed, too short or ambiguous.
        NotFound: no shard starts with it.
    """
    return resolve_prefix(session, Shard.id, id_or_prefix, what="shard")


def shard_row(session: Session, id_or_prefix: str) -> Shard:
    """Raises: as ``resolve_shard_id``."""
    row = session.get(Shard, resolve_shard_id(session, id_or_prefix))
    if row is None:  # pragma: no cover - resolved ids exist
        raise NotFound(f"unknown shard {id_or_prefix!r}")
    return row


def get_shard(session: Session, id_or_prefix: str) -> ShardOut:
    """One shard by id or unique prefix (its source's name included).

    Raises:
        InvalidInput, NotFound: as ``resolve_shard_id``.
    """
    row = shard_row(session, id_or_prefix)
    source = session.get(Source, row.source_id)
    return shard_out(row, source.name if source else "?")
