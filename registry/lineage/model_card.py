"""A Hugging Face model card for recorded weights (``huggingface_hub``, no network).

The card's metadata says what the Hub and its tools read: ``license`` (an SPDX id the Hub
knows, lowercased, or ``other`` with the full expression), ``datasets`` (the manifest and its
published disclosures), ``base_model`` with ``base_model_relation: finetune`` for continued
training. Its provenance section gives the manifest hash, Merkle root and run, and how to verify
the attestation offline.
"""

from __future__ import annotations

import json

from huggingface_hub import ModelCard, ModelCardData
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.db.models import Attestation, Disclosure, Manifest, TrainingRun, Weights
from registry.disclosure.formats.spdx import combined_expression
from registry.errors import NotFound


def _ref(base: str | None, kind: str, digest: str) -> str:
    return f"{base.rstrip('/')}/{kind}s/{digest}" if base else f"provreg:{kind}/{digest}"


def model_card(
    session: Session, sha256: str, *, model_name: str | None = None, registry_url: str | None = None
) -> ModelCard:
    """The card of recorded weights; ``registry_url`` makes its references links.

    Raises:
        NotFound: the weights are not recorded here.
    """
    weights = session.get(Weights, sha256)
    if weights is None:
        raise NotFound(f"no weights with SHA-256 {sha256} are recorded")
    run = session.get_one(TrainingRun, weights.run_id)
    manifest = session.get_one(Manifest, run.manifest_hash)
    document = json.loads(manifest.document)
    expression = combined_expression([lic["expression"] for lic in document["licences"]])
    simple = " " not in expression and not expression.startswith("LicenseRef-")
    disclosures = session.scalars(
        select(Disclosure.hash)
        .where(Disclosure.subject.in_([manifest.hash, run.id, weights.sha256]))
        .order_by(Disclosure.created_at, Disclosure.hash)
    ).all()
    parent = None
    if run.parent_run_id is not None:
        parent = session.scalars(
            select(Weights.sha256)
            .where(Weights.run_id == run.parent_run_id)
            .order_by(Weights.created_at.desc())
            .limit(1)
        ).first()
    attestation = session.scalars(
        select(Attestation.digest).where(
            Attestation.subject_kind == "weights", Attestation.subject == weights.sha256
        )
    ).first()
    data = ModelCardData(
        license=expression.lower() if simple else "other",
        license_name=None if simple else "provreg-manifest-licences",
        license_link=None if simple else _ref(registry_url, "manifest", manifest.hash),
        datasets=[_ref(registry_url, "manifest", manifest.hash)]
        + [_ref(registry_url, "disclosure", d) for d in disclosures],
        base_model=_ref(registry_url, "weight", parent) if parent else None,
        base_model_relation="finetune" if parent else None,
        tags=["provreg"],
    )
    name = model_name or f"weights of run {run.id}"
    verify = (
        "provreg attest verify --weights MODEL.safetensors --attestation ATTESTATION.json "
        "--manifest manifest.json --key registry.pub.pem"
    )
    body = f"""
# {name}

Trained by provreg run `{run.id}` on a frozen, Merkle-rooted training manifest.

## Provenance

| | |
| --- | --- |
| weights SHA-256 | `{weights.sha256}` |
| manifest | `{manifest.hash}` ({manifest.name}, intended use {manifest.intended_use}) |
| Merkle root | `{manifest.merkle_root}` over {manifest.shard_count} shards (RFC 6962) |
| licences | `{expression}` |
| run | `{run.id}`, seed {run.seed}, tokenizer `{run.tokenizer}`, code {run.code_version} |
| parent weights | {f"`{parent}` (continued training)" if parent else "none: trained from scratch"} |
| attestation | {f"`{attestation}` (SLSA provenance v1, DSSE)" if attestation else "not signed"} |

## Verify

With the weights file, its attestation (`provreg attest export {run.id}`), the exported
manifest (`provreg manifest export {manifest.hash}`) and the registry's public key
(`GET /keys`), offline:

```
{verify}
```
"""
    return ModelCard(f"---\n{data.to_yaml()}\n---\n{body}")
