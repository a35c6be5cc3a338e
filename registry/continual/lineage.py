"""The lineage of a checkpoint: its chain of runs and increments, and the effective training
set, the union of every manifest's shards over the chain (what disclosures report)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.continual.evaluation import eval_shards
from registry.continual.followers import increment_for_run
from registry.db.models import Manifest, ManifestShard, Shard
from registry.entities.continual import LineageNode, LineageOut
from registry.runs._rows import manifest_chain, run_out, run_row


def effective_shards(session: Session, run_ref: str) -> list[str]:
    """Every shard any run of the chain could have trained on, sorted: the union of the
    chain's manifests' shards (replayed shards once)."""
    chain = manifest_chain(session, run_ref)
    return sorted(
        set(
            session.scalars(
                select(ManifestShard.shard_id).where(ManifestShard.manifest_hash.in_(chain))
            )
        )
    )


def _runs_oldest_first(session: Session, run_ref: str) -> list[str]:
    out = []
    row = run_row(session, run_ref)
    while True:
        out.append(row.id)
        if row.parent_run_id is None:
            return out[::-1]
        row = run_row(session, row.parent_run_id)


def lineage(session: Session, run_ref: str) -> LineageOut:
    """The tree (a chain: each run continues its parent's weights) down to ``run_ref``.

    Raises:
        NotFound, InvalidInput: no such run, or a malformed reference.
    """
    run_id = run_row(session, run_ref).id
    nodes: list[LineageNode] = []
    consumed = 0
    for rid in _runs_oldest_first(session, run_id):
        r = run_out(session, run_row(session, rid))
        inc = increment_for_run(session, rid)
        name = session.get_one(Manifest, r.manifest).name
        nodes.append(
            LineageNode(
                run=r.id,
                parent_run=r.parent_run,
                manifest=r.manifest,
                manifest_name=name,
                status=r.status,
                steps=r.steps_done,
                tokens=r.tokens,
                weights=[w.path for w in r.weights],
                weights_sha256=[w.sha256 for w in r.weights],
                growth=r.config.get("growth"),
                increment=inc,
            )
        )
        consumed += r.tokens
    union = effective_shards(session, run_id)
    tokens = 0
    if union:
        tokens = int(session.scalar(select(func.sum(Shard.tokens)).where(Shard.id.in_(union))) or 0)
    chain = manifest_chain(session, run_id)
    sets = [m for m in chain if eval_shards(session, m)]
    table = [
        {
            "increment": n.increment.number,
            "run": n.run,
            "losses": {k: v for k, v in (n.increment.eval_losses or {}).items()},
        }
        for n in nodes
        if n.increment is not None
    ]
    return LineageOut(
        run=run_id,
        manifest_chain=chain,
        nodes=nodes,
        effective_shards=union,
        effective_tokens=tokens,
        consumed_tokens=consumed,
        eval_sets=sets,
        loss_table=table,
    )
