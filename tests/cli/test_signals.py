"""``provreg signals``: add, show, check and reparse through the real command, and ``fetch``
against a real HTTP server on 127.0.0.1 serving robots.txt, tdmrep.json and signal headers."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.conftest import Cli, snapshot

ROBOTS = b"User-agent: *\nDisallow: /private/\nContent-Usage: train-ai=n\nContent-Usage: /ok/ train-ai=y\n"
TDMREP = b'[{"location": "/reserved/", "tdm-reservation": 1}]'
PAGE = b'<html><head><meta name="tdm-reservation" content="1"></head><body>hi</body></html>'
AT = "2026-11-01T00:00:00Z"


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "robots.txt").write_bytes(ROBOTS)
    (tmp_path / "tdmrep.json").write_bytes(TDMREP)
    (tmp_path / "page.html").write_bytes(PAGE)
    return tmp_path


def test_add_show_and_check(cli: Cli, files: Path) -> None:
    out = cli(
        "signals",
        "add",
        "https://news.example",
        "--robots",
        str(files / "robots.txt"),
        "--observed-at",
        AT,
        "--json",
    )
    o = json.loads(out.stdout)
    assert o["sha256"] == hashlib.sha256(ROBOTS).hexdigest()
    cli(
        "signals",
        "add",
        "https://news.example",
        "--tdmrep",
        str(files / "tdmrep.json"),
        "--observed-at",
        AT,
    )
    cli(
        "signals",
        "add",
        "https://news.example",
        "--header",
        "Content-Usage: train-ai=y",
        "--header",
        "tdm-reservation: 0",
        "--url",
        "https://news.example/ok/a",
        "--observed-at",
        AT,
    )
    cli(
        "signals",
        "add",
        "https://news.example",
        "--html",
        str(files / "page.html"),
        "--url",
        "https://news.example/ok/page",
        "--observed-at",
        AT,
    )
    shown = json.loads(cli("signals", "show", "https://news.example", "--json").stdout)
    assert [s["kind"] for s in shown] == ["robots.txt", "tdmrep.json", "http-header", "html"]
    raw = json.loads(cli("signals", "show", "https://news.example", "--raw", "--json").stdout)
    assert raw[0]["raw_text"] == ROBOTS.decode()

    def check(url: str, *extra: str) -> dict[str, object]:
        return json.loads(cli("signals", "check", url, "--json", *extra).stdout)

    v = check("https://news.example/story")
    assert v["state"] == "disallowed"
    assert v["decided_by"]["signal"] == "robots-content-usage"  # type: ignore[index]
    assert check("https://news.example/ok/a")["state"] == "allowed"
    page = check("https://news.example/ok/page")
    assert page["state"] == "disallowed"
    assert page["decided_by"]["signal"] == "tdmrep"  # type: ignore[index]
    assert check("https://news.example/story", "--at", "2026-10-01T00:00:00Z")["state"] == "unknown"
    text = cli("signals", "check", "https://news.example/private/x").stdout
    assert "disallowed for AI training" in text and "robots-disallow" in text
    assert (
        "read again"
        in cli("signals", "reparse", "--vocabulary", "draft-ietf-aipref-vocab-03").stdout
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["news.example", "--robots", "{robots}", "--observed-at", AT],
            "not an http:// or https://",
        ),
        (["https://news.example", "--robots", "{missing}", "--observed-at", AT], "cannot read"),
        (
            [
                "https://news.example",
                "--header",
                "Content-Usage train-ai=n",
                "--url",
                "https://news.example/a",
                "--observed-at",
                AT,
            ],
            "is not 'Name: value'",
        ),
        (
            ["https://news.example", "--robots", "{robots}", "--observed-at", "yesterday"],
            "ISO 8601",
        ),
        (
            [
                "https://news.example",
                "--robots",
                "{robots}",
                "--observed-at",
                "2026-11-01T00:00:00",
            ],
            "no UTC offset",
        ),
        (["https://news.example", "--observed-at", AT], "one robots.txt"),
        (["https://news.example", "--html", "{page}", "--observed-at", AT], "give --url"),
    ],
)
def test_bad_input_is_one_line_and_stores_nothing(
    cli: Cli, engine: Engine, files: Path, args: list[str], message: str
) -> None:
    args = [
        a.format(robots=files / "robots.txt", missing=files / "nope", page=files / "page.html")
        for a in args
    ]
    before = snapshot(engine)
    result = cli("signals", "add", *args, ok=False)
    assert result.exit_code == 1
    assert message in result.output and result.output.startswith("provreg: error:")
    assert len(result.output.strip().splitlines()) == 1
    assert snapshot(engine) == before


class _Site(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        routes: dict[str, tuple[int, dict[str, str], bytes]] = {
            "/robots.txt": (200, {"Content-Type": "text/plain"}, ROBOTS),
            "/.well-known/tdmrep.json": (200, {"Content-Type": "application/json"}, TDMREP),
            "/article": (
                200,
                {
                    "Content-Type": "text/html",
                    "Content-Usage": "train-ai=n",
                    "tdm-reservation": "1",
                },
                PAGE,
            ),
            "/plain": (200, {"Content-Type": "text/plain"}, b"nothing to see"),
        }
        status, headers, body = routes.get(self.path, (404, {}, b"not found"))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_records_what_a_local_server_serves(cli: Cli, site: str) -> None:
    out = json.loads(
        cli(
            "signals", "fetch", site, "--url", f"{site}/article", "--url", f"{site}/plain", "--json"
        ).stdout
    )
    kinds = {(o["kind"], o["url"]) for o in out["recorded"]}
    assert kinds == {
        ("robots.txt", f"{site}/robots.txt"),
        ("tdmrep.json", f"{site}/.well-known/tdmrep.json"),
        ("http-header", f"{site}/article"),
        ("html", f"{site}/article"),
    }
    robots = next(o for o in out["recorded"] if o["kind"] == "robots.txt")
    assert robots["sha256"] == hashlib.sha256(ROBOTS).hexdigest()
    assert robots["via"] == "signals fetch"
    assert out["not_recorded"] == [
        {"kind": "http-header", "url": f"{site}/plain", "note": "no signal header fields"}
    ]
    v = json.loads(cli("signals", "check", f"{site}/article", "--json").stdout)
    assert v["state"] == "disallowed"
    signals = {s["signal"] for s in v["signals"]}
    assert {"content-usage-header", "tdmrep", "robots-content-usage"} <= signals


def test_fetch_from_a_server_without_signal_files_records_nothing(cli: Cli, engine: Engine) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Empty)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        origin = f"http://127.0.0.1:{server.server_address[1]}"
        before = snapshot(engine)
        out = json.loads(cli("signals", "fetch", origin, "--json").stdout)
    finally:
        server.shutdown()
        server.server_close()
    assert out["recorded"] == []
    assert [n["note"] for n in out["not_recorded"]] == ["HTTP 404", "HTTP 404"]
    assert snapshot(engine) == before


class _Empty(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass
