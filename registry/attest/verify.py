"""Offline verification: a weights file, its attestation, the exported manifest and a public key.

No database and no network: everything checked is in the files given. Each check that fails
raises ``VerificationFailed`` with its own ``mode`` (``MODES``), in this order: the DSSE
signature and key id, the subject digest against the file's bytes, the manifest document's hash
and Merkle root (recomputed from the exported shard ids), the safetensors stamp against the
attested manifest and run, the OMS signature when given, and the chain of parent attestations.
The weights file is hashed once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from manifests.canonical import canonical_json
from manifests.digests import is_hex64
from manifests.document import ManifestDocument
from manifests.errors import DocumentError, ManifestError, StampError
from manifests.merkle import merkle_root
from manifests.stamp import WeightsStamp
from registry.attest import dsse, statements
from registry.errors import VerificationFailed
from registry.runs.weights import read_stamp
from registry.shards.store import hash_file

# every way verification fails, in the order it is checked (the CLI gives each an exit code)
MODES = (
    "bad_signature",
    "unknown_key",
    "subject_mismatch",
    "manifest_mismatch",
    "stamp_mismatch",
    "oms_mismatch",
    "broken_chain",
)


@dataclass(frozen=True)
class Verified:
    """What held: the subject's digest, the key that signed, and each check passed."""

    subject: str
    key_id: str
    statement: dict[str, Any]
    checks: list[str] = field(default_factory=list)


def read_statement(
    envelope: bytes, keys: Sequence[ec.EllipticCurvePublicKey]
) -> tuple[dict[str, Any], str]:
    """The verified statement of an envelope and the key id that signed it.

    Raises:
        VerificationFailed: as ``dsse.open_envelope``; ``bad_signature`` for a signed payload
            that is not an in-toto Statement v1.
    """
    payload, kid = dsse.open_envelope(envelope, keys)
    try:
        statement = json.loads(payload)
        ok = statement["_type"] == statements.STATEMENT_TYPE and statement["subject"]
        subject = statement["subject"][0]["digest"]["sha256"]
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise VerificationFailed(
            "bad_signature", f"the payload is not an in-toto Statement: {exc}"
        ) from exc
    if not ok or not is_hex64(subject):
        raise VerificationFailed("bad_signature", "the payload is not an in-toto Statement v1")
    return statement, kid


def read_manifest_export(path: str | os.PathLike[str]) -> tuple[bytes, dict[str, Any], list[str]]:
    """An exported manifest (``manifest export``): the document line, the document, shard ids.

    Raises:
        VerificationFailed (manifest_mismatch): unreadable, or the document is not canonical.
    """
    try:
        lines = Path(path).read_bytes().splitlines()
        document_bytes = lines[0]
        document = json.loads(document_bytes)
        ids = [json.loads(line)["id"] for line in lines[1:] if line.strip()]
        parsed = ManifestDocument.from_dict(document)
    except (OSError, IndexError, ValueError, KeyError, TypeError, DocumentError) as exc:
        raise VerificationFailed(
            "manifest_mismatch", f"{os.fspath(path)} is not an exported manifest: {exc}"
        ) from exc
    if canonical_json(parsed.to_dict()) != document_bytes:
        raise VerificationFailed(
            "manifest_mismatch", "the manifest document is not in its canonical form"
        )
    return document_bytes, document, ids


def _export_root(path: str | os.PathLike[str], document: dict[str, Any], ids: list[str]) -> str:
    """The export's Merkle root under the document's schema (``/2`` lines carry record roots).

    Raises:
        VerificationFailed (manifest_mismatch): the lines cannot make a root.
    """
    if document["schema"] != "provreg.manifest/2":
        return merkle_root(sorted(ids))
    try:
        lines = [json.loads(x) for x in Path(path).read_bytes().splitlines()[1:] if x.strip()]
        pairs = sorted((line["id"], line["record_root"]) for line in lines)
        return merkle_root([i for i, _ in pairs], [r for _, r in pairs])
    except (OSError, ValueError, KeyError, TypeError, ManifestError) as exc:
        raise VerificationFailed(
            "manifest_mismatch", f"{os.fspath(path)}: the shard lines give no /2 root: {exc}"
        ) from exc


def check_manifest(path: str | os.PathLike[str], *, digest: str, root: str, tree_size: int) -> None:
    """The exported manifest hashes to ``digest`` and its shard ids to the Merkle ``root``.

    Raises:
        VerificationFailed (manifest_mismatch): any of them differs.
    """
    document_bytes, document, ids = read_manifest_export(path)
    actual = dsse.digest(document_bytes)
    if actual != digest:
        raise VerificationFailed(
            "manifest_mismatch",
            f"the manifest document's SHA-256 is {actual}, the attestation names {digest}",
        )
    recomputed = _export_root(path, document, ids)
    if (document["merkle"]["root"], document["merkle"]["leaves"]) != (recomputed, len(ids)):
        raise VerificationFailed(
            "manifest_mismatch",
            f"the manifest's {len(ids)} shard ids give Merkle root {recomputed}, "
            f"the document says {document['merkle']['root']} over {document['merkle']['leaves']}",
        )
    if (root, tree_size) != (recomputed, len(ids)):
        raise VerificationFailed(
            "manifest_mismatch",
            f"the attestation's Merkle root {root} over {tree_size} shards is not the manifest's "
            f"{recomputed} over {len(ids)}",
        )


