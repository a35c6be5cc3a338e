"""The ``provreg`` command: a thin layer over the registry's services."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import ValidationError
from typer.core import TyperGroup

import registry
from cli import attest as attest_cmds
from cli import audit as audit_cmds
from cli import continual as continual_cmds
from cli import contributors as contributor_cmds
from cli import datasets as dataset_cmds
from cli import disclose as disclose_cmds
from cli import impact as impact_cmds
from cli import ingest as ingest_cmds
from cli import ledger as ledger_cmds
from cli import licences as licence_cmds
from cli import manifests as manifest_cmds
from cli import record as record_cmds
from cli import serve as serve_cmds
from cli import shards as shard_cmds
from cli import signals as signal_cmds
from cli import sources as source_cmds
from cli import tokenizer as tokenizer_cmds
from cli import tokens as token_cmds
from cli import train as train_cmds
from cli.common import console, engine, err_console, tx
from registry.catalogue import licences
from registry.config import get_settings
from registry.db import migrate
from registry.db.engine import make_engine
from registry.errors import ProvregError
from registry.limits import shape_error

# What to type, for a domain error about an input (``ProvregError.field``): the services name
# the input in domain terms and the CLI adds its flags.
ADVICE = {
    "manifest.selection": "give --dataset, --shard or --shards-from",
    "token.contributor": "give --contributor NAME",
    "ingest.format": "give --format",
    "source.crawler": "give --crawler a product token such as ExampleBot",
    "source.pay_authors": "give --pay-authors a SHARE in (0, 1], e.g. 0.7",
    "source.contributors": "give --contributor NAME=SHARE for the rest",
    "ingest.fields": "give --text-field, --url-field, --author-field, --licence-field and --date-field different fields, on JSONL, CSV, Parquet or hf-disk input",
    "train.device": "give --device auto, cpu, cuda or mps",
    "revocation.reason": "give --reason",
    "train.world_size": "give the --nproc-per-node and --nnodes it was started with",
    "train.tokenizer": "give --tokenizer an id that provreg tokenizer list shows",
    "tokenizer.settings": "give --vocab-size >= 257 and --min-frequency >= 1",
    "attest.no_key": "run provreg key create NAME --out PATH, then set PROVREG_SIGNING_KEY=PATH",
    "attest.key_mode": "chmod 600 the key file, or give --key another one",
    "attest.unregistered_key": "create keys with provreg key create NAME --out PATH",
    "continual.replay": "give --replay a fraction in [0, 1)",
    "continual.ewc": "give --ewc a strength >= 0",
    "continual.from_weights": "give --from-weights a file that provreg weights verify accepts",
    "growth": "give --grow-layers >= 0 and --grow-width >= 1, and keep vocab_size and block_size",
    "manifest.eval": "give --eval-dataset a dataset that shares no shard with the selection",
    "manifest.eval_dataset": "give --eval-dataset a dataset that shares no shard with the selection",
    "manifest.eval_fraction": "give --eval-fraction a fraction in (0, 1)",
    "signals.kind": "give one of --robots, --tdmrep, --header or --html",
    "signals.url": "give --url",
    "signals.vocabulary": "give --vocabulary",
    "signals.check": "give a URL or --all",
    "ingest.signals_unknown": "give --signals-unknown allow or refuse",
    "impact.selector_count": "give one of --source, --shard, --domain, --url, --author or --record",
}


def error_line(exc: ProvregError) -> str:
    """The one line a domain error becomes on stderr, with the CLI's advice where it has some."""
    advice = ADVICE.get(exc.field or "")
    return f"provreg: error: {exc.detail}" + (f" ({advice})" if advice else "")


class _Root(TyperGroup):
    """Turns a domain error into one clear line on stderr and exit code 1; so too an input a
    request shape refused (a command should turn those into domain errors itself)."""

    def invoke(self, ctx: Any) -> Any:  # typer's vendored click Context (private module)
        try:
            return super().invoke(ctx)
        except ProvregError as exc:
            err_console.print(error_line(exc), markup=False)
            ctx.exit(1)
        except ValidationError as exc:
            err_console.print(error_line(shape_error(exc, "input")), markup=False)
            ctx.exit(1)


app = typer.Typer(
    cls=_Root,
    no_args_is_help=True,
    add_completion=False,
    help="provreg: dataset provenance and training-manifest registry.",
    pretty_exceptions_enable=False,
)
app.add_typer(licence_cmds.app, name="licence")
app.add_typer(contributor_cmds.app, name="contributor")
app.add_typer(source_cmds.app, name="source")
app.add_typer(audit_cmds.app, name="audit")
app.add_typer(manifest_cmds.app, name="manifest")
app.add_typer(record_cmds.app, name="record")
ledger_cmds.register(app)
app.command("ingest")(ingest_cmds.ingest)
app.add_typer(shard_cmds.app, name="shard")
app.add_typer(dataset_cmds.app, name="dataset")
app.add_typer(token_cmds.app, name="token")
app.add_typer(tokenizer_cmds.app, name="tokenizer")
app.add_typer(signal_cmds.app, name="signals")
app.command("serve")(serve_cmds.serve)
app.add_typer(train_cmds.app)  # train, run, weights, generate
app.command("disclose")(disclose_cmds.disclose)
app.add_typer(attest_cmds.key_app, name="key")
app.add_typer(attest_cmds.attest_app, name="attest")
train_cmds.weights_app.command("sign")(attest_cmds.weights_sign)
train_cmds.weights_app.command("card")(attest_cmds.weights_card)
app.command("lineage")(continual_cmds.lineage)
app.command("impact")(impact_cmds.impact)
app.command("takedown")(impact_cmds.takedown)


def _print_version(value: bool) -> None:
    if value:
        console.print(f"provreg {registry.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="print the version"),
    ] = False,
) -> None:
    """provreg: dataset provenance and training-manifest registry."""


@app.command("init")
def init() -> None:
    """Create or upgrade the registry database and seed the licences. Safe to run again."""
    settings = get_settings()
    eng = make_engine(settings.database_url)
    before = migrate.current_revision(eng)
    migrate.upgrade(eng)
    engine.cache_clear()
    with tx() as session:
        added = licences.seed(session)
    after = migrate.current_revision(eng)
    where = eng.url.render_as_string(hide_password=True)
    change = "created" if before is None else ("upgraded" if before != after else "up to date")
    console.print(
        f"registry {where}: schema {change} (revision {after}); {len(added)} licences added"
    )


def main() -> None:
    app(prog_name="provreg")


if __name__ == "__main__":  # pragma: no cover
    main()
