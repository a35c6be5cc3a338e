"""EU AI Act Art. 53(1)(d): the public summary of training content, as JSON.

Follows the sections of the European Commission's *Template for the public summary of training
content for general-purpose AI models* (AI Office, 24 July 2025). The template is narrative and
has no machine schema, so this is ``provreg.eu-summary/1``: ``sections`` -> ``subsections`` ->
``fields`` [{label, value, source}], where ``source`` says where a value came from: ``registry``
(derived), ``input`` (stated by the provider) or ``not-provided`` (value is the literal
"Not provided"). Nothing is invented: a field the registry cannot know and the provider did not
state is marked.

Source kinds map to the template as follows: web-crawl -> 2.3, public-dataset -> 2.1,
licensed -> 2.2.1, proprietary -> 2.2.2 (private data from other parties), user-contributed ->
2.4 (user data), synthetic -> 2.5; 2.6 lists nothing from the registry (every kind maps above).
"""

from __future__ import annotations

from typing import Any

from registry.disclosure.domain_rule import RULE, relevant_domain_count
from registry.disclosure.facts import NOT_PROVIDED, DisclosureFacts, DisclosureInputs, SourceFact
from registry.disclosure.formats._encoding import dumps

SCHEMA = "provreg.eu-summary/1"
TEMPLATE = (
    "European Commission (AI Office), Template for the public summary of training content "
    "for general-purpose AI models, 24 July 2025"
)
MODALITY = "Text"  # the registry's shards are canonical text records (Parquet: id, text)


def _field(label: str, value: Any, source: str = "registry") -> dict[str, Any]:
    if value is None or value == "" or value == []:
        return {"label": label, "value": NOT_PROVIDED, "source": "not-provided"}
    return {"label": label, "value": value, "source": source}


def _stated(label: str, value: str | None) -> dict[str, Any]:
    return _field(label, value, "input")


def _size_range(tokens: int) -> str:
    if tokens < 10**9:
        return "Less than 1 billion tokens"
    if tokens <= 10 * 10**12:
        return "1 billion to 10 trillion tokens"
    return "More than 10 trillion tokens"


def _of_kind(facts: DisclosureFacts, kind: str) -> list[SourceFact]:
    return [s for s in facts.sources if s.kind == kind]


def _period(sources: list[SourceFact]) -> str | None:
    starts = [s.collected_from for s in sources if s.collected_from]
    ends = [s.collected_to for s in sources if s.collected_to]
    if not (starts or ends):
        return None
    return f"{min(starts) if starts else 'unknown'} to {max(ends) if ends else 'unknown'}"


def _listing(sources: list[SourceFact]) -> list[dict[str, Any]]:
    return [
        {
            "name": s.name,
            "uri": s.uri,
            "licence": s.licence,
            "tokens": s.tokens,
            "records": s.records,
            "bytes": s.bytes,
            "token_share": s.token_share,
            "collected": _period([s]) or NOT_PROVIDED,
        }
        for s in sources
    ]


def _used(sources: list[SourceFact]) -> str:
    return "Yes" if sources else "No"


def _size(sources: list[SourceFact]) -> str:
    tokens = sum(s.tokens for s in sources)
    return f"{tokens:,} tokens; {sum(s.records for s in sources):,} records; {sum(s.bytes for s in sources):,} bytes"


def _general(facts: DisclosureFacts, i: DisclosureInputs) -> dict[str, Any]:
    t = facts.totals
    ends = [s.collected_to for s in facts.sources if s.collected_to]
    identifiers = [f"manifest {m.hash} ({m.name})" for m in facts.manifest_chain]
    identifiers += [f"training run {r.id}" for r in facts.runs]
    identifiers += [f"weights sha256 {w.sha256}" for w in facts.weights]
    return {
        "id": "1",
        "title": "General information",
        "subsections": [
            {
                "id": "1.1",
                "title": "Provider identification",
                "fields": [
                    _stated("Provider name", i.provider),
                    _stated("Provider contact details", i.provider_contact),
                    _stated("Authorised representative", i.authorised_representative),
                ],
            },
            {
                "id": "1.2",
                "title": "Model identification",
                "fields": [
                    _stated("Versioned model name(s)", i.model),
                    _stated("Model dependencies", i.model_dependencies),
                    _stated("Date of placement on the Union market", i.placed_on_market),
                    _field("Training data identifiers (provreg)", identifiers),
                ],
            },
            {
                "id": "1.3",
                "title": "Modalities, overall training data size and other characteristics",
                "fields": [
                    _field("Modality", [MODALITY]),
                    _field(
                        "Training data size (text)",
                        f"{_size_range(t.tokens)} ({t.tokens:,} tokens; {t.records:,} records; "
                        f"{t.bytes:,} bytes in {t.shards:,} shards)",
                    ),
                    _stated("Types of content", i.content_types),
                    _field("Latest date of data collection", max(ends) if ends else None),
                    _stated("Linguistic characteristics", i.linguistic_characteristics),
                    _stated("Other characteristics", i.other_characteristics),
                    _field(
                        "Composition by source kind",
                        [
                            {"kind": s.key, "tokens": s.tokens, "token_share": s.token_share}
                            for s in facts.by_kind
                        ],
                    ),
                ],
            },
        ],
    }


