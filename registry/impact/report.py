"""``impact``: the report for one selector (read-only)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from registry.db.chunks import chunked
from registry.db.models import Shard
from registry.entities.impact import ImpactReport, ShardHit
from registry.errors import NotFound
from registry.impact.reach import reach
from registry.impact.selectors import matching_shards, selector, source_names, unindexed_shards


def impact(session: Session, kind: str, value: str) -> ImpactReport:
    """Everything the records a selector matches reached.

    Raises:
        InvalidInput: a malformed selector.
        NotFound: an unknown source or shard, or nothing matched.
    """
    sel = selector(kind, value)
    matches = [m for m in matching_shards(session, sel) if m.records > 0 or sel.kind == "shard"]
    if not matches:
        raise NotFound(f"nothing matched {sel}", field="impact.selector")
    ids = [m.shard_id for m in matches]
    totals: dict[str, tuple[int, int]] = {}
    for part in chunked(ids):
        for sid, r, t in session.query(Shard.id, Shard.records, Shard.tokens).filter(
            Shard.id.in_(part)
        ):
            totals[sid] = (r, t)
    names = source_names(session, ids)
    found = reach(session, matches, {k: v[0] for k, v in totals.items()})
    return ImpactReport(
        selector=str(sel),
        records=sum(m.records for m in matches),
        tokens=sum(m.tokens for m in matches),
        shards=[
            ShardHit(
                shard_id=m.shard_id,
                source=names[m.shard_id][0],
                status=names[m.shard_id][1],
                records=m.records,
                tokens=m.tokens,
                shard_records=totals[m.shard_id][0],
                shard_tokens=totals[m.shard_id][1],
            )
            for m in matches
        ],
        manifests=found.manifests,
        runs=found.runs,
        weights=found.weights,
        disclosures=found.disclosures,
        ledger=found.ledger,
        unindexed_shards=unindexed_shards(session) if sel.kind in ("url", "record") else 0,
    )
