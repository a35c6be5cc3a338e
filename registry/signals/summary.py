"""What the disclosures say of opt-out signals (EU summary section 3.1, HTML and JSON): the
signals honoured, the origins checked, and the records excluded per signal type, for a set of
shards (a manifest's) and their sources, from the registry's tables alone."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.db.models import (
    Shard,
    ShardSignalObservation,
    SignalExclusion,
    SignalObservation,
)
from registry.signals.vocab import CURRENT

SIGNALS_HONOURED = (
    "robots.txt (RFC 9309) Allow/Disallow for the source's crawler",
    "robots.txt Content-Usage (draft-ietf-aipref-attach-05)",
    "Content-Usage HTTP header (draft-ietf-aipref-attach-05)",
    "W3C TDMRep: tdmrep.json, tdm-reservation header, HTML meta",
    "Cloudflare Content-Signal ai-train",
    "licence flag no-ai-training",
)


def signals_summary(session: Session, shard_ids: list[str]) -> dict[str, Any]:
    """Signals applied to these shards at ingest and the records their ingests excluded."""
    from registry.db.chunks import chunked

    applied: set[int] = set()
    sources: set[int] = set()
    for chunk in chunked(sorted(set(shard_ids))):
        applied |= set(
            session.scalars(
                select(ShardSignalObservation.observation_id).where(
                    ShardSignalObservation.shard_id.in_(chunk)
                )
            )
        )
        sources |= set(session.scalars(select(Shard.source_id).where(Shard.id.in_(chunk))))
    kinds: dict[str, int] = {}
    origins: set[str] = set()
    for ids in chunked(sorted(applied)):
        for origin, kind in session.execute(
            select(SignalObservation.origin, SignalObservation.kind).where(
                SignalObservation.id.in_(ids)
            )
        ):
            origins.add(origin)
            kinds[kind] = kinds.get(kind, 0) + 1
    excluded: dict[str, int] = {}
    checked: set[str] = set()
    for src_ids in chunked(sorted(sources)):
        for signal, origin, n in session.execute(
            select(
                SignalExclusion.signal, SignalExclusion.origin, func.sum(SignalExclusion.records)
            )
            .where(SignalExclusion.source_id.in_(src_ids))
            .group_by(SignalExclusion.signal, SignalExclusion.origin)
        ):
            excluded[signal] = excluded.get(signal, 0) + int(n)
            if origin:
                checked.add(origin)
    return {
        "signals_honoured": list(SIGNALS_HONOURED),
        "vocabulary": CURRENT,
        "origins_checked": len(origins | checked),
        "observations_applied": len(applied),
        "observations_by_kind": dict(sorted(kinds.items())),
        "records_excluded": sum(excluded.values()),
        "records_excluded_by_signal": dict(sorted(excluded.items())),
    }
