"""Signing keys: ECDSA P-256 (what OpenSSF Model Signing accepts too), created, registered, loaded.

The private key is a PKCS#8 PEM file of mode 0600 outside the database; a file that group or
others may read is refused, so a leaked key is not used silently. The registry stores only the
public key, under its key id: the SHA-256 of the DER SubjectPublicKeyInfo (the id any holder of
the public key can recompute).
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import audit, names
from registry.config import get_settings
from registry.db.models import SigningKey
from registry.entities.attest import KeyOut
from registry.errors import Conflict, InvalidInput, NotFound, NotPermitted

ALGORITHM = "ecdsa-p256-sha256"


@dataclass(frozen=True)
class Signer:
    """A loaded private key and its id: what signs an envelope."""

    key_id: str
    private_key: ec.EllipticCurvePrivateKey
    path: str

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()


def key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """The SHA-256 of the key's DER SubjectPublicKeyInfo, lowercase hex."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def public_pem(public_key: ec.EllipticCurvePublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_key(data: bytes, *, what: str = "public key") -> ec.EllipticCurvePublicKey:
    """A P-256 public key from PEM bytes.

    Raises:
        InvalidInput: not a PEM public key, or not ECDSA P-256.
    """
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise InvalidInput(f"{what} is not a PEM public key: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise InvalidInput(f"{what} is not an ECDSA P-256 key")
    return key


def load_signer(path: str | os.PathLike[str]) -> Signer:
    """Load a private key file, refusing one that others may read.

    Raises:
        NotFound: no file at ``path``.
        NotPermitted: the file's mode lets group or others read or write it.
        InvalidInput: not an unencrypted PEM ECDSA P-256 private key.
    """
    where = os.fspath(path)
    try:
        mode = os.stat(where).st_mode
    except FileNotFoundError as exc:
        raise NotFound(f"no private key file at {where}", field="attest.key") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise NotPermitted(
            f"private key file {where} has mode {stat.S_IMODE(mode):04o}: group or others may "
            "read it; it must be 0600 (owner only)",
            field="attest.key_mode",
        )
    try:
        key = serialization.load_pem_private_key(Path(where).read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            f"{where} is not an unencrypted PEM private key: {exc}", field="attest.key"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise InvalidInput(f"{where} is not an ECDSA P-256 private key", field="attest.key")
    return Signer(key_id=key_id(key.public_key()), private_key=key, path=where)


def _write_private(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never widened, never reused
    with os.fdopen(fd, "wb") as f:
        f.write(pem)


def create_key(session: Session, name: str, *, path: str | None = None) -> tuple[KeyOut, str]:
    """Generate a key, write the private half to ``path`` (default ``<key_dir>/<name>.pem``,
    mode 0600) and the public half beside it (``.pub.pem``), and register the public key.

    Returns the key and the private key's path.

    Raises:
        InvalidInput: a bad name. Conflict: the name is taken, or a file is already there.
    """
    name = names.normalise_name(name, "key name")
    if session.scalars(select(SigningKey).where(SigningKey.name == name)).first() is not None:
        raise Conflict(f"a signing key named {name!r} is already registered")
    target = Path(path) if path else Path(get_settings().key_dir) / f"{name}.pem"
    public_path = target.with_suffix(".pub.pem")
    for p in (target, public_path):
        if p.exists():
            raise Conflict(f"{p} already exists: a key file is never overwritten")
    key = ec.generate_private_key(ec.SECP256R1())
    row = SigningKey(
        key_id=key_id(key.public_key()),
        name=name,
        algorithm=ALGORITHM,
        public_key=public_pem(key.public_key()),
    )
    session.add(row)
    session.flush()
    audit.record(session, "key.create", "signing_key", row.key_id, {"name": name})
    _write_private(target, key)  # last: a refused registration leaves no file
    public_path.write_text(row.public_key)
    return _out(row), str(target)


def register_public_key(session: Session, name: str, pem: bytes) -> KeyOut:
    """Register a public key made elsewhere (its private key stays with its holder).

    Raises:
        InvalidInput: not a P-256 PEM public key. Conflict: the name or key is registered.
    """
    name = names.normalise_name(name, "key name")
    public = load_public_key(pem)
    kid = key_id(public)
    if session.get(SigningKey, kid) is not None:
        raise Conflict(f"key {kid} is already registered")
    if session.scalars(select(SigningKey).where(SigningKey.name == name)).first() is not None:
        raise Conflict(f"a signing key named {name!r} is already registered")
    row = SigningKey(key_id=kid, name=name, algorithm=ALGORITHM, public_key=public_pem(public))
    session.add(row)
    session.flush()
    audit.record(session, "key.register", "signing_key", kid, {"name": name})
    return _out(row)


def list_keys(session: Session) -> list[KeyOut]:
    """Every registered public key, oldest first."""
    rows = session.scalars(select(SigningKey).order_by(SigningKey.created_at, SigningKey.key_id))
    return [_out(r) for r in rows]


def get_key(session: Session, ref: str) -> KeyOut:
    """A registered key by id or name.

    Raises:
        NotFound: no such key.
    """
    row = (
        session.get(SigningKey, ref)
        or session.scalars(select(SigningKey).where(SigningKey.name == ref)).first()
    )
    if row is None:
        raise NotFound(f"no signing key {ref!r} is registered", field="attest.key")
    return _out(row)


def configured_signer(session: Session) -> Signer | None:
    """The registry's signing key (``PROVREG_SIGNING_KEY``), or None when none is configured.

    Raises:
        NotFound, NotPermitted, InvalidInput: as ``load_signer``; NotFound too when the key is
            not registered here (a registry signs only with keys it publishes).
    """
    path = get_settings().signing_key
    if not path:
        return None
    return registered_signer(session, path)


def registered_signer(session: Session, path: str) -> Signer:
    """Load a private key file and check that its public key is registered here.

    Raises:
        as ``load_signer``; NotFound: the key is not registered.
    """
    signer = load_signer(path)
    if session.get(SigningKey, signer.key_id) is None:
        raise NotFound(
            f"the key in {path} (key id {signer.key_id}) is not registered in this registry",
            field="attest.unregistered_key",
        )
    return signer


def _out(row: SigningKey) -> KeyOut:
    return KeyOut(
        key_id=row.key_id,
        name=row.name,
        algorithm=row.algorithm,
        public_key=row.public_key,
        created_at=row.created_at,
    )
