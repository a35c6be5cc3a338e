"""The registry as the trainer sees it: a small interface, and its local-database implementation.

``RegistryClient`` is all the training loop may ask of the registry. ``LocalRegistry`` answers
from the database directly (one transaction per call), and records this process's host and pid
when it opens or resumes a run and with each heartbeat (so a resume on this host after a kill
need not wait: ``registry.runs.processes``); an HTTP client implementing the same methods lets
a trainer run on a machine that cannot reach the database (it records no pid).
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from registry import runs, tokenizers
from registry.db.engine import transaction
from registry.entities.manifests import ManifestOut
from registry.entities.runs import Progress, RunOut
from registry.entities.tokenizers import TokenizerOut
from registry.errors import DatabaseUnavailable, NotFound
from registry.manifests import get_manifest, shard_ids
from registry.runs.processes import this_process
from registry.shards.resolve import manifest_shard, read_shard_bytes
from trainer.errors import ShardUnknownError
from trainer.reader import ShardRef, ShardSource


class RegistryClient(Protocol):
    """Every registry call a training run makes; each is one transaction on the registry side."""

    @property
    def url(self) -> str:
        """Where the registry is, without secrets: it goes into every weights stamp."""
        ...

    def manifest(self, ref: str) -> ManifestOut: ...

    def shard_ids(self, manifest_hash: str) -> list[str]: ...

    def shard_source(self, manifest_hash: str) -> ShardSource:
        """Resolves only this manifest's shards; anything else is ShardUnknownError."""
        ...

    def open_run(
        self,
        *,
        manifest_ref: str,
        config: dict[str, Any],
        seed: int,
        tokenizer: str,
        code_version: str,
        parent_run_id: str | None = None,
    ) -> RunOut: ...

    def resume_run(self, run_ref: str) -> RunOut: ...

    def get_run(self, run_ref: str) -> RunOut: ...

    def manifest_chain(self, run_id: str) -> list[str]: ...

    def record_progress(self, run_id: str, progress: Progress) -> RunOut: ...

    def heartbeat(self, run_id: str) -> None: ...

    def complete_run(
        self, run_id: str, progress: Progress, *, sha256: str, path: str, size: int
    ) -> RunOut:
        """Final consumption, the weights record and ``completed``, in one transaction."""
        ...

    def fail_run(self, run_id: str, error: str, progress: Progress | None = None) -> RunOut:
        """Consumption since the last checkpoint (if any) and ``failed``, in one transaction."""
        ...

    def mark_interrupted(self, run_id: str) -> RunOut: ...

    def tokenizer(self, ref: str) -> TokenizerOut:
        """A registered tokenizer by id or prefix."""
        ...

    def tokenizer_file(self, tokenizer_id: str) -> bytes:
        """The tokenizer file's bytes (the caller hashes them against the id)."""
        ...


class _LocalShardSource:
    """A manifest's shards: status from the database, bytes from the store."""

    def __init__(self, engine: Engine, store: str, manifest_hash: str) -> None:
        self._engine, self._store, self._manifest = engine, store, manifest_hash

    def resolve(self, shard_id: str) -> ShardRef:
        try:
            with transaction(self._engine, actor="trainer", write=False) as session:
                s = manifest_shard(session, self._manifest, shard_id)
        except NotFound as exc:
            raise ShardUnknownError(exc.detail) from exc
        status = s.status if s.reason is None else f"{s.status} ({s.reason})"
        return ShardRef(shard_id=s.shard_id, status=status, records=s.records, tokens=s.tokens)

    def open_bytes(self, shard_id: str) -> bytes:
        return read_shard_bytes(self._store, shard_id)

    def after_fork(self) -> None:
        """In a DataLoader worker: never reuse the parent's database connections."""
        self._engine.dispose(close=False)


