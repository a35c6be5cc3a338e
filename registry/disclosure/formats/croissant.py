"""MLCommons Croissant 1.0 (with the RAI 1.0 vocabulary) JSON-LD for a manifest's shards.

Each shard is a ``cr:FileObject`` whose ``sha256`` is its id. ``contentUrl`` is the shard's path
inside the shard store (``sha256/ab/cd/<id>.parquet``), relative to this file, so the document
is meant to sit at the root of the store; with ``content_base_url`` it is that URL plus the
same path. A local ``cr:FileSet`` (``includes``: exactly those paths) feeds one RecordSet,
``records``, with the canonical shard columns ``id`` and ``text``.

Licences are SPDX licence URLs (``https://spdx.org/licenses/<id>.html``); a ``LicenseRef-``
id has no SPDX page and is given as the id itself. Compensation, consent and TDM opt-outs have
no Croissant or RAI property, so they are stated in ``description`` and
``rai:dataCollection``. mlcroissant 1.1.1 warns that ``version`` is recommended: a manifest
has no version (its hash is its identity), so none is invented.
"""

from __future__ import annotations

import re
from typing import Any

from registry.disclosure.facts import DisclosureFacts, DisclosureInputs, ShardFile
from registry.disclosure.formats._encoding import dumps
from registry.shards.format import FORMAT_V2

CONFORMS_TO = "http://mlcommons.org/croissant/1.0"
CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}
COLLECTION_TYPES = {
    "web-crawl": "Web Scraping",
    "user-contributed": "User-generated content data",
}
_OPERATORS = {"AND", "OR", "WITH"}


def licence_ids(expression: str) -> list[str]:
    """The licence ids an SPDX expression names (exceptions after WITH left out)."""
    tokens = re.findall(r"[^\s()]+", expression)
    ids = []
    for i, tok in enumerate(tokens):
        if tok.upper() in _OPERATORS or (i and tokens[i - 1].upper() == "WITH"):
            continue
        ids.append(tok)
    return ids


def licence_url(spdx_id: str) -> str:
    return (
        spdx_id
        if spdx_id.startswith("LicenseRef-")
        else f"https://spdx.org/licenses/{spdx_id}.html"
    )


def store_path(shard_id: str) -> str:
    return f"sha256/{shard_id[:2]}/{shard_id[2:4]}/{shard_id}.parquet"


def _file(shard: ShardFile, base: str | None) -> dict[str, Any]:
    path = store_path(shard.id)
    return {
        "@type": "cr:FileObject",
        "@id": shard.id,
        "name": shard.id,
        "description": f"shard of source {shard.source}: {shard.records} records",
        "contentUrl": f"{base.rstrip('/')}/{path}" if base else path,
        "encodingFormat": "application/x-parquet",
        "contentSize": f"{shard.bytes} B",
        "sha256": shard.id,
    }


def _field(
    name: str,
    description: str,
    record_set: str = "records",
    file_set: str = "shards",
    data_type: str = "sc:Text",
) -> dict[str, Any]:
    return {
        "@type": "cr:Field",
        "@id": f"{record_set}/{name}",
        "name": name,
        "description": description,
        "dataType": data_type,
        "source": {"fileSet": {"@id": file_set}, "extract": {"column": name}},
    }


def _provenance(facts: DisclosureFacts) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """For v2 shards (``provreg-shard-v2``): a FileSet of those files and a RecordSet of each
    record's provenance columns (null where unknown). Empty when the manifest has none."""
    v2 = [s for s in facts.shards if s.format == FORMAT_V2]
    if not v2:
        return [], []
    files = {
        "@type": "cr:FileSet",
        "@id": "shards-v2",
        "name": "shards-v2",
        "description": "the shard files that carry per-record provenance (provreg-shard-v2)",
        "encodingFormat": "application/x-parquet",
        "includes": [store_path(s.id) for s in v2],
    }
    rs, fs = "record_provenance", "shards-v2"
    records = {
        "@type": "cr:RecordSet",
        "@id": rs,
        "name": rs,
        "description": "each record's URL, author, licence and date, where known",
        "field": [
            _field("id", "the record's id (SHA-256 of its text)", rs, fs),
            _field("url", "the URL the record was collected from", rs, fs, "sc:URL"),
            _field("author", "the record's author, as a key inside its source", rs, fs),
            _field("licence", "an SPDX expression overriding the source's licence", rs, fs),
            _field("created", "the record's ISO 8601 date or date-time", rs, fs),
        ],
    }
    return [files], [records]


