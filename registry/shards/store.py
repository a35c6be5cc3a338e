"""The shard store: content-addressed files under ``<root>/sha256/<id[:2]>/<id[2:4]>/<id>.parquet``.

A local directory by default (``PROVREG_STORE``); any fsspec URL (``memory://``, ``s3://`` with
its driver installed) goes through the same code. Files arrive under a temporary name and are
renamed into place, so a reader never sees a half-written shard under its id (atomic on a local
disk; object stores write whole objects anyway).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from manifests.digests import is_hex64
from registry.errors import InvalidInput, NotFound

CHUNK = 1024 * 1024


def hash_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """SHA-256 (hex) and size of a local file, read in 1 MiB chunks into one reused buffer."""
    sha = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    size = 0
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            sha.update(view[:n])
            size += n
    return sha.hexdigest(), size


def check_id(shard_id: str) -> str:
    """Raises: InvalidInput: not 64 lowercase hex characters."""
    if not is_hex64(shard_id):
        raise InvalidInput(f"{shard_id!r} is not a shard id (64 lowercase hex characters)")
    return shard_id


@dataclass(frozen=True)
class Stored:
    """A file now in the store; ``added`` is False when those bytes were already there."""

    id: str
    bytes: int
    added: bool


class ShardStore:
    """Content-addressed shard files over fsspec."""

    def __init__(self, url: str | os.PathLike[str] | None = None) -> None:
        import fsspec

        if url is None:
            from registry.config import get_settings

            url = get_settings().store
        self.url = str(url)
        self.fs: Any
        self.fs, root = fsspec.core.url_to_fs(self.url)
        self.root = root.rstrip("/") or "/"
        self.is_local = "file" in _protocols(self.fs)
        self._tracking: list[list[str]] = []

    def __repr__(self) -> str:
        return f"ShardStore({self.url!r})"

    # -- names -------------------------------------------------------------------------------
    def path_for(self, shard_id: str) -> str:
        """The file's path inside the store's filesystem (a local path for a local store)."""
        check_id(shard_id)
        return f"{self.root}/sha256/{shard_id[:2]}/{shard_id[2:4]}/{shard_id}.parquet"

    def uri_for(self, shard_id: str) -> str:
        """The file's full URL (``file://...``, ``memory://...``): what ``shards.store_uri`` holds."""
        return str(self.fs.unstrip_protocol(self.path_for(shard_id)))

    # -- reading -----------------------------------------------------------------------------
    def exists(self, shard_id: str) -> bool:
        return bool(self.fs.exists(self.path_for(shard_id)))

    def open(self, shard_id: str) -> BinaryIO:
        """Open a stored shard for reading (binary); the caller closes it.

        Raises:
            NotFound: no file for this id in the store.
        """
        try:
            return self.fs.open(self.path_for(shard_id), "rb")  # type: ignore[no-any-return]
        except FileNotFoundError as exc:
            raise NotFound(f"shard {shard_id} is not in the store {self.url}") from exc

    def read_bytes(self, shard_id: str) -> bytes:
        with self.open(shard_id) as f:
            return f.read()

    def hash_stored(self, shard_id: str) -> tuple[str, int]:
        """Re-hash a stored file: (sha256 hex, size).

        Raises:
            NotFound: the file is missing.
        """
        if self.is_local:
            try:
                return hash_file(self.path_for(shard_id))
            except FileNotFoundError as exc:
                raise NotFound(f"shard {shard_id} is not in the store {self.url}") from exc
        sha, size = hashlib.sha256(), 0
        with self.open(shard_id) as f:
            while chunk := f.read(CHUNK):
                sha.update(chunk)
                size += len(chunk)
        return sha.hexdigest(), size

    def ids(self) -> Iterator[str]:
        """Every shard id with a file in the store (for verify/gc)."""
        base = f"{self.root}/sha256"
        if not self.fs.exists(base):
            return
        for path in sorted(self.fs.find(base)):
            name = str(path).rsplit("/", 1)[-1]
            if name.endswith(".parquet") and is_hex64(name[: -len(".parquet")]):
                yield name[: -len(".parquet")]

    # -- writing -----------------------------------------------------------------------------
    @contextmanager
    def track(self) -> Iterator[list[str]]:
        """Remember the files added inside the block; on any exception (Ctrl-C included) delete
        them again. Nests: an inner block that succeeds hands its files to the outer one, so
        ``with store.track(), transaction(...)`` also cleans up after a failed commit.
        """
        added: list[str] = []
        self._tracking.append(added)
        try:
            yield added
        except BaseException:
            for shard_id in added:
                self.delete(shard_id)
            raise
        finally:
            self._tracking.pop()
        if self._tracking:
            self._tracking[-1].extend(added)

    def _added(self, shard_id: str) -> None:
        if self._tracking:
            self._tracking[-1].append(shard_id)

    @contextmanager
    def staging(self) -> Iterator[Path]:
        """A local directory for files on their way in; removed (with what is left) on exit.

        Inside a local store it is on the same filesystem, so moving a file in is a rename.
        """
        if self.is_local:
            base = Path(self.root) / "tmp"
            base.mkdir(parents=True, exist_ok=True)
            path = Path(tempfile.mkdtemp(prefix="ingest-", dir=base))
        else:
            path = Path(tempfile.mkdtemp(prefix="provreg-ingest-"))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def adopt(self, local_path: Path, shard_id: str) -> bool:
        """Move a staged file whose SHA-256 is already known into place; False if already stored.

        The staged file is consumed either way.
        """
        target = self.path_for(shard_id)
        if self.exists(shard_id):
            local_path.unlink(missing_ok=True)
            return False
        if self.is_local:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.replace(local_path, target)
            self._added(shard_id)
            return True
        tmp = f"{self.root}/tmp/{uuid.uuid4().hex}.part"
        self.fs.makedirs(f"{self.root}/tmp", exist_ok=True)
        self.fs.put_file(str(local_path), tmp)
        self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        self.fs.mv(tmp, target)
        self._added(shard_id)
        local_path.unlink(missing_ok=True)
        return True

    def put_file(self, local_path: str | os.PathLike[str]) -> Stored:
        """Copy a local file into the store, hashing while copying (one read of the source).

        Raises:
            InvalidInput: the file cannot be read.
        """
        tmp_dir = f"{self.root}/tmp"
        self.fs.makedirs(tmp_dir, exist_ok=True)
        tmp = f"{tmp_dir}/{uuid.uuid4().hex}.part"
        sha, size = hashlib.sha256(), 0
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        try:
            with open(local_path, "rb", buffering=0) as src, self.fs.open(tmp, "wb") as dst:
                while n := src.readinto(buf):
                    sha.update(view[:n])
                    dst.write(view[:n])
                    size += n
        except OSError as exc:
            self._remove(tmp)
            raise InvalidInput(f"cannot read {local_path}: {exc.strerror or exc}") from exc
        except BaseException:
            self._remove(tmp)
            raise
        shard_id = sha.hexdigest()
        if self.exists(shard_id):
            self._remove(tmp)
            return Stored(shard_id, size, added=False)
        target = self.path_for(shard_id)
        self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        if self.is_local:
            os.replace(tmp, target)
        else:
            self.fs.mv(tmp, target)
        self._added(shard_id)
        return Stored(shard_id, size, added=True)

    def delete(self, shard_id: str) -> bool:
        """Remove a stored file (cleanup of a failed ingest, or gc of an orphan); False if absent."""
        return self._remove(self.path_for(shard_id))

    def _remove(self, path: str) -> bool:
        try:
            self.fs.rm_file(path)
        except FileNotFoundError:
            return False
        return True


def _protocols(fs: Any) -> tuple[str, ...]:
    proto = fs.protocol
    return (proto,) if isinstance(proto, str) else tuple(proto)
