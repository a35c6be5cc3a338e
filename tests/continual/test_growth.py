"""Growth is function-preserving (1e-6 on a batch), recorded, and refused when it would change
the vocabulary or the context length."""

from __future__ import annotations

from decimal import Decimal

import pytest
import torch

from registry.errors import InvalidInput
from registry.runs import read_stamp
from tests.conftest import snapshot
from tests.continual.conftest import MODEL, World
from trainer.growth import grow
from trainer.model import GPT, GPTConfig
from trainer.run import TrainSpec, train_with_registry
from trainer.weights import load_weights


@pytest.mark.parametrize(("layers", "width"), [(2, 1.0), (0, 1.5), (1, 2.0)])
def test_growth_preserves_the_function_on_a_batch(layers: int, width: float) -> None:
    torch.manual_seed(0)
    model = GPT(GPTConfig(**MODEL))
    with torch.no_grad():  # a trained-looking model: no zero projections anywhere
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    batch = torch.randint(0, 257, (4, MODEL["block_size"]))
    targets = torch.randint(0, 257, (4, MODEL["block_size"]))
    before, loss_before = model(batch, targets)
    grown = grow(model, layers=layers, width=width, seed=3)
    after, loss_after = grown(batch, targets)
    assert grown.config.n_layer == MODEL["n_layer"] + layers
    assert grown.config.hidden == round(width * 4 * MODEL["n_embd"])
    assert grown.num_params() > model.num_params()
    assert (after - before).abs().max().item() < 1e-6
    assert loss_after is not None and loss_before is not None
    assert abs(loss_after.item() - loss_before.item()) < 1e-6
    # and the new parameters can learn: gradients reach them
    grown.zero_grad()
    _, loss = grown(batch, targets)
    loss.backward()  # type: ignore[union-attr]
    new = list(grown.transformer.h)[-1].mlp.c_proj.weight
    assert new.grad is not None and new.grad.abs().sum() > 0


def test_following_with_growth_records_the_event(world: World) -> None:
    world.add_version("2", "bisect.py", 2)
    result = world.follower(replay=Decimal("0.25"), grow_layers=1, grow_width=1.5).run(once=True)
    [done] = result.increments
    growth = done.increment.growth
    assert growth is not None
    assert (growth["before"]["n_layer"], growth["after"]["n_layer"]) == (1, 2)
    assert growth["after"]["mlp_hidden"] == 192 and "mlp_hidden" not in growth["before"]
    run = world.client.get_run(done.increment.run or "")
    assert run.config["growth"] == growth
    stamp = read_stamp(run.weights[-1].path)
    assert stamp.config == growth["after"]  # the stamp rebuilds the grown model
    model, _ = load_weights(run.weights[-1].path)
    assert model.config.n_layer == 2
    tree = world.lineage(run.id)
    assert tree.nodes[-1].growth == growth and tree.nodes[0].growth is None


@pytest.mark.parametrize("field", ["vocab_size", "block_size"])
def test_growth_changing_vocabulary_or_context_is_refused(world: World, field: str) -> None:
    before = snapshot(world.engine)
    overrides = dict(MODEL) | {field: 64 if field == "block_size" else 300}
    with world.read() as s:
        from registry import runs

        manifest = runs.get_run(s, world.origin_run).manifest
    with pytest.raises(InvalidInput, match="growth cannot change the"):
        train_with_registry(
            world.client,
            TrainSpec(
                manifest=manifest,
                overrides=overrides,
                steps=2,
                batch_size=2,
                out=str(world.tmp / "g.safetensors"),
                parent_weights=world.origin,
                grow_layers=1,
            ),
            threads=1,
        )
    assert snapshot(world.engine) == before


def test_growth_without_weights_or_shrinking_is_refused(world: World) -> None:
    before = snapshot(world.engine)
    spec = TrainSpec(manifest="web-v1", overrides=MODEL, steps=2, grow_layers=1)
    with pytest.raises(InvalidInput, match="grows trained weights"):
        train_with_registry(world.client, spec, threads=1)
    with pytest.raises(InvalidInput, match="grow width must be >= 1"):
        world.follower(grow_width=0.5)
    assert snapshot(world.engine) == before
