"""Canonical JSON (RFC 8785, JCS) and the hashes built on it.

A manifest's identity is the SHA-256 of its canonical bytes, so two programs
that agree on the document agree on the hash, whatever their key order, float
formatting or hash seed.
"""

import hashlib
import json
from typing import Any

import rfc8785

from manifests.errors import CanonicalisationError


def canonical_json(obj: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 encoding of ``obj``.

    Accepts ``None``, ``bool``, ``int`` (within +/-(2**53 - 1)), finite ``float``,
    ``str``, ``list``/``tuple`` and ``dict`` with ``str`` keys.

    Raises:
        CanonicalisationError: ``obj`` holds NaN or infinity, an integer outside
            the IEEE 754 safe range, a non-string key, a lone surrogate, or an
            unsupported type.
    """
    try:
        return rfc8785.dumps(obj)
    except rfc8785.CanonicalizationError as exc:
        raise CanonicalisationError(f"cannot canonicalise value: {exc}") from exc
    except RecursionError as exc:
        raise CanonicalisationError("cannot canonicalise value: nested too deeply") from exc


def sha256_hex(data: bytes) -> str:
    """Return the lowercase hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def digest(obj: Any) -> str:
    """Return ``sha256_hex(canonical_json(obj))``: the hash of a JSON value.

    Raises:
        CanonicalisationError: as ``canonical_json``.
    """
    return sha256_hex(canonical_json(obj))


def compact_json(obj: Any) -> str:
    """Deterministic JSON text for documents that are published or stored, not hashed as ids.

    Sorted keys, no whitespace, UTF-8 characters as themselves, no NaN or infinity. Unlike
    ``canonical_json`` it formats floats as Python does (not RFC 8785) and runs in the json
    module's C encoder, which matters for a disclosure of a million shards; anything whose hash
    is an identity (a manifest, an audit row) uses ``canonical_json``.

    Raises:
        ValueError: ``obj`` holds NaN or infinity.
        TypeError: ``obj`` holds a value JSON cannot represent.
    """
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
