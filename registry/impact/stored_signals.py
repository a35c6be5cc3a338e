"""Opt-outs arriving after ingest: which stored records do observations made since their shard
was ingested now disallow? Exact per record URL (unlike ``registry.signals.rejudge``, which
judges an origin's root from the per-shard sums): the candidate shards come from
``shard_domains`` (only domains some observation's origin belongs to), and only those files are
read, each checked against its id, each URL judged by the bulk ``Judge``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.db.models import Shard, ShardDomain, SignalObservation, Source
from registry.errors import InvalidInput
from registry.shards.profile import registrable_domain
from registry.shards.store import ShardStore
from registry.signals.evaluate import Judge
from registry.signals.observations import facts
from registry.signals.origins import parse_url
from registry.signals.rejudge import host


@dataclass(frozen=True)
class DisallowedRecord:
    shard_id: str
    record_id: str
    url: str
    signal: str
    observation: int | None


def disallowed_records(
    session: Session, store: ShardStore, origins: list[str] | None = None
) -> list[DisallowedRecord]:
    """Stored records of active shards whose URL an observation made after the shard's ingest
    now disallows (all observed origins, or ``origins``), sorted by shard, then URL."""
    from registry.impact.takedown import read_verified

    known = sorted(set(session.scalars(select(SignalObservation.origin).distinct())))
    wanted = [o for o in known if origins is None or o in origins]
    by_domain: dict[str, list[str]] = {}
    for o in wanted:
        by_domain.setdefault(registrable_domain(host(o)), []).append(o)
    if not by_domain:
        return []
    observed = facts(session, wanted)
    out: list[DisallowedRecord] = []
    shards = session.execute(
        select(Shard.id, Shard.created_at, Source.crawler, ShardDomain.domain)
        .join(ShardDomain, ShardDomain.shard_id == Shard.id)
        .join(Source, Source.id == Shard.source_id)
        .where(ShardDomain.domain.in_(sorted(by_domain)), Shard.status == "active")
        .order_by(Shard.id)
    ).all()
    judges: dict[tuple[str, str], Judge] = {}
    tables: dict[str, object] = {}
    for shard_id, created, crawler, domain in shards:
        if shard_id not in tables:
            tables[shard_id] = read_verified(store, shard_id)
        table = tables[shard_id]
        ids = table.column("id").to_pylist()  # type: ignore[attr-defined]
        urls = table.column("url").to_pylist()  # type: ignore[attr-defined]
        for origin in by_domain[domain]:
            fs = [f for f in observed if f.origin == origin]
            newer = {f.id for f in fs if f.observed_at > created}
            if not newer:
                continue
            key = (origin, crawler or "*")
            judge = judges.get(key) or judges.setdefault(key, Judge(fs, crawler or "*", None))
            mine = [(i, u) for i, u in zip(ids, urls, strict=True) if u and _origin(u) == origin]
            for (rid, url), verdict in zip(mine, judge.judge_many(u for _, u in mine), strict=True):
                decided = verdict.decided_by
                if verdict.state == "disallowed" and decided and decided.observation in newer:
                    out.append(
                        DisallowedRecord(shard_id, rid, url, decided.signal, decided.observation)
                    )
    return sorted(out, key=lambda r: (r.shard_id, r.url))


def _origin(url: str) -> str | None:
    try:
        return parse_url(url)[0]
    except InvalidInput:
        return None
