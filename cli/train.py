"""``provreg train``, ``provreg run``, ``provreg weights`` and ``provreg generate``.

torch and the trainer are imported inside the commands: ``provreg --help`` stays fast.
"""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

import typer

from cli.common import JSON_HELP, console, emit, err_console, table, tx
from registry import runs
from registry.config import get_settings
from registry.errors import IntegrityFailure, InvalidInput, NotFound, NotPermitted, ProvregError

app = typer.Typer(no_args_is_help=True)
run_app = typer.Typer(no_args_is_help=True, help="Training runs: status, loss, consumption.")
weights_app = typer.Typer(no_args_is_help=True, help="Stamped weights files.")
app.add_typer(run_app, name="run")
app.add_typer(weights_app, name="weights")


RegistryOpt = Annotated[
    str | None,
    typer.Option(
        "--registry",
        help="a provreg API (http://HOST:PORT) instead of the database; needs --token",
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token", envvar="PROVREG_TOKEN", help="API token for --registry (or PROVREG_TOKEN)"
    ),
]


def _client(registry: str | None = None, token: str | None = None) -> Any:
    """The database (``PROVREG_DATABASE_URL``), or the API at ``registry`` with ``token``;
    either way shards are read from the local store (``PROVREG_STORE``) when they are there."""
    settings = get_settings()
    if registry is not None:
        from trainer.http_client import HttpRegistry

        return HttpRegistry(registry, token or "", store=settings.store)
    if token is not None and os.environ.get("PROVREG_TOKEN") != token:
        raise InvalidInput("--token is for --registry: give the API's URL too")
    from cli.common import engine
    from trainer.client import LocalRegistry

    return LocalRegistry(engine(), store=settings.store, actor=settings.actor)


