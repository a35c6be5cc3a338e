"""API throughput: a registry GET against a bare route of the same size, on the same server.

    python -m bench.api [--path /sources/crawl] [--requests 3000] [--concurrency 8]

Starts uvicorn (uvloop + httptools, one worker, as ``provreg serve`` does) in a subprocess over
a seeded SQLite registry, and drives it from this process with a small keep-alive HTTP/1.1
client on asyncio (lighter than httpx, so the client is not what is measured). Prints req/s
and p99 latency for (a) ``--path`` with a reader token and (b) ``/bench/constant``, a bare
``def`` route returning a constant body of the same size (mounted only in this bench's app),
and (c) the same constant from an ``async def`` route for reference. The ratio (a)/(b) is the
target (>= 0.5). ``--path`` is a parameter so the manifest document can be measured the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONSTANT_PATHS = ("/bench/constant", "/bench/constant-async")


def _serve(db_url: str, port: int, size: int) -> None:
    """The server process: the production app plus the bench-only constant routes."""
    import uvicorn
    from fastapi import Response

    from api.app import create_app

    app = create_app()
    body = b'{"pad":"' + b"x" * max(size - 10, 0) + b'"}'

    @app.get("/bench/constant", include_in_schema=False)
    def constant() -> Response:
        return Response(body, media_type="application/json")

    @app.get("/bench/constant-async", include_in_schema=False)
    async def constant_async() -> Response:
        return Response(body, media_type="application/json")

    uvicorn.run(
        app, host="127.0.0.1", port=port, log_level="warning", loop="uvloop", http="httptools"
    )


def _seed(db_url: str) -> str:
    """A registry with a contributor, a source and a reader token; returns the token."""
    from registry import contributors, licences, migrate, sources, tokens
    from registry.db import make_engine, transaction

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
    engine.dispose()
    return token


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
    ap.add_argument("--path", default="/sources/crawl", help="the registry GET to measure")
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
        token = _seed(db_url)
        import httpx  # only to size the target body once

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        size_probe = _probe_size(db_url, args.path, token)
        env = os.environ | {"PROVREG_DATABASE_URL": db_url, "PYTHONPATH": os.getcwd()}
        cmd = [sys.executable, "-m", "bench.api", "--serve", db_url, str(port), str(size_probe)]
        proc = subprocess.Popen(cmd, env=env)
        try:
            _wait_ready(port, proc)
            base = f"http://127.0.0.1:{port}"
            sizes = {
                p: len(httpx.get(base + p, headers={"Authorization": f"Bearer {token}"}).content)
                for p in (args.path, *CONSTANT_PATHS)
            }
            results = {}
            for p in (args.path, *CONSTANT_PATHS):
                asyncio.run(_load(port, p, token, 200, args.concurrency, 5))  # warm up
                results[p] = asyncio.run(
                    _load(port, p, token, args.requests, args.concurrency, args.seconds)
                )
        finally:
            proc.terminate()
            proc.wait(timeout=10)

    for p, r in results.items():
        print(
            f"{p:28s} {sizes[p]:6d} B  {r['requests']:6d} req  {r['rps']:8.0f} req/s  "
            f"p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms"
        )
    target, bare, bare_async = (results[p] for p in (args.path, *CONSTANT_PATHS))
    ratio = target["rps"] / bare["rps"]
    print(
        f"ratio {args.path} / bare def route: {ratio:.2f} req/s (target >= 0.5), "
        f"p99 {target['p99_ms'] / bare['p99_ms']:.2f}x; "
        f"vs bare async route: {target['rps'] / bare_async['rps']:.2f}"
    )
    print(
        json.dumps(
            {
                "path": args.path,
                "ratio_vs_def": round(ratio, 3),
                **{p: r for p, r in results.items()},
            }
        )
    )


def _probe_size(db_url: str, path: str, token: str) -> int:
    """The target's body size, from the app in-process (so the constant matches it)."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from registry.db import make_engine

    engine = make_engine(db_url)
    with TestClient(create_app(engine)) as client:
        r = client.get(path, headers={"Authorization": f"Bearer {token}"})
    engine.dispose()
    if r.status_code != 200:
        raise SystemExit(f"GET {path} answered {r.status_code}: {r.text}")
    return len(r.content)


if __name__ == "__main__":
    main()
