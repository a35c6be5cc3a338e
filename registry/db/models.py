"""The registry's schema: one typed ORM class per table. Alembic migrations are generated from it.

Rows stay inside ``registry/``; services convert them to entities before they leave.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from registry.db.types import DecimalText, UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Autoincrementing 64-bit keys: SQLite only autoincrements INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")

SOURCE_KINDS = (
    "web-crawl",
    "public-dataset",
    "licensed",
    "user-contributed",
    "synthetic",
    "proprietary",
)
CONSENT_STATUSES = ("not-required", "consented", "opted-out", "unknown")
CONTRIBUTOR_KINDS = ("person", "organisation", "author")
COMPENSATION_MODELS = ("per-mtok", "flat", "pool", "none")
STATUSES = ("active", "revoked")
RUN_STATUSES = ("running", "completed", "failed", "interrupted")
LEDGER_KINDS = ("charge", "reversal")
TOKEN_ROLES = ("admin", "curator", "trainer", "reader", "contributor")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), Decimal: DecimalText()}


class Licence(Base):
    __tablename__ = "licences"

    spdx_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    url: Mapped[str | None] = mapped_column(String(500))
    family: Mapped[str] = mapped_column(String(40))
    commercial_use: Mapped[bool] = mapped_column(Boolean)
    derivatives: Mapped[bool] = mapped_column(Boolean)
    attribution: Mapped[bool] = mapped_column(Boolean)
    share_alike: Mapped[bool] = mapped_column(Boolean)
    non_commercial: Mapped[bool] = mapped_column(Boolean)
    no_ai_training: Mapped[bool] = mapped_column(Boolean)


class Contributor(Base):
    __tablename__ = "contributors"
    __table_args__ = (CheckConstraint(_in("kind", CONTRIBUTOR_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    contact: Mapped[str | None] = mapped_column(String(300))
    payout_ref: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Source(Base):
    __tablename__ = "sources"
    __table_args__ = (
        CheckConstraint(_in("kind", SOURCE_KINDS), name="kind"),
        CheckConstraint(_in("consent_status", CONSENT_STATUSES), name="consent_status"),
        CheckConstraint(_in("status", STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    uri: Mapped[str] = mapped_column(String(2000))
    kind: Mapped[str] = mapped_column(String(30))
    licence_expression: Mapped[str] = mapped_column(String(1000))
    collected_from: Mapped[date | None] = mapped_column(Date)
    collected_to: Mapped[date | None] = mapped_column(Date)
    jurisdiction: Mapped[str | None] = mapped_column(String(100))
    tdm_checked: Mapped[bool] = mapped_column(Boolean, default=False)
    tdm_respected: Mapped[bool] = mapped_column(Boolean, default=False)
    pii: Mapped[bool] = mapped_column(Boolean, default=False)
    pii_measures: Mapped[str | None] = mapped_column(Text)
    consent_status: Mapped[str] = mapped_column(String(20), default="unknown")
    status: Mapped[str] = mapped_column(String(10), default="active")
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[datetime | None] = mapped_column()
    description: Mapped[str | None] = mapped_column(Text)
    crawler: Mapped[str | None] = mapped_column(String(200))
    """The crawler's user agent, whose robots.txt group applies to this source's URLs."""
    pay_authors: Mapped[Decimal | None] = mapped_column()
    """The exact share, in (0, 1], of what the source earns that goes to its records' authors
    by tokens consumed; null: the source-level contributors take it all by their shares."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    contributors: Mapped[list[SourceContributor]] = relationship(
        back_populates="source", order_by="SourceContributor.contributor_id"
    )
    terms: Mapped[CompensationTerms | None] = relationship(back_populates="source")


class SourceContributor(Base):
    """A contributor's exact share of a source's compensation; a source's shares sum to 1."""

    __tablename__ = "source_contributors"
    __table_args__ = (Index("ix_source_contributors_contributor", "contributor_id"),)

    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"), primary_key=True)
    contributor_id: Mapped[int] = mapped_column(ForeignKey("contributors.id"), primary_key=True)
    share: Mapped[Decimal] = mapped_column()

    source: Mapped[Source] = relationship(back_populates="contributors")
    contributor: Mapped[Contributor] = relationship()


