"""The shard store: content-addressed files under ``<root>/sha256/<id[:2]>/<id[2:4]>/<id>.parquet``.

A local directory by default (``PROVREG_STORE``); any fsspec URL (``memory://``, ``s3://`` with
its driver installed) goes through the same code. Files arrive under a temporary name in
``<root>/tmp`` and are renamed into place, so a reader never sees a half-written shard under its
id (atomic on a local disk; object stores write whole objects anyway).

A stored file may be named by several transactions' rows (the same records make the same file),
so it is not one transaction's to delete: ``registry.shards.file_locks`` says when a file may be
placed or removed, and ``track()`` asks it to undo a failed transaction's placements.

Temporary files: on a local store, whoever writes under ``<root>/tmp`` holds an exclusive
``flock`` on what it wrote for as long as it lives (the kernel drops it when the process dies,
SIGKILL included), so ``temp_files()`` can tell what a killed process left (stale) from what a
running one is writing; only stale ones are removed. On other stores, where there is no lock to
ask, a temporary file is stale once it is older than ``REMOTE_TEMP_STALE_S``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from manifests.digests import is_hex64
from registry.errors import InvalidInput, NotFound

CHUNK = 1024 * 1024
REMOTE_TEMP_STALE_S = 24 * 3600
"""Without a lock to ask (object stores), a temporary file this old is taken to be abandoned."""


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


@dataclass(frozen=True)
class TempFile:
    """A file or directory under the store's ``tmp``; ``stale`` when no live process holds it."""

    path: str
    bytes: int
    stale: bool


class PlacementGuard(Protocol):
    """How files placed for one transaction are undone if it fails (``file_locks.Guard``)."""

    def discard(self, store: ShardStore, shard_ids: list[str]) -> list[str]:
        """Undo these placements as far as is safe now; the ids left for later."""
        ...


# -- temporary files held by a live process ------------------------------------------------------
class TempLock:
    """An exclusive ``flock`` on a temporary file or directory, held until ``release()`` or the
    process's death, on an fd of its own (the writer may close its fd before moving the file)."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    @classmethod
    def create(cls, make: Callable[[], str]) -> tuple[str, TempLock]:
        """``make()`` creates a fresh entry and returns its path; it is locked before it is
        returned. A gc may remove an entry between its creation and its lock (it looked stale):
        then this makes another."""
        for _ in range(100):
            path = make()
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_nlink > 0:
                return path, cls(fd)
            os.close(fd)
        raise OSError(f"cannot create a temporary file under {os.path.dirname(path)} that stays")

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def new_temp_file(directory: str | os.PathLike[str], prefix: str, suffix: str = "") -> str:
    """A new empty file in ``directory`` (for ``TempLock.create``)."""
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=directory)
    os.close(fd)
    return name


def _try_lock(path: str) -> int | None:
    """An fd holding ``path``'s lock if nobody else holds it, else None."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


