"""``build_facts``: everything a disclosure says, derived from the registry and nothing else.

The subject (``subject``) names the manifests; their figures come from ``aggregate``; this
module adds what follows from the sources (collection periods, handling, compensation), the
references (manifests, lineage, runs, weights) and the Merkle facts with the steps to check
them. The result holds no "now", so the same registry gives the same facts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from manifests.document import format_timestamp
from manifests.merkle import ALGORITHM
from registry import ledger
from registry.db.models import Manifest, ManifestShard, Shard, Source, Tokenizer
from registry.disclosure.aggregate import aggregate
from registry.disclosure.facts import (
    Compensation,
    CompensationModel,
    DisclosureFacts,
    Handling,
    ManifestRef,
    MerkleFacts,
    Period,
    RunRef,
    ShardFile,
    SignalFacts,
    SourceFact,
    TakedownFacts,
    WeightsRef,
)
from registry.disclosure.subject import declared_created_at, resolve_subject

COMPENSATION_BASIS = "contributors with ledger entries for this manifest's runs and pools"


def build_facts(session: Session, subject: str, *, with_shards: bool = False) -> DisclosureFacts:
    """Everything a disclosure of ``subject`` says (see the module docstring).

    ``with_shards`` adds one entry per shard file (Croissant lists files; others do not).

    Raises:
        NotFound, InvalidInput, IntegrityFailure: see ``subject.resolve_subject``.
    """
    subj = resolve_subject(session, subject)
    chain = [m.hash for m in subj.chain]
    figures = aggregate(session, chain)
    sources = figures.sources
    return DisclosureFacts(
        subject_kind=subj.kind,
        subject=subj.id,
        as_of=subj.as_of,
        manifest=_ref(subj.manifest),
        manifest_chain=tuple(_ref(m) for m in subj.chain),
        lineage=tuple(_lineage(session, subj.manifest)),
        runs=tuple(
            RunRef(
                id=r.id,
                manifest=r.manifest_hash,
                parent_run=r.parent_run_id,
                status=r.status,
                tokenizer=r.tokenizer,
                tokenizer_manifest=_tokenizer_manifest(session, r.tokenizer),
                code_version=r.code_version,
                steps_done=r.steps_done,
                started_at=format_timestamp(r.started_at),
                finished_at=format_timestamp(r.finished_at) if r.finished_at else None,
            )
            for r in subj.runs
        ),
        weights=tuple(
            WeightsRef(
                sha256=w.sha256,
                run=w.run_id,
                manifest=w.manifest_hash,
                bytes=w.bytes,
                created_at=format_timestamp(w.created_at),
            )
            for w in subj.weights
        ),
        totals=figures.totals,
        by_kind=figures.by_kind,
        by_licence=figures.by_licence,
        by_licence_family=figures.by_licence_family,
        sources=sources,
        crawl=figures.crawl,
        collection=tuple(_periods(sources)),
        handling=_handling(sources),
        compensation=_compensation(session, subj.manifest.hash, sources),
        merkle=tuple(
            MerkleFacts(
                manifest=m.hash, algorithm=ALGORITHM, root=m.merkle_root, leaves=m.shard_count
            )
            for m in subj.chain
        ),
        verification=verification_steps(
            subj.manifest.hash, subj.manifest.merkle_root, subj.manifest.shard_count
        ),
        shards=tuple(_shard_files(session, chain)) if with_shards else (),
        records=figures.records,
        signals=_signals(session, chain),
        takedown=_takedown(session, chain),
    )


def _takedown(session: Session, chain: list[str]) -> TakedownFacts | None:
    """The takedowns behind the chain's rebased manifests, summed (how much, never what)."""
    from registry.impact.rebase import takedown_note

    notes = [n for n in (takedown_note(session, h) for h in chain) if n is not None]
    if not notes:
        return None
    return TakedownFacts(
        takedowns=sum(n.takedowns for n in notes),
        last_at=format_timestamp(max(n.at for n in notes)),
        records_removed=sum(n.records for n in notes),
        tokens_removed=sum(n.tokens for n in notes),
    )


def _signals(session: Session, chain: list[str]) -> SignalFacts | None:
    from registry.signals.summary import signals_summary

    figures = signals_summary(session, chain)
    return SignalFacts(**figures) if figures is not None else None


def _tokenizer_manifest(session: Session, tokenizer: str) -> str | None:
    row = session.get(Tokenizer, tokenizer)
    return row.manifest_hash if row is not None else None


