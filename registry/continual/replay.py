"""Which ancestor shards an increment replays, and which of its new shards it holds out.

Both are deterministic: the shards are ordered by SHA-256 of ``provreg.replay/1`` (or
``provreg.eval/1``), the follower's seed, the increment number and the shard id, so the same
follower makes the same choice on any machine, and each increment draws a fresh order.

Replay is sized in tokens: ``fraction`` of the increment's training tokens are replayed, so
``replay = fraction / (1 - fraction) * delta`` (which is why ``fraction`` must be below 1).
Shards are whole, so the sample takes shards in that order until it holds at least the
target (overshooting by less than one shard), or every candidate when there are too few.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from decimal import Decimal

REPLAY_SCHEME = "provreg.replay/1"
EVAL_SCHEME = "provreg.eval/1"


def _order(scheme: str, seed: int, number: int, ids: Sequence[str]) -> list[str]:
    def key(shard_id: str) -> str:
        return hashlib.sha256(f"{scheme}:{seed}:{number}:{shard_id}".encode()).hexdigest()

    return sorted(ids, key=key)


def replay_target(delta_tokens: int, fraction: Decimal) -> int:
    """Tokens to replay so that ``fraction`` of the increment's tokens are replayed (ceiling,
    exact: ``fraction`` is a Decimal)."""
    if fraction <= 0:
        return 0
    exact = fraction * delta_tokens / (1 - fraction)
    return int(exact.to_integral_value(rounding="ROUND_CEILING"))


def replay_sample(
    candidates: dict[str, int], *, delta_tokens: int, fraction: Decimal, seed: int, number: int
) -> list[str]:
    """The replayed shard ids (sorted), from ``candidates`` (shard id -> tokens)."""
    target = replay_target(delta_tokens, fraction)
    picked: list[str] = []
    total = 0
    for shard_id in _order(REPLAY_SCHEME, seed, number, sorted(candidates)):
        if total >= target:
            break
        picked.append(shard_id)
        total += candidates[shard_id]
    return sorted(picked)


def eval_split(ids: Sequence[str], *, fraction: Decimal, seed: int, number: int) -> list[str]:
    """The held-out shards (sorted): ``round(fraction * len(ids))``, at least one when
    ``fraction`` > 0, and never all of them (something must be left to train on)."""
    if fraction <= 0 or len(ids) < 2:
        return []
    count = int((fraction * len(ids)).to_integral_value(rounding="ROUND_HALF_EVEN"))
    count = min(max(count, 1), len(ids) - 1)
    return sorted(_order(EVAL_SCHEME, seed, number, sorted(ids))[:count])
