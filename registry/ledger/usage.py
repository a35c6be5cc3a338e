"""What a creator can see: which of their records each run consumed, and how many tokens.

Read from the exact attribution (``attribution``, derived when a run is settled): a run is
listed once it is settled. The records are read from the shard files, by the same rule.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.catalogue.contributors import contributor_row
from registry.db.chunks import chunked
from registry.db.models import (
    AuthorConsumption,
    Consumption,
    Shard,
    ShardAuthor,
    Source,
    SourceAuthor,
    TrainingRun,
)
from registry.entities.ledger import RecordUsageOut, RunUsageOut, UsageOut
from registry.ledger.attribution import record_uses
from registry.shards.store import ShardStore


def usage(session: Session, name: str, *, store: ShardStore | None) -> UsageOut:
    """The contributor's consumed records per settled run, in run id, shard id, then file order.

    Raises:
        NotFound: an unknown contributor.
        InvalidInput: a shard's records are needed and no store is given.
    """
    who = contributor_row(session, name)
    keys = session.execute(
        select(SourceAuthor.source_id, SourceAuthor.author, Source.name)
        .join(Source, Source.id == SourceAuthor.source_id)
        .where(SourceAuthor.contributor_id == who.id)
    ).all()
    per_run: dict[str, list[RecordUsageOut]] = defaultdict(list)
    tokens: dict[str, int] = defaultdict(int)
    for source_id, author, source in keys:
        settled = select(AuthorConsumption.run_id, AuthorConsumption.tokens).where(
            AuthorConsumption.source_id == source_id, AuthorConsumption.author == author
        )
        for run_id, run_tokens in session.execute(settled):
            tokens[run_id] += run_tokens
            shards = (
                select(Shard, Consumption.tokens)
                .join(Consumption, Consumption.shard_id == Shard.id)
                .join(ShardAuthor, ShardAuthor.shard_id == Shard.id)
                .where(
                    Consumption.run_id == run_id,
                    Shard.source_id == source_id,
                    ShardAuthor.author == author,
                )
                .order_by(Shard.id)
            )
            for shard, consumed in session.execute(shards):
                per_run[run_id] += [
                    RecordUsageOut(
                        record_id=r.record_id,
                        url=r.url,
                        source=source,
                        author=author,
                        tokens=r.tokens,
                    )
                    for r in record_uses(store, shard, consumed)
                    if r.author == author and r.tokens
                ]
    manifests = _manifests(session, sorted(per_run))
    runs = tuple(
        RunUsageOut(
            run_id=rid, manifest_hash=manifests[rid], tokens=tokens[rid], records=tuple(recs)
        )
        for rid, recs in sorted(per_run.items())
    )
    return UsageOut(contributor=who.name, tokens=sum(tokens.values()), runs=runs)


def _manifests(session: Session, run_ids: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for chunk in chunked(run_ids):
        query = select(TrainingRun.id, TrainingRun.manifest_hash).where(TrainingRun.id.in_(chunk))
        out.update((a, b) for a, b in session.execute(query))
    return out
