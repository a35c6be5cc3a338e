"""``provreg tokenizer``: train a byte-level BPE on a manifest, list and show tokenizers.

torch-free; ``tokenizers`` and the verified reader are imported inside the commands.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import JSON_HELP, emit, table, tx
from registry import tokenizers
from registry.config import get_settings
from registry.entities.tokenizers import TokenizerOut
from registry.errors import IntegrityFailure, InvalidInput

app = typer.Typer(no_args_is_help=True, help="Trained tokenizers (byte-level BPE).")


def _show(t: TokenizerOut) -> None:
    table(
        f"tokenizer {t.id}",
        ["field", "value"],
        [
            ["kind", t.kind],
            ["vocabulary", t.vocab_size],
            ["trained on manifest", t.manifest],
            ["settings", ", ".join(f"{k}={v}" for k, v in t.settings.items())],
            ["file", f"{t.store_uri} ({t.bytes:,} bytes)"],
            ["registered", t.created_at.isoformat(timespec="seconds")],
        ],
    )


@app.command("train")
def train(
    manifest: Annotated[str, typer.Option(help="manifest hash, prefix or name to train on")],
    vocab_size: Annotated[int, typer.Option(help="vocabulary size (bytes + merges + EOT)")] = 8192,
    min_frequency: Annotated[int, typer.Option(help="a pair must occur this often")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Train a byte-level BPE on the manifest's verified records; store and register it.

    Its id is the SHA-256 of the file; the same manifest and settings give the same id."""
    from cli.common import engine
    from trainer.bpe import BPESettings, train_manifest_tokenizer
    from trainer.client import LocalRegistry
    from trainer.errors import TrainerError

    settings = get_settings()
    try:
        bpe = BPESettings(vocab_size=vocab_size, min_frequency=min_frequency)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="tokenizer.settings") from exc
    client = LocalRegistry(engine(), store=settings.store, actor=settings.actor)
    try:
        out, added = train_manifest_tokenizer(
            client, manifest, bpe, store=settings.store, show_progress=not as_json
        )
    except TrainerError as exc:
        raise IntegrityFailure(f"tokenizer not trained: {exc}") from exc
    emit(
        out.model_dump(mode="json") | {"added": added},
        as_json,
        lambda: (_show(out), print("added" if added else "already registered: same bytes")),
    )


@app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False) -> None:
    """Registered tokenizers, oldest first."""
    with tx(write=False) as session:
        rows = tokenizers.list_tokenizers(session)
    emit(
        rows,
        as_json,
        lambda: table(
            f"{len(rows)} tokenizers",
            ["tokenizer", "kind", "vocabulary", "manifest", "bytes"],
            [[t.id, t.kind, t.vocab_size, t.manifest[:16], t.bytes] for t in rows],
        ),
    )


@app.command("show")
def show(
    tokenizer: str, as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False
) -> None:
    """One tokenizer by id or prefix: its provenance and settings."""
    with tx(write=False) as session:
        t = tokenizers.get_tokenizer(session, tokenizer)
    emit(t, as_json, lambda: _show(t))
