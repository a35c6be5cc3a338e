"""The in-toto Statements provreg signs, built from plain values (no database here).

* a manifest: subject = the manifest document's SHA-256, predicate ``MANIFEST_PREDICATE``
  (documented with its JSON Schema in docs/attestations.md);
* a weights file: subject = the file's SHA-256, predicate SLSA provenance v1, whose
  ``externalParameters`` pin the manifest and the run's settings and whose
  ``resolvedDependencies`` name the manifest, the code and, for continued training, the parent
  weights and the parent's attestation;
* a published disclosure: subject = the SHA-256 of its bytes (a detached signature);
* an audit checkpoint (not a statement: its own payload type), ``checkpoint_payload``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import rfc8785

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
MANIFEST_PREDICATE = "https://provreg.dev/attestation/manifest/v1"
DISCLOSURE_PREDICATE = "https://provreg.dev/attestation/disclosure/v1"
SLSA_PROVENANCE = "https://slsa.dev/provenance/v1"
TRAIN_BUILD_TYPE = "https://provreg.dev/attestation/train/v1"
CHECKPOINT_TYPE = "application/vnd.provreg.audit-checkpoint+json"


def timestamp(moment: datetime) -> str:
    """RFC 3339 UTC with a ``Z``, to the second (what SLSA's timestamps are)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def encode(statement: dict[str, Any]) -> bytes:
    """The statement's payload bytes: RFC 8785 canonical JSON, so one statement has one form."""
    return rfc8785.dumps(statement)


def statement(
    subject_name: str, sha256: str, predicate_type: str, predicate: Any
) -> dict[str, Any]:
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": subject_name, "digest": {"sha256": sha256}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    }


def manifest_statement(document: dict[str, Any], digest: str, registry: str) -> dict[str, Any]:
    """What the registry vouches for about a frozen manifest, read from its document."""
    obligations = sorted({o for lic in document["licences"] for o in lic.get("obligations", [])})
    predicate = {
        "registry": registry,
        "name": document["name"],
        "createdAt": document["created_at"],
        "parent": document["parent"],
        "merkle": {
            "algorithm": document["merkle"]["algorithm"],
            "root": document["merkle"]["root"],
            "treeSize": document["merkle"]["leaves"],
        },
        "intendedUse": document["intended_use"],
        "licences": [lic["expression"] for lic in document["licences"]],
        "policy": {
            "result": "allowed",  # a manifest is frozen only when the policy allows it
            "obligations": obligations,
            "waivers": [w["source"] for w in document["waivers"]],
        },
    }
    return statement(document["name"], digest, MANIFEST_PREDICATE, predicate)


def config_digest(config: Any) -> str:
    return hashlib.sha256(rfc8785.dumps(config)).hexdigest()


def weights_statement(
    *,
    file_name: str,
    sha256: str,
    registry: str,
    run_id: str,
    manifest: str,
    merkle_root: str,
    tree_size: int,
    config: Any,
    seed: int,
    tokenizer: str,
    tokenizer_manifest: str | None,
    code_version: str,
    started: datetime,
    finished: datetime,
    parent: dict[str, str] | None = None,
) -> dict[str, Any]:
    """SLSA provenance v1 for a weights file. ``parent`` = ``{"run", "weights", "attestation"}``
    (the parent run, its weights' SHA-256 and its attestation's digest) for continued training.
    """
    dependencies: list[dict[str, Any]] = [
        {"name": "manifest", "uri": f"provreg:manifest/{manifest}", "digest": {"sha256": manifest}},
        {"name": "provreg", "uri": f"pkg:pypi/provreg@{code_version}"},
    ]
    if parent is not None:
        dependencies += [
            {
                "name": "parent-weights",
                "uri": f"provreg:run/{parent['run']}/weights",
                "digest": {"sha256": parent["weights"]},
            },
            {
                "name": "parent-attestation",
                "uri": f"provreg:attestation/{parent['attestation']}",
                "digest": {"sha256": parent["attestation"]},
                "mediaType": "application/vnd.dsse.envelope.v1+json",
            },
        ]
    predicate = {
        "buildDefinition": {
            "buildType": TRAIN_BUILD_TYPE,
            "externalParameters": {
                "manifest": manifest,
                "merkleRoot": merkle_root,
                "treeSize": tree_size,
                "configDigest": {"sha256": config_digest(config)},
                "seed": seed,
                "tokenizer": {"id": tokenizer, "manifest": tokenizer_manifest},
            },
            "internalParameters": {"codeVersion": code_version},
            "resolvedDependencies": dependencies,
        },
        "runDetails": {
            "builder": {"id": f"https://provreg.dev/registry/{registry}"},
            "metadata": {
                "invocationId": run_id,
                "startedOn": timestamp(started),
                "finishedOn": timestamp(finished),
            },
        },
    }
    return statement(file_name, sha256, SLSA_PROVENANCE, predicate)


def disclosure_statement(
    *, sha256: str, fmt: str, media_type: str, subject_kind: str, subject: str, registry: str
) -> dict[str, Any]:
    predicate = {
        "registry": registry,
        "format": fmt,
        "mediaType": media_type,
        "about": {"kind": subject_kind, "id": subject},
    }
    return statement(f"disclosure.{fmt}", sha256, DISCLOSURE_PREDICATE, predicate)


def checkpoint_payload(*, registry: str, rows: int, head: str, at: datetime) -> bytes:
    return rfc8785.dumps(
        {
            "registry": registry,
            "rows": rows,
            "head": head,
            "at": at.isoformat(timespec="microseconds"),
        }
    )
