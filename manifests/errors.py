"""Errors raised by the pure manifests package.

Every error is a ``ValueError``: each one means "this input is not acceptable",
so callers that only care about bad input can catch ``ValueError`` while the
registry maps the subclasses to precise messages.
"""


class ManifestError(ValueError):
    """Base class for every error raised by ``manifests``."""


class StampError(ManifestError):
    """A weights file has no provenance stamp, or its stamp is malformed."""
