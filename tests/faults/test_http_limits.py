"""The fault suite, HTTP limits (issue 19, defect 2), against a real ``provreg serve`` process on
127.0.0.1 spoken to with raw sockets, so nothing between the test and the server buffers, retries
or times out for us.

Before: three unauthenticated 300 MB POSTs to ``/sources`` took 35-38 s each to get their 401
and took the server from 426 MiB to 1,954 MiB; a curator's 200 MB ``description`` was stored;
50 slow uploads held for 20 s were never dropped. Now a body is authenticated before it is
read, refused past its limit before it is read, and dropped when it arrives too slowly; a
connection that sends no request, or its head too slowly, is closed.

The server runs with short deadlines (``SERVER_ENV``) so the test is quick; the defaults are in
``api/limits.py`` and ``docs/api.md``. The limits are the server's, the same on any database:
this runs on SQLite.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from registry import auth
from registry.db.engine import make_engine, transaction

pytestmark = pytest.mark.faults

MIB = 1024 * 1024
SERVER_ENV = {
    "PROVREG_BODY_GRACE_S": "1",
    "PROVREG_MIN_BODY_RATE": "65536",
    "PROVREG_HEADER_TIMEOUT_S": "1.5",
    "PROVREG_KEEP_ALIVE_S": "1",
}


@dataclass
class Served:
    port: int
    pid: int
    tokens: dict[str, str]

    def rss_mib(self) -> float:
        status = Path(f"/proc/{self.pid}/status").read_text()
        return (
            int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])
            / 1024
        )

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    if not Path("/proc/self/status").exists():
        pytest.skip("measures the server's memory through /proc")
    tmp = tmp_path_factory.mktemp("served")
    shutil.copy(sqlite_template, tmp / "registry.db")
    url = f"sqlite:///{tmp / 'registry.db'}"
    engine = make_engine(url)
    with transaction(engine, actor="test") as s:
        tokens = {r: auth.create_token(s, name=r, role=r)[0] for r in ("curator", "trainer")}
    engine.dispose()
    port = _free_port()
    env = os.environ | SERVER_ENV | {"PROVREG_DATABASE_URL": url, "PROVREG_STORE": str(tmp)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"provreg serve did not start: {proc.stderr.read()!r}") from None
            time.sleep(0.1)
    try:
        yield Served(port, proc.pid, tokens)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _head(path: str, length: int | None, token: str | None = None, method: str = "POST") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: test", "Content-Type: application/json"]
    lines.append(
        f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    )
    if token:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _status(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0]


def _flood(
    served: Served, path: str, size: int, token: str | None = None
) -> tuple[bytes, int, float]:
    """POST ``size`` bytes as fast as the server takes them; the status line, the bytes sent
    before the server answered (or closed), and the seconds to the answer."""
    sock = served.connect()
    sock.sendall(_head(path, size, token))
    sock.setblocking(False)
    block, sent, start = b"x" * MIB, 0, time.monotonic()
    answer = b""
    while sent < size and time.monotonic() - start < 60:
        try:
            answer += sock.recv(4096)
            if answer:
                break
        except BlockingIOError:
            pass
        try:
            sent += sock.send(block)
        except BlockingIOError:
            time.sleep(0.001)
        except (BrokenPipeError, ConnectionResetError):
            break
    sock.setblocking(True)
    sock.settimeout(10)
    try:
        while b"\r\n" not in answer:
            more = sock.recv(4096)
            if not more:
                break
            answer += more
    except (ConnectionResetError, TimeoutError):
        pass
    sock.close()
    return answer.split(b"\r\n", 1)[0], sent, time.monotonic() - start


def test_an_unauthenticated_300_mb_post_is_refused_before_it_is_read(served: Served) -> None:
    before = served.rss_mib()
    for path in ("/sources", "/shards/bulk", "/runs/0123456789ab/progress"):
        status, sent, seconds = _flood(served, path, 300 * MIB)
        assert status == b"HTTP/1.1 401 Unauthorized", (path, status)
        assert seconds < 5 and sent < 64 * MIB, (path, seconds, sent)
    assert served.rss_mib() - before < 64, (before, served.rss_mib())


def test_a_too_large_body_with_a_good_token_is_413_before_it_is_read(served: Served) -> None:
    before = served.rss_mib()
    for path, size in (("/sources", 300 * MIB), ("/shards/bulk", 300 * MIB)):
        status, sent, seconds = _flood(served, path, size, served.tokens["curator"])
        assert status == b"HTTP/1.1 413 Request Entity Too Large", (path, status)
        assert seconds < 5 and sent < 64 * MIB, (path, seconds, sent)
    # A chunked body announces no length: it is counted as it comes, and refused past 1 MiB.
    sock = served.connect()
    sock.sendall(_head("/sources", None, served.tokens["curator"]))
    try:
        for _ in range(4):
            sock.sendall(b"%x\r\n" % (512 * 1024) + b"x" * 512 * 1024 + b"\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert _status(sock) == b"HTTP/1.1 413 Request Entity Too Large"
    sock.close()
    assert served.rss_mib() - before < 64


def test_fifty_slow_uploads_are_dropped(served: Served) -> None:
    """Each sends a byte every 0.2 s; after the 1 s grace a body must average 64 KiB/s."""
    results: list[tuple[bytes, float]] = []

    def slow() -> None:
        sock = served.connect()
        sock.sendall(_head("/sources", 100_000, served.tokens["curator"]))
        sock.settimeout(0.2)
        start, answer = time.monotonic(), b""
        while time.monotonic() - start < 20 and b"\r\n" not in answer:
            try:
                sock.sendall(b"x")
                answer += sock.recv(4096) or b"\r\n"
            except TimeoutError:
                continue
            except OSError:
                break
        results.append((answer.split(b"\r\n", 1)[0], time.monotonic() - start))
        sock.close()

    threads = [threading.Thread(target=slow) for _ in range(50)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    health = served.connect()  # the server answers others meanwhile
    health.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    assert _status(health) == b"HTTP/1.1 200 OK"
    health.close()
    for t in threads:
        t.join()
    assert len(results) == 50
    assert {status for status, _ in results} == {b"HTTP/1.1 408 Request Timeout"}
    assert max(seconds for _, seconds in results) < 8, results


def test_idle_and_slow_connections_are_closed(served: Served) -> None:
    idle = served.connect()  # sends nothing at all
    start = time.monotonic()
    assert idle.recv(1) == b""
    assert 1.0 < time.monotonic() - start < 5
    idle.close()

    slow = served.connect()  # a request head a byte at a time (slowloris)
    start = time.monotonic()
    try:
        for byte in b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"y" * 100:
            slow.send(bytes([byte]))
            time.sleep(0.1)
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert time.monotonic() - start < 5
    slow.close()

    big = served.connect()  # a head larger than 64 KiB
    big.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"z" * 100_000 + b"\r\n\r\n")
    assert _status(big) == b"HTTP/1.1 431 Request Header Fields Too Large"
    big.close()

    kept = served.connect()  # keep-alive: closed once idle after a response
    kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    assert _status(kept) == b"HTTP/1.1 200 OK"
    start = time.monotonic()
    while kept.recv(4096):
        pass
    assert time.monotonic() - start < 5
    kept.close()


def test_a_refused_upload_is_not_read_to_its_end(served: Served) -> None:
    """A response to a body the route did not read says Connection: close, so a client cannot
    keep the connection by trickling a body nobody reads."""
    sock = served.connect()
    sock.sendall(_head("/runs/0123456789ab/heartbeat", 10 * MIB, served.tokens["trainer"]))
    sock.sendall(b"x" * 1000)
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    assert b"connection: close" in head.lower()
    sock.settimeout(10)
    try:
        while sock.recv(4096):
            pass
    except ConnectionResetError:
        pass  # closed: what we want
    sock.close()
