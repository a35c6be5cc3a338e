"""Continual training: followers, increments (delta + replay), held-out eval, drift, lineage.

``followers`` keeps where a ``train --follow`` is (one row per increment, its manifest and run);
``replay`` chooses replayed and held-out shards deterministically; ``evaluation`` names a
manifest's held-out shards; ``drift`` measures how new data differs; ``lineage`` walks a
checkpoint's chain and gives the effective training set. Callers write
``from registry import continual`` and ``continual.freeze_next(session, ...)``.
"""

from registry.continual.drift import domain_mix_drift, increment_drift, jensen_shannon
from registry.continual.evaluation import (
    add_eval_shards,
    create_manifest_with_eval,
    eval_shard,
    eval_shards,
)
from registry.continual.followers import (
    attach_run,
    check_replay,
    follow,
    freeze_next,
    increment_for_run,
    increments,
    record_results,
)
from registry.continual.lineage import effective_shards, lineage
from registry.continual.replay import eval_split, replay_sample, replay_target

__all__ = [
    "add_eval_shards",
    "attach_run",
    "check_replay",
    "create_manifest_with_eval",
    "domain_mix_drift",
    "effective_shards",
    "eval_shard",
    "eval_shards",
    "eval_split",
    "follow",
    "freeze_next",
    "increment_drift",
    "increment_for_run",
    "increments",
    "jensen_shannon",
    "lineage",
    "record_results",
    "replay_sample",
    "replay_target",
]