class LocalRegistry:
    """``RegistryClient`` over a registry database this process can open."""

    def __init__(self, engine: Engine, *, store: str, actor: str) -> None:
        self._engine, self._store, self._actor = engine, store, actor

    @property
    def url(self) -> str:
        return self._engine.url.render_as_string(hide_password=True)

    @property
    def engine(self) -> Engine:
        """The registry database (continual training freezes increments in it directly)."""
        return self._engine

    @property
    def store(self) -> str:
        return self._store

    @property
    def actor(self) -> str:
        return self._actor

    def _read(self) -> Any:
        return transaction(self._engine, actor=self._actor, write=False)

    def _write(self) -> Any:
        return transaction(self._engine, actor=self._actor)

    def manifest(self, ref: str) -> ManifestOut:
        with self._read() as s:
            return get_manifest(s, ref)

    def shard_ids(self, manifest_hash: str) -> list[str]:
        with self._read() as s:
            return shard_ids(s, manifest_hash)

    def shard_source(self, manifest_hash: str) -> ShardSource:
        return _LocalShardSource(self._engine, self._store, manifest_hash)

    def open_run(
        self,
        *,
        manifest_ref: str,
        config: dict[str, Any],
        seed: int,
        tokenizer: str,
        code_version: str,
        parent_run_id: str | None = None,
    ) -> RunOut:
        with self._write() as s:
            host, pid = this_process()
            return runs.open_run(
                s,
                manifest_ref=manifest_ref,
                config=config,
                seed=seed,
                tokenizer=tokenizer,
                code_version=code_version,
                parent_run_id=parent_run_id,
                host=host,
                pid=pid,
            )

    def resume_run(self, run_ref: str) -> RunOut:
        host, pid = this_process()
        with self._write() as s:
            return runs.resume_run(s, run_ref, host=host, pid=pid)

    def get_run(self, run_ref: str) -> RunOut:
        with self._read() as s:
            return runs.get_run(s, run_ref)

    def manifest_chain(self, run_id: str) -> list[str]:
        with self._read() as s:
            return runs.manifest_chain(s, run_id)

    def record_progress(self, run_id: str, progress: Progress) -> RunOut:
        with self._write() as s:
            return runs.record_progress(s, run_id, progress)

    def heartbeat(self, run_id: str) -> None:
        host, pid = this_process()
        try:
            with self._write() as s:
                runs.heartbeat(s, run_id, host=host, pid=pid)
        except SQLAlchemyError as exc:
            raise DatabaseUnavailable(f"heartbeat of run {run_id} failed: {exc}") from exc

    def complete_run(
        self, run_id: str, progress: Progress, *, sha256: str, path: str, size: int
    ) -> RunOut:
        with self._write() as s:
            return runs.complete_run(s, run_id, progress, sha256=sha256, path=path, size=size)

    def fail_run(self, run_id: str, error: str, progress: Progress | None = None) -> RunOut:
        with self._write() as s:
            return runs.fail_run(s, run_id, error, progress)

    def mark_interrupted(self, run_id: str) -> RunOut:
        with self._write() as s:
            return runs.mark_interrupted(s, run_id)

    def tokenizer(self, ref: str) -> TokenizerOut:
        with self._read() as s:
            return tokenizers.get_tokenizer(s, ref)

    def tokenizer_file(self, tokenizer_id: str) -> bytes:
        """From the store, else (a store moved) from the URI the registry recorded.

        Raises:
            NotFound: unknown tokenizer, or its file is in neither place.
        """
        info = self.tokenizer(tokenizer_id)
        try:
            return tokenizers.read_tokenizer_bytes(self._store, info.id)
        except FileNotFoundError:
            pass
        import fsspec

        try:
            with fsspec.open(info.store_uri, "rb") as f:
                return bytes(f.read())
        except FileNotFoundError as exc:
            raise NotFound(f"tokenizer {info.id}'s file is missing ({info.store_uri})") from exc

    def register_tokenizer(self, **kwargs: Any) -> tuple[TokenizerOut, bool]:
        """``registry.tokenizers.register_tokenizer`` in one transaction (local registries only)."""
        with self._write() as s:
            return tokenizers.register_tokenizer(s, **kwargs)
