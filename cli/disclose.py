"""``provreg disclose``: render (and optionally publish) a public training-data disclosure."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import JSON_HELP, emit, err_console, tx
from registry.errors import InvalidInput

FORMAT_HELP = "html, json, croissant, eu-summary, eu-summary-html or spdx"


def disclose(
    subject: Annotated[
        str, typer.Argument(help="a manifest (hash, prefix, name), run id or weights file")
    ],
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "html",
    out: Annotated[Path | None, typer.Option(help="write here (default: stdout)")] = None,
    provider: Annotated[str | None, typer.Option(help="provider name (EU summary 1.1)")] = None,
    provider_contact: Annotated[str | None, typer.Option(help="provider contact (1.1)")] = None,
    model: Annotated[str | None, typer.Option(help="versioned model name (1.2)")] = None,
    illegal_content_measures: Annotated[
        str | None, typer.Option(help="measures to remove illegal content (3.2)")
    ] = None,
    content_base_url: Annotated[
        str | None, typer.Option(help="URL where shard files are served (Croissant contentUrl)")
    ] = None,
    publish: Annotated[
        bool, typer.Option("--publish", help="store it as a published disclosure")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Disclose what a manifest, run or weights file was trained on; prints the path or hash.

    Fields the registry cannot know and that are not given are rendered as "Not provided".
    """
    import hashlib

    from registry import disclosure

    disclosure.check_format(fmt)
    inputs = disclosure.DisclosureInputs(
        provider=provider,
        provider_contact=provider_contact,
        model=model,
        illegal_content_measures=illegal_content_measures,
        content_base_url=content_base_url,
    )
    if publish:
        with tx() as session:
            result = disclosure.publish(session, subject, fmt, inputs)
        content, digest = result.content, result.hash
    else:
        with tx(write=False) as session:
            facts = disclosure.build_facts(
                session, subject, with_shards=disclosure.FORMATS[fmt].with_shards
            )
        content = disclosure.render(facts, fmt, inputs)
        digest = hashlib.sha256(content).hexdigest()
    if out is not None:
        try:
            out.write_bytes(content)
        except OSError as exc:
            raise InvalidInput(f"cannot write {out}: {exc.strerror}") from exc
        err_console.print(f"wrote {len(content)} bytes to {out}", markup=False)
    elif not (as_json or publish):
        typer.echo(content.decode("utf-8"), nl=False)
        return
    info = {"hash": digest, "format": fmt, "path": str(out) if out else None, "published": publish}
    lines = ([str(out)] if out else []) + [digest + (" (published)" if publish else "")]
    emit(info, as_json, lambda: print("\n".join(lines)))
