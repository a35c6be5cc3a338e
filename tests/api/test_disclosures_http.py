"""The public disclosure routes over a real server (uvicorn in a thread), and the page in
headless Chromium: key figures in the rendered DOM, screenshots under test-artifacts/."""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from api.routes.disclosures import router
from registry import disclosure
from registry.errors import ProvregError
from tests.registry.disclosure import disclosure_corpus as dc

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _app(engine: Engine) -> FastAPI:
    app = FastAPI()
    app.state.engine = engine

    @app.exception_handler(ProvregError)
    def _problem(_: Request, exc: ProvregError) -> JSONResponse:
        return JSONResponse(
            {"title": exc.title, "status": exc.status, "detail": exc.detail},
            status_code=exc.status,
            media_type="application/problem+json",
        )

    app.include_router(router)
    return app


@pytest.fixture
def server(engine: Engine, session_factory, tmp_path: Path) -> Iterator[tuple[str, dc.Corpus]]:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        corpus = dc.build(s, tmp_path / "store")
        dc.add_run(s, corpus)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    srv = uvicorn.Server(
        uvicorn.Config(_app(engine), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", corpus
    finally:
        srv.should_exit = True
        thread.join(5)


def test_live_published_index_and_formats(server, session_factory) -> None:  # type: ignore[no-untyped-def]
    base, corpus = server
    with httpx.Client(base_url=base, timeout=30) as http:
        live = http.get(f"/disclosures/{corpus.manifest[:12]}")
        assert live.status_code == 200 and live.headers["content-type"].startswith("text/html")
        assert live.headers["x-provreg-disclosure"] == "live"
        as_json = http.get(
            f"/disclosures/{corpus.manifest}", headers={"Accept": "application/json"}
        )
        assert as_json.json()["totals"]["shards"] == 9
        for suffix, check in (
            (".croissant.json", "conformsTo"),
            (".spdx.json", "@graph"),
            (".eu-summary.json", "sections"),
            (".eu-summary.html", "2.3. Data crawled"),
        ):
            r = http.get(f"/disclosures/{corpus.manifest}{suffix}")
            assert r.status_code == 200 and check in r.text, suffix
            assert not any(secret in r.text for secret in dc.SECRETS)
        with session_factory() as s:
            page = disclosure.publish(
                s, corpus.manifest, "html", disclosure.DisclosureInputs(provider="ACME")
            )
            doc = disclosure.publish(s, corpus.manifest, "json")
        r = http.get(f"/disclosures/{page.hash}")
        assert r.headers["x-provreg-disclosure"] == "published"
        assert hashlib.sha256(r.content).hexdigest() == page.hash and "ACME" in r.text
        assert http.get(f"/disclosures/{page.hash}.json").content == doc.content
        missing = http.get(f"/disclosures/{page.hash}.spdx.json")
        assert missing.status_code == 404 and "no spdx disclosure" in missing.json()["detail"]
        index = http.get("/disclosures", headers={"Accept": "application/json"}).json()["items"]
        assert {i["hash"] for i in index} == {page.hash, doc.hash}
        html_index = http.get("/disclosures").text
        assert f'href="/disclosures/{page.hash}.html"' in html_index
        assert http.get("/disclosures/" + "0" * 64).status_code == 404


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_page_renders_in_headless_chromium(
    server, session_factory, tmp_path: Path, db_url: str
) -> None:  # type: ignore[no-untyped-def]
    base, corpus = server
    with session_factory() as s:
        facts = disclosure.build_facts(s, corpus.manifest)
        page = disclosure.publish(
            s, corpus.manifest, "html", disclosure.DisclosureInputs(model="Demo LM 1.0")
        )
    url = f"{base}/disclosures/{page.hash}"
    dom = _chromium("--dump-dom", url, profile=tmp_path / "profile")
    assert dom.returncode == 0, dom.stderr[-2000:]
    for figure in (
        f"{facts.totals.tokens:,}",
        f"{facts.totals.records:,}",
        "news.example.com",
        "Demo LM 1.0",
        facts.merkle[0].root,
    ):
        assert figure in dom.stdout, figure
    assert dom.stdout.count("<svg") == 3
    ARTIFACTS.mkdir(exist_ok=True)
    backend = "pg" if db_url.startswith("postgresql") else "sqlite"
    for name, size in (("laptop", "1280,1600"), ("phone", "390,844")):
        shot = ARTIFACTS / f"disclosure-{name}-{backend}.png"
        shot.unlink(missing_ok=True)
        run = _chromium(
            f"--screenshot={shot}",
            f"--window-size={size}",
            "--hide-scrollbars",
            url,
            profile=tmp_path / "profile",
        )
        assert run.returncode == 0 and shot.stat().st_size > 10_000, run.stderr[-2000:]
