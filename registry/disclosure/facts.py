"""The shapes of a public disclosure: what the registry knows, and what only its user can say.

``DisclosureFacts`` is everything a renderer may show; it holds no contributor names, contacts,
payout references or amounts, so no format can leak them. ``DisclosureInputs`` carries what
the registry cannot know (provider, model, free-text measures): a missing one is rendered as
``NOT_PROVIDED``, never guessed.
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict, Field

SCHEMA: Final = "provreg.disclosure/1"
NOT_PROVIDED: Final = "Not provided"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DisclosureInputs(Frozen):
    """Facts only the provider can state. Every field is optional; none is ever invented."""

    provider: str | None = None
    provider_contact: str | None = None
    authorised_representative: str | None = None
    model: str | None = None
    model_dependencies: str | None = None
    placed_on_market: str | None = None
    content_types: str | None = None
    linguistic_characteristics: str | None = None
    other_characteristics: str | None = None
    crawlers: str | None = None
    crawler_purposes: str | None = None
    crawler_behaviour: str | None = None
    user_data_from_interactions: str | None = None
    user_data_from_services: str | None = None
    synthetic_generators: str | None = None
    other_sources: str | None = None
    code_of_practice_signatory: str | None = None
    tdm_measures: str | None = None
    illegal_content_measures: str | None = None
    other_information: str | None = None
    dataset_availability: str | None = Field(
        default=None,
        description="SPDX datasetAvailability: clickthrough, directDownload, query, "
        "registration or scrapingScript",
    )
    content_base_url: str | None = Field(
        default=None, description="where shard files are served: Croissant contentUrl prefix"
    )
    sme: bool | None = Field(
        default=None,
        description="the provider is an SME: the EU summary lists the top 5% or 1,000 domains",
    )


class Totals(Frozen):
    shards: int
    records: int
    tokens: int
    bytes: int


class Share(Frozen):
    """One row of a breakdown: a group's size and its share of the tokens (0..1, 6 places)."""

    key: str
    sources: int
    shards: int
    records: int
    tokens: int
    bytes: int
    token_share: float


class SourceFact(Frozen):
    name: str
    kind: str
    uri: str
    domain: str | None
    licence: str
    licence_family: str
    shards: int
    records: int
    tokens: int
    bytes: int
    token_share: float
    collected_from: str | None
    collected_to: str | None
    jurisdiction: str | None
    tdm_checked: bool
    tdm_respected: bool
    pii: bool
    pii_measures: str | None
    consent_status: str
    status: str
    compensation_model: str | None
    contributors: int
    description: str | None


class Domain(Frozen):
    domain: str
    sources: int
    tokens: int
    token_share: float  # of all web-crawl tokens


class Crawl(Frozen):
    """Web-crawled sources by domain. Today a domain is the host of the source's URI."""

    domain_basis: str
    domains_total: int
    tokens: int
    top_domains: tuple[Domain, ...]


class RecordDomain(Frozen):
    """A registrable domain of record URLs: its records, text bytes and tokens."""

    domain: str
    records: int
    bytes: int
    tokens: int
    byte_share: float  # of the text bytes of all records with a URL


class RecordLicence(Frozen):
    licence: str
    records: int
    tokens: int


class RecordFacts(Frozen):
    """What the records themselves say (v2 shards), summed from the per-shard rows ingest wrote,
    never read from the shard files. ``domains`` holds the largest domains by content size: the
    top 10% (``registry.disclosure.domain_rule``) or 10, whichever is more; the EU summary lists
    exactly what the template's rule keeps (for an SME too)."""

    basis: str
    rule: str
    shards: int  # shards whose records were profiled
    records_with_url: int
    bytes_with_url: int
    domains_total: int
    domains: tuple[RecordDomain, ...]
    authors_total: int
    licences: tuple[RecordLicence, ...]
    records_from: str | None
    records_to: str | None
    crawlers: tuple[str, ...]


class SignalFacts(Frozen):
    """Opt-out signals judged per record URL at ingest (``registry.signals.summary``)."""

    signals_honoured: tuple[str, ...]
    vocabulary: str
    origins_checked: int
    observations_applied: int
    observations_by_kind: dict[str, int]
    records_excluded: int
    records_excluded_by_signal: dict[str, int]


class TakedownFacts(Frozen):
    """That records were taken down before this manifest was rebased: when and how much,
    never what (``registry.impact.rebase.takedown_note``)."""

    takedowns: int
    last_at: str
    records_removed: int
    tokens_removed: int


class Period(Frozen):
    key: str
    collected_from: str | None
    collected_to: str | None
    sources_without_dates: int


class Handling(Frozen):
    """TDM reservations, consent and personal data, as recorded per source."""

    sources: int
    tdm_checked: int
    tdm_respected: int
    tdm_tokens_checked: int
    consent: dict[str, int]
    pii_sources: int
    pii_tokens: int
    pii_measures: tuple[str, ...]


class CompensationModel(Frozen):
    model: str
    sources: int
    tokens: int


class Compensation(Frozen):
    """Models in use and how many contributors are paid; never an amount or a name."""

    models: tuple[CompensationModel, ...]
    contributors_compensated: int
    basis: str


class MerkleFacts(Frozen):
    manifest: str
    algorithm: str
    root: str
    leaves: int


class ManifestRef(Frozen):
    hash: str
    name: str
    intended_use: str
    created_at: str
    parent: str | None
    shards: int
    tokens: int


class RunRef(Frozen):
    id: str
    manifest: str
    parent_run: str | None
    status: str
    tokenizer: str  # provreg.bytes/1, or a trained tokenizer's SHA-256
    tokenizer_manifest: str | None = None  # the manifest a trained tokenizer was trained on
    code_version: str
    steps_done: int
    started_at: str
    finished_at: str | None


class WeightsRef(Frozen):
    sha256: str
    run: str
    manifest: str
    bytes: int
    created_at: str


class ShardFile(Frozen):
    """One shard file, for formats that list files (Croissant)."""

    id: str
    source: str
    bytes: int
    records: int
    format: str
    store_uri: str


class DisclosureFacts(Frozen):
    """Everything a public disclosure says, derived from the registry (schema below)."""

    schema_: str = Field(default=SCHEMA, alias="schema")
    subject_kind: str
    subject: str
    as_of: str
    manifest: ManifestRef
    manifest_chain: tuple[ManifestRef, ...]
    lineage: tuple[ManifestRef, ...]
    runs: tuple[RunRef, ...]
    weights: tuple[WeightsRef, ...]
    totals: Totals
    by_kind: tuple[Share, ...]
    by_licence: tuple[Share, ...]
    by_licence_family: tuple[Share, ...]
    sources: tuple[SourceFact, ...]
    crawl: Crawl
    collection: tuple[Period, ...]
    handling: Handling
    compensation: Compensation
    merkle: tuple[MerkleFacts, ...]
    verification: tuple[str, ...]
    shards: tuple[ShardFile, ...] = ()
    records: RecordFacts | None = None
    """Present only when some shard's records were profiled (left out of JSON otherwise)."""
    signals: SignalFacts | None = None
    """Present only when some ingest judged record URLs (left out of JSON otherwise)."""
    takedown: TakedownFacts | None = None
    """Present only for a manifest chain rebased after a takedown (left out of JSON otherwise)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