class SourceAuthor(Base):
    """An author key of a source and the contributor it is paid as (kind ``author`` when made
    at ingest; ``contributor link`` points it at another, so one person gets one statement)."""

    __tablename__ = "source_authors"
    __table_args__ = (Index("ix_source_authors_contributor", "contributor_id"),)

    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"), primary_key=True)
    author: Mapped[str] = mapped_column(String(200), primary_key=True)
    contributor_id: Mapped[int] = mapped_column(ForeignKey("contributors.id"))


class CompensationTerms(Base):
    __tablename__ = "compensation_terms"
    __table_args__ = (CheckConstraint(_in("model", COMPENSATION_MODELS), name="model"),)

    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"), primary_key=True)
    model: Mapped[str] = mapped_column(String(10))
    amount: Mapped[Decimal | None] = mapped_column()
    currency: Mapped[str | None] = mapped_column(String(3))

    source: Mapped[Source] = relationship(back_populates="terms")


class Dataset(Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_datasets_name_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(50))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Shard(Base):
    """Content-addressed: ``id`` is the lowercase hex SHA-256 of the file's bytes."""

    __tablename__ = "shards"
    __table_args__ = (
        CheckConstraint(_in("status", STATUSES), name="status"),
        Index("ix_shards_source", "source_id"),
        Index("ix_shards_keys_indexed", "format", "keys_indexed"),
        # The facts settlement reads, and what consumption rows copy (their foreign key).
        Index("ix_shards_sizes", "id", "source_id", "tokens", "records", unique=True),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    bytes: Mapped[int] = mapped_column(BigInteger)
    records: Mapped[int] = mapped_column(BigInteger)
    tokens: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[str] = mapped_column(String(40))
    store_uri: Mapped[str] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(10), default="active")
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    records_from: Mapped[date | None] = mapped_column(Date)
    """The earliest record date (v2 shards with dates); with ``records_to``, the span."""
    records_to: Mapped[date | None] = mapped_column(Date)
    record_root: Mapped[str | None] = mapped_column(String(64))
    """RFC 6962 Merkle root over the shard's record ids in file order (hex); null for shards
    registered before manifest format /2, which computes it from the file when needed."""
    keys_indexed: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Its records' URL and id keys are in ``shard_record_keys`` (written with its profile);
    false for v1 shards, shards registered by metadata and v2 shards stored before the index."""


class ShardDomain(Base):
    """A v2 shard's records, text bytes and tokens from one registrable domain (ingest sums
    them while writing the shard; disclosures and policies sum these rows, never the files)."""

    __tablename__ = "shard_domains"
    __table_args__ = (Index("ix_shard_domains_domain", "domain"),)

    shard_id: Mapped[str] = mapped_column(ForeignKey("shards.id"), primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), primary_key=True)
    records: Mapped[int] = mapped_column(BigInteger)
    bytes: Mapped[int] = mapped_column(BigInteger)
    tokens: Mapped[int] = mapped_column(BigInteger)


class ShardAuthor(Base):
    """A v2 shard's records and tokens by one author (the author's key inside the source).

    On SQLite a ``WITHOUT ROWID`` table: settling a run looks up every consumed shard's rows,
    one B-tree descent each (migration 0013)."""

    __tablename__ = "shard_authors"
    __table_args__ = {"sqlite_with_rowid": False}

    shard_id: Mapped[str] = mapped_column(ForeignKey("shards.id"), primary_key=True)
    author: Mapped[str] = mapped_column(String(200), primary_key=True)
    records: Mapped[int] = mapped_column(BigInteger)
    tokens: Mapped[int] = mapped_column(BigInteger)


class ShardRecordLicence(Base):
    """A v2 shard's records and tokens under one record licence (overriding the source's)."""

    __tablename__ = "shard_record_licences"

    shard_id: Mapped[str] = mapped_column(ForeignKey("shards.id"), primary_key=True)
    licence: Mapped[str] = mapped_column(String(1000), primary_key=True)
    records: Mapped[int] = mapped_column(BigInteger)
    tokens: Mapped[int] = mapped_column(BigInteger)


class DatasetShard(Base):
    """A shard belongs to every dataset version that lists it; the bytes are stored once."""

    __tablename__ = "dataset_shards"
    __table_args__ = (Index("ix_dataset_shards_shard", "shard_id"),)

    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), primary_key=True)
    shard_id: Mapped[str] = mapped_column(ForeignKey("shards.id"), primary_key=True)


class Manifest(Base):
    """Frozen: the database refuses UPDATE and DELETE (triggers in the initial migration)."""

    __tablename__ = "manifests"
    __table_args__ = (Index("ix_manifests_parent", "parent_hash"),)

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    intended_use: Mapped[str] = mapped_column(String(40))
    parent_hash: Mapped[str | None] = mapped_column(ForeignKey("manifests.hash"))
    merkle_root: Mapped[str] = mapped_column(String(64))
    shard_count: Mapped[int] = mapped_column(BigInteger)
    total_bytes: Mapped[int] = mapped_column(BigInteger)
    total_records: Mapped[int] = mapped_column(BigInteger)
    total_tokens: Mapped[int] = mapped_column(BigInteger)
    document: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ManifestShard(Base):
    __tablename__ = "manifest_shards"
    __table_args__ = (Index("ix_manifest_shards_shard", "shard_id"),)

    manifest_hash: Mapped[str] = mapped_column(ForeignKey("manifests.hash"), primary_key=True)
    shard_id: Mapped[str] = mapped_column(ForeignKey("shards.id"), primary_key=True)


class ManifestDomainSum(Base):
    """A manifest's records, text bytes and tokens from one registrable domain: the sum of its
    shards' ``shard_domains`` rows, frozen with the manifest (``registry.disclosure.frozen``),
    so a disclosure reads the domains, not a row per (shard, domain)."""

    __tablename__ = "manifest_domain_sums"

    manifest_hash: Mapped[str] = mapped_column(ForeignKey("manifests.hash"), primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), primary_key=True)
    records: Mapped[int] = mapped_column(BigInteger)
    bytes: Mapped[int] = mapped_column(BigInteger)
    tokens: Mapped[int] = mapped_column(BigInteger)


class ManifestRecordLicenceSum(Base):
    """A manifest's records and tokens under one record licence, frozen with it."""

    __tablename__ = "manifest_record_licence_sums"

    manifest_hash: Mapped[str] = mapped_column(ForeignKey("manifests.hash"), primary_key=True)
    licence: Mapped[str] = mapped_column(String(1000), primary_key=True)
    records: Mapped[int] = mapped_column(BigInteger)
    tokens: Mapped[int] = mapped_column(BigInteger)