def _crawler_names(facts: DisclosureFacts, i: DisclosureInputs) -> dict[str, Any]:
    """Stated by the provider, or else the crawlers the registry's sources name."""
    if i.crawlers is None and facts.records is not None and facts.records.crawlers:
        return _field("Crawler names", list(facts.records.crawlers))
    return _stated("Crawler names", i.crawlers)


def _collection_period(facts: DisclosureFacts, crawl: list[SourceFact]) -> dict[str, Any]:
    """From the records' own dates where they have them, else from the sources' periods."""
    r = facts.records
    if r is not None and (r.records_from or r.records_to):
        return _field(
            "Collection period",
            f"{r.records_from or 'unknown'} to {r.records_to or 'unknown'} (record dates)",
        )
    return _field("Collection period", _period(crawl))


def _domains(facts: DisclosureFacts, i: DisclosureInputs) -> list[dict[str, Any]]:
    """The most relevant domain names: from record URLs by content size under the template's
    rule (``domain_rule``) where records were profiled, else from the sources' URIs."""
    r = facts.records
    if r is not None and r.domains_total:
        keep = relevant_domain_count(r.domains_total, sme=bool(i.sme))
        return [
            _field(
                "Most relevant domain names (by content size)",
                [
                    {
                        "domain": d.domain,
                        "bytes": d.bytes,
                        "records": d.records,
                        "byte_share": d.byte_share,
                    }
                    for d in r.domains[:keep]
                ],
            ),
            _field(
                "Comments",
                f"{r.domains_total} domains in all; listed: {RULE}"
                f"{' (SME)' if i.sme else ''}; domain basis: {r.basis}",
            ),
        ]
    c = facts.crawl
    return [
        _field(
            "Most relevant domain names (by share of crawled tokens)",
            [
                {"domain": d.domain, "tokens": d.tokens, "token_share": d.token_share}
                for d in c.top_domains
            ],
        ),
        _field(
            "Comments",
            f"{c.domains_total} domains in all; domain basis: {c.domain_basis}"
            if _of_kind(facts, "web-crawl")
            else None,
        ),
    ]


def _sources(facts: DisclosureFacts, i: DisclosureInputs) -> dict[str, Any]:
    public = _of_kind(facts, "public-dataset")
    licensed = _of_kind(facts, "licensed")
    private = _of_kind(facts, "proprietary")
    crawl = _of_kind(facts, "web-crawl")
    user = _of_kind(facts, "user-contributed")
    synthetic = _of_kind(facts, "synthetic")
    return {
        "id": "2",
        "title": "List of data sources",
        "subsections": [
            {
                "id": "2.1",
                "title": "Publicly available datasets",
                "fields": [
                    _field("Used", _used(public)),
                    _field("Modality", [MODALITY] if public else None),
                    _field("Size", _size(public) if public else None),
                    _field("Datasets (largest first)", _listing(public)),
                ],
            },
            {
                "id": "2.2",
                "title": "Private non-publicly available datasets obtained from third parties",
                "subsections": [
                    {
                        "id": "2.2.1",
                        "title": "Datasets commercially licensed by rightsholders or their representatives",
                        "fields": [
                            _field("Used", _used(licensed)),
                            _field("Modality", [MODALITY] if licensed else None),
                            _field("Size", _size(licensed) if licensed else None),
                            _field("Datasets", _listing(licensed)),
                        ],
                    },
                    {
                        "id": "2.2.2",
                        "title": "Private datasets obtained from other third parties",
                        "fields": [
                            _field("Used", _used(private)),
                            _field("Collection period", _period(private)),
                            _field("Size", _size(private) if private else None),
                            _field("Datasets", _listing(private)),
                        ],
                    },
                ],
            },
            {
                "id": "2.3",
                "title": "Data crawled and scraped from online sources",
                "fields": [
                    _field("Crawlers used", _used(crawl)),
                    _crawler_names(facts, i),
                    _stated("Purposes of the crawlers", i.crawler_purposes),
                    _stated("Crawler behaviour", i.crawler_behaviour),
                    _collection_period(facts, crawl),
                    _stated("Types of content and sources", i.content_types),
                    _field("Modality", [MODALITY] if crawl else None),
                    _field("Size", _size(crawl) if crawl else None),
                    *_domains(facts, i),
                ],
            },
            {
                "id": "2.4",
                "title": "User data",
                "fields": [
                    _stated("From user interactions with the model", i.user_data_from_interactions),
                    _stated("From the provider's other services", i.user_data_from_services),
                    _field("User-contributed sources in the registry", _listing(user)),
                    _field("Modality", [MODALITY] if user else None),
                ],
            },
            {
                "id": "2.5",
                "title": "Synthetic data",
                "fields": [
                    _field("Used", _used(synthetic)),
                    _field("Modality", [MODALITY] if synthetic else None),
                    _stated("Generated by which models", i.synthetic_generators),
                    _field("Size", _size(synthetic) if synthetic else None),
                    _field("Datasets", _listing(synthetic)),
                ],
            },
            {
                "id": "2.6",
                "title": "Other sources of data",
                "fields": [_stated("Description", i.other_sources)],
            },
        ],
    }


