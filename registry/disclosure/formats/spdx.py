"""SPDX 3.0.1 JSON-LD: the manifest as a ``dataset_DatasetPackage`` (Dataset profile).

- ``verifiedUsing``: sha256 = the manifest hash (SHA-256 of its canonical document, which
  commits to every shard by Merkle root).
- Licences: ``hasDeclaredLicense`` and ``hasConcludedLicense`` (one of each) to one
  ``simplelicensing_LicenseExpression``: the AND of every source's expression, each
  parenthesised where compound. Declared = concluded: the registry normalised each source's
  expression and the licence policy accepted the combination when the manifest was frozen.
- ``hasSensitivePersonalInformation``: ``yes`` if any source is recorded with personal
  information, else ``no`` (as recorded per source).
- ``datasetAvailability``: the provider's input; ``directDownload`` when a content base URL
  is given; otherwise left out (never guessed).
- For a run or weights file, an ``ai_AIPackage`` (the weights, by sha256) is related by
  ``trainedOn`` to the dataset package of every manifest in its chain (continued training adds
  one package per earlier manifest, so every target resolves).
"""

from __future__ import annotations

from typing import Any

from registry.disclosure.facts import DisclosureFacts, DisclosureInputs
from registry.disclosure.formats._encoding import dumps

CONTEXT = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
AVAILABILITY = ("clickthrough", "directDownload", "query", "registration", "scrapingScript")
_CI = "_:creationinfo"


def combined_expression(expressions: list[str]) -> str:
    parts = sorted(set(expressions))
    if len(parts) == 1:
        return parts[0]
    return " AND ".join(f"({p})" if " " in p else p for p in parts)


def _collection(facts: DisclosureFacts) -> str:
    h = facts.handling
    kinds = ", ".join(
        f"{s.key} ({s.sources} sources, {s.token_share:.1%} of tokens)" for s in facts.by_kind
    )
    period = next((p for p in facts.collection if p.key == "all"), None)
    when = (
        f" Collected {period.collected_from or '?'} to {period.collected_to or '?'}."
        if period and (period.collected_from or period.collected_to)
        else ""
    )
    return (
        f"Registered sources by kind: {kinds}.{when} {h.tdm_checked} of {h.sources} sources "
        f"checked for text-and-data-mining opt-outs, {h.tdm_respected} respected. "
        f"{facts.compensation.contributors_compensated} contributors compensated "
        f"({facts.compensation.basis})."
    )


def _availability(inputs: DisclosureInputs) -> str | None:
    if inputs.dataset_availability in AVAILABILITY:
        return inputs.dataset_availability
    return "directDownload" if inputs.content_base_url else None


def _package(manifest_hash: str) -> str:
    return f"urn:provreg:manifest:{manifest_hash}"


def document(facts: DisclosureFacts, inputs: DisclosureInputs) -> dict[str, Any]:
    m = facts.manifest
    base = f"urn:provreg:{facts.subject_kind}:{facts.subject}"
    agent = "urn:provreg:agent:provreg"
    pkg = f"urn:provreg:manifest:{m.hash}"
    lic = f"{pkg}:licence"
    dataset: dict[str, Any] = {
        "type": "dataset_DatasetPackage",
        "spdxId": pkg,
        "creationInfo": _CI,
        "name": m.name,
        "description": f"Training manifest {m.hash}: {facts.totals.shards} shards, "
        f"{facts.totals.records} records, {facts.totals.tokens} tokens.",
        "builtTime": m.created_at,
        "software_primaryPurpose": "data",
        "verifiedUsing": [{"type": "Hash", "algorithm": "sha256", "hashValue": m.hash}],
        "dataset_datasetType": ["text"],
        "dataset_dataCollectionProcess": _collection(facts),
        "dataset_intendedUse": m.intended_use,
        "dataset_datasetSize": facts.totals.bytes,
        "dataset_hasSensitivePersonalInformation": "yes" if facts.handling.pii_sources else "no",
    }
    if facts.handling.pii_measures:
        dataset["dataset_anonymizationMethodUsed"] = list(facts.handling.pii_measures)
    availability = _availability(inputs)
    if availability:
        dataset["dataset_datasetAvailability"] = availability
    if inputs.content_base_url:
        dataset["software_downloadLocation"] = inputs.content_base_url
    graph: list[dict[str, Any]] = [
        {
            "type": "CreationInfo",
            "@id": _CI,
            "specVersion": "3.0.1",
            "created": facts.as_of,
            "createdBy": [agent],
        },
        {"type": "SoftwareAgent", "spdxId": agent, "name": "provreg", "creationInfo": _CI},
        dataset,
        {
            "type": "simplelicensing_LicenseExpression",
            "spdxId": lic,
            "creationInfo": _CI,
            "simplelicensing_licenseExpression": combined_expression(
                [s.licence for s in facts.sources]
            ),
        },
    ]
    relations = [
        (f"{pkg}:declared", pkg, "hasDeclaredLicense", [lic]),
        (f"{pkg}:concluded", pkg, "hasConcludedLicense", [lic]),
    ]
    chain = list(dict.fromkeys(c.hash for c in facts.manifest_chain))  # oldest first, once each
    for earlier in facts.manifest_chain:
        if earlier.hash == m.hash or any(g.get("spdxId") == _package(earlier.hash) for g in graph):
            continue
        graph.append(  # continued training: each earlier manifest is a dataset package too
            {
                "type": "dataset_DatasetPackage",
                "spdxId": _package(earlier.hash),
                "creationInfo": _CI,
                "name": earlier.name,
                "builtTime": earlier.created_at,
                "software_primaryPurpose": "data",
                "verifiedUsing": [
                    {"type": "Hash", "algorithm": "sha256", "hashValue": earlier.hash}
                ],
                "dataset_datasetType": ["text"],
                "dataset_intendedUse": earlier.intended_use,
            }
        )
    for w in facts.weights:
        model = f"urn:provreg:weights:{w.sha256}"
        graph.append(
            {
                "type": "ai_AIPackage",
                "spdxId": model,
                "creationInfo": _CI,
                "name": inputs.model or f"weights of run {w.run}",
                "builtTime": w.created_at,
                "software_primaryPurpose": "model",
                "verifiedUsing": [{"type": "Hash", "algorithm": "sha256", "hashValue": w.sha256}],
            }
        )
        relations.append((f"{model}:trainedOn", model, "trainedOn", [_package(h) for h in chain]))
    for rel_id, source, kind, targets in relations:
        graph.append(
            {
                "type": "Relationship",
                "spdxId": rel_id,
                "creationInfo": _CI,
                "from": source,
                "relationshipType": kind,
                "to": targets,
            }
        )
    roots = [pkg, *(f"urn:provreg:weights:{w.sha256}" for w in facts.weights)]
    graph.append(
        {
            "type": "SpdxDocument",
            "spdxId": f"{base}:spdx",
            "creationInfo": _CI,
            "name": f"Training data of {facts.subject_kind} {facts.subject}",
            "profileConformance": ["core", "software", "dataset", "simpleLicensing"]
            + (["ai"] if facts.weights else []),
            "rootElement": roots,
            "element": [g["spdxId"] for g in graph if "spdxId" in g],
        }
    )
    return {"@context": CONTEXT, "@graph": graph}


def render(facts: DisclosureFacts, inputs: DisclosureInputs) -> bytes:
    return dumps(document(facts, inputs))
