"""Revocation: an opt-out or takedown marks a source or shard revoked, with reason and time.

Nothing is deleted (the registry must still be able to say what revoked data reached); later
stages refuse revoked data everywhere.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from registry import audit, limits
from registry.catalogue.sources import source_out, source_row
from registry.db.models import Shard, Source
from registry.db.types import utcnow
from registry.entities.catalogue import SourceOut
from registry.entities.shards import ShardOut
from registry.errors import Conflict, InvalidInput
from registry.shards.datasets import shard_out
from registry.shards.lookup import shard_row


def _reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidInput("a revocation needs a reason", field="revocation.reason")
    return limits.check_text(text, "revocation reason", limits.REASON)


def revoke_shard(session: Session, id_or_prefix: str, reason: str) -> ShardOut:
    """Revoke one shard (by id or unique prefix).

    Raises:
        InvalidInput: no reason, or a malformed/ambiguous id.
        NotFound: no such shard.
        Conflict: already revoked.
    """
    why = _reason(reason)
    row = shard_row(session, id_or_prefix)
    if row.status == "revoked":
        raise Conflict(f"shard {row.id} was already revoked at {row.revoked_at:%Y-%m-%d %H:%M:%S}Z")
    row.status, row.revoked_reason, row.revoked_at = "revoked", why, utcnow()
    session.flush()
    audit.record(session, "shard.revoke", "shard", row.id, {"reason": why})
    source = session.get(Source, row.source_id)
    return shard_out(row, source.name if source else "?")


def revoke_source(session: Session, name: str, reason: str) -> tuple[SourceOut, int]:
    """Revoke a source and every active shard of it; returns the source and the shards revoked.

    Raises:
        InvalidInput: no reason.
        NotFound: no such source.
        Conflict: already revoked.
    """
    why = _reason(reason)
    src = source_row(session, name)
    if src.status == "revoked":
        raise Conflict(
            f"source {name!r} was already revoked at {src.revoked_at:%Y-%m-%d %H:%M:%S}Z"
        )
    now = utcnow()
    src.status, src.revoked_reason, src.revoked_at = "revoked", why, now
    ids = list(
        session.scalars(select(Shard.id).where(Shard.source_id == src.id, Shard.status == "active"))
    )
    if ids:
        session.execute(
            update(Shard)
            .where(Shard.source_id == src.id, Shard.status == "active")
            .values(status="revoked", revoked_reason=why, revoked_at=now)
            .execution_options(synchronize_session=False)
        )
    session.flush()
    audit.record(
        session, "source.revoke", "source", str(src.id), {"reason": why, "shards": sorted(ids)}
    )
    session.expire_all()
    return source_out(session, source_row(session, name)), len(ids)