def _takedown_fields(facts: DisclosureFacts) -> list[dict[str, Any]]:
    """A takedown before the manifest was rebased: when and how much, never what."""
    t = facts.takedown
    if t is None:
        return []
    return [
        _field(
            "Content taken down",
            f"{t.takedowns} takedown(s), the last at {t.last_at}: {t.records_removed:,} "
            f"records ({t.tokens_removed:,} tokens) removed before this manifest was rebased",
        )
    ]


def _signal_fields(facts: DisclosureFacts) -> list[dict[str, Any]]:
    """Section 3.1's machine-readable opt-outs judged per record URL at ingest, if any were."""
    sig = facts.signals
    out = _takedown_fields(facts)
    if sig is None:
        return out
    excluded = ", ".join(f"{k} {v:,}" for k, v in sig.records_excluded_by_signal.items())
    return [
        *out,
        _field(
            "Machine-readable opt-out signals honoured",
            f"{'; '.join(sig.signals_honoured)} (vocabulary {sig.vocabulary}); any explicit "
            "disallow or TDM reservation excludes a record (docs/signals.md)",
        ),
        _field(
            "Origins checked",
            f"{sig.origins_checked:,} origins; {sig.observations_applied:,} observations applied",
        ),
        _field(
            "Records excluded per signal type",
            f"{sig.records_excluded:,} records" + (f": {excluded}" if excluded else ""),
        ),
    ]


def _processing(facts: DisclosureFacts, i: DisclosureInputs) -> dict[str, Any]:
    h = facts.handling
    recorded = (
        f"{h.tdm_checked} of {h.sources} sources checked for text-and-data-mining reservations "
        f"(opt-outs), {h.tdm_respected} recorded as respected; consent status by source: "
        + ", ".join(f"{k} {v}" for k, v in h.consent.items())
        + ". Sources opted out or revoked cannot enter a manifest (registry policy)."
    )
    comp = facts.compensation
    return {
        "id": "3",
        "title": "Data processing aspects",
        "subsections": [
            {
                "id": "3.1",
                "title": "Respect of reservation of rights from the text and data mining exception",
                "fields": [
                    _stated(
                        "Signatory of the General-Purpose AI Code of Practice",
                        i.code_of_practice_signatory,
                    ),
                    _field("Reservations recorded in the registry", recorded),
                    *_signal_fields(facts),
                    _stated("Measures implemented", i.tdm_measures),
                ],
            },
            {
                "id": "3.2",
                "title": "Removal of illegal content",
                "fields": [_stated("Measures", i.illegal_content_measures)],
            },
            {
                "id": "3.3",
                "title": "Other information",
                "fields": [
                    _field(
                        "Personal information",
                        f"{h.pii_sources} sources ({h.pii_tokens:,} tokens) recorded as "
                        "containing personal information; measures: "
                        + ("; ".join(h.pii_measures) or "none recorded"),
                    ),
                    _field(
                        "Compensation of contributors",
                        f"{comp.contributors_compensated} contributors compensated "
                        f"({comp.basis}); models: "
                        + ", ".join(f"{m.model} ({m.sources} sources)" for m in comp.models),
                    ),
                    _field("Verification", list(facts.verification)),
                    _stated("Other information", i.other_information),
                ],
            },
        ],
    }


def summary(facts: DisclosureFacts, inputs: DisclosureInputs) -> dict[str, Any]:
    """The template's sections as data (shared with the HTML rendering)."""
    return {
        "schema": SCHEMA,
        "template": TEMPLATE,
        "subject_kind": facts.subject_kind,
        "subject": facts.subject,
        "as_of": facts.as_of,
        "not_provided_marker": NOT_PROVIDED,
        "sections": [
            _general(facts, inputs),
            _sources(facts, inputs),
            _processing(facts, inputs),
        ],
    }


def render(facts: DisclosureFacts, inputs: DisclosureInputs) -> bytes:
    return dumps(summary(facts, inputs))
