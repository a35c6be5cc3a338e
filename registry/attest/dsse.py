"""DSSE envelopes (https://github.com/secure-systems-lab/dsse), through ``securesystemslib``.

``securesystemslib`` computes PAE and signs and verifies with ``cryptography``; what this module
adds is the one serialisation provreg stores and hashes (sorted keys, no spaces, so an
envelope's digest is stable) and errors that tell an unknown key from a bad signature.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import CryptoSigner, SSlibKey

from registry.attest.keys import Signer, key_id
from registry.errors import VerificationFailed

IN_TOTO = "application/vnd.in-toto+json"
SCHEME = "ecdsa-sha2-nistp256"


def _sslib_key(public_key: ec.EllipticCurvePublicKey) -> SSlibKey:
    return SSlibKey.from_crypto(public_key, keyid=key_id(public_key), scheme=SCHEME)


def sign(payload: bytes, payload_type: str, signer: Signer) -> bytes:
    """The envelope of ``payload`` signed by ``signer``, serialised as stored."""
    envelope = Envelope(payload=payload, payload_type=payload_type, signatures={})
    envelope.sign(CryptoSigner(signer.private_key, _sslib_key(signer.public_key)))
    return serialise(envelope.to_dict())


def serialise(envelope: dict[str, Any]) -> bytes:
    return json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode("utf-8")


def digest(envelope: bytes) -> str:
    """An envelope's identity: the SHA-256 of its bytes."""
    return hashlib.sha256(envelope).hexdigest()


def parse(envelope: bytes) -> Envelope:
    """Read an envelope without checking it.

    Raises:
        VerificationFailed (bad_signature): not a DSSE envelope.
    """
    try:
        data = json.loads(envelope)
        return Envelope.from_dict(data)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise VerificationFailed("bad_signature", f"not a DSSE envelope: {exc}") from exc


def open_envelope(
    envelope: bytes, keys: Iterable[ec.EllipticCurvePublicKey], *, payload_type: str = IN_TOTO
) -> tuple[bytes, str]:
    """Check an envelope's signature against ``keys``; return its payload and the key id
    that signed it.

    Raises:
        VerificationFailed: ``unknown_key`` when no signature names one of ``keys``;
            ``bad_signature`` when the envelope is malformed, of another payload type, or its
            signature does not verify (a tampered payload or signature).
    """
    env = parse(envelope)
    if env.payload_type != payload_type:
        raise VerificationFailed(
            "bad_signature",
            f"the envelope's payload type is {env.payload_type!r}, not {payload_type!r}",
        )
    known = {key_id(k): k for k in keys}
    signed_by = [kid for kid in env.signatures if kid in known]
    if not signed_by:
        raise VerificationFailed(
            "unknown_key",
            f"the envelope is signed by key {', '.join(env.signatures) or '(none)'}, "
            f"not by the given key {', '.join(known) or '(none)'}",
        )
    try:
        env.verify([_sslib_key(known[signed_by[0]])], 1)
    except VerificationError as exc:
        raise VerificationFailed(
            "bad_signature", f"the envelope's signature by key {signed_by[0]} does not verify"
        ) from exc
    return env.payload, signed_by[0]
