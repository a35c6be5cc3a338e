"""The training loop learns on real text, and reports exactly what it consumed."""

from __future__ import annotations

import os
from itertools import islice
from pathlib import Path

import pytest
import torch

from tests.trainer.conftest import FileSource
from trainer.data import BatchStream, ShardUsage
from trainer.errors import TrainingDivergedError
from trainer.model import GPT, config_from
from trainer.reader import verified_loader
from trainer.train_loop import (
    StepResult,
    TrainResult,
    lr_at,
    resolve_device,
    set_threads,
    train,
)

STDLIB = Path(os.path.dirname(os.__file__))
MODULES = ["textwrap.py", "string.py", "bisect.py", "heapq.py", "fnmatch.py", "shlex.py"]


@pytest.fixture(scope="module")
def stdlib_source(tmp_path_factory: pytest.TempPathFactory) -> FileSource:
    """Python stdlib sources, one shard per module, one record per top-level chunk."""
    source = FileSource(tmp_path_factory.mktemp("stdlib"))
    for name in MODULES:
        text = (STDLIB / name).read_text(encoding="utf-8")
        source.add([chunk for chunk in text.split("\n\n\n") if chunk.strip()])
    return source


def run(
    source: FileSource, steps: int, batch_size: int = 8, **kw: object
) -> tuple[TrainResult, list[StepResult]]:
    torch.manual_seed(0)
    model = GPT(config_from("tiny"))
    reports: list[StepResult] = []
    with BatchStream(
        list(source.refs), verified_loader(source), batch_size=batch_size, block_size=128, seed=0
    ) as batches:
        args: dict[str, object] = {"lr": 3e-3, "warmup": 5, "weight_decay": 0.1, "grad_clip": 1.0}
        args.update(kw)
        result = train(model, batches, steps=steps, on_step=reports.append, **args)  # type: ignore[arg-type]
    return result, reports


def test_tiny_model_learns_stdlib_source(stdlib_source: FileSource) -> None:
    set_threads(min(2, len(os.sched_getaffinity(0))))
    result, reports = run(stdlib_source, steps=60)
    first, last = sum(result.losses[:10]) / 10, sum(result.losses[-10:]) / 10
    assert last < first - 1.0, (first, last)  # observed: about 4.2 -> 3.0
    assert result.steps == 60 and [r.step for r in reports] == list(range(60))
    assert result.tokens == 60 * 8 * 129 == sum(r.tokens for r in reports)
    # Per-shard usage is the sum of the per-step attributions, and covers every token.
    total: dict[str, ShardUsage] = {}
    for r in reports:
        assert sum(u.tokens for u in r.attribution.values()) == r.tokens
        for k, u in r.attribution.items():
            t = total.get(k, ShardUsage(0, 0))
            total[k] = ShardUsage(t.tokens + u.tokens, t.records + u.records)
    assert total == result.usage
    assert result.cursor == reports[-1].cursor
    print(f"tiny: {result.tokens_per_s:.0f} tokens/s, loss {first:.2f} -> {last:.2f}")


def test_lr_schedule() -> None:
    assert lr_at(0, lr=1.0, warmup=10, steps=100) == pytest.approx(0.1)
    assert lr_at(9, lr=1.0, warmup=10, steps=100) == pytest.approx(1.0)
    assert lr_at(10, lr=1.0, warmup=10, steps=100) == pytest.approx(1.0)
    assert lr_at(55, lr=1.0, warmup=10, steps=100) == pytest.approx(0.55)
    assert lr_at(100, lr=1.0, warmup=10, steps=100) == pytest.approx(0.1)


def test_stops_when_batches_run_out_and_on_divergence(stdlib_source: FileSource) -> None:
    torch.manual_seed(0)
    model = GPT(config_from("tiny", n_layer=1, block_size=8))
    stream = BatchStream(
        list(stdlib_source.refs), verified_loader(stdlib_source), batch_size=2, block_size=8, seed=0
    )
    batches = list(islice(stream, 3))
    stream.close()
    common = {"lr": 1e-3, "warmup": 1, "weight_decay": 0.0, "grad_clip": 1.0}
    result = train(model, iter(batches), steps=10, on_step=lambda r: None, **common)  # type: ignore[arg-type]
    assert result.steps == 3
    with torch.no_grad():
        model.transformer.ln_f.weight.fill_(float("nan"))
    reports: list[StepResult] = []
    with pytest.raises(TrainingDivergedError, match="step 0"):
        train(model, iter(batches), steps=1, on_step=reports.append, **common)  # type: ignore[arg-type]
    assert reports == []


def test_resolve_device_names_what_is_wrong() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else None
    if expected is None:
        mps = getattr(torch.backends, "mps", None)
        expected = "mps" if mps is not None and mps.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    for name, message in [
        ("tpu", "'tpu' is not a device"),
        ("", "is not a device"),
        ("meta", "only cpu, cuda and mps"),
        (f"cuda:{torch.cuda.device_count()}", "CUDA device"),
    ]:
        with pytest.raises(ValueError, match=message):
            resolve_device(name)
