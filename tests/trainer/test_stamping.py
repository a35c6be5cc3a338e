"""Stamped weights files written by the trainer (trainer/stamping.py, trainer/weights.py).

The stamp's encoding is tested in tests/manifests/test_stamp.py, reading and checking files
without torch in tests/registry/runs/test_weights.py; here torch writes the files.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from registry import runs
from registry.runs import read_stamp
from registry.shards.store import hash_file
from tests.manifests.test_stamp import M0, M1, make_stamp
from trainer.model import GPT, config_from
from trainer.stamping import write_stamped_weights
from trainer.weights import load_weights, save_weights


def test_round_trip_with_real_file(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    tensors = {"a": torch.arange(6, dtype=torch.float32).view(2, 3)}
    stamp = make_stamp()
    digest = write_stamped_weights(path, tensors, stamp)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest() == hash_file(path)[0]
    assert read_stamp(path) == stamp
    torch.testing.assert_close(load_file(path)["a"], tensors["a"])
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]  # no temp file left


def test_metadata_keys_and_canonical_config(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    write_stamped_weights(path, {"a": torch.zeros(1)}, make_stamp(config={"z": 1, "a": [1, 2]}))
    with safe_open(str(path), framework="pt") as f:
        md = f.metadata()
    assert set(md) == {
        "provreg.format",
        "provreg.manifest",
        "provreg.manifest_chain",
        "provreg.run",
        "provreg.registry",
        "provreg.merkle_root",
        "provreg.config",
        "provreg.tokenizer",
    }
    assert md["provreg.config"] == '{"a":[1,2],"z":1}'
    assert json.loads(md["provreg.manifest_chain"]) == [M0, M1]
    assert md["provreg.format"] == "provreg.stamp/1"


def test_a_failed_write_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    shared = torch.zeros(4)
    with pytest.raises(RuntimeError):  # safetensors refuses tensors that share storage
        write_stamped_weights(path, {"a": shared, "b": shared}, make_stamp())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "dtype",
    [
        torch.float64,
        torch.float32,
        torch.float16,
        torch.bfloat16,
        torch.float8_e5m2,
        torch.float8_e4m3fn,
    ],
)
def test_the_registrys_tensor_scan_agrees_with_torch(tmp_path: Path, dtype: torch.dtype) -> None:
    values = torch.tensor([0.0, -1.5, 2.0, float("inf"), float("-inf"), float("nan")])
    for i, v in enumerate(values):
        t = torch.tensor([1.0, v, -2.0]).to(dtype)
        path = tmp_path / f"{i}.safetensors"
        write_stamped_weights(path, {"w": t, "n": torch.arange(3)}, make_stamp())
        finite = bool(t.float().isfinite().all())  # torch has no isfinite for some float8s
        problems = runs.verify_weights_offline(str(path)).problems
        assert problems == ([] if finite else ["tensor w holds NaN or infinite values"]), (v, t)


def test_save_and_load_model_weights(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = GPT(config_from("tiny", n_layer=1, block_size=16))
    stamp = make_stamp(config=model.config.to_dict())
    path = tmp_path / "model.safetensors"
    digest = save_weights(path, model, stamp)
    loaded, got = load_weights(path)
    assert got == stamp and digest == hash_file(path)[0]
    idx = torch.randint(0, 257, (2, 16))
    torch.testing.assert_close(loaded(idx)[0], model(idx)[0])
    with pytest.raises(ValueError, match="config"):
        save_weights(path, model, make_stamp())
