"""EWC: the Fisher is estimated on the parent's data and saved beside its weights; the penalty
is zero at the anchor; a strong one keeps the weights closer to the parent's."""

from __future__ import annotations

from decimal import Decimal

import pytest
import torch

from tests.continual.conftest import MODEL, World
from trainer.ewc import EWCPenalty, fisher_path
from trainer.model import GPT, GPTConfig
from trainer.weights import load_weights


@torch.no_grad()
def _fisher_distance(a: GPT, b: GPT, fisher: dict[str, torch.Tensor]) -> float:
    pb = dict(b.named_parameters())
    return float(
        sum((fisher[n] * (p - pb[n]) ** 2).sum() for n, p in a.named_parameters() if n in fisher)
    )


def test_penalty_is_zero_at_the_anchor_and_grows_away(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = GPT(GPTConfig(**MODEL))
    named = dict(model.named_parameters())
    tensors = {f"fisher.{k}": torch.ones_like(p) for k, p in named.items()}
    tensors |= {f"anchor.{k}": p.detach().clone() for k, p in named.items()}
    save_file(tensors, str(tmp_path / "f.safetensors"))
    penalty = EWCPenalty(model, tmp_path / "f.safetensors", lam=2.0)
    assert penalty().item() == 0.0
    with torch.no_grad():
        named["transformer.wpe.weight"].add_(0.1)
    expected = 2.0 / 2 * 0.01 * named["transformer.wpe.weight"].numel()
    assert abs(penalty().item() - expected) < 1e-4


@pytest.mark.slow
def test_a_strong_ewc_keeps_the_model_near_its_parent(world: World) -> None:
    world.add_version("2", "bisect.py", 3)
    free = world.follower(replay=Decimal(0), steps=12, lr=3e-2).run(once=True)
    held = world.follower(replay=Decimal(0), steps=12, lr=3e-2, ewc=1e5, seed=1,
                          out_dir=str(world.tmp / "ewc")).run(once=True)  # fmt: skip
    # (another seed: the same dataset, weights, replay and hold-out would be the same follower)
    path = fisher_path(world.origin)
    assert path.is_file()  # estimated on the origin run's shards, beside its weights
    [a], [b] = free.increments, held.increments
    run_b = world.client.get_run(b.increment.run or "")
    assert run_b.config["train"]["ewc"] == {"lambda": 1e5, "fisher": str(path)}
    parent, _ = load_weights(world.origin)
    free_model, _ = load_weights(world.client.get_run(a.increment.run or "").weights[-1].path)
    ewc_model, _ = load_weights(run_b.weights[-1].path)
    from safetensors.torch import load_file

    fisher = {
        k[len("fisher.") :]: v for k, v in load_file(str(path)).items() if k.startswith("fisher.")
    }
    assert _fisher_distance(ewc_model, parent, fisher) < 0.5 * _fisher_distance(
        free_model, parent, fisher
    )
