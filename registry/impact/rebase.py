"""``manifest rebase``: after a takedown, a child manifest of OLD holding the replacements
instead of OLD's revoked shards (and without shards revoked with no replacement), made by
``create_manifest`` so the policy judges it as any manifest; runs on OLD are refused from then
on, naming it (``registry.manifests.check_usable``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import audit
from registry.db.models import ManifestRebase, Shard, Takedown, TakedownShard
from registry.entities.manifests import ManifestIn, ManifestOut
from registry.errors import Conflict
from registry.manifests import create_manifest, manifest_row, shard_ids


def _replacement(session: Session, shard_id: str) -> str | None:
    """The active shard holding a revoked shard's other records, following later takedowns
    of the replacement itself; None when none remained (or it was revoked outright)."""
    seen = {shard_id}
    current: str | None = shard_id
    while current is not None:
        row = session.get(Shard, current)
        if row is not None and row.status == "active":
            return current
        current = session.scalar(
            select(TakedownShard.replacement_id)
            .where(TakedownShard.shard_id == current)
            .order_by(TakedownShard.takedown_id.desc())
            .limit(1)
        )
        if current is None or current in seen:
            return None
        seen.add(current)
    return None


def rebase(session: Session, old_ref: str, name: str, use: str | None = None) -> ManifestOut:
    """A child of OLD with replacements in place of its revoked shards.

    Raises:
        NotFound: no such manifest. Conflict: no shard of OLD is revoked (nothing to rebase),
        or the name is taken. InvalidInput, PolicyViolation: as ``create_manifest``.
    """
    old = manifest_row(session, old_ref)
    ids = shard_ids(session, old.hash)
    revoked = set(
        session.scalars(select(Shard.id).where(Shard.id.in_(ids), Shard.status == "revoked"))
    )
    if not revoked:
        raise Conflict(f"no shard of manifest {old.hash} is revoked: nothing to rebase")
    swap = {s: _replacement(session, s) for s in sorted(revoked)}
    kept = [s for s in ids if s not in revoked]
    shards = sorted(set(kept) | {r for r in swap.values() if r is not None})
    out = create_manifest(
        session,
        ManifestIn(
            name=name,
            intended_use=use or old.intended_use,
            shards=shards,
            parent=old.hash,
            waivers={w["source"]: w["reason"] for w in json.loads(old.document)["waivers"]},
        ),
    )
    session.add(ManifestRebase(manifest_hash=out.hash, rebased_from=old.hash))
    session.flush()
    audit.record(
        session, "manifest.rebase", "manifest", out.hash,
        {"from": old.hash, "replaced": {k: v for k, v in swap.items()}},
    )  # fmt: skip
    return out


@dataclass(frozen=True)
class TakedownNote:
    """What a disclosure of a rebased manifest says: that a takedown happened, when, and how
    much it removed, never what."""

    at: datetime
    takedowns: int
    records: int
    tokens: int


def takedown_note(session: Session, manifest_hash: str) -> TakedownNote | None:
    """The takedowns behind a rebased manifest (or any of its rebased ancestors' rebases)."""
    frm = session.scalar(
        select(ManifestRebase.rebased_from).where(ManifestRebase.manifest_hash == manifest_hash)
    )
    if frm is None:
        return None
    ids = shard_ids(session, frm)
    row = session.execute(
        select(
            func.max(Takedown.created_at),
            func.count(func.distinct(Takedown.id)),
            func.coalesce(func.sum(TakedownShard.records), 0),
            func.coalesce(func.sum(TakedownShard.tokens), 0),
        )
        .join(Takedown, Takedown.id == TakedownShard.takedown_id)
        .where(TakedownShard.shard_id.in_(ids))
    ).one()
    if row[0] is None:
        return None
    return TakedownNote(at=row[0], takedowns=int(row[1]), records=int(row[2]), tokens=int(row[3]))
