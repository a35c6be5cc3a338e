"""Domain errors: services raise these; the CLI prints one line, the API maps them to problem+json.

Messages speak the domain, never a presentation layer: a service says "name at least one
dataset or shard", not which command-line flag does that. ``field`` names the input at fault in
domain terms (``manifest.selection``, ``token.contributor``), so the CLI can add its own advice
(``cli.main.ADVICE``) and an API client reads the same message without CLI flags in it.
"""

from __future__ import annotations


class ProvregError(Exception):
    """Base of every error a user can cause or fix; ``status`` is the HTTP status it maps to."""

    status: int = 400
    title: str = "Bad request"
    keeps_writes: bool = False
    """True for a refusal that is itself a registry fact: the writes the service made before
    raising it (recording the refusal) are committed, then the error propagates
    (``registry.db.engine.transaction``)."""

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class InvalidInput(ProvregError):
    status = 422
    title = "Invalid input"


class ImplausibleReport(InvalidInput):
    """A trainer's report that cannot be true (more tokens than its steps hold, more of a shard
    than its epochs allow). Refused, and recorded: the run is failed with the reason and the
    audit log says so, in the caller's transaction, which commits them (``keeps_writes``)."""

    title = "Implausible report"
    keeps_writes = True


class NotFound(ProvregError):
    status = 404
    title = "Not found"


class Conflict(ProvregError):
    """The request contradicts what is registered (a duplicate name, other bytes for a known id)."""

    status = 409
    title = "Conflict"


class NotPermitted(ProvregError):
    """Refused by policy: a licence, an opt-out, a revocation or a role forbids it."""

    status = 403
    title = "Not permitted"


class PolicyViolation(NotPermitted):
    """A manifest or run refused by the licence policy; carries every violation, not only the first."""

    title = "Policy violation"

    def __init__(self, detail: str, violations: list[str]) -> None:
        super().__init__(detail + "".join(f"\n  - {v}" for v in violations))
        self.violations = violations


class IntegrityFailure(ProvregError):
    """Stored bytes or records do not match what was registered (a hash mismatch, a broken chain)."""

    status = 409
    title = "Integrity failure"


class TooLarge(ProvregError):
    status = 413
    title = "Content too large"


class DatabaseUnavailable(ProvregError):
    status = 503
    title = "Database unavailable"


class SchemaOutOfDate(DatabaseUnavailable):
    title = "Database schema out of date"


class VerificationFailed(IntegrityFailure):
    """A signed statement does not hold; ``mode`` says which check failed (``registry.attest
    .verify.MODES``), so a verifier can tell a forged signature from a swapped file."""

    title = "Verification failed"

    def __init__(self, mode: str, detail: str) -> None:
        super().__init__(detail)
        self.mode = mode


class RecordNotInManifest(NotFound):
    """A record proof was asked for a record the manifest does not hold: the answer says only
    that, so a public caller learns nothing else about the manifest's records."""

    def __init__(self) -> None:
        super().__init__("not in this manifest", field="record")
