"""Re-judging stored shards against observations made since they were ingested, without opening
a shard: through the per-shard domain sums (``shard_domains``: records per registrable domain).

The sums keep no paths, so what can be re-judged is what an origin now says of itself as a
whole: its root URL's verdict under the observations in force now. A shard is in violation
when it holds records from the registrable domain of an origin whose root is now disallowed
by an observation made after the shard was ingested (an older one was already applied at
ingest). The count is the shard's records of that domain: an upper bound when other hosts of
the domain are in it too. Path-scoped rules made since ingest need the records' URLs, which is
the takedown issue's work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from registry.signals.evaluate import Judge, ObservationFact


@dataclass(frozen=True)
class DomainRow:
    """One row of a shard's domain sums, with when the shard was ingested and its crawler."""

    shard_id: str
    domain: str
    records: int
    ingested_at: datetime
    crawler: str


@dataclass(frozen=True)
class SignalViolation:
    shard_id: str
    origin: str
    domain: str
    signal: str
    observation: int | None
    records: int
    detail: str

    @property
    def text(self) -> str:
        return (
            f"shard {self.shard_id[:12]} holds {self.records} record(s) from {self.domain}; "
            f"origin {self.origin} now disallows AI training ({self.signal}, observation "
            f"{self.observation}: {self.detail})"
        )


def host(origin: str) -> str:
    rest = origin.split("://", 1)[1]
    return rest.rsplit(":", 1)[0] if not rest.endswith("]") else rest


def rejudge(
    rows: Iterable[DomainRow],
    facts: Iterable[ObservationFact],
    registrable: Callable[[str], str],
) -> list[SignalViolation]:
    """The violations, one per (shard, origin), ordered by shard then origin."""
    by_domain: dict[str, dict[str, list[ObservationFact]]] = {}
    for f in facts:
        by_domain.setdefault(registrable(host(f.origin)), {}).setdefault(f.origin, []).append(f)
    judges: dict[tuple[str, str], Judge] = {}
    out: list[SignalViolation] = []
    for row in rows:
        for origin, fs in sorted(by_domain.get(row.domain, {}).items()):
            newer = {f.id for f in fs if f.observed_at > row.ingested_at}
            if not newer:
                continue
            judge = judges.get((origin, row.crawler))
            if judge is None:
                judge = judges[(origin, row.crawler)] = Judge(fs, row.crawler, None)
            verdict = judge.judge(origin + "/")
            decided = verdict.decided_by
            if verdict.state == "disallowed" and decided and decided.observation in newer:
                out.append(
                    SignalViolation(
                        row.shard_id,
                        origin,
                        row.domain,
                        decided.signal,
                        decided.observation,
                        row.records,
                        decided.detail,
                    )
                )
    return sorted(out, key=lambda v: (v.shard_id, v.origin))


def shard_violations(session: Any, shard_ids_sql: str, params: dict[str, Any]) -> list[str]:
    """The signal violations of a set of shards (``shard_ids_sql`` selects their ids), read
    from ``shard_domains`` and the observations, never from a shard file; one line each.

    Only domains some observation's origin belongs to are read, so a registry without
    observations costs one small query.
    """
    from sqlalchemy import select, text

    from registry.db.models import SignalObservation
    from registry.db.types import UTCDateTime
    from registry.shards.profile import registrable_domain
    from registry.signals.observations import facts

    origins = list(session.scalars(select(SignalObservation.origin).distinct()))
    if not origins:
        return []
    domains = sorted({registrable_domain(host(o)) for o in origins})
    marks = ", ".join(f":d{i}" for i in range(len(domains)))
    rows = session.execute(
        text(
            "SELECT sd.shard_id, sd.domain, sd.records, s.created_at, src.crawler "
            "FROM shard_domains sd JOIN shards s ON s.id = sd.shard_id "
            "JOIN sources src ON src.id = s.source_id "
            f"WHERE sd.shard_id IN ({shard_ids_sql}) AND sd.domain IN ({marks}) "
            "ORDER BY sd.shard_id, sd.domain"
        ).columns(created_at=UTCDateTime()),
        {**params, **{f"d{i}": d for i, d in enumerate(domains)}},
    ).all()
    if not rows:
        return []
    shard_rows = [DomainRow(r[0], r[1], int(r[2]), r[3], r[4] or "*") for r in rows]
    wanted = {d for d in (r.domain for r in shard_rows)}
    origins_in = [o for o in origins if registrable_domain(host(o)) in wanted]
    found = rejudge(shard_rows, facts(session, origins_in), registrable_domain)
    return [v.text for v in found]
