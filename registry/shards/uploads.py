"""Shard bytes arriving over a stream: hashed while written, kept only if they match the id.

``UploadSink`` takes the chunks as they come (into a temporary file inside the store's staging
area, hashing on the way) and stops with ``TooLarge`` once the limit is passed. ``store_upload``
then checks the SHA-256 against the claimed id and the registered size before it moves the file
into place: a mismatch keeps nothing, no file and no row. Uploading bytes that are already
stored is a no-op.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from sqlalchemy.orm import Session

from registry import audit
from registry.db.models import Shard
from registry.entities.shards import UploadOut
from registry.errors import IntegrityFailure, NotFound, NotPermitted, TooLarge
from registry.shards import file_locks
from registry.shards.lookup import shard_row
from registry.shards.store import ShardStore, TempLock, check_id, new_temp_file


class UploadSink:
    """A temporary file that hashes what is written to it and refuses more than ``limit`` bytes.

    Local stores stage under ``<root>/tmp`` (same filesystem: moving in is a rename).
    """

    def __init__(self, store: ShardStore, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self._sha = hashlib.sha256()
        base = None
        if store.is_local:
            base = Path(store.root) / "tmp"
            base.mkdir(parents=True, exist_ok=True)
        self._lock: TempLock | None = None
        if base is not None:  # held while this process lives: gc leaves it alone
            name, self._lock = TempLock.create(lambda: new_temp_file(base, "upload-", ".part"))
        else:
            fd, name = tempfile.mkstemp(prefix="upload-", suffix=".part")
            os.close(fd)
        self.path = Path(name)
        self._file = open(self.path, "wb")  # noqa: SIM115 - closed by finish() or discard()

    def write(self, chunk: bytes) -> None:
        """Raises: TooLarge: the body passed the limit (the file is discarded)."""
        self.size += len(chunk)
        if self.size > self.limit:
            self.discard()
            raise TooLarge(f"the upload is larger than the limit of {self.limit} bytes")
        self._sha.update(chunk)
        self._file.write(chunk)

    def finish(self) -> str:
        """Close the file; the SHA-256 (hex) of everything written."""
        self._file.close()
        return self._sha.hexdigest()

    def discard(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)
        if self._lock is not None:
            self._lock.release()


def check_uploadable(session: Session, shard_id: str) -> Shard:
    """The registered, non-revoked shard that bytes may be uploaded for.

    Raises:
        InvalidInput: not a shard id.
        NotFound: no shard is registered under it.
        NotPermitted: it is revoked.
    """
    row = session.get(Shard, check_id(shard_id))
    if row is None:
        raise NotFound(f"shard {shard_id} is not registered: register it before uploading")
    if row.status == "revoked":
        raise NotPermitted(f"shard {shard_id} is revoked ({row.revoked_reason}): no uploads")
    return row


def store_upload(session: Session, store: ShardStore, shard_id: str, sink: UploadSink) -> UploadOut:
    """Keep the uploaded file under ``shard_id`` if it is exactly the registered bytes.

    The sink's file is consumed either way. Call inside ``store.track()`` and the transaction,
    so that a failed commit removes the file again.

    Raises:
        IntegrityFailure: the bytes hash to another id, or their size is not the registered one.
        NotFound, NotPermitted: as ``check_uploadable``.
    """
    try:
        digest = sink.finish()
        if digest != shard_id:
            raise IntegrityFailure(
                f"the uploaded bytes hash to {digest}, not to shard id {shard_id}; nothing was kept"
            )
        row = check_uploadable(session, shard_id)
        if row.bytes != sink.size:
            raise IntegrityFailure(
                f"shard {shard_id} is registered as {row.bytes} bytes but its content is "
                f"{sink.size} bytes; nothing was kept"
            )
        guard = file_locks.Guard(session)
        guard.hold([shard_id])  # before the audit entry: the lock order (file_locks)
        added = store.adopt(sink.path, shard_id, guard=guard)
    finally:
        sink.discard()
    if added:
        audit.record(session, "shard.upload", "shard", shard_id, {"bytes": sink.size})
    return UploadOut(id=shard_id, bytes=sink.size, added=added)


def stored_content(session: Session, store: ShardStore, id_or_prefix: str) -> tuple[str, int]:
    """(id, size) of a registered shard whose bytes are in the store, for serving them.

    Raises:
        InvalidInput: malformed id; NotFound: unregistered, or its bytes not uploaded yet.
        NotPermitted: revoked (its data may not be used).
    """
    row = shard_row(session, id_or_prefix)
    if row.status == "revoked":
        raise NotPermitted(f"shard {row.id} is revoked ({row.revoked_reason}): not served")
    if not store.exists(row.id):
        raise NotFound(f"shard {row.id} is registered but its bytes are not in the store yet")
    return row.id, row.bytes
