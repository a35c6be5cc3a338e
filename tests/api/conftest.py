"""A real server for API tests: uvicorn on a free 127.0.0.1 port in a thread, over the test's
own database (``db_url``, SQLite and PostgreSQL), spoken to with a real HTTP client."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

from api.app import create_app
from api.serving import uvicorn_options
from registry import auth
from registry.catalogue import contributors
from registry.config import Settings
from registry.db.engine import transaction
from registry.db.models import TOKEN_ROLES


class LiveServer:
    """uvicorn serving ``app`` on 127.0.0.1:<free port> until ``stop()``, with the protocol and
    connection limits ``provreg serve`` uses (``api.serving``)."""

    def __init__(self, app: FastAPI) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off", **uvicorn_options())
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


UPLOAD_LIMIT = 64 * 1024  # small, so a test can pass it cheaply


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def server(engine: Engine, store_dir: Path) -> Iterator[LiveServer]:
    settings = Settings(store=str(store_dir), max_upload_bytes=UPLOAD_LIMIT)
    live = LiveServer(create_app(engine, settings=settings))
    live.start()
    try:
        yield live
    finally:
        live.stop()


@dataclass(frozen=True)
class Tokens:
    """One live token per role (``by_role``), and one revoked curator token."""

    by_role: dict[str, str]
    revoked: str

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.by_role[role]}"}


@pytest.fixture
def api_tokens(engine: Engine) -> Tokens:
    with transaction(engine, actor="test") as session:
        contributors.add_contributor(session, name="token-holder")
        by_role = {
            role: auth.create_token(
                session,
                name=role,
                role=role,
                contributor="token-holder" if role == "contributor" else None,
            )[0]
            for role in TOKEN_ROLES
        }
        revoked, _ = auth.create_token(session, name="gone", role="curator")
        auth.revoke_token(session, "gone")
    return Tokens(by_role=by_role, revoked=revoked)


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c