@app.command("train")
def train(
    manifest: Annotated[str | None, typer.Option(help="manifest hash, prefix or name")] = None,
    config: Annotated[str, typer.Option(help="tiny, small, medium or base")] = "tiny",
    steps: Annotated[int, typer.Option(help="optimizer steps")] = 200,
    batch_size: Annotated[int, typer.Option(help="sequences per step")] = 16,
    seed: Annotated[int, typer.Option(help="seeds the weights and the data order")] = 0,
    checkpoint_every: Annotated[int, typer.Option(help="steps between checkpoints")] = 50,
    async_checkpoint: Annotated[
        bool,
        typer.Option(
            "--async-checkpoint",
            help="write each checkpoint (file, then its transaction) while training goes on",
        ),
    ] = False,
    out: Annotated[str, typer.Option(help="where to write the stamped weights")] = (
        "model.safetensors"
    ),
    threads: Annotated[
        int | None, typer.Option(help="CPU threads (default: the cores this process may use)")
    ] = None,
    device: Annotated[
        str, typer.Option(help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps")
    ] = "auto",
    lr: Annotated[float, typer.Option(help="peak learning rate")] = 3e-3,
    warmup: Annotated[int | None, typer.Option(help="warmup steps (default steps/10)")] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="model override KEY=VALUE; repeatable")
    ] = None,
    from_weights: Annotated[
        str | None, typer.Option(help="continue training from these stamped weights")
    ] = None,
    resume: Annotated[
        str | None, typer.Option(help="continue an interrupted run from its last checkpoint")
    ] = None,
    heartbeat_s: Annotated[
        float, typer.Option(help="seconds between liveness updates", hidden=True)
    ] = runs.DEFAULT_HEARTBEAT_S,
    tokenizer: Annotated[
        str | None,
        typer.Option(help="a registered tokenizer (id or prefix); default provreg.bytes/1"),
    ] = None,
    nproc_per_node: Annotated[
        int, typer.Option(help="processes on this machine: DDP through torchrun")
    ] = 1,
    nnodes: Annotated[int, typer.Option(help="machines in the job (each runs this command)")] = 1,
    rdzv_endpoint: Annotated[
        str | None, typer.Option(help="HOST:PORT every machine of a multi-node job meets at")
    ] = None,
    follow: Annotated[
        str | None,
        typer.Option(
            help="DATASET[@VERSION]: train one increment per new set of shards (with "
            "--from-weights); without @VERSION every version of the name"
        ),
    ] = None,
    replay: Annotated[
        str, typer.Option(help="with --follow: fraction of each increment's tokens replayed")
    ] = "0",
    eval_fraction: Annotated[
        str, typer.Option(help="with --follow: fraction of each increment's new shards held out")
    ] = "0",
    once: Annotated[bool, typer.Option(help="with --follow: train what is new, then exit")] = False,
    every: Annotated[
        float, typer.Option(help="with --follow: seconds between looks for new shards")
    ] = 60.0,
    out_dir: Annotated[
        str, typer.Option(help="with --follow: where each increment's weights go")
    ] = "continual",
    grow_layers: Annotated[
        int, typer.Option(help="with --from-weights: append N blocks (function-preserving)")
    ] = 0,
    grow_width: Annotated[
        float, typer.Option(help="with --from-weights: widen the MLP by this factor")
    ] = 1.0,
    ewc: Annotated[
        float,
        typer.Option(help="with --follow: EWC strength toward each increment's parent (0: off)"),
    ] = 0.0,
    registry: RegistryOpt = None,
    token: TokenOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Train on a manifest's verified shards; record consumption; write stamped weights.

    With --follow DATASET and --from-weights W, train continually: each new set of shards in
    the dataset becomes a child manifest (new shards plus a --replay sample of the ancestors')
    and one run continuing the previous one; SIGTERM checkpoints and stops cleanly.

    With --registry, the run is opened and recorded through the API, and shards missing from
    the local store are fetched from it (every byte is still verified before use). With
    --nproc-per-node (and --nnodes), torchrun starts one DDP process per rank."""
    if follow is not None:
        if manifest is not None or resume is not None or registry is not None:
            raise InvalidInput("--follow makes its own manifests and runs, on the database")
        _follow(
            follow, from_weights, replay=replay, eval_fraction=eval_fraction, once=once,
            every=every, out_dir=out_dir, steps=steps, batch_size=batch_size, seed=seed,
            checkpoint_every=checkpoint_every, lr=lr, warmup=warmup, heartbeat_s=heartbeat_s,
            grow_layers=grow_layers, grow_width=grow_width, ewc=ewc, threads=threads,
            device=device, as_json=as_json,
        )  # fmt: skip
        return
    if (manifest is None) == (resume is None):
        raise InvalidInput("give --manifest to start a run, or --resume RUN to continue one")
    if nproc_per_node < 1 or nnodes < 1:
        raise InvalidInput("--nproc-per-node and --nnodes must be >= 1")
    if nproc_per_node > 1 or nnodes > 1:
        if nnodes > 1 and rdzv_endpoint is None:
            raise InvalidInput("a multi-node job needs --rdzv-endpoint HOST:PORT")
        forwarded: list[str] = [
            *(["--manifest", manifest] if manifest else ["--resume", str(resume)]),
            "--config", config, "--steps", str(steps), "--batch-size", str(batch_size),
            "--seed", str(seed), "--checkpoint-every", str(checkpoint_every), "--out", out,
            *(["--async-checkpoint"] if async_checkpoint else []),
            "--device", device, "--lr", str(lr), "--heartbeat-s", str(heartbeat_s),
            *(["--threads", str(threads)] if threads else []),
            *(["--warmup", str(warmup)] if warmup is not None else []),
            *(a for s in set_ or [] for a in ("--set", s)),
            *(["--from-weights", from_weights] if from_weights else []),
            *(["--tokenizer", tokenizer] if tokenizer else []),
            *(["--registry", registry] if registry else []),
            *(["--token", token] if token else []),
            *(["--json"] if as_json else []),
        ]  # fmt: skip
        raise typer.Exit(_torchrun(nproc_per_node, nnodes, rdzv_endpoint, forwarded))
    from cli.interrupts import terminate_as_interrupt
    from trainer.errors import TrainerError
    from trainer.run import TrainSpec, parse_override, train_with_registry

    spec = None
    if manifest is not None:
        spec = TrainSpec(
            manifest=manifest,
            config=config,
            overrides=dict(parse_override(s) for s in set_ or []),
            steps=steps,
            batch_size=batch_size,
            seed=seed,
            checkpoint_every=checkpoint_every,
            async_checkpoint=async_checkpoint,
            out=out,
            lr=lr,
            warmup=warmup,
            heartbeat_s=heartbeat_s,
            parent_weights=from_weights,
            tokenizer=tokenizer,
            grow_layers=grow_layers,
            grow_width=grow_width,
        )
    client = _client(registry, token)
    try:
        # SIGTERM marks the run interrupted, as Ctrl-C does
        with terminate_as_interrupt("the run is interrupted; continue it with --resume RUN"):
            result = train_with_registry(
                client, spec, resume_run=resume, threads=threads, progress=True, device=device
            )
    except TrainerError as exc:
        raise _domain_error(exc) from exc
    finally:
        if registry is not None:
            client.close()
    losses = result.losses
    summary = {
        "run": result.run_id,
        "status": result.status,
        "steps": result.steps_done,
        "tokens": result.tokens,
        "device": result.device,
        "loss_first": losses[0] if losses else None,
        "loss_last": losses[-1] if losses else None,
        "weights": result.weights_path,
        "sha256": result.weights_sha256,
    }

    def human() -> None:
        k = max(1, min(10, len(losses) // 5))
        first, last = sum(losses[:k]) / k, sum(losses[-k:]) / k
        console.print(
            f"run {result.run_id} {result.status}: steps {result.start_step}..{result.steps_done},"
            f" {result.tokens:,} tokens on {result.device}, loss {first:.3f} -> {last:.3f}"
        )
        console.print(f"weights {result.weights_path} sha256 {result.weights_sha256}")

    emit(summary, as_json, human)


def _domain_error(exc: Exception) -> ProvregError:
    """A trainer error as the registry's kind of error, naming the run."""
    from trainer.errors import RunFailed, ShardRevokedError, ShardUnknownError

    run_id = getattr(exc, "provreg_run", "?")
    message = f"run {run_id} failed: {exc}"
    if isinstance(exc, ShardRevokedError):
        return NotPermitted(message)
    if isinstance(exc, ShardUnknownError):
        return NotFound(message)
    if isinstance(exc, RunFailed):
        return ProvregError(message)
    return IntegrityFailure(message)


def _decimal(value: str, what: str) -> Any:
    from decimal import Decimal, InvalidOperation

    try:
        out = Decimal(value)
    except InvalidOperation as exc:
        raise InvalidInput(f"{what} must be a number, got {value!r}") from exc
    if not out.is_finite():
        raise InvalidInput(f"{what} must be a finite number, got {value!r}")
    return out


def _follow(dataset: str, from_weights: str | None, *, replay: str, eval_fraction: str,
            once: bool, every: float, out_dir: str, steps: int, batch_size: int, seed: int,
            checkpoint_every: int, lr: float, warmup: int | None, heartbeat_s: float,
            grow_layers: int, grow_width: float, ewc: float, threads: int | None,
            device: str, as_json: bool) -> None:  # fmt: skip
    """``train --follow``: the increments, one line each; SIGTERM stops it cleanly."""
    import signal
    import threading

    from trainer.continual import Follower, FollowSpec, IncrementResult
    from trainer.errors import TrainerError

    if from_weights is None:
        raise InvalidInput("--follow continues trained weights: give --from-weights W")
    if not os.path.isfile(from_weights):
        raise NotFound(f"no weights file at {from_weights}")
    if not every > 0:
        raise InvalidInput(f"--every must be > 0 seconds, got {every}")
    spec = FollowSpec(
        dataset=dataset,
        from_weights=from_weights,
        replay=_decimal(replay, "the replay fraction"),
        eval_fraction=_decimal(eval_fraction, "the evaluation fraction"),
        steps=steps, batch_size=batch_size, seed=seed, checkpoint_every=checkpoint_every,
        lr=lr, warmup=warmup, out_dir=out_dir, heartbeat_s=heartbeat_s,
        grow_layers=grow_layers, grow_width=grow_width, ewc=ewc,
    )  # fmt: skip
    device_for_check(device)
    follower = Follower(_client(), spec, threads=threads, device=device, progress=not as_json)
    main = threading.current_thread() is threading.main_thread()

    def stop(_signum: int, _frame: Any) -> None:
        follower.stop_event.set()

    previous = signal.signal(signal.SIGTERM, stop) if main else None
    lines: list[dict[str, Any]] = []

    def shown(done: IncrementResult) -> None:
        inc = done.increment
        lines.append(inc.model_dump(mode="json"))
        if not as_json:
            drift = (inc.drift or {}).get("bytes_jsd")
            console.print(
                f"increment {inc.number}: manifest {inc.manifest[:16]} run {inc.run} "
                f"{len(inc.delta_shards)} new shards ({inc.delta_tokens:,} tokens), "
                f"{len(inc.replay_shards)} replayed ({inc.replay_tokens:,} tokens), "
                f"{len(inc.eval_shards)} held out"
                + (f", byte drift {drift:.4f}" if drift is not None else "")
                + (", grown" if inc.growth else "")
            )

    try:
        result = follower.run(once=once, every=every, on_increment=shown)
    except TrainerError as exc:
        raise _domain_error(exc) from exc
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
    if result.stopped:
        err_console.print(
            "provreg: stopped: the current step was checkpointed; run the same command again "
            "to continue",
            markup=False,
        )
    emit(
        {"follower": result.follower.id, "increments": lines, "stopped": result.stopped},
        as_json,
        lambda: console.print(f"follower {result.follower.id}: {len(lines)} increment(s) trained"),
    )


def device_for_check(device: str) -> None:
    """Refuse an unknown device before the follower writes anything."""
    from trainer.run import device_for

    device_for(device)


def _torchrun(nproc: int, nnodes: int, endpoint: str | None, args: list[str]) -> int:
    """Run ``trainer.ddp`` under torchrun (this interpreter's); its exit status."""
    import subprocess
    import sys

    rdzv = (
        ["--standalone"]
        if nnodes == 1
        else ["--rdzv-backend", "c10d", "--rdzv-endpoint", str(endpoint), "--rdzv-id", "provreg"]
    )
    cmd = [
        sys.executable, "-m", "torch.distributed.run", *rdzv, "--nnodes", str(nnodes),
        "--nproc-per-node", str(nproc), "-m", "trainer.ddp", *args,
    ]  # fmt: skip
    return subprocess.run(cmd, check=False).returncode


def _show_run(r: runs.RunOut, shards: list[runs.ConsumptionOut] | None) -> None:
    loss = r.loss_summary or {}

    def fmt(x: Any) -> str:
        return "-" if x is None else f"{x:.4f}"

    rows: list[list[Any]] = [
        [
            "status",
            r.status
            + (f" (recorded: {r.recorded_status})" if r.status != r.recorded_status else ""),
        ],
        ["manifest", r.manifest],
        ["parent run", r.parent_run or "-"],
        ["config", f"{r.config.get('config_name', '?')} {json.dumps(r.config.get('model'))}"],
        ["seed", r.seed],
        ["tokenizer", r.tokenizer],
        ["code", r.code_version],
        ["steps", f"{r.steps_done} of {r.config.get('train', {}).get('steps', '?')}"],
        [
            "loss",
            f"first {fmt(loss.get('first'))}, last {fmt(loss.get('last'))}, min {fmt(loss.get('min'))}",
        ],
        ["loss curve", " ".join(f"{x:.3f}" for x in loss.get("curve", [])) or "-"],
        ["consumed", f"{r.tokens:,} tokens, {r.records:,} records, {r.shards} shards"],
        ["checkpoint", r.checkpoint_path or "-"],
        ["started", r.started_at.isoformat(timespec="seconds")],
        ["heartbeat", r.heartbeat_at.isoformat(timespec="seconds") if r.heartbeat_at else "-"],
        ["finished", r.finished_at.isoformat(timespec="seconds") if r.finished_at else "-"],
    ]
    if r.error:
        rows.append(["error", r.error])
    for w in r.weights:
        rows.append(["weights", f"{w.path} sha256 {w.sha256} ({w.bytes:,} bytes)"])
    table(f"run {r.id}", ["field", "value"], rows)
    if shards:
        table(
            "consumption",
            ["shard", "tokens", "records"],
            [[c.shard_id, c.tokens, c.records] for c in shards],
        )


@run_app.command("show")
def show(
    run: str,
    shards: Annotated[bool, typer.Option(help="list consumption per shard")] = False,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """A run: status (interrupted if it went silent), steps, loss, consumption, weights."""
    with tx(write=False) as session:
        row = runs.get_run(session, run)
        per_shard = runs.consumption(session, run) if shards or as_json else None
        from registry import continual

        tree = continual.lineage(session, row.id)
    data = row.model_dump(mode="json") | (
        {"consumption": [c.model_dump() for c in per_shard]} if per_shard is not None else {}
    )
    if tree.loss_table:
        data["loss_table"] = tree.loss_table

    def human() -> None:
        from cli.continual import loss_table

        _show_run(row, per_shard)
        if row.config.get("growth"):
            g = row.config["growth"]
            console.print(f"growth: {json.dumps(g['before'])} -> {json.dumps(g['after'])}")
        loss_table(tree)

    emit(data, as_json, human)


@run_app.command("list")
def list_(
    manifest: Annotated[str | None, typer.Option(help="only runs on this manifest")] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Runs, newest first."""
    with tx(write=False) as session:
        rows = runs.list_runs(session, manifest=manifest)
    emit(
        rows,
        as_json,
        lambda: table(
            f"{len(rows)} runs",
            ["run", "status", "manifest", "steps", "tokens", "last loss", "started"],
            [
                [
                    r.id,
                    r.status,
                    r.manifest[:16],
                    r.steps_done,
                    r.tokens,
                    f"{(r.loss_summary or {}).get('last') or 0:.3f}",
                    r.started_at.isoformat(timespec="seconds"),
                ]
                for r in rows
            ],
        ),
    )


def _show_report(rep: runs.WeightsReport) -> None:
    console.print(f"weights {rep.path}\nsha256  {rep.sha256}")
    if rep.stamp:
        console.print(f"stamp   manifest {rep.stamp['manifest']} run {rep.stamp['run']}")
        console.print(
            f"        registry {rep.stamp['registry']} tokenizer {rep.stamp['tokenizer']}"
        )
        console.print(f"        chain {rep.stamp['manifest_chain']}")
        if rep.run is not None and rep.run.config.get("growth"):
            g = rep.run.config["growth"]
            console.print(f"        grown {json.dumps(g['before'])} -> {json.dumps(g['after'])}")
    m = rep.manifest
    if m is not None:
        doc = m.document
        console.print(f"manifest {m.name} ({m.hash}), intended use: {m.intended_use}")
        totals = doc.get("totals", {})
        console.print("totals  " + ", ".join(f"{k} {v:,}" for k, v in totals.items()))
        table(
            "licences",
            ["licence", "obligations"],
            [
                [x["expression"], ", ".join(x["obligations"]) or "-"]
                for x in doc.get("licences", [])
            ],
        )
        table(
            "sources",
            ["source", "kind", "licence", "shards", "tokens"],
            [
                [s["name"], s["kind"], s["licence"], s["shards"], s["tokens"]]
                for s in doc["sources"]
            ],
        )
    if rep.run is not None:
        r = rep.run
        console.print(f"run     {r.id} {r.status}, {r.steps_done} steps, {r.tokens:,} tokens")
    if rep.ok:
        console.print("verified" + (" (offline: the file alone)" if rep.offline else ""))


@weights_app.command("verify")
def verify(
    file: str,
    offline: Annotated[bool, typer.Option(help="check only what the file itself holds")] = False,
    registry: RegistryOpt = None,
    token: TokenOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Check a weights file's stamp against the registry (or, --offline, against itself).

    With --registry, the file is hashed and its stamp read here; the API checks them."""
    if offline:
        rep = runs.verify_weights_offline(file)
    elif registry is not None:
        from trainer.http_client import HttpRegistry

        with HttpRegistry(registry, token or "") as client:
            rep = client.verify_weights(file)
    else:
        with tx(write=False) as session:
            rep = runs.verify_weights(session, file)
    emit(rep, as_json, lambda: _show_report(rep))
    if not rep.ok:
        for p in rep.problems:
            err_console.print(f"provreg: weights NOT verified: {p}", markup=False)
        raise typer.Exit(1)


@app.command("generate")
def generate(
    file: str,
    prompt: Annotated[str, typer.Option(help="text to continue")] = "",
    tokens: Annotated[
        int, typer.Option(help="tokens to generate (in the stamp's tokenizer)")
    ] = 200,
    temperature: Annotated[float, typer.Option(help="0 is greedy")] = 0.8,
    seed: Annotated[int, typer.Option(help="sampling seed")] = 0,
    threads: Annotated[int | None, typer.Option(help="CPU threads")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N or mps")] = "cpu",
) -> None:
    """Sample text from stamped weights (prints the prompt and its continuation)."""
    from manifests.errors import StampError
    from trainer.run import device_for
    from trainer.sampling import generate as sample
    from trainer.tokenizer import ByteTokenizer
    from trainer.train_loop import set_threads
    from trainer.weights import load_weights

    if not os.path.isfile(file):
        raise NotFound(f"no weights file at {file}")
    if tokens < 0 or temperature < 0:
        raise InvalidInput("--tokens and --temperature must be >= 0")
    where = device_for(device)
    set_threads(threads)
    try:
        model, stamp = load_weights(file)
    except (StampError, ValueError) as exc:
        raise InvalidInput(f"{file} is not a stamped provreg GPT: {exc}") from exc
    model.to(where)
    err_console.print(f"model from run {stamp.run}, manifest {stamp.manifest}", markup=False)
    tok: Any = ByteTokenizer()
    if stamp.tokenizer != tok.identity:  # a trained tokenizer: from the registry, verified
        from trainer.bpe import BPETokenizer

        tok = BPETokenizer(_client().tokenizer_file(stamp.tokenizer), identity=stamp.tokenizer)
    text = sample(model, tok, prompt, tokens, temperature=temperature, seed=seed)
    print(prompt + text)
