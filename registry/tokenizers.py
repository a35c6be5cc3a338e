"""Trained tokenizers: content-addressed files in the store, registered with their provenance.

A tokenizer other than ``provreg.bytes/1`` (``registry.shards.token_count``) is a file (Hugging
Face ``tokenizers`` JSON) named by the SHA-256 of its bytes, like a shard. Its row records the
manifest whose records trained it and the settings that, with that manifest, reproduce the
same bytes; a run on any manifest may use it, and the run, its stamp and its disclosure name it.

Files live beside the shards, at ``<store>/tokenizers/<id>.json`` (not under ``sha256/``, so
shard verification and garbage collection never see them). Whoever reads one hashes it against
its id before use (``trainer.bpe.BPETokenizer``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from manifests.canonical import compact_json
from manifests.digests import is_hex64
from registry import audit
from registry.db.lookup import resolve_prefix
from registry.db.models import Tokenizer
from registry.entities.tokenizers import TokenizerOut
from registry.errors import Conflict, InvalidInput, NotFound
from registry.manifests import manifest_row
from registry.shards.token_count import TOKENIZER as BYTES

__all__ = [
    "BYTES",
    "TokenizerOut",
    "get_tokenizer",
    "list_tokenizers",
    "put_tokenizer_file",
    "read_tokenizer_bytes",
    "register_tokenizer",
    "tokenizer_exists",
]


def _out(row: Tokenizer) -> TokenizerOut:
    return TokenizerOut(
        id=row.id,
        kind=row.kind,
        vocab_size=row.vocab_size,
        manifest=row.manifest_hash,
        settings=json.loads(row.settings),
        store_uri=row.store_uri,
        bytes=row.bytes,
        created_at=row.created_at,
    )


# --- files ------------------------------------------------------------------------------------


def _path(store: Any, tokenizer_id: str) -> str:
    return f"{store.root}/tokenizers/{tokenizer_id}.json"


def put_tokenizer_file(store_url: str, data: bytes) -> tuple[str, str]:
    """Write a tokenizer file into the store under its SHA-256; (id, its URL). Idempotent."""
    from registry.shards.store import ShardStore

    store = ShardStore(store_url)
    tokenizer_id = hashlib.sha256(data).hexdigest()
    path = _path(store, tokenizer_id)
    if not store.fs.exists(path):
        store.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        tmp = f"{path}.{hashlib.sha256(path.encode()).hexdigest()[:8]}.part"
        with store.fs.open(tmp, "wb") as f:
            f.write(data)
        store.fs.mv(tmp, path)
    return tokenizer_id, str(store.fs.unstrip_protocol(path))


def read_tokenizer_bytes(store_url: str, tokenizer_id: str) -> bytes:
    """A stored tokenizer file's bytes (the caller hashes them against the id).

    Raises:
        FileNotFoundError: the store has no file for this id.
    """
    from registry.shards.store import ShardStore

    store = ShardStore(store_url)
    with store.fs.open(_path(store, tokenizer_id), "rb") as f:
        return bytes(f.read())


# --- rows -------------------------------------------------------------------------------------


def register_tokenizer(
    session: Session,
    *,
    tokenizer_id: str,
    kind: str,
    vocab_size: int,
    manifest_ref: str,
    settings: dict[str, Any],
    store_uri: str,
    size: int,
) -> tuple[TokenizerOut, bool]:
    """Register a tokenizer file; (the tokenizer, whether it was added).

    The same bytes trained again from the same manifest and settings are the same tokenizer:
    registering them again is a no-op.

    Raises:
        InvalidInput: a malformed id, kind, vocabulary size or settings.
        NotFound: an unknown manifest.
        Conflict: these bytes are registered as trained on another manifest or settings.
    """
    if not is_hex64(tokenizer_id):
        raise InvalidInput(f"a tokenizer id is a lowercase hex SHA-256, got {tokenizer_id!r}")
    if not kind or type(vocab_size) is not int or vocab_size < 1 or size < 0:
        raise InvalidInput("a tokenizer needs a kind, a vocabulary size >= 1 and a size >= 0")
    manifest = manifest_row(session, manifest_ref)
    settings_json = compact_json(settings)
    existing = session.get(Tokenizer, tokenizer_id)
    if existing is not None:
        if existing.manifest_hash != manifest.hash or existing.settings != settings_json:
            raise Conflict(
                f"tokenizer {tokenizer_id} is already registered, trained on manifest "
                f"{existing.manifest_hash} with settings {existing.settings}"
            )
        return _out(existing), False
    row = Tokenizer(
        id=tokenizer_id,
        kind=kind,
        vocab_size=vocab_size,
        manifest_hash=manifest.hash,
        settings=settings_json,
        store_uri=store_uri,
        bytes=size,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        "tokenizer.register",
        "tokenizer",
        row.id,
        {"kind": kind, "vocab_size": vocab_size, "manifest": manifest.hash, "settings": settings},
    )
    return _out(row), True


def get_tokenizer(session: Session, ref: str) -> TokenizerOut:
    """A tokenizer by id or unique prefix (8+ hex digits).

    Raises:
        InvalidInput: not hex, too short, or ambiguous. NotFound: no such tokenizer.
    """
    tokenizer_id = resolve_prefix(session, Tokenizer.id, ref, "tokenizer")
    row = session.get(Tokenizer, tokenizer_id)
    if row is None:  # pragma: no cover - resolve_prefix found it
        raise NotFound(f"unknown tokenizer {ref!r}")
    return _out(row)


def tokenizer_exists(session: Session, tokenizer_id: str) -> bool:
    return session.get(Tokenizer, tokenizer_id) is not None


def list_tokenizers(session: Session) -> list[TokenizerOut]:
    """Every registered tokenizer, oldest first."""
    rows = session.scalars(select(Tokenizer).order_by(Tokenizer.created_at, Tokenizer.id))
    return [_out(r) for r in rows]
