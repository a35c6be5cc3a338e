"""``RegistryClient`` over the web API: a trainer on a machine that cannot reach the database.

Every call is one request (so one transaction on the server). Errors come back as problem+json
and are raised as the same domain errors ``LocalRegistry`` raises (``registry.errors``), and as
``ShardUnknownError`` when the registry does not know a shard of the manifest, so the training
loop and the CLI cannot tell the two clients apart.

Shard bytes come from the local store when the shard is there, else from
``GET /shards/{id}/content``; either way ``trainer.reader.read_verified`` hashes them before a
record is used, so a server (or a proxy) that serves other bytes stops the run.

Retries: a request that never reached the server (connection refused, connect timeout) is
retried with backoff whatever it is. One that may have reached it (a read timeout, a dropped
connection) or got a 503 is retried only if it is idempotent: reads, heartbeats, and the run
writes the server makes idempotent (progress by step, complete and fail by their report).
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from registry import runs
from registry.entities.manifests import ManifestOut
from registry.entities.runs import Progress, RunOut, WeightsReport
from registry.entities.tokenizers import TokenizerOut
from registry.errors import (
    Conflict,
    DatabaseUnavailable,
    IntegrityFailure,
    InvalidInput,
    NotFound,
    NotPermitted,
    PolicyViolation,
    ProvregError,
    TooLarge,
)
from trainer.errors import ShardRevokedError, ShardUnknownError
from trainer.reader import ShardRef, ShardSource

_PROBLEM_TYPES: dict[str, type[ProvregError]] = {
    "invalid-input": InvalidInput,
    "validation-error": InvalidInput,
    "not-found": NotFound,
    "conflict": Conflict,
    "not-permitted": NotPermitted,
    "integrity-failure": IntegrityFailure,
    "too-large": TooLarge,
    "database-unavailable": DatabaseUnavailable,
    "schema-out-of-date": DatabaseUnavailable,
}
_BY_STATUS: dict[int, type[ProvregError]] = {
    400: InvalidInput,
    401: NotPermitted,
    403: NotPermitted,
    404: NotFound,
    409: Conflict,
    413: TooLarge,
    422: InvalidInput,
}
PAGE = 1000


class RegistryUnreachable(DatabaseUnavailable):
    """The registry server could not be reached (or kept answering 503) after retries."""

    title = "Registry unreachable"


def problem_error(response: httpx.Response) -> ProvregError:
    """The domain error a problem+json response stands for (by its ``type``, else status)."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    status = response.status_code
    detail = str(body.get("detail") or f"{status} {response.reason_phrase}")
    violations = body.get("violations")
    if status == 403 and isinstance(violations, list):
        exc = PolicyViolation(detail.split("\n  - ", 1)[0], [str(v) for v in violations])
        exc.detail, exc.args = detail, (detail,)  # the server's detail already lists them
        return exc
    if status == 401:
        return NotPermitted(f"the registry refused the token: {detail}")
    kind = str(body.get("type", "")).removeprefix("urn:provreg:problem:")
    cls = _PROBLEM_TYPES.get(kind) or _BY_STATUS.get(status)
    if cls is None:
        cls = DatabaseUnavailable if status >= 500 else ProvregError
        detail = f"the registry answered {status}: {detail}"
    return cls(detail)


class _HttpShardSource:
    """A manifest's shards: status from the API, bytes from the local store or the API."""

    def __init__(self, registry: HttpRegistry, manifest_hash: str) -> None:
        self._registry, self._manifest = registry, manifest_hash

    def resolve(self, shard_id: str) -> ShardRef:
        try:
            s = self._registry._get(f"/manifests/{self._manifest}/shards/{shard_id}/status").json()
        except NotFound as exc:
            raise ShardUnknownError(exc.detail) from exc
        status = s["status"] if s.get("reason") is None else f"{s['status']} ({s['reason']})"
        return ShardRef(
            shard_id=s["shard_id"], status=status, records=s["records"], tokens=s["tokens"]
        )

    def open_bytes(self, shard_id: str) -> bytes:
        """Local store first, else the server; the reader hashes whatever comes back.

        Raises:
            FileNotFoundError: neither has the bytes.
            ShardRevokedError: the server refuses to serve them (revoked meanwhile).
        """
        local = self._registry.store
        if local is not None:
            from registry.shards.resolve import read_shard_bytes

            try:
                return read_shard_bytes(local, shard_id)
            except FileNotFoundError:
                pass
        try:
            return self._registry._get(f"/shards/{shard_id}/content").content
        except NotFound as exc:
            raise FileNotFoundError(exc.detail) from exc
        except NotPermitted as exc:
            raise ShardRevokedError(exc.detail) from exc

    def after_fork(self) -> None:
        """In a DataLoader worker: a connection pool of its own."""
        self._registry._reconnect()


