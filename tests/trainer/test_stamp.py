"""Weights stamps, with real safetensors files (manifests/stamp.py)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from manifests.errors import ManifestError, StampError
from manifests.stamp import WeightsStamp, file_sha256, read_stamp, write_stamped_weights
from trainer.model import GPT, config_from
from trainer.weights import load_weights, save_weights

M0, M1, ROOT = "a" * 64, "b" * 64, "c" * 64


def make_stamp(**changes: object) -> WeightsStamp:
    fields: dict[str, object] = {
        "manifest": M1,
        "manifest_chain": (M0, M1),
        "run": "run-1",
        "registry": "sqlite:///provreg.db",
        "merkle_root": ROOT,
        "config": {"n_layer": 1, "name": "tiny"},
        "tokenizer": "provreg.bytes/1",
    }
    fields.update(changes)
    return WeightsStamp(**fields)  # type: ignore[arg-type]


def test_round_trip_with_real_file(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    tensors = {"a": torch.arange(6, dtype=torch.float32).view(2, 3)}
    stamp = make_stamp()
    digest = write_stamped_weights(path, tensors, stamp)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest() == file_sha256(path)
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


def write_raw(path: Path, metadata: dict[str, str] | None) -> Path:
    save_file({"a": torch.zeros(1)}, str(path), metadata=metadata)
    return path


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda md: md.pop("provreg.run"), "missing provreg.run"),
        (lambda md: md.update({"provreg.config": "{not json"}), "provreg.config.*JSON"),
        (lambda md: md.update({"provreg.manifest_chain": "[1, 2"}), "manifest_chain.*JSON"),
        (lambda md: md.update({"provreg.manifest_chain": '"x"'}), "list of strings"),
        (lambda md: md.update({"provreg.manifest_chain": json.dumps([M1, M0])}), "end with"),
        (lambda md: md.update({"provreg.manifest_chain": "[]"}), "non-empty"),
        (lambda md: md.update({"provreg.manifest": "A" * 64}), "'manifest'.*hex"),
        (lambda md: md.update({"provreg.merkle_root": "zz"}), "merkle_root.*hex"),
        (lambda md: md.update({"provreg.format": "provreg.stamp/9"}), "format"),
        (lambda md: md.update({"provreg.config": "[1]"}), "JSON object"),
        (lambda md: md.update({"provreg.tokenizer": ""}), "tokenizer"),
    ],
)
def test_malformed_stamps_raise_stamp_error(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    md = make_stamp().to_metadata()
    mutate(md)
    path = write_raw(tmp_path / "w.safetensors", md)
    with pytest.raises(StampError, match=message):
        read_stamp(path)


def test_unstamped_and_non_safetensors_files(tmp_path: Path) -> None:
    with pytest.raises(StampError, match="no provenance stamp"):
        read_stamp(write_raw(tmp_path / "plain.safetensors", None))
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00not json")
    with pytest.raises(StampError, match="not a readable safetensors"):
        read_stamp(junk)
    with pytest.raises(FileNotFoundError):
        read_stamp(tmp_path / "absent.safetensors")
    assert issubclass(StampError, ManifestError) and issubclass(StampError, ValueError)


def test_invalid_stamp_is_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(StampError, match="end with"):
        make_stamp(manifest_chain=(M1, M0))
    with pytest.raises(StampError, match="JSON-serialisable"):
        make_stamp(config={"x": float("nan")})
    assert dataclasses.replace(make_stamp(), run="run-2").run == "run-2"


def test_save_and_load_model_weights(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = GPT(config_from("tiny", n_layer=1, block_size=16))
    stamp = make_stamp(config=model.config.to_dict())
    path = tmp_path / "model.safetensors"
    digest = save_weights(path, model, stamp)
    loaded, got = load_weights(path)
    assert got == stamp and digest == file_sha256(path)
    idx = torch.randint(0, 257, (2, 16))
    torch.testing.assert_close(loaded(idx)[0], model(idx)[0])
    with pytest.raises(ValueError, match="config"):
        save_weights(path, model, make_stamp())
