"""Errors raised by the pure manifests package.

Every error is a ``ValueError``: each one means "this input is not acceptable",
so callers that only care about bad input can catch ``ValueError`` while the
registry maps the subclasses to precise messages.
"""


class ManifestError(ValueError):
    """Base class for every error raised by ``manifests``."""


class CanonicalisationError(ManifestError):
    """A value cannot be written as RFC 8785 canonical JSON (NaN, inf, bad key...)."""


class ProofError(ManifestError):
    """A Merkle inclusion proof is malformed or cannot be built."""


class DocumentError(ManifestError):
    """A manifest document is malformed; the message names the offending field."""


class LicenceExpressionError(ManifestError):
    """An SPDX licence expression is malformed or names an unknown licence."""


class PolicyInputError(ManifestError):
    """Facts given to the licence policy are malformed (bad status, bad count...)."""


class StampError(ManifestError):
    """A weights file has no provenance stamp, or its stamp is malformed."""
