"""OpenSSF Model Signing (``model-signing``): a signature tools that verify OMS already accept.

Signed offline with the registry's own EC key (no Sigstore, no network). The OMS predicate
forbids extra fields, so the data-manifest binding is provreg's own attestation beside it, not
a claim inside it (docs/attestations.md).
"""

from __future__ import annotations

import os

from registry.errors import NotFound, VerificationFailed


def sign(
    model: str | os.PathLike[str], signature: str | os.PathLike[str], private_key: str
) -> None:
    """Write an OMS signature (a Sigstore bundle) of ``model`` to ``signature``.

    Raises:
        NotFound: no file at ``model``.
    """
    import model_signing  # heavy (sigstore): only the commands that sign load it

    if not os.path.exists(model):
        raise NotFound(f"no weights file at {os.fspath(model)}")
    model_signing.signing.Config().use_elliptic_key_signer(private_key=private_key).sign(
        model, signature
    )


def verify(
    model: str | os.PathLike[str],
    signature: str | os.PathLike[str],
    public_key: str | os.PathLike[str] | None,
) -> None:
    """Check an OMS signature with ``model_signing``'s own verifier.

    Raises:
        VerificationFailed (oms_mismatch): it does not verify, or no public key file is given.
    """
    import model_signing

    if public_key is None:
        raise VerificationFailed("oms_mismatch", "an OMS signature needs the public key file")
    try:
        model_signing.verifying.Config().use_elliptic_key_verifier(public_key=public_key).verify(
            model, signature
        )
    except Exception as exc:  # model_signing raises ValueError and its own errors alike
        raise VerificationFailed(
            "oms_mismatch", f"the OMS signature {os.fspath(signature)} does not verify: {exc}"
        ) from exc
