"""Held-out evaluation shards: named by a manifest, never in it, so never trained on.

A manifest's training shards are its ``manifest_shards``; its eval shards are a separate set
(``manifest_eval_shards``) that the trainer reads only to measure loss. The two are disjoint
(checked here), and the trainer's shard source resolves only the training set, so an eval
shard cannot reach the optimizer through the loader.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import audit
from registry.continual.replay import eval_split
from registry.db.models import DatasetShard, ManifestEvalShard, ManifestShard, Shard
from registry.entities.manifests import ManifestIn, ManifestOut
from registry.entities.shards import ManifestShardOut
from registry.errors import InvalidInput
from registry.manifests import _select, _selected_ids, create_manifest, manifest_row
from registry.shards.datasets import dataset_row
from registry.shards.resolve import linked_shard


def eval_shards(session: Session, manifest_ref: str) -> list[str]:
    """The manifest's held-out shards, sorted (none for most manifests)."""
    digest = manifest_row(session, manifest_ref).hash
    return list(
        session.scalars(
            select(ManifestEvalShard.shard_id)
            .where(ManifestEvalShard.manifest_hash == digest)
            .order_by(ManifestEvalShard.shard_id)
        )
    )


def add_eval_shards(session: Session, manifest_hash: str, shard_ids: list[str]) -> None:
    """Name ``shard_ids`` as the manifest's held-out set.

    Raises:
        InvalidInput: a shard is also a training shard of the manifest, or is not active.
    """
    if not shard_ids:
        return
    training = set(
        session.scalars(
            select(ManifestShard.shard_id).where(ManifestShard.manifest_hash == manifest_hash)
        )
    )
    overlap = sorted(training & set(shard_ids))
    if overlap:
        raise InvalidInput(
            f"the evaluation shards overlap the training shards ({len(overlap)} shared, "
            f"e.g. {overlap[0]}): held-out data must never be trained on",
            field="manifest.eval",
        )
    inactive = sorted(
        session.scalars(select(Shard.id).where(Shard.id.in_(shard_ids), Shard.status != "active"))
    )
    if inactive:
        raise InvalidInput(f"evaluation shard {inactive[0]} is revoked", field="manifest.eval")
    session.add_all(ManifestEvalShard(manifest_hash=manifest_hash, shard_id=s) for s in shard_ids)
    session.flush()
    audit.record(
        session, "manifest.eval", "manifest", manifest_hash, {"eval_shards": sorted(shard_ids)}
    )


def create_manifest_with_eval(
    session: Session,
    spec: ManifestIn,
    *,
    eval_dataset: str | None = None,
    eval_fraction: Decimal | None = None,
    seed: int = 0,
) -> tuple[ManifestOut, list[str]]:
    """``create_manifest`` with a held-out set: another dataset's shards (``eval_dataset``,
    which must not overlap the selection), or a deterministic ``eval_fraction`` of the
    selection, taken out of the training shards (``registry.continual.replay.eval_split``).

    Raises:
        InvalidInput: both or a bad fraction; an eval dataset that overlaps the training shards.
        NotFound, Conflict, PolicyViolation: as ``create_manifest``.
    """
    if eval_dataset is not None and eval_fraction is not None:
        raise InvalidInput("give an evaluation dataset or an evaluation fraction, not both")
    if eval_fraction is not None and not Decimal(0) < eval_fraction < Decimal(1):
        raise InvalidInput(
            f"the evaluation fraction must be in (0, 1), got {eval_fraction}",
            field="manifest.eval_fraction",
        )
    held: list[str] = []
    if eval_dataset is not None:
        ds = dataset_row(session, eval_dataset)
        held = sorted(
            session.scalars(select(DatasetShard.shard_id).where(DatasetShard.dataset_id == ds.id))
        )
        selected = set(_selected_ids(_select(session, spec)))
        overlap = sorted(selected & set(held))
        if overlap:
            raise InvalidInput(
                f"evaluation dataset {eval_dataset} overlaps the training shards "
                f"({len(overlap)} shared, e.g. {overlap[0]}): held-out data must never be "
                "trained on",
                field="manifest.eval_dataset",
            )
    elif eval_fraction is not None:
        selected_ids = _selected_ids(_select(session, spec))
        held = eval_split(selected_ids, fraction=eval_fraction, seed=seed, number=0)
        if not held:
            raise InvalidInput("the selection is too small to hold any shard out (needs 2+)")
        keep = sorted(set(selected_ids) - set(held))
        spec = spec.model_copy(update={"datasets": [], "shards": keep, "exclude_sources": []})
    made = create_manifest(session, spec)
    add_eval_shards(session, made.hash, held)
    return made, held


def eval_shard(session: Session, manifest_hash: str, shard_id: str) -> ManifestShardOut:
    """A held-out shard of ``manifest_hash`` as the reader resolves it (revoked if it or its
    source was revoked or opted out).

    Raises:
        NotFound: not a held-out shard of that manifest.
    """
    return linked_shard(session, ManifestEvalShard, manifest_hash, shard_id, "a held-out shard")
