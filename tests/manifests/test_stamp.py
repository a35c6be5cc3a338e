"""Weights stamps as header entries (manifests/stamp.py): pure, no file, no torch."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from manifests.errors import StampError
from manifests.stamp import PREFIX, WeightsStamp

M0, M1, ROOT = "a" * 64, "b" * 64, "c" * 64
REPO = Path(__file__).resolve().parents[2]


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


# How a header's stamp entries can be wrong, and what the error says (also read from files in
# tests/registry/runs/test_weights.py).
MALFORMED: list[tuple[Callable[[dict[str, str]], object], str]] = [
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
]


def test_metadata_keys_and_canonical_config() -> None:
    md = make_stamp(config={"z": 1, "a": [1, 2]}).to_metadata()
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
    assert all(k.startswith(PREFIX) and isinstance(v, str) for k, v in md.items())
    assert md["provreg.config"] == '{"a":[1,2],"z":1}'
    assert md["provreg.manifest_chain"] == json.dumps([M0, M1], separators=(",", ":"))
    assert md["provreg.format"] == "provreg.stamp/1"


def test_round_trip_ignores_other_header_entries() -> None:
    stamp = make_stamp(config={"name": "café", "n": 1.5})
    assert WeightsStamp.from_metadata(stamp.to_metadata()) == stamp
    assert WeightsStamp.from_metadata({**stamp.to_metadata(), "format": "pt"}) == stamp


@pytest.mark.parametrize(("mutate", "message"), MALFORMED)
def test_malformed_entries_raise_stamp_error(
    mutate: Callable[[dict[str, str]], object], message: str
) -> None:
    md = make_stamp().to_metadata()
    mutate(md)
    with pytest.raises(StampError, match=message):
        WeightsStamp.from_metadata(md)


def test_no_entries_is_no_stamp() -> None:
    for md in (None, {}, {"format": "pt"}):
        with pytest.raises(StampError, match="no provenance stamp"):
            WeightsStamp.from_metadata(md)


def test_invalid_stamp_is_refused_on_construction() -> None:
    with pytest.raises(StampError, match="end with"):
        make_stamp(manifest_chain=(M1, M0))
    with pytest.raises(StampError, match="JSON-serialisable"):
        make_stamp(config={"x": float("nan")})
    assert dataclasses.replace(make_stamp(), run="run-2").run == "run-2"


def test_the_pure_core_loads_no_torch_safetensors_or_database() -> None:
    code = (
        "import sys, manifests.stamp; "
        "bad = {'torch', 'safetensors', 'sqlalchemy'} & set(sys.modules); "
        "assert not bad, bad"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_trained_tokenizer_stamp_is_format_2_and_a_byte_stamp_stays_format_1() -> None:
    old = make_stamp()
    assert old.format == "provreg.stamp/1" and "provreg.tokenizer_manifest" not in old.to_metadata()
    new = make_stamp(tokenizer="d" * 64, tokenizer_manifest=M0)
    md = new.to_metadata()
    assert md["provreg.format"] == "provreg.stamp/2" and md["provreg.tokenizer_manifest"] == M0
    assert WeightsStamp.from_metadata(md) == new
    # a /1 stamp read by this code, with an entry it does not know, is still /1
    assert WeightsStamp.from_metadata(old.to_metadata() | {"provreg.other": "x"}) == old
    with pytest.raises(StampError, match=r"missing provreg\.tokenizer_manifest"):
        WeightsStamp.from_metadata({k: v for k, v in md.items() if "tokenizer_manifest" not in k})
    with pytest.raises(StampError, match="tokenizer_manifest"):
        make_stamp(tokenizer="d" * 64, tokenizer_manifest="nope")
    with pytest.raises(StampError, match="must not name"):
        make_stamp(format="provreg.stamp/1", tokenizer="d" * 64, tokenizer_manifest=M0)
