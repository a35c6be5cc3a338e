"""The proof that one record (by id or URL) is in a ``provreg.manifest/2`` manifest.

The record is found through the record key index (``registry.shards.record_keys``) among the
manifest's shards, plus the shards the index does not cover (v1 shards, and v2 shards stored
before it); the shard is read with its bytes checked against its id, and the record's full id
or URL is compared (a 64-bit key can collide). The first match in shard-id order, then in file
order, is proven. Nothing is written except a shard's missing record root.
"""

from __future__ import annotations

import json

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from manifests.document import SCHEMA_V2
from manifests.records import RecordProof, RecordTree
from registry.db.models import Disclosure, Manifest, ManifestShard, Shard, ShardRecordKey
from registry.errors import IntegrityFailure, InvalidInput, NotFound, RecordNotInManifest
from registry.manifests import manifest_row, manifest_tree, shard_ids
from registry.proofs.record_roots import record_roots
from registry.shards.format import FORMAT_V2
from registry.shards.record_keys import RECORD, URL, record_key, url_key
from registry.shards.store import ShardStore


def published_manifest(session: Session, digest: str) -> Manifest:
    """A manifest that has a published disclosure (what public routes may speak about).

    Raises:
        NotFound: unknown, or not published: the same answer, so the route leaks neither.
    """
    row = session.get(Manifest, digest.strip().lower())
    published = row is not None and session.scalar(
        select(
            exists().where(Disclosure.subject_kind == "manifest", Disclosure.subject == row.hash)
        )
    )
    if row is None or not published:
        raise NotFound(f"unknown manifest {digest!r}")
    return row


def prove_record(
    session: Session,
    store: ShardStore,
    ref: str | Manifest,
    *,
    record: str | None = None,
    url: str | None = None,
) -> RecordProof:
    """The two-level proof for the record with id ``record`` or URL ``url`` (exactly one).

    Raises:
        InvalidInput: neither or both of ``record`` and ``url``; a ``/1`` manifest.
        NotFound: an unknown manifest.
        RecordNotInManifest: no shard of the manifest holds that record.
        IntegrityFailure: a stored file does not match its id or its stored record root.
    """
    if (record is None) == (url is None):
        raise InvalidInput("give exactly one of a record id or a URL", field="record")
    row = ref if isinstance(ref, Manifest) else manifest_row(session, ref)
    if json.loads(row.document)["schema"] != SCHEMA_V2:
        raise InvalidInput(
            f"manifest {row.hash} is provreg.manifest/1: its leaves commit to shard ids only, "
            "so no record can be proven in it (a new manifest of the same shards is /2)",
            field="manifest.schema",
        )
    found = _locate(session, store, row.hash, record, url)
    if found is None:
        raise RecordNotInManifest()
    shard_id, index, record_ids, record_url = found
    tree = RecordTree(record_ids)
    ids = shard_ids(session, row.hash)
    manifest = manifest_tree(session, row, ids, store)
    if manifest.root != row.merkle_root:
        raise IntegrityFailure(f"manifest {row.hash}: its shards do not give its Merkle root")
    leaf = manifest.inclusion_proof(shard_id)
    if leaf.record_root != tree.root:
        raise IntegrityFailure(f"shard {shard_id}: its records do not give its stored record root")
    return RecordProof(
        manifest=row.hash,
        record=record_ids[index],
        url=record_url,
        shard=shard_id,
        record_index=index,
        record_count=len(record_ids),
        record_path=tree.path(index),
        record_root=tree.root,
        leaf_index=leaf.leaf_index,
        leaf_count=leaf.tree_size,
        manifest_path=leaf.path,
        manifest_root=leaf.root,
    )


def _candidates(session: Session, digest: str, record: str | None, url: str | None) -> list[str]:
    """The manifest's shards that may hold the record: indexed hits, then unindexed shards."""
    in_manifest = select(ManifestShard.shard_id).where(ManifestShard.manifest_hash == digest)
    if url is not None:
        kind, key = URL, url_key(url)
    elif record is not None and len(record) == 64 and _is_hex(record):
        kind, key = RECORD, record_key(record)
    else:
        return []  # not a record id: no record can have it
    hits = session.scalars(
        select(ShardRecordKey.shard_id)
        .where(
            ShardRecordKey.kind == kind,
            ShardRecordKey.key == key,
            ShardRecordKey.shard_id.in_(in_manifest),
        )
        .order_by(ShardRecordKey.shard_id)
    ).all()
    unindexed = select(Shard.id).where(Shard.id.in_(in_manifest), Shard.keys_indexed.is_(False))
    if url is not None:  # only v2 shards hold URLs
        unindexed = unindexed.where(Shard.format == FORMAT_V2)
    rest = session.scalars(unindexed.order_by(Shard.id)).all()
    return sorted(set(hits) | set(rest))


def _locate(
    session: Session, store: ShardStore, digest: str, record: str | None, url: str | None
) -> tuple[str, int, list[str], str | None] | None:
    """(shard id, record index, the shard's record ids, the record's URL) of the first match."""
    from registry.impact.takedown import read_verified

    for shard_id in _candidates(session, digest, record, url):
        table = read_verified(store, shard_id)
        ids = [str(r) for r in table.column("id").to_pylist()]
        urls = table.column("url").to_pylist() if "url" in table.column_names else None
        if url is not None:
            matches = [i for i, u in enumerate(urls or []) if u == url]
        else:
            matches = [i for i, r in enumerate(ids) if r == record]
        if matches:
            record_roots(session, store, [shard_id])  # stored, for the manifest tree
            return shard_id, matches[0], ids, urls[matches[0]] if urls else None
    return None


def _is_hex(value: str) -> bool:
    return all(c in "0123456789abcdef" for c in value)