def verification_steps(manifest: str, root: str, leaves: int) -> tuple[str, ...]:
    return (
        f"Manifest {manifest} commits to its {leaves} shard ids with the RFC 6962 Merkle root "
        f"{root} ({ALGORITHM}); a shard id is the SHA-256 of the shard file (`sha256sum`).",
        f"Get an inclusion proof: `provreg manifest prove {manifest} SHARD_ID > proof.json`.",
        f"Check it offline: `provreg manifest export {manifest} | head -1 > manifest.json` then "
        "`provreg manifest verify-proof proof.json --manifest manifest.json`.",
        "Or with nothing but Python's hashlib: the `verify` function in docs/manifest-format.md "
        "(section 'Inclusion proofs'), called as verify(proof['shard'], proof['leaf_index'], "
        f"{leaves}, proof['path'], '{root}').",
    )


def ledger_contributors_compensated(session: Session, manifest_hash: str) -> int:
    """The ledger's count of contributors compensated for the manifest's runs and pools.

    Only the count of ``ledger.public_aggregate`` is used: its per-currency totals are left
    out, because with one paid contributor a total is that person's amount.
    """
    return ledger.public_aggregate(session, manifest_hash).contributors_compensated


def _periods(sources: Sequence[SourceFact]) -> list[Period]:
    """When the data was collected: over all sources, then per kind."""
    groups: dict[str, list[SourceFact]] = {"all": list(sources)}
    for s in sources:
        groups.setdefault(s.kind, []).append(s)
    out = []
    for key in ["all", *sorted(k for k in groups if k != "all")]:
        members = groups[key]
        starts = [s.collected_from for s in members if s.collected_from]
        ends = [s.collected_to for s in members if s.collected_to]
        out.append(
            Period(
                key=key,
                collected_from=min(starts) if starts else None,
                collected_to=max(ends) if ends else None,
                sources_without_dates=sum(
                    1 for s in members if not (s.collected_from or s.collected_to)
                ),
            )
        )
    return out


def _handling(sources: Sequence[SourceFact]) -> Handling:
    return Handling(
        sources=len(sources),
        tdm_checked=sum(s.tdm_checked for s in sources),
        tdm_respected=sum(s.tdm_respected for s in sources),
        tdm_tokens_checked=sum(s.tokens for s in sources if s.tdm_checked),
        consent=dict(sorted(Counter(s.consent_status for s in sources).items())),
        pii_sources=sum(s.pii for s in sources),
        pii_tokens=sum(s.tokens for s in sources if s.pii),
        pii_measures=tuple(sorted({s.pii_measures for s in sources if s.pii and s.pii_measures})),
    )


def _compensation(
    session: Session, manifest_hash: str, sources: Sequence[SourceFact]
) -> Compensation:
    models: dict[str, list[int]] = {}
    for s in sources:
        agg = models.setdefault(s.compensation_model or "no terms recorded", [0, 0])
        agg[0] += 1
        agg[1] += s.tokens
    return Compensation(
        models=tuple(
            CompensationModel(model=m, sources=v[0], tokens=v[1])
            for m, v in sorted(models.items(), key=lambda kv: (-kv[1][1], kv[0]))
        ),
        contributors_compensated=ledger_contributors_compensated(session, manifest_hash),
        basis=COMPENSATION_BASIS,
    )


def _ref(m: Manifest) -> ManifestRef:
    return ManifestRef(
        hash=m.hash,
        name=m.name,
        intended_use=m.intended_use,
        created_at=declared_created_at(m),
        parent=m.parent_hash,
        shards=m.shard_count,
        tokens=m.total_tokens,
    )


def _lineage(session: Session, m: Manifest) -> list[ManifestRef]:
    """The manifest's revisions (``parent`` chain), oldest first: shown, not training content."""
    chain = []
    row: Manifest | None = m
    seen: set[str] = set()
    while row is not None and row.hash not in seen:
        seen.add(row.hash)
        chain.append(_ref(row))
        row = session.get(Manifest, row.parent_hash) if row.parent_hash else None
    return chain[::-1]


def _shard_files(session: Session, chain: Sequence[str]) -> list[ShardFile]:
    members = select(ManifestShard.shard_id).where(ManifestShard.manifest_hash.in_(chain))
    query = (
        select(Shard.id, Source.name, Shard.bytes, Shard.records, Shard.format, Shard.store_uri)
        .join(Source, Source.id == Shard.source_id)
        .where(Shard.id.in_(members))
        .order_by(Shard.id)
    )
    return [
        ShardFile(id=i, source=n, bytes=b, records=r, format=f, store_uri=u)
        for i, n, b, r, f, u in session.execute(query)
    ]
