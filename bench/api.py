"""API throughput: the manifest document GET against a bare route of the same size, on the same
server; and bulk registration of 10,000 shards in one request.

    python -m bench.api [--path /sources/crawl] [--requests 3000] [--concurrency 8] [--bulk 10000]

Starts uvicorn (uvloop + httptools, one worker, as ``provreg serve`` does) in a subprocess over
a seeded SQLite registry (a source, a dataset of a few registered shards, a manifest over them),
and drives it from this process with a small keep-alive HTTP/1.1 client on asyncio (lighter than
httpx, so the client is not what is measured). Prints req/s and p50/p99 latency for

(a) ``--path`` with a reader token: by default ``/manifests/{hash}/document``;
(b) ``/bench/naive-document/{hash}``: the same bytes the way the route was first written (plain
    ``def``, the session dependency, a token query per request, the row read per request: four
    thread-pool hops), mounted only in this bench's app: the "before";
(c) ``/bench/constant``: a bare ``def`` route returning a constant body of the same size;
(d) the same constant from an ``async def`` route, for reference.

The ratio (a)/(c) is the target (>= 0.5); (b)/(c) is what it was before. Then it POSTs 10,000
shards to ``/shards/bulk`` with a curator token and reports the time (target <= 2 s on SQLite).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import SessionDep
from registry import auth as tokens
from registry import manifests

CONSTANT_PATHS = ("/bench/constant", "/bench/constant-async")


def _serve(db_url: str, port: int, size: int) -> None:
    """The server process: the production app plus the bench-only routes."""
    import uvicorn

    from api.app import create_app

    app = create_app()
    body = b'{"pad":"' + b"x" * max(size - 10, 0) + b'"}'
    app.get("/bench/naive-document/{ref}", include_in_schema=False)(_naive_document)

    @app.get("/bench/constant", include_in_schema=False)
    def constant() -> Response:
        return Response(body, media_type="application/json")

    @app.get("/bench/constant-async", include_in_schema=False)
    async def constant_async() -> Response:
        return Response(body, media_type="application/json")

    uvicorn.run(
        app, host="127.0.0.1", port=port, log_level="warning", loop="uvloop", http="httptools"
    )


_bearer = HTTPBearer(auto_error=False)


def _naive_auth(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """What ``require()`` did before the token cache: a token query per request, in a thread."""
    token = tokens.authenticate(session, credentials.credentials) if credentials else None
    if token is None:
        raise HTTPException(401, "no")
    return token.name


def _naive_document(
    ref: str, session: SessionDep, _: Annotated[str, Depends(_naive_auth)]
) -> Response:
    """The document route as first written: plain ``def``, the row read on every request."""
    digest, doc = manifests.manifest_document(session, ref)
    return Response(doc, media_type="application/json", headers={"ETag": f'"{digest}"'})


def _seed(db_url: str, store_url: str) -> tuple[str, str, str]:
    """A registry with contributors, a source, a dataset of four registered shards and a
    manifest over them; returns a reader token, a curator token and the manifest hash."""
    from registry import auth as tokens
    from registry import manifests
    from registry.catalogue import contributors, licences, sources
    from registry.db import migrate
    from registry.db.engine import make_engine, transaction
    from registry.entities.shards import ShardIn
    from registry.shards.registration import register_shards
    from registry.shards.store import ShardStore

    engine = make_engine(db_url)
    migrate.upgrade(engine)
    with transaction(engine, actor="bench") as s:
        licences.seed(s)
        for name in ("alice", "acme"):
            contributors.add_contributor(s, name=name)
        sources.add_source(
            s,
            sources.SourceIn(
                name="crawl",
                uri="https://example.org/crawl",
                kind="web-crawl",
                licence="MIT OR Apache-2.0",
                contributors=[sources.parse_share("alice=0.25"), sources.parse_share("acme=0.75")],
                terms=sources.parse_terms("per-mtok:1.50:EUR"),
                description="bench source",
            ),
        )
        token, _ = tokens.create_token(s, name="bench", role="reader")
        curator, _ = tokens.create_token(s, name="bench-curator", role="curator")
        store = ShardStore(store_url)
        shards = [
            ShardIn(
                id=hashlib.sha256(f"bench shard {i}".encode()).hexdigest(),
                source="crawl",
                dataset="bench@1",
                bytes=1000 + i,
                records=10,
                tokens=1000,
            )
            for i in range(4)
        ]
        register_shards(s, store, shards)
        manifest = manifests.create_manifest(
            s, manifests.ManifestIn(name="bench", intended_use="research", datasets=["bench@1"])
        )
    engine.dispose()
    return token, curator, manifest.hash


async def _one_connection(
    port: int, request: bytes, n: int, latencies: list[float], deadline: float
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(n):
            if time.perf_counter() > deadline:
                return
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.lower().split(b"\r\n")
                if line.startswith(b"content-length:")
            )
            await reader.readexactly(length)
            if status != 200:
                raise RuntimeError(f"status {status} for {request.splitlines()[0]!r}")
            latencies.append(time.perf_counter() - t0)
    finally:
        writer.close()


async def _load(port: int, path: str, token: str, total: int, conc: int, seconds: float) -> dict:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n"
    ).encode()
    latencies: list[float] = []
    start = time.perf_counter()
    per = total // conc
    await asyncio.gather(
        *(_one_connection(port, request, per, latencies, start + seconds) for _ in range(conc))
    )
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
    }


def _wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the bench server exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the bench server did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--path", default=None, help="the registry GET to measure (default: the manifest document)"
    )
    ap.add_argument("--bulk", type=int, default=10_000, help="shards in the bulk registration")
    ap.add_argument("--requests", type=int, default=3000, help="per target, at most")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=15.0, help="per target, at most")
    ap.add_argument("--serve", nargs=3, metavar=("DB_URL", "PORT", "SIZE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        _serve(args.serve[0], int(args.serve[1]), int(args.serve[2]))
        return

    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        store_url = str(Path(tmp) / "store")
        token, curator, digest = _seed(db_url, store_url)
        path = args.path or f"/manifests/{digest}/document"
        naive = f"/bench/naive-document/{digest}"
        targets = (path, naive, *CONSTANT_PATHS)
        import httpx  # only to size bodies and for the one bulk request

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        size_probe = _probe_size(db_url, store_url, path, token)
        env = os.environ | {
            "PROVREG_DATABASE_URL": db_url,
            "PROVREG_STORE": store_url,
            "PYTHONPATH": os.getcwd(),
        }
        cmd = [sys.executable, "-m", "bench.api", "--serve", db_url, str(port), str(size_probe)]
        proc = subprocess.Popen(cmd, env=env)
        try:
            _wait_ready(port, proc)
            base = f"http://127.0.0.1:{port}"
            auth = {"Authorization": f"Bearer {token}"}
            bodies = {p: httpx.get(base + p, headers=auth).content for p in targets}
            if bodies[path] != bodies[naive]:
                raise SystemExit(
                    f"the naive and the cached routes differ: {bodies[path][:300]!r} {bodies[naive][:300]!r}"
                )
            results = {}
            for p in targets:
                asyncio.run(_load(port, p, token, 200, args.concurrency, 5))  # warm up
                results[p] = asyncio.run(
                    _load(port, p, token, args.requests, args.concurrency, args.seconds)
                )
            bulk_s, bulk_report = _bulk(base, curator, args.bulk)
        finally:
            proc.terminate()
            proc.wait(timeout=10)

    for p, r in results.items():
        print(
            f"{p[:40]:40s} {len(bodies[p]):6d} B  {r['requests']:6d} req  {r['rps']:8.0f} req/s  "
            f"p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms"
        )
    target, before, bare, bare_async = (results[p] for p in targets)
    ratio = target["rps"] / bare["rps"]
    print(
        f"ratio document / bare def route: {ratio:.2f} req/s (target >= 0.5; before "
        f"{before['rps'] / bare['rps']:.2f}), p99 {target['p99_ms']:.2f} ms vs "
        f"{bare['p99_ms']:.2f} ms (before {before['p99_ms']:.2f} ms); "
        f"vs bare async route: {target['rps'] / bare_async['rps']:.2f}"
    )
    print(
        f"bulk registration of {args.bulk} shards in one request: {bulk_s:.2f} s "
        f"(target <= 2 s): {bulk_report}"
    )
    print(
        json.dumps(
            {
                "path": path,
                "ratio_vs_def": round(ratio, 3),
                "ratio_before_vs_def": round(before["rps"] / bare["rps"], 3),
                "bulk_seconds": round(bulk_s, 3),
                **{p: r for p, r in results.items()},
            }
        )
    )


def _bulk(base: str, curator: str, n: int) -> tuple[float, dict]:  # type: ignore[type-arg]
    """POST ``n`` new shards to ``/shards/bulk`` in one request; (seconds, the report)."""
    import httpx

    shards = [
        {
            "id": hashlib.sha256(f"bulk shard {i}".encode()).hexdigest(),
            "source": "crawl",
            "dataset": "bulk@1",
            "bytes": 1_000_000 + i,
            "records": 1000,
            "tokens": 250_000,
        }
        for i in range(n)
    ]
    payload = json.dumps({"shards": shards}).encode()
    headers = {"Authorization": f"Bearer {curator}", "Content-Type": "application/json"}
    t0 = time.perf_counter()
    r = httpx.post(f"{base}/shards/bulk", content=payload, headers=headers, timeout=120)
    elapsed = time.perf_counter() - t0
    if r.status_code != 201:
        raise SystemExit(f"bulk registration answered {r.status_code}: {r.text[:500]}")
    return elapsed, r.json()


def _probe_size(db_url: str, store_url: str, path: str, token: str) -> int:
    """The target's body size, from the app in-process (so the constant matches it)."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from registry.config import Settings
    from registry.db.engine import make_engine

    engine = make_engine(db_url)
    with TestClient(create_app(engine, settings=Settings(store=store_url))) as client:
        r = client.get(path, headers={"Authorization": f"Bearer {token}"})
    engine.dispose()
    if r.status_code != 200:
        raise SystemExit(f"GET {path} answered {r.status_code}: {r.text}")
    return len(r.content)


if __name__ == "__main__":
    main()
