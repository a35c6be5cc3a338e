"""From shards to everything they reached: manifests holding them and every descendant
(``parent`` chains), runs on those manifests (and runs resumed or grown from them), the
weights those runs wrote, the disclosures published of any of them, and the ledger entries
paid for those runs or pools on those manifests. All in SQL, in chunks; no file is opened.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.db.chunks import chunked
from registry.db.models import (
    Consumption,
    Disclosure,
    LedgerEntry,
    Manifest,
    ManifestRebase,
    ManifestShard,
    Pool,
    Source,
    TrainingRun,
    Weights,
)
from registry.entities.impact import (
    DisclosureHit,
    LedgerHit,
    ManifestHit,
    RunHit,
    RunShardUse,
    WeightsHit,
)
from registry.impact.selectors import Match


@dataclass(frozen=True)
class Reach:
    manifests: list[ManifestHit]
    runs: list[RunHit]
    weights: list[WeightsHit]
    disclosures: list[DisclosureHit]
    ledger: list[LedgerHit]


def manifests_reached(session: Session, shard_ids: Collection[str]) -> list[ManifestHit]:
    """Manifests holding any of the shards, then their descendants, generation by generation;
    a descendant made by ``manifest rebase`` says so (``via='rebase'``: it holds replacements,
    and its runs consumed none of the records, unless it holds a matching shard itself)."""
    direct: set[str] = set()
    for part in chunked(sorted(shard_ids)):
        direct.update(
            session.scalars(
                select(ManifestShard.manifest_hash).where(ManifestShard.shard_id.in_(part))
            )
        )
    via = dict.fromkeys(direct, "shards")
    frontier = sorted(direct)
    while frontier:
        children: list[str] = []
        for part in chunked(frontier):
            for h, rebased in session.execute(
                select(Manifest.hash, ManifestRebase.manifest_hash)
                .outerjoin(ManifestRebase, ManifestRebase.manifest_hash == Manifest.hash)
                .where(Manifest.parent_hash.in_(part))
            ):
                if h not in via:
                    via[h] = "rebase" if rebased is not None else "parent"
                    children.append(h)
        frontier = sorted(children)
    hits: list[ManifestHit] = []
    for part in chunked(sorted(via)):
        for h, name, parent in session.execute(
            select(Manifest.hash, Manifest.name, Manifest.parent_hash).where(
                Manifest.hash.in_(part)
            )
        ):
            hits.append(ManifestHit(hash=h, name=name, parent=parent, via=via[h]))
    return sorted(hits, key=lambda m: m.name)


def _runs(session: Session, manifests: Collection[str]) -> list[TrainingRun]:
    rows: dict[str, TrainingRun] = {}
    for part in chunked(sorted(manifests)):
        rows.update(
            (r.id, r)
            for r in session.scalars(select(TrainingRun).where(TrainingRun.manifest_hash.in_(part)))
        )
    frontier = sorted(rows)
    while frontier:  # a run resumed or grown from a reached run carries its weights on
        found: list[str] = []
        for part in chunked(frontier):
            for r in session.scalars(
                select(TrainingRun).where(TrainingRun.parent_run_id.in_(part))
            ):
                if r.id not in rows:
                    rows[r.id] = r
                    found.append(r.id)
        frontier = sorted(found)
    return [rows[k] for k in sorted(rows)]


def _use(match: Match, shard_records: int, tokens: int, records: int) -> RunShardUse:
    """Whole passes over a shard feed each record once per pass: then the matching tokens
    consumed are exact; a partial pass is bounded by both the matching and the consumed."""
    if records == 0:
        matching, precision = 0, "exact"
    elif shard_records and records % shard_records == 0:
        matching, precision = match.tokens * (records // shard_records), "exact"
    else:
        passes = -(-records // shard_records) if shard_records else 1
        matching, precision = min(tokens, match.tokens * passes), "bound"
    return RunShardUse(
        shard_id=match.shard_id,
        consumed_tokens=tokens,
        consumed_records=records,
        matching_tokens=matching,
        precision=precision,
    )


def runs_reached(
    session: Session,
    manifests: Collection[str],
    matches: list[Match],
    shard_records: dict[str, int],
) -> list[RunHit]:
    runs = _runs(session, manifests)
    by_shard = {m.shard_id: m for m in matches}
    consumed: dict[tuple[str, str], tuple[int, int]] = {}
    ids = [r.id for r in runs]
    for part in chunked(ids):
        for run_id, shard_id, tokens, records in session.execute(
            select(
                Consumption.run_id, Consumption.shard_id, Consumption.tokens, Consumption.records
            ).where(Consumption.run_id.in_(part))
        ):
            if shard_id in by_shard:
                consumed[(run_id, shard_id)] = (tokens, records)
    hits: list[RunHit] = []
    for r in runs:
        shard_in_manifest = _shards_of(session, r.manifest_hash, by_shard)
        uses = [
            _use(by_shard[s], shard_records[s], *consumed.get((r.id, s), (0, 0)))
            for s in sorted(shard_in_manifest)
        ]
        hits.append(
            RunHit(
                id=r.id,
                manifest=r.manifest_hash,
                status=r.status,
                steps_done=r.steps_done,
                matching_tokens=sum(u.matching_tokens for u in uses),
                precision="bound" if any(u.precision == "bound" for u in uses) else "exact",
                shards=uses,
            )
        )
    return hits


def _shards_of(session: Session, manifest: str, wanted: dict[str, Match]) -> set[str]:
    have: set[str] = set()
    for part in chunked(sorted(wanted)):
        have.update(
            session.scalars(
                select(ManifestShard.shard_id).where(
                    ManifestShard.manifest_hash == manifest, ManifestShard.shard_id.in_(part)
                )
            )
        )
    return have


def reach(session: Session, matches: list[Match], shard_records: dict[str, int]) -> Reach:
    manifests = manifests_reached(session, [m.shard_id for m in matches])
    hashes = [m.hash for m in manifests]
    runs = runs_reached(session, hashes, matches, shard_records)
    run_ids = [r.id for r in runs]
    weights: list[WeightsHit] = []
    for part in chunked(run_ids):
        weights += [
            WeightsHit(sha256=w.sha256, path=w.path, run_id=w.run_id)
            for w in session.scalars(select(Weights).where(Weights.run_id.in_(part)))
        ]
    subjects = [("manifest", h) for h in hashes] + [("run", r) for r in run_ids]
    subjects += [("weights", w.sha256) for w in weights]
    disclosures: list[DisclosureHit] = []
    for pairs in chunked(subjects):
        wanted = set(pairs)
        keys = {s for _, s in pairs}
        for d in session.scalars(select(Disclosure).where(Disclosure.subject.in_(keys))):
            if (d.subject_kind, d.subject) in wanted:
                disclosures.append(
                    DisclosureHit(
                        hash=d.hash, subject_kind=d.subject_kind, subject=d.subject, format=d.format
                    )
                )
    ledger: dict[int, LedgerHit] = {}
    pools: list[int] = []
    for part in chunked(hashes):
        pools += session.scalars(select(Pool.id).where(Pool.manifest_hash.in_(part)))
    wheres = [LedgerEntry.run_id.in_(p) for p in chunked(run_ids)]
    wheres += [LedgerEntry.pool_id.in_(p) for p in chunked(pools)]
    for where in wheres:
        for e, source in session.execute(
            select(LedgerEntry, Source.name)
            .join(Source, Source.id == LedgerEntry.source_id)
            .where(where)
        ):
            ledger[e.id] = LedgerHit(
                id=e.id,
                run_id=e.run_id,
                source=source,
                contributor_id=e.contributor_id,
                currency=e.currency,
                amount_minor=e.amount_minor,
                kind=e.kind,
            )
    return Reach(
        manifests=manifests,
        runs=runs,
        weights=sorted(weights, key=lambda w: w.sha256),
        disclosures=sorted(disclosures, key=lambda d: d.hash),
        ledger=[ledger[k] for k in sorted(ledger)],
    )