class Staging:
    """Where one ingest's finished shard files wait until they are placed.

    ``path`` is a local directory (inside the store's ``tmp`` for a local store, locked while
    the ingest lives); ``keep`` moves a finished file to where ``ShardStore.adopt`` takes it
    from: for a local store it is already there, for another store it is uploaded to the
    store's ``tmp`` now, so local disk holds one shard at a time.
    """

    def __init__(self, store: ShardStore, path: Path) -> None:
        self.store, self.path = store, path
        self._remote = f"{store.root}/tmp/{path.name}"

    def keep(self, local_path: Path) -> str:
        if self.store.is_local:
            return str(local_path)
        target = f"{self._remote}/{local_path.name}"
        self.store.fs.makedirs(self._remote, exist_ok=True)
        self.store.fs.put_file(str(local_path), target)
        local_path.unlink(missing_ok=True)
        return target

    def copy_in(self, source: str | os.PathLike[str]) -> tuple[str, int, str]:
        """Copy a local file into the staging area, hashing on the way (one read):
        (sha256, size, where ``adopt`` takes it from).

        Raises:
            InvalidInput: the file cannot be read.
        """
        name = new_temp_file(self.path, "copy-", ".part")
        sha, size = hashlib.sha256(), 0
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        try:
            with open(source, "rb", buffering=0) as src, open(name, "wb") as dst:
                while n := src.readinto(buf):
                    sha.update(view[:n])
                    dst.write(view[:n])
                    size += n
        except OSError as exc:
            Path(name).unlink(missing_ok=True)
            raise InvalidInput(f"cannot read {source}: {exc.strerror or exc}") from exc
        return sha.hexdigest(), size, self.keep(Path(name))

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        if not self.store.is_local and self.store.fs.exists(self._remote):
            self.store.fs.rm(self._remote, recursive=True)


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
        self._local = threading.local()  # track() blocks are per thread (the API shares a store)

    def __repr__(self) -> str:
        return f"ShardStore({self.url!r})"

    @property
    def _tracking(self) -> list[list[tuple[str, PlacementGuard | None]]]:
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack  # type: ignore[no-any-return]

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
    def track(self) -> Iterator[None]:
        """Remember the files placed inside the block; on any exception (Ctrl-C included) undo
        those placements: a file placed with a guard is removed only as the guard allows (no
        committed row may name it), one placed without is removed. Nests: an inner block that
        succeeds hands its files to the outer one, so ``with store.track(), transaction(...)``
        also cleans up after a failed commit.
        """
        added: list[tuple[str, PlacementGuard | None]] = []
        self._tracking.append(added)
        try:
            yield
        except BaseException:
            left = self._undo(added)
            self._tracking.pop()
            if self._tracking:
                self._tracking[-1].extend(left)
            raise
        self._tracking.pop()
        if self._tracking:
            self._tracking[-1].extend(added)

    def _undo(
        self, added: list[tuple[str, PlacementGuard | None]]
    ) -> list[tuple[str, PlacementGuard | None]]:
        """Undo placements; those a guard could not undo yet are returned."""
        guards: dict[int, tuple[PlacementGuard, list[str]]] = {}
        for shard_id, guard in added:
            if guard is None:
                self.delete(shard_id)
            else:
                guards.setdefault(id(guard), (guard, []))[1].append(shard_id)
        left: list[tuple[str, PlacementGuard | None]] = []
        for guard, ids in guards.values():
            left.extend((i, guard) for i in guard.discard(self, ids))
        return left

    def _added(self, shard_id: str, guard: PlacementGuard | None) -> None:
        if self._tracking:
            self._tracking[-1].append((shard_id, guard))

    @contextmanager
    def staging(self) -> Iterator[Staging]:
        """A staging area for files on their way in; removed (with what is left) on exit.

        For a local store it is a directory in ``<root>/tmp`` (same filesystem: moving a file
        in is a rename), locked for as long as this process uses it.
        """
        lock = None
        if self.is_local:
            base = Path(self.root) / "tmp"
            base.mkdir(parents=True, exist_ok=True)
            name, lock = TempLock.create(lambda: tempfile.mkdtemp(prefix="ingest-", dir=base))
            path = Path(name)
        else:
            path = Path(tempfile.mkdtemp(prefix="provreg-ingest-"))
        staging = Staging(self, path)
        try:
            yield staging
        finally:
            staging.remove()
            if lock is not None:
                lock.release()

    def adopt(
        self, staged: str | os.PathLike[str], shard_id: str, *, guard: PlacementGuard | None = None
    ) -> bool:
        """Move a staged file whose SHA-256 is already known into place; False if already stored.

        ``staged`` is a local path for a local store, else a path in the store's ``tmp`` (where
        ``Staging.keep`` put it). The staged file is consumed either way. With a ``guard``, the
        caller holds the shard's lock (``file_locks.hold``) and the guard undoes a failed
        placement; see ``track``.
        """
        target, source = self.path_for(shard_id), str(staged)
        in_tmp = not self.is_local and source.startswith(f"{self.root}/tmp/")
        if self.exists(shard_id):
            if in_tmp:
                self._remove(source)
            else:
                Path(source).unlink(missing_ok=True)
            return False
        if self.is_local:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.replace(source, target)
        else:
            if not in_tmp:  # a local file: upload it first
                local, source = source, f"{self.root}/tmp/{uuid.uuid4().hex}.part"
                self.fs.makedirs(f"{self.root}/tmp", exist_ok=True)
                self.fs.put_file(local, source)
                Path(local).unlink(missing_ok=True)
            self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            self.fs.mv(source, target)
        self._added(shard_id, guard)
        return True

    def put_file(self, local_path: str | os.PathLike[str]) -> Stored:
        """Copy a local file into the store, hashing while copying (one read of the source).

        Unguarded: for a file only this caller can be writing (tests, tools); ingest places
        files through ``Staging`` and ``adopt`` under the shard's lock.

        Raises:
            InvalidInput: the file cannot be read.
        """
        tmp_dir = f"{self.root}/tmp"
        self.fs.makedirs(tmp_dir, exist_ok=True)
        lock = None
        if self.is_local:
            tmp, lock = TempLock.create(lambda: new_temp_file(tmp_dir, "put-", ".part"))
        else:
            tmp = f"{tmp_dir}/{uuid.uuid4().hex}.part"
        try:
            return self._put(local_path, tmp)
        finally:
            if lock is not None:
                lock.release()

    def _put(self, local_path: str | os.PathLike[str], tmp: str) -> Stored:
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
        self._added(shard_id, None)
        return Stored(shard_id, size, added=True)

    def delete(self, shard_id: str) -> bool:
        """Remove a stored file; False if absent. Callers other than tests go through
        ``registry.shards.file_locks``, which says when a file may go."""
        return self._remove(self.path_for(shard_id))

    def _remove(self, path: str) -> bool:
        try:
            self.fs.rm_file(path)
        except FileNotFoundError:
            return False
        return True

    # -- temporary files ---------------------------------------------------------------------
    def temp_files(self) -> list[TempFile]:
        """What is under ``<root>/tmp``, each entry marked stale if no live process holds it."""
        base = f"{self.root}/tmp"
        if not self.fs.exists(base):
            return []
        if self.is_local:
            out = []
            for entry in sorted(Path(base).iterdir()):
                fd = _try_lock(str(entry))
                if fd is not None:
                    os.close(fd)
                out.append(TempFile(str(entry), _local_size(entry), stale=fd is not None))
            return out
        now = time.time()
        out = []
        for info in sorted(self.fs.ls(base, detail=True), key=lambda i: str(i["name"])):
            modified = _modified(info)
            stale = modified is not None and now - modified > REMOTE_TEMP_STALE_S
            out.append(TempFile(str(info["name"]), int(info.get("size") or 0), stale))
        return out

    def remove_temp(self, entry: TempFile) -> bool:
        """Remove a temporary entry if it is still stale (holding its lock while removing)."""
        if not self.is_local:
            if not entry.stale:
                return False
            self.fs.rm(entry.path, recursive=True)
            return True
        fd = _try_lock(entry.path)
        if fd is None:
            return False
        try:
            if os.path.isdir(entry.path) and not os.path.islink(entry.path):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                Path(entry.path).unlink(missing_ok=True)
        finally:
            os.close(fd)
        return True


def _local_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _modified(info: dict[str, Any]) -> float | None:
    """Seconds since the epoch a listed object was last written, if the filesystem says."""
    for key in ("mtime", "LastModified", "last_modified", "created", "updated"):
        value = info.get(key)
        if value is None:
            continue
        if hasattr(value, "timestamp"):
            return float(value.timestamp())
        try:
            return float(value)
        except (TypeError, ValueError):
            continue
    return None


def _protocols(fs: Any) -> tuple[str, ...]:
    proto = fs.protocol
    return (proto,) if isinstance(proto, str) else tuple(proto)
