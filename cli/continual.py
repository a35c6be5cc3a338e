"""``provreg lineage``: the tree of a checkpoint's training, and the forgetting table."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from cli.common import JSON_HELP, console, emit, table, tx
from registry import runs
from registry.entities.continual import LineageOut


def _run_of(ref: str) -> str:
    """A weights file's run (from its stamp), or the run reference itself."""
    if os.path.isfile(ref):
        return runs.read_stamp(ref).run
    return ref


def loss_table(tree: LineageOut) -> None:
    """Rows: increments trained; columns: eval sets (each increment's held-out shards)."""
    if not tree.eval_sets:
        return
    label = {}
    for node in tree.nodes:
        if node.increment is not None:
            label[node.increment.manifest] = f"inc {node.increment.number}"
    for i, m in enumerate(tree.eval_sets):
        label.setdefault(m, "origin" if i == 0 else m[:12])
    rows: list[list[Any]] = []
    for row in tree.loss_table:
        losses = row["losses"]
        cells = [f"{losses[m]:.4f}" if m in losses else "-" for m in tree.eval_sets]
        rows.append([f"increment {row['increment']}", row["run"][:12], *cells])
    table(
        "eval loss (rows: increments trained; columns: held-out sets)",
        ["after", "run", *(f"eval {label[m]}" for m in tree.eval_sets)],
        rows,
    )


def show_lineage(tree: LineageOut) -> None:
    console.print(f"lineage of run {tree.run}: {len(tree.nodes)} run(s), oldest first")
    rows: list[list[Any]] = []
    for n in tree.nodes:
        inc = n.increment
        drift = (inc.drift or {}).get("bytes_jsd") if inc is not None else None
        growth = "-"
        if n.growth:
            before, after = n.growth["before"], n.growth["after"]
            growth = f"{before['n_layer']}->{after['n_layer']} blocks"
            if n.growth["width"] != 1.0:
                growth += f", mlp x{n.growth['width']}"
        rows.append(
            [
                "origin" if inc is None else f"inc {inc.number}",
                n.run[:8],
                "-" if inc is None else f"{len(inc.delta_shards)}+{len(inc.replay_shards)}",
                "-" if inc is None else f"{inc.delta_tokens:,}+{inc.replay_tokens:,}",
                f"{n.tokens:,}",
                "-" if drift is None else f"{drift:.4f}",
                growth,
                ", ".join(os.path.basename(w) for w in n.weights) or "-",
            ]
        )
    table(
        None,
        ["", "run", "new+replay", "their tokens", "trained", "drift", "growth", "weights"],
        rows,
    )
    console.print(
        f"effective training set: {len(tree.effective_shards)} shards, "
        f"{tree.effective_tokens:,} registered tokens; consumed {tree.consumed_tokens:,} tokens "
        "over the chain (replays counted each time)"
    )
    loss_table(tree)


def lineage(
    weights_or_run: Annotated[str, typer.Argument(help="a stamped weights file or a run")],
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """The tree of increments, manifests (new and replayed shards), runs, tokens, weights and
    growth behind a checkpoint; its effective training set; the eval-loss table."""
    run_id = _run_of(weights_or_run)
    with tx(write=False) as session:
        from registry import continual

        tree = continual.lineage(session, run_id)
    emit(tree, as_json, lambda: show_lineage(tree))