def _stamp_problems(stamp: WeightsStamp, params: Mapping[str, Any], run_id: str) -> list[str]:
    problems = []
    if stamp.manifest != params["manifest"]:
        problems.append(
            f"the stamp names manifest {stamp.manifest}, the attestation {params['manifest']}"
        )
    if stamp.run != run_id:
        problems.append(f"the stamp names run {stamp.run}, the attestation {run_id}")
    if stamp.merkle_root != params["merkleRoot"]:
        problems.append(
            f"the stamp's Merkle root {stamp.merkle_root} is not {params['merkleRoot']}"
        )
    if stamp.tokenizer != params["tokenizer"]["id"]:
        problems.append(
            f"the stamp's tokenizer {stamp.tokenizer} is not {params['tokenizer']['id']}"
        )
    if stamp.tokenizer_manifest != params["tokenizer"]["manifest"]:
        problems.append("the stamp's tokenizer manifest is not the attested one")
    return problems


def _dependency(statement: Mapping[str, Any], name: str) -> str | None:
    for dep in statement["predicate"]["buildDefinition"]["resolvedDependencies"]:
        if dep.get("name") == name:
            return str(dep["digest"]["sha256"])
    return None


def check_chain(
    statement: Mapping[str, Any],
    parents: Sequence[bytes],
    keys: Sequence[ec.EllipticCurvePublicKey],
) -> int:
    """Follow ``parent-attestation`` links through ``parents`` up to the first run; return the
    number of parents followed.

    Raises:
        VerificationFailed (broken_chain): a parent attestation missing, unsigned by ``keys``,
            or about other weights than its child names.
    """
    by_digest = {dsse.digest(p): p for p in parents}
    followed, current = 0, statement
    while (wanted := _dependency(current, "parent-attestation")) is not None:
        envelope = by_digest.get(wanted)
        if envelope is None:
            raise VerificationFailed(
                "broken_chain", f"the parent attestation {wanted} is not among the chain given"
            )
        try:
            parent, _ = read_statement(envelope, keys)
        except VerificationFailed as exc:
            raise VerificationFailed(
                "broken_chain", f"parent attestation {wanted}: {exc.detail}"
            ) from exc
        if parent["subject"][0]["digest"]["sha256"] != _dependency(current, "parent-weights"):
            raise VerificationFailed(
                "broken_chain",
                f"parent attestation {wanted} is about other weights than its child names",
            )
        followed, current = followed + 1, parent
        if followed > len(parents):  # pragma: no cover - digests cannot form a cycle
            raise VerificationFailed("broken_chain", "the chain of parents loops")
    return followed


def verify_weights_attestation(
    weights: str | os.PathLike[str],
    envelope: bytes,
    *,
    manifest: str | os.PathLike[str],
    keys: Sequence[ec.EllipticCurvePublicKey],
    oms_signature: str | os.PathLike[str] | None = None,
    oms_public_key: str | os.PathLike[str] | None = None,
    chain: Sequence[bytes] | None = None,
) -> Verified:
    """Every offline check of a weights file's attestation (see the module docstring).

    Raises:
        VerificationFailed: the first check that fails, with its mode.
        NotFound: no weights file.
    """
    statement, kid = read_statement(envelope, keys)
    checks = [f"DSSE signature by key {kid}"]
    if statement["predicateType"] != statements.SLSA_PROVENANCE:
        raise VerificationFailed(
            "subject_mismatch",
            f"the attestation is a {statement['predicateType']}, not weights provenance",
        )
    subject = statement["subject"][0]["digest"]["sha256"]
    digest, _ = hash_file(weights)
    if digest != subject:
        raise VerificationFailed(
            "subject_mismatch",
            f"the file's SHA-256 is {digest}, the attestation is about {subject}",
        )
    checks.append(f"subject SHA-256 {digest}")
    params = statement["predicate"]["buildDefinition"]["externalParameters"]
    check_manifest(
        manifest, digest=params["manifest"], root=params["merkleRoot"], tree_size=params["treeSize"]
    )
    checks.append(f"manifest {params['manifest']} and its Merkle root")
    run_id = statement["predicate"]["runDetails"]["metadata"]["invocationId"]
    try:
        stamp = read_stamp(weights)
    except StampError as exc:
        raise VerificationFailed(
            "stamp_mismatch", f"the file's stamp is unreadable: {exc}"
        ) from exc
    problems = _stamp_problems(stamp, params, run_id)
    if problems:
        raise VerificationFailed("stamp_mismatch", "; ".join(problems))
    checks.append(f"stamp names manifest {stamp.manifest} and run {run_id}")
    if oms_signature is not None:
        from registry.attest import oms

        oms.verify(weights, oms_signature, oms_public_key)
        checks.append("OpenSSF Model Signing signature")
    if chain is not None:
        followed = check_chain(statement, chain, keys)
        checks.append(f"chain of {followed} parent attestation(s) to the first run")
    return Verified(subject=digest, key_id=kid, statement=statement, checks=checks)


def verify_manifest_attestation(
    envelope: bytes, *, manifest: str | os.PathLike[str], keys: Sequence[ec.EllipticCurvePublicKey]
) -> Verified:
    """A manifest's attestation against the exported manifest.

    Raises:
        VerificationFailed: the first check that fails, with its mode.
    """
    statement, kid = read_statement(envelope, keys)
    if statement["predicateType"] != statements.MANIFEST_PREDICATE:
        raise VerificationFailed(
            "subject_mismatch",
            f"the attestation is a {statement['predicateType']}, not a manifest's",
        )
    subject = statement["subject"][0]["digest"]["sha256"]
    merkle = statement["predicate"]["merkle"]
    check_manifest(manifest, digest=subject, root=merkle["root"], tree_size=merkle["treeSize"])
    return Verified(
        subject=subject,
        key_id=kid,
        statement=statement,
        checks=[f"DSSE signature by key {kid}", f"manifest {subject} and its Merkle root"],
    )