class HttpRegistry:
    """``RegistryClient`` over ``provreg serve`` at ``url``, with a trainer token.

    ``store`` is a local shard store to read bytes from when it has them (else they are
    fetched from the server). Use it as a context manager, or call ``close()``.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        store: str | None = None,
        timeout: float = 60.0,
        retries: int = 4,
        backoff_s: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not token:
            raise InvalidInput("a remote registry needs a token (--token or PROVREG_TOKEN)")
        self._url = url.rstrip("/")
        self.store = store
        self._retries, self._backoff = retries, backoff_s
        self._client_args: dict[str, Any] = {
            "base_url": self._url,
            "headers": {"Authorization": f"Bearer {token}"},
            "timeout": timeout,
            "transport": transport,
        }
        self._http = httpx.Client(**self._client_args)

    def _reconnect(self) -> None:
        self._http = httpx.Client(**self._client_args)

    def __enter__(self) -> HttpRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def url(self) -> str:
        return self._url

    # -- transport -------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, idempotent: bool, **kwargs: Any
    ) -> httpx.Response:
        """One API call, retried with exponential backoff where that is safe (module docstring).

        Raises:
            ProvregError: the server's problem, as its domain error.
            RegistryUnreachable: no answer after the retries.
        """
        for attempt in range(self._retries + 1):
            last = attempt == self._retries
            try:
                response = self._http.request(method, path, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # nothing was sent
                if last:
                    raise RegistryUnreachable(
                        f"registry {self._url} unreachable ({method} {path}): {exc}"
                    ) from exc
            except httpx.TransportError as exc:
                if last or not idempotent:
                    raise RegistryUnreachable(
                        f"registry {self._url} did not answer {method} {path}: {exc}"
                    ) from exc
            else:
                if response.status_code == 503 and idempotent and not last:
                    pass
                elif response.is_error:
                    raise problem_error(response)
                else:
                    return response
            time.sleep(self._backoff * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _get(self, path: str, **params: Any) -> httpx.Response:
        return self._request("GET", path, idempotent=True, params=params or None)

    def _post(self, path: str, body: Any = None, *, idempotent: bool) -> httpx.Response:
        return self._request("POST", path, idempotent=idempotent, json=body)

    # -- RegistryClient ----------------------------------------------------------------------

    def manifest(self, ref: str) -> ManifestOut:
        summary = self._get(f"/manifests/{ref}").json()
        document = self._get(f"/manifests/{summary['hash']}/document").json()
        return ManifestOut(**summary, document=document)

    def shard_ids(self, manifest_hash: str) -> list[str]:
        ids: list[str] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": PAGE} | ({"after": after} if after else {})
            page = self._get(f"/manifests/{manifest_hash}/shards", **params).json()
            ids += [s["id"] for s in page["items"]]
            after = page["next"]
            if after is None:
                return ids

    def shard_source(self, manifest_hash: str) -> ShardSource:
        return _HttpShardSource(self, manifest_hash)

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
        body = {
            "manifest": manifest_ref,
            "config": config,
            "seed": seed,
            "tokenizer": tokenizer,
            "code_version": code_version,
            "parent_run_id": parent_run_id,
        }
        return RunOut.model_validate(self._post("/runs", body, idempotent=False).json())

    def resume_run(self, run_ref: str) -> RunOut:
        return RunOut.model_validate(self._post(f"/runs/{run_ref}/resume", idempotent=False).json())

    def get_run(self, run_ref: str) -> RunOut:
        return RunOut.model_validate(self._get(f"/runs/{run_ref}").json())

    def manifest_chain(self, run_id: str) -> list[str]:
        return list(self._get(f"/runs/{run_id}/chain").json())

    def record_progress(self, run_id: str, progress: Progress) -> RunOut:
        body = progress.model_dump(mode="json")
        return RunOut.model_validate(
            self._post(f"/runs/{run_id}/progress", body, idempotent=True).json()
        )

    def heartbeat(self, run_id: str) -> None:
        self._post(f"/runs/{run_id}/heartbeat", idempotent=True)

    def complete_run(
        self, run_id: str, progress: Progress, *, sha256: str, path: str, size: int
    ) -> RunOut:
        body = {
            "progress": progress.model_dump(mode="json"),
            "sha256": sha256,
            "path": path,
            "bytes": size,
        }
        return RunOut.model_validate(
            self._post(f"/runs/{run_id}/complete", body, idempotent=True).json()
        )

    def fail_run(self, run_id: str, error: str, progress: Progress | None = None) -> RunOut:
        body = {
            "error": error,
            "progress": progress.model_dump(mode="json") if progress is not None else None,
        }
        return RunOut.model_validate(
            self._post(f"/runs/{run_id}/fail", body, idempotent=True).json()
        )

    def mark_interrupted(self, run_id: str) -> RunOut:
        return RunOut.model_validate(
            self._post(f"/runs/{run_id}/interrupted", idempotent=False).json()
        )

    def tokenizer(self, ref: str) -> TokenizerOut:
        return TokenizerOut.model_validate(self._get(f"/tokenizers/{ref}").json())

    def tokenizer_file(self, tokenizer_id: str) -> bytes:
        """Local store first, else the server; the caller hashes whatever comes back."""
        if self.store is not None:
            from registry.tokenizers import read_tokenizer_bytes

            try:
                return read_tokenizer_bytes(self.store, tokenizer_id)
            except FileNotFoundError:
                pass
        return self._get(f"/tokenizers/{tokenizer_id}/content").content

    # -- beyond training ---------------------------------------------------------------------

    def verify_weights(self, path: str) -> WeightsReport:
        """Hash the file and read its stamp here; the server checks both against the registry
        (``registry.runs.check_weights``, as ``provreg weights verify`` does locally).

        Raises:
            NotFound: no file at ``path``.
        """
        digest, metadata, problems = runs.read_weights_header(path)
        if metadata is None:
            return WeightsReport(
                path=path, sha256=digest, ok=False, problems=problems, offline=False, stamp=None
            )
        body = {"sha256": digest, "stamp": runs.stamp_entries(metadata), "path": path}
        return WeightsReport.model_validate(
            self._post("/weights/verify", body, idempotent=True).json()
        )
