"""``provreg serve``: the web API under uvicorn (uvloop and httptools where installed), with the
connection limits of ``api.serving`` and the request limits of ``api.limits`` (``PROVREG_*``)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import console, engine


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Serve the registry's web API (OpenAPI at /docs and /openapi.json)."""
    import uvicorn  # heavy: imported only when serving

    from api.serving import uvicorn_options

    eng = engine()  # refuse a missing or out-of-date database before starting workers
    where = eng.url.render_as_string(hide_password=True)
    eng.dispose()
    console.print(f"provreg API on http://{host}:{port} over {where} ({workers} worker(s))")
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="auto",
        log_level=log_level,
        **uvicorn_options(),
    )