class ManifestRecordSummary(Base):
    """A manifest's record figures that are not per domain or licence, frozen with it: how many
    of its shards are profiled (v2), the span of their record dates, and distinct authors."""

    __tablename__ = "manifest_record_summaries"

    manifest_hash: Mapped[str] = mapped_column(ForeignKey("manifests.hash"), primary_key=True)
    profiled_shards: Mapped[int] = mapped_column(BigInteger)
    records_from: Mapped[date | None] = mapped_column(Date)
    records_to: Mapped[date | None] = mapped_column(Date)
    authors: Mapped[int] = mapped_column(BigInteger)


class TrainingRun(Base):
    __tablename__ = "training_runs"
    __table_args__ = (
        CheckConstraint(_in("status", RUN_STATUSES), name="status"),
        Index("ix_training_runs_manifest", "manifest_hash"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    manifest_hash: Mapped[str] = mapped_column(ForeignKey("manifests.hash"))
    parent_run_id: Mapped[str | None] = mapped_column(ForeignKey("training_runs.id"))
    status: Mapped[str] = mapped_column(String(20), default="running")
    config: Mapped[str] = mapped_column(Text)
    seed: Mapped[int] = mapped_column(BigInteger)
    tokenizer: Mapped[str] = mapped_column(String(100))
    code_version: Mapped[str] = mapped_column(String(100))
    steps_done: Mapped[int] = mapped_column(BigInteger, default=0)
    cursor: Mapped[str | None] = mapped_column(Text)
    checkpoint_path: Mapped[str | None] = mapped_column(String(2000))
    loss_summary: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    # the trainer process, recorded with its heartbeats (registry.runs.processes)
    host: Mapped[str | None] = mapped_column(String(300))
    pid: Mapped[int | None] = mapped_column(Integer)


class Weights(Base):
    """Every weights file the registry stamped, by the SHA-256 of its bytes."""

    __tablename__ = "weights"
    __table_args__ = (Index("ix_weights_run", "run_id"),)

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("training_runs.id"))
    manifest_hash: Mapped[str] = mapped_column(ForeignKey("manifests.hash"))
    path: Mapped[str] = mapped_column(String(2000))
    bytes: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Consumption(Base):
    """Tokens and records of one shard that one run actually fed to the optimizer.

    The row carries a copy of its shard's source and size (a shard never changes, and the
    composite foreign key to ``shards (id, source_id, tokens, records)`` keeps the copy true):
    settling a run sums its rows per source and per author without looking up a million
    shards (migration 0013).
    """

    __tablename__ = "consumption"
    __table_args__ = (
        ForeignKeyConstraint(
            ["shard_id", "source_id", "shard_tokens", "shard_records"],
            ["shards.id", "shards.source_id", "shards.tokens", "shards.records"],
        ),
        Index("ix_consumption_shard", "shard_id"),
        # Covering, in shard order: settling sums a run's rows per source and joins them to
        # their shards' author rows (sequential lookups) without touching the table rows.
        Index(
            "ix_consumption_run_cover",
            "run_id",
            "shard_id",
            "tokens",
            "records",
            "source_id",
            "shard_tokens",
            "shard_records",
        ),
    )

    run_id: Mapped[str] = mapped_column(ForeignKey("training_runs.id"), primary_key=True)
    shard_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    records: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    source_id: Mapped[int] = mapped_column()
    shard_tokens: Mapped[int] = mapped_column(BigInteger)
    shard_records: Mapped[int] = mapped_column(BigInteger)


class AuthorConsumption(Base):
    """Tokens and records of one source, by one author, that one run fed to the optimizer.

    Derived once, when the run is settled, from the run's consumption of each shard and the
    shard's records in file order (``registry.ledger.attribution``); the author ``""`` holds
    the tokens of records without an author. Summed over authors it equals the run's
    consumption of the source.
    """

    __tablename__ = "author_consumption"

    run_id: Mapped[str] = mapped_column(ForeignKey("training_runs.id"), primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"), primary_key=True)
    author: Mapped[str] = mapped_column(String(200), primary_key=True)
    tokens: Mapped[int] = mapped_column(BigInteger)
    records: Mapped[int] = mapped_column(BigInteger)


class Pool(Base):
    """A revenue-share pool split across the sources consumed under one manifest."""

    __tablename__ = "pools"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    manifest_hash: Mapped[str] = mapped_column(ForeignKey("manifests.hash"))
    amount: Mapped[Decimal] = mapped_column()
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerEntry(Base):
    """Append-only: amounts in integer minor units of ``currency``; corrections are reversals."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint(_in("kind", LEDGER_KINDS), name="kind"),
        Index("ix_ledger_entries_contributor_created", "contributor_id", "created_at"),
        Index("ix_ledger_entries_run", "run_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    run_id: Mapped[str | None] = mapped_column(ForeignKey("training_runs.id"))
    pool_id: Mapped[int | None] = mapped_column(ForeignKey("pools.id"))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    contributor_id: Mapped[int] = mapped_column(ForeignKey("contributors.id"))
    terms_model: Mapped[str] = mapped_column(String(10))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(10), default="charge")
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Disclosure(Base):
    """A published disclosure: immutable and addressed by the SHA-256 of its content."""

    __tablename__ = "disclosures"
    __table_args__ = (Index("ix_disclosures_subject", "subject"),)

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(20))
    media_type: Mapped[str] = mapped_column(String(100))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """Hash-chained: ``hash`` covers this row's fields and ``prev_hash``."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column()
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    object_kind: Mapped[str] = mapped_column(String(50))
    object_id: Mapped[str] = mapped_column(String(200))
    payload_sha256: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class ApiToken(Base):
    """Only the SHA-256 of a token is stored; the token itself is shown once, at creation."""

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint(_in("role", TOKEN_ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    contributor_id: Mapped[int | None] = mapped_column(ForeignKey("contributors.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()


# Tables that the database itself refuses to UPDATE or DELETE from (see the initial migration).
APPEND_ONLY_TABLES = (
    "manifests",
    "manifest_shards",
    "ledger_entries",
    "disclosures",
    "manifest_domain_sums",  # migration 0012, frozen with the manifest
    "manifest_record_licence_sums",
    "manifest_record_summaries",
)


# --- tokenizers (issue #16) --------------------------------------------------------------------


class Tokenizer(Base):
    """A trained tokenizer file, content-addressed: ``id`` is the SHA-256 of its bytes.

    ``manifest_hash`` is the manifest its training text came from (provenance: a tokenizer
    trained on one manifest may serve runs on another); ``settings`` is the canonical JSON of
    everything that, with that manifest, reproduces the same bytes.
    """

    __tablename__ = "tokenizers"
    __table_args__ = (Index("ix_tokenizers_manifest", "manifest_hash"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    vocab_size: Mapped[int] = mapped_column(Integer)
    manifest_hash: Mapped[str] = mapped_column(ForeignKey("manifests.hash"))
    settings: Mapped[str] = mapped_column(Text)
    store_uri: Mapped[str] = mapped_column(String(2000))
    bytes: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- attestations (issue #17) ------------------------------------------------------------------


class SigningKey(Base):
    """A public key this registry signs with; ``key_id`` is the SHA-256 of its DER
    SubjectPublicKeyInfo. The private key never enters the database."""

    __tablename__ = "signing_keys"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    algorithm: Mapped[str] = mapped_column(String(40))
    public_key: Mapped[str] = mapped_column(Text)  # PEM
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Attestation(Base):
    """A signed in-toto statement (a DSSE envelope, stored byte for byte), addressed by the
    SHA-256 of those bytes; ``subject`` is the digest it vouches for (a manifest, weights or
    disclosure). Append-only, like what it attests."""

    __tablename__ = "attestations"
    __table_args__ = (Index("ix_attestations_subject", "subject_kind", "subject"),)

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(64))
    predicate_type: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[str] = mapped_column(ForeignKey("signing_keys.key_id"))
    envelope: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditCheckpoint(Base):
    """A signed statement of the audit chain's length and head at a time (a signed tree head)."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rows: Mapped[int] = mapped_column(BigInteger)
    head: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column()
    key_id: Mapped[str] = mapped_column(ForeignKey("signing_keys.key_id"))
    envelope: Mapped[bytes] = mapped_column(LargeBinary)


# --- continual training (issue #18) ------------------------------------------------------------

INCREMENT_ROLES = ("delta", "replay")


class ContinualFollower(Base):
    """A ``provreg train --follow``: which dataset it follows, from which weights, how.

    The increments below it are where it is; a restarted follower (the same dataset, origin
    weights, replay, hold-out and seed) picks up after its last increment."""

    __tablename__ = "continual_followers"
    __table_args__ = (
        UniqueConstraint(
            "dataset", "dataset_version", "origin_weights", "replay", "eval_fraction", "seed"
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    dataset: Mapped[str] = mapped_column(String(200))
    dataset_version: Mapped[str] = mapped_column(String(50))  # "*": every version of the name
    origin_run_id: Mapped[str] = mapped_column(ForeignKey("training_runs.id"))
    origin_weights: Mapped[str] = mapped_column(String(64))
    replay: Mapped[Decimal] = mapped_column()
    eval_fraction: Mapped[Decimal] = mapped_column()
    seed: Mapped[int] = mapped_column(BigInteger)
    settings: Mapped[str] = mapped_column(Text)  # canonical JSON: the training spec
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContinualIncrement(Base):
    """One increment: its frozen manifest (delta + replay), its run, and what it measured."""

    __tablename__ = "continual_increments"
    __table_args__ = (UniqueConstraint("follower_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    follower_id: Mapped[str] = mapped_column(ForeignKey("continual_followers.id"))
    number: Mapped[int] = mapped_column(Integer)
    manifest_hash: Mapped[str] = mapped_column(ForeignKey("manifests.hash"))
    run_id: Mapped[str | None] = mapped_column(ForeignKey("training_runs.id"))
    delta_shards: Mapped[int] = mapped_column(BigInteger)
    delta_tokens: Mapped[int] = mapped_column(BigInteger)
    replay_shards: Mapped[int] = mapped_column(BigInteger)
    replay_tokens: Mapped[int] = mapped_column(BigInteger)
    drift: Mapped[str | None] = mapped_column(Text)  # JSON
    growth: Mapped[str | None] = mapped_column(Text)  # JSON: config before and after
    eval_losses: Mapped[str | None] = mapped_column(Text)  # JSON: eval set -> loss
    status: Mapped[str] = mapped_column(String(20), default="frozen")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IncrementShard(Base):
    """A shard of an increment's manifest, and why it is there (new data, or replayed)."""

    __tablename__ = "continual_increment_shards"

    increment_id: Mapped[int] = mapped_column(
        ForeignKey("continual_increments.id"), primary_key=True
    )
    shard_id: Mapped[str] = mapped_column(ForeignKey("shards.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(10))


class ManifestEvalShard(Base):
    """A held-out shard named by a manifest: evaluated on, never trained on (it is not in the
    manifest's shards, so the trainer's shard source refuses it)."""

    __tablename__ = "manifest_eval_shards"

    manifest_hash: Mapped[str] = mapped_column(ForeignKey("manifests.hash"), primary_key=True)
    shard_id: Mapped[str] = mapped_column(ForeignKey("shards.id"), primary_key=True)


class SignalObservation(Base):
    """An opt-out signal as observed: the exact bytes (``raw``, with their SHA-256), where and
    when they were seen, and how they were read at import (``parsed`` with ``vocabulary``).

    Evidence, append-only (triggers in migration 0005): a newer robots.txt is a new row; a
    reading with a newer vocabulary is a ``SignalParse`` row beside it, never an edit.
    ``url_path`` is the path and query of ``url`` for kinds that describe one URL (an HTTP
    response's header fields, an HTML page); it is null for origin-wide files.
    """

    __tablename__ = "signal_observations"
    __table_args__ = (
        Index("ix_signal_observations_origin", "origin", "observed_at"),
        CheckConstraint(
            _in("kind", ("robots.txt", "tdmrep.json", "http-header", "html")), name="kind"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    origin: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))
    url: Mapped[str] = mapped_column(String(2000))
    url_path: Mapped[str | None] = mapped_column(String(2000))
    observed_at: Mapped[datetime]
    sha256: Mapped[str] = mapped_column(String(64))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    parsed: Mapped[str] = mapped_column(Text)
    vocabulary: Mapped[str] = mapped_column(String(60))
    via: Mapped[str] = mapped_column(String(40))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class SignalParse(Base):
    """A later reading of an observation's stored bytes with another vocabulary
    (``provreg signals reparse``); the newest reading is the one the evaluator uses."""

    __tablename__ = "signal_parses"
    __table_args__ = (Index("ix_signal_parses_observation", "observation_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    observation_id: Mapped[int] = mapped_column(ForeignKey("signal_observations.id"))
    vocabulary: Mapped[str] = mapped_column(String(60))
    parsed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ShardSignalObservation(Base):
    """Which observations an ingest applied to a shard: those in force, at ingest, for the
    origins of the records it judged (``registry.signals.admission``)."""

    __tablename__ = "shard_signal_observations"
    __table_args__ = (Index("ix_shard_signal_observations_observation", "observation_id"),)

    shard_id: Mapped[str] = mapped_column(ForeignKey("shards.id"), primary_key=True)
    observation_id: Mapped[int] = mapped_column(
        ForeignKey("signal_observations.id"), primary_key=True
    )


class SignalExclusion(Base):
    """Records an ingest did not store because their URLs were disallowed (or unknown, when
    refused): counted per origin and signal, for the reports and the disclosures (EU 3.1)."""

    __tablename__ = "signal_exclusions"
    __table_args__ = (Index("ix_signal_exclusions_source", "source_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    dataset: Mapped[str] = mapped_column(String(250))
    origin: Mapped[str] = mapped_column(String(300))
    signal: Mapped[str] = mapped_column(String(40))
    records: Mapped[int] = mapped_column(BigInteger)
    crawler: Mapped[str] = mapped_column(String(200))
    judged_at: Mapped[datetime]


# --- takedown and impact (issue #14) -----------------------------------------------------------

RECORD_KEY_KINDS = ("url", "record")


class ShardRecordKey(Base):
    """The record key index: which shards hold a record with a given URL or record id.

    ``key`` is the first 8 bytes of a SHA-256, as a signed 64-bit integer: of the URL's UTF-8
    bytes (kind ``url``) or the record id itself, which is already a SHA-256 (kind ``record``).
    Written at ingest beside the per-domain sums (``registry.shards.profile``); the primary key
    leads with (kind, key), so one exact URL among 100M records is one B-tree descent. A 64-bit
    prefix can collide (about 1 in 2^64 per pair): takedown re-checks the full value in the file.
    """

    __tablename__ = "shard_record_keys"
    __table_args__ = (
        CheckConstraint(_in("kind", RECORD_KEY_KINDS), name="kind"),
        Index("ix_shard_record_keys_shard", "shard_id"),
    )

    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    shard_id: Mapped[str] = mapped_column(ForeignKey("shards.id"), primary_key=True)
    records: Mapped[int] = mapped_column(BigInteger)
    tokens: Mapped[int] = mapped_column(BigInteger)


class Takedown(Base):
    """A takedown as applied: the selector, the reason, and how much it removed."""

    __tablename__ = "takedowns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    selector: Mapped[str] = mapped_column(String(2100))
    reason: Mapped[str] = mapped_column(Text)
    records: Mapped[int] = mapped_column(BigInteger)
    tokens: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TakedownShard(Base):
    """A shard a takedown revoked, the records and tokens it removed from it, and the shard
    holding its other records (None when none remained)."""

    __tablename__ = "takedown_shards"
    __table_args__ = (Index("ix_takedown_shards_shard", "shard_id"),)

    takedown_id: Mapped[int] = mapped_column(ForeignKey("takedowns.id"), primary_key=True)
    shard_id: Mapped[str] = mapped_column(ForeignKey("shards.id"), primary_key=True)
    replacement_id: Mapped[str | None] = mapped_column(ForeignKey("shards.id"))
    records: Mapped[int] = mapped_column(BigInteger)
    tokens: Mapped[int] = mapped_column(BigInteger)


class ManifestRebase(Base):
    """A manifest made by ``manifest rebase``: the child of ``rebased_from`` with the
    replacements of its taken-down shards. Runs on ``rebased_from`` are refused, naming it."""

    __tablename__ = "manifest_rebases"
    __table_args__ = (Index("ix_manifest_rebases_from", "rebased_from"),)

    manifest_hash: Mapped[str] = mapped_column(ForeignKey("manifests.hash"), primary_key=True)
    rebased_from: Mapped[str] = mapped_column(ForeignKey("manifests.hash"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
