"""Reading and checking weights files on the registry side (registry/runs/weights.py), no torch.

Files are written with ``safetensors.numpy`` or byte by byte from the documented layout, so these
tests prove the registry reads stamps and scans tensors without the trainer's dependencies.
"""

from __future__ import annotations

import hashlib
import json
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from manifests.errors import ManifestError, StampError
from registry import runs
from registry.errors import Conflict, InvalidInput, NotFound
from registry.runs import read_stamp
from tests.manifests.test_stamp import MALFORMED, make_stamp
from tests.registry.runs.conftest import Reg

REPO = Path(__file__).resolve().parents[3]


def write_raw(path: Path, metadata: dict[str, str] | None) -> Path:
    save_file({"a": np.zeros(1, dtype=np.float32)}, str(path), metadata=metadata)
    return path


def write_layout(
    path: Path, tensors: dict[str, tuple[str, bytes]], metadata: dict[str, str]
) -> Path:
    """A safetensors file from its documented layout: 1-D tensors given as (dtype, raw bytes)."""
    header: dict[str, object] = {"__metadata__": metadata}
    offset, data = 0, b""
    for name, (dtype, raw) in tensors.items():
        size = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I32": 4}.get(dtype, 1)
        header[name] = {
            "dtype": dtype,
            "shape": [len(raw) // size],
            "data_offsets": [offset, offset + len(raw)],
        }
        offset, data = offset + len(raw), data + raw
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return path


def test_read_stamp_round_trip(tmp_path: Path) -> None:
    stamp = make_stamp()
    path = write_raw(tmp_path / "w.safetensors", stamp.to_metadata())
    assert read_stamp(path) == stamp
    digest, metadata, problems = runs.read_weights_header(str(path))
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest() and problems == []
    assert metadata == stamp.to_metadata() == runs.stamp_entries({**stamp.to_metadata(), "x": "y"})


@pytest.mark.parametrize(("mutate", "message"), MALFORMED)
def test_malformed_stamps_raise_stamp_error(
    tmp_path: Path, mutate: Callable[[dict[str, str]], object], message: str
) -> None:
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
    # Verification reports an unreadable header as a problem, with the file's digest.
    report = runs.verify_weights_offline(str(junk))
    assert not report.ok and "not a readable safetensors" in report.problems[0]
    assert report.sha256 == hashlib.sha256(junk.read_bytes()).hexdigest()
    with pytest.raises(NotFound, match="no weights file"):
        runs.verify_weights_offline(str(tmp_path / "absent.safetensors"))


# (dtype, a finite value's bits at the edge of the range, a NaN or infinity's bits)
EDGES = [
    ("F64", struct.pack("<d", 1.7e308), struct.pack("<d", float("inf"))),
    ("F32", struct.pack("<I", 0x7F7F_FFFF), struct.pack("<I", 0x7FC0_0000)),
    ("F16", struct.pack("<H", 0x7BFF), struct.pack("<H", 0x7C00)),
    ("BF16", struct.pack("<H", 0x7F7F), struct.pack("<H", 0xFFC1)),
    ("F8_E5M2", bytes([0x7B]), bytes([0xFC])),
    ("F8_E4M3", bytes([0x7E]), bytes([0xFF])),
]


@pytest.mark.parametrize(("dtype", "finite", "bad"), EDGES)
def test_offline_scan_finds_non_finite_values_in_every_float_type(
    tmp_path: Path, dtype: str, finite: bytes, bad: bytes
) -> None:
    md = make_stamp().to_metadata()
    ints = ("I32", struct.pack("<i", -1) * 3)  # all bits set: finite, it is an integer
    good = write_layout(tmp_path / "good.safetensors", {"a": (dtype, finite * 3), "i": ints}, md)
    assert runs.verify_weights_offline(str(good)).problems == []
    worse = {"a": (dtype, finite), "b": (dtype, finite * 2 + bad), "c": (dtype, bad)}
    report = runs.verify_weights_offline(str(write_layout(tmp_path / "bad.safetensors", worse, md)))
    assert report.problems == ["tensor b holds NaN or infinite values"]  # the first, by name
    assert not report.ok and report.offline and report.stamp is not None


def test_reading_and_scanning_weights_loads_no_torch(tmp_path: Path) -> None:
    path = write_raw(tmp_path / "w.safetensors", make_stamp().to_metadata())
    code = (
        "import sys; from registry import runs; "
        f"assert runs.verify_weights_offline({str(path)!r}).ok; "
        "assert 'torch' not in sys.modules and 'trainer' not in sys.modules"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_weights_digests_are_checked(reg: Reg) -> None:
    run = reg.open()
    for bad in ("A" * 64, "a" * 63, "a" * 64 + "\n"):
        with reg.tx() as s, pytest.raises(InvalidInput):
            runs.get_weights(s, bad)
        with reg.tx() as s, pytest.raises(InvalidInput):
            runs.check_weights(s, bad, {})
        with reg.tx() as s, pytest.raises(InvalidInput, match="hex SHA-256"):
            runs.record_weights(s, run.id, sha256=bad, path="w", size=1)
    with reg.tx() as s, pytest.raises(InvalidInput, match="size"):
        runs.record_weights(s, run.id, sha256="a" * 64, path="w", size=-1)
    with reg.tx() as s:
        recorded = runs.record_weights(s, run.id, sha256="a" * 64, path="w", size=1)
    with reg.tx() as s:
        assert runs.get_weights(s, "a" * 64) == recorded
        assert (recorded.run, recorded.manifest) == (run.id, reg.manifest)
    with reg.tx() as s, pytest.raises(Conflict, match="already recorded"):
        runs.record_weights(s, run.id, sha256="a" * 64, path="w2", size=1)
    with reg.tx() as s, pytest.raises(NotFound):
        runs.get_weights(s, "b" * 64)
