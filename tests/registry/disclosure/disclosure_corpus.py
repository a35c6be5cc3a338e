"""A synthetic registry for disclosure tests: every source kind, real Parquet shard files in a
content-addressed store, a run with weights, ledger entries, and planted secrets that no public
format may show."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy.orm import Session

from registry import manifests
from registry.catalogue import contributors, sources
from registry.db.models import Dataset, DatasetShard, LedgerEntry, Shard, TrainingRun, Weights

SECRETS = (
    "secret-contact@private.example",
    "SECRET-PAYOUT-REF-42",
    "98765.4321",  # a compensation amount
    "55501234",  # a ledger amount in minor units
)
CREATED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

# name, kind, licence, uri, records per shard, shards, terms
KINDS = (
    ("crawl-news", "web-crawl", "CC-BY-4.0", "https://www.news.example.com/feed", 4, 2, "none"),
    ("crawl-blogs", "web-crawl", "CC-BY-SA-4.0", "https://blogs.example.net/", 3, 1, "none"),
    (
        "wiki",
        "public-dataset",
        "CC-BY-SA-4.0 OR MIT",
        "https://data.example.org/wiki",
        5,
        2,
        "none",
    ),
    (
        "books",
        "licensed",
        "LicenseRef-proprietary",
        "https://publisher.example/books",
        6,
        1,
        "per-mtok:98765.4321:EUR",
    ),
    ("forum", "user-contributed", "CC0-1.0", "https://forum.example.org", 2, 1, "flat:50.00:EUR"),
    ("synth", "synthetic", "Apache-2.0", "file:///srv/synth", 3, 1, None),
    (
        "internal",
        "proprietary",
        "LicenseRef-proprietary AND MIT",
        "s3://corp/internal",
        2,
        1,
        "pool:1000:EUR",
    ),
)


@dataclass
class Corpus:
    manifest: str
    store: Path
    shard_ids: list[str]
    tokens: dict[str, int] = field(default_factory=dict)
    run: str = "run-0001"
    weights: str = ""


def write_shard(store: Path, rows: list[tuple[str, str]]) -> tuple[str, int, Path]:
    """A Parquet file with string columns id, text, stored under its SHA-256."""
    table = pa.table({"id": [r[0] for r in rows], "text": [r[1] for r in rows]})
    tmp = store / "incoming.parquet"
    store.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, tmp)
    data = tmp.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    path = store / "sha256" / digest[:2] / digest[2:4] / f"{digest}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp.replace(path)
    return digest, len(data), path


def build(session: Session, store: Path) -> Corpus:
    contributors.add_contributor(
        session, name="Carol Secret", contact=SECRETS[0], payout_ref=SECRETS[1]
    )
    contributors.add_contributor(session, name="Dan", kind="person")
    ds = Dataset(name="all", version="1")
    session.add(ds)
    session.flush()
    ids: list[str] = []
    tokens: dict[str, int] = {}
    for name, kind, licence, uri, per_shard, n, terms in KINDS:
        members = []
        if terms and terms != "none":
            members = [
                sources.ShareIn(contributor="Carol Secret", share=Decimal("0.5")),
                sources.ShareIn(contributor="Dan", share=Decimal("0.5")),
            ]
        sources.add_source(
            session,
            sources.SourceIn(
                name=name,
                uri=uri,
                kind=kind,
                licence=licence,
                contributors=members,
                terms=sources.parse_terms(terms) if terms else None,
                collected_from=date(2024, 1, 1 + len(name) % 20),
                collected_to=date(2025, 6, 1 + len(name) % 20),
                tdm_checked=kind == "web-crawl",
                tdm_respected=kind == "web-crawl",
                pii=kind == "user-contributed",
                pii_measures="e-mail addresses and phone numbers removed"
                if kind == "user-contributed"
                else None,
                consent_status="consented" if kind == "user-contributed" else "not-required",
                description=f"{kind} text for tests",
            ),
        )
        src = sources.source_row(session, name)
        for i in range(n):
            rows = [
                (f"{name}-{i}-{j}", f"{name} record {i}.{j} " * (j + 1)) for j in range(per_shard)
            ]
            digest, size, path = write_shard(store, rows)
            ntok = sum(len(t.encode()) for _, t in rows)
            tokens[name] = tokens.get(name, 0) + ntok
            session.add(
                Shard(
                    id=digest,
                    source_id=src.id,
                    bytes=size,
                    records=len(rows),
                    tokens=ntok,
                    format="parquet",
                    store_uri=path.as_uri(),
                )
            )
            session.flush()
            session.add(DatasetShard(dataset_id=ds.id, shard_id=digest))
            ids.append(digest)
    session.flush()
    waivers = {"books": "licensed under contract #1", "internal": "own data"}
    out = manifests.create_manifest(
        session,
        manifests.ManifestIn(
            name="everything", intended_use="research", datasets=["all"], waivers=waivers
        ),
        now=CREATED,
    )
    return Corpus(manifest=out.hash, store=store, shard_ids=sorted(ids), tokens=tokens)


def add_run(session: Session, corpus: Corpus, weights_path: Path | None = None) -> None:
    """A finished run over the manifest, its weights row, and a ledger entry with a secret amount."""
    session.add(
        TrainingRun(
            id=corpus.run,
            manifest_hash=corpus.manifest,
            status="completed",
            config="{}",
            seed=1,
            tokenizer="bytes",
            code_version="test",
            steps_done=10,
            started_at=datetime(2026, 3, 2, tzinfo=UTC),
            finished_at=datetime(2026, 3, 3, tzinfo=UTC),
        )
    )
    session.flush()
    digest, size = "e" * 64, 1234
    if weights_path is not None:
        digest, size = _stamped_weights(weights_path, corpus)
    session.add(
        Weights(
            sha256=digest,
            run_id=corpus.run,
            manifest_hash=corpus.manifest,
            path="/private/weights/path.safetensors",
            bytes=size,
            created_at=datetime(2026, 3, 3, 1, tzinfo=UTC),
        )
    )
    corpus.weights = digest
    books = sources.source_row(session, "books")
    carol = contributors.contributor_row(session, "Carol Secret")
    session.add(
        LedgerEntry(
            key="k1",
            run_id=corpus.run,
            source_id=books.id,
            contributor_id=carol.id,
            terms_model="per-mtok",
            currency="EUR",
            amount_minor=int(SECRETS[3]),
            note="settled",
        )
    )
    session.flush()


def _stamped_weights(path: Path, corpus: Corpus) -> tuple[str, int]:
    import torch

    from manifests.stamp import WeightsStamp
    from trainer.stamping import write_stamped_weights

    stamp = WeightsStamp(
        manifest=corpus.manifest,
        manifest_chain=(corpus.manifest,),
        run=corpus.run,
        registry="test",
        merkle_root="0" * 64,
        config={"layers": 1},
        tokenizer="bytes",
    )
    digest = write_stamped_weights(path, {"w": torch.zeros(2)}, stamp)
    return digest, path.stat().st_size