def _description(facts: DisclosureFacts) -> str:
    t = facts.totals
    kinds = ", ".join(f"{s.key} {s.token_share:.1%}" for s in facts.by_kind)
    comp = facts.compensation
    return (
        f"Training manifest {facts.manifest.name} ({facts.manifest.hash}), intended use "
        f"{facts.manifest.intended_use}: {t.shards} shards, {t.records} records, {t.tokens} "
        f"tokens, {t.bytes} bytes. Token share by source kind: {kinds}. Licences: "
        + "; ".join(s.key for s in facts.by_licence)
        + f". Compensation: {comp.contributors_compensated} contributors compensated "
        f"({comp.basis}). Merkle root ({facts.merkle[-1].algorithm}) {facts.merkle[-1].root}."
    )


def _collection(facts: DisclosureFacts) -> str:
    h = facts.handling
    parts = [
        f"{s.name}: {s.kind} from {s.uri}, collected {s.collected_from or '?'} to "
        f"{s.collected_to or '?'}, consent {s.consent_status}, TDM reservations "
        + ("respected" if s.tdm_respected else "checked" if s.tdm_checked else "not checked")
        for s in facts.sources
    ]
    return (
        f"{h.tdm_checked} of {h.sources} sources checked for text-and-data-mining opt-outs, "
        f"{h.tdm_respected} respected. " + "; ".join(parts) + "."
    )


def _pii(facts: DisclosureFacts) -> str:
    h = facts.handling
    measures = "; ".join(h.pii_measures) or "none recorded"
    return (
        f"{h.pii_sources} of {h.sources} sources recorded as containing personal information "
        f"({h.pii_tokens} tokens). Measures: {measures}."
    )


def document(facts: DisclosureFacts, inputs: DisclosureInputs) -> dict[str, Any]:
    base = inputs.content_base_url
    ids = sorted({i for s in facts.by_licence for i in licence_ids(s.key)})
    period = next((p for p in facts.collection if p.key == "all"), None)
    provenance_files, provenance_records = _provenance(facts)
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "name": facts.manifest.name,
        "description": _description(facts),
        "conformsTo": CONFORMS_TO,
        "citeAs": f"{facts.manifest.name}, provreg training manifest {facts.manifest.hash}",
        "datePublished": facts.manifest.created_at,
        "license": [licence_url(i) for i in ids],
        "keywords": sorted({s.kind for s in facts.sources}),
        "identifier": f"sha256:{facts.manifest.hash}",
        "rai:dataCollection": _collection(facts),
        "rai:dataCollectionType": sorted(
            {COLLECTION_TYPES.get(s.kind, "Others") for s in facts.sources}
        ),
        "rai:personalSensitiveInformation": _pii(facts),
        "rai:dataUseCases": f"Intended use recorded in the manifest: {facts.manifest.intended_use}.",
        "rai:dataReleaseMaintenancePlan": (
            "The manifest is frozen: its content never changes. A revision is a new manifest "
            "whose parent is this one."
        ),
        "distribution": [
            *(_file(s, base) for s in facts.shards),
            {
                "@type": "cr:FileSet",
                "@id": "shards",
                "name": "shards",
                "description": "every shard file of the manifest, by its path in the store",
                "encodingFormat": "application/x-parquet",
                "includes": [store_path(s.id) for s in facts.shards],
            },
            *provenance_files,
        ],
        "recordSet": [
            {
                "@type": "cr:RecordSet",
                "@id": "records",
                "name": "records",
                "description": "one training record per row of every shard",
                "field": [
                    _field("id", "the record's id within its source"),
                    _field("text", "the record's text"),
                ],
            },
            *provenance_records,
        ],
    }
    if period and (period.collected_from or period.collected_to):
        doc["rai:dataCollectionTimeframe"] = [
            d for d in (period.collected_from, period.collected_to) if d
        ]
    if base:
        doc["url"] = base
    if inputs.provider:
        doc["creator"] = {"@type": "sc:Organization", "name": inputs.provider}
    return doc


def render(facts: DisclosureFacts, inputs: DisclosureInputs) -> bytes:
    return dumps(document(facts, inputs))
