"""Where a shard's bytes live, and what the registry says about a manifest's shard right now.

The trainer's verified reader talks to these through a ``ShardSource`` adapter
(``trainer.client.LocalRegistry``): this module only answers from the database and the store,
and never decides whether bytes are good (the reader hashes them).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.db.models import ManifestEvalShard, ManifestShard, Shard, Source
from registry.entities.shards import ManifestShardOut
from registry.errors import NotFound


def read_shard_bytes(store: str, shard_id: str) -> bytes:
    """The stored file's bytes, whole (the reader hashes and parses the same buffer).

    Raises:
        FileNotFoundError: no file at the shard's path in the store.
    """
    from registry.shards.store import ShardStore  # fsspec: only the trainer pays for the import

    try:
        return ShardStore(store).read_bytes(shard_id)
    except NotFound as exc:
        raise FileNotFoundError(exc.detail) from exc


def manifest_shard(session: Session, manifest_hash: str, shard_id: str) -> ManifestShardOut:
    """A shard that ``manifest_hash`` declares; anything else is unknown to the trainer.

    A revoked or opted-out source makes its shards ``revoked`` here, so a revocation made while
    a run is going stops it at the next shard it opens.

    Raises:
        NotFound: the shard is not registered, or not in that manifest.
    """
    return linked_shard(session, ManifestShard, manifest_hash, shard_id, "a registered shard")


def linked_shard(
    session: Session,
    link: type[ManifestShard] | type[ManifestEvalShard],
    manifest_hash: str,
    shard_id: str,
    what: str,
) -> ManifestShardOut:
    """A shard that ``link`` (a manifest's shards, or its held-out shards) ties to
    ``manifest_hash``, with its status as the reader must see it now.

    Raises:
        NotFound: no such link (the message says ``shard ... is not {what} of manifest ...``).
    """
    row = session.execute(
        select(
            Shard.id,
            Shard.status,
            Shard.records,
            Shard.tokens,
            Source.name,
            Source.status,
            Source.consent_status,
        )
        .join(link, link.shard_id == Shard.id)
        .join(Source, Source.id == Shard.source_id)
        .where(link.manifest_hash == manifest_hash, Shard.id == shard_id)
    ).first()
    if row is None:
        raise NotFound(f"shard {shard_id} is not {what} of manifest {manifest_hash}")
    sid, status, records, tokens, source, source_status, consent = row
    reason = None
    if status != "active":
        reason = "the shard was revoked"
    elif source_status != "active":
        status, reason = "revoked", f"source {source!r} was revoked"
    elif consent == "opted-out":
        status, reason = "revoked", f"source {source!r} opted out"
    return ManifestShardOut(
        shard_id=sid, status=status, records=records, tokens=tokens, source=source, reason=reason
    )
