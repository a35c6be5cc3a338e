"""Provenance stamps in safetensors weights files (invariant 4).

A stamp is a handful of string entries in the safetensors header, so anyone
holding the file can read which manifest, run and registry it came from with
any safetensors reader, without loading a tensor. The registry records the
file's SHA-256 (`write_stamped_weights` returns it), so a stamp can be checked
in both directions.

Tied weights: safetensors refuses tensors that share storage, so callers pass
a state without duplicates (see `trainer.model.model_state_for_save`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from manifests.errors import StampError

STAMP_FORMAT = "provreg.stamp/1"

_HEX64 = re.compile(r"[0-9a-f]{64}")
_PREFIX = "provreg."
_KEYS = (
    "format",
    "manifest",
    "manifest_chain",
    "run",
    "registry",
    "merkle_root",
    "config",
    "tokenizer",
)


def _canonical(obj: Any) -> str:
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


@dataclass(frozen=True)
class WeightsStamp:
    """Where a weights file came from.

    `manifest_chain` lists the manifests the weights were trained on, oldest
    first (continued training appends), so its last entry is `manifest`.
    Round trip: `WeightsStamp.from_metadata(s.to_metadata()) == s`.

    Raises:
        StampError: on construction, when a field is empty or malformed.
    """

    manifest: str
    manifest_chain: tuple[str, ...]
    run: str
    registry: str
    merkle_root: str
    config: dict[str, Any] = field(hash=False)
    tokenizer: str
    format: str = STAMP_FORMAT

    def __post_init__(self) -> None:
        if self.format != STAMP_FORMAT:
            raise StampError(f"unsupported stamp format {self.format!r}; expected {STAMP_FORMAT!r}")
        _check_hex("manifest", self.manifest)
        _check_hex("merkle_root", self.merkle_root)
        if not isinstance(self.manifest_chain, tuple) or not self.manifest_chain:
            raise StampError("stamp field 'manifest_chain' must be a non-empty tuple")
        for i, h in enumerate(self.manifest_chain):
            _check_hex(f"manifest_chain[{i}]", h)
        if self.manifest_chain[-1] != self.manifest:
            raise StampError("stamp field 'manifest_chain' must end with 'manifest'")
        for name in ("run", "registry", "tokenizer"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise StampError(f"stamp field {name!r} must be a non-empty string")
        if not isinstance(self.config, dict):
            raise StampError("stamp field 'config' must be a JSON object")
        try:
            _canonical(self.config)
        except (TypeError, ValueError) as exc:
            raise StampError(f"stamp field 'config' is not JSON-serialisable: {exc}") from exc

    def to_metadata(self) -> dict[str, str]:
        """The safetensors header entries, all strings, under the `provreg.` prefix."""
        return {
            "provreg.format": self.format,
            "provreg.manifest": self.manifest,
            "provreg.manifest_chain": json.dumps(list(self.manifest_chain), separators=(",", ":")),
            "provreg.run": self.run,
            "provreg.registry": self.registry,
            "provreg.merkle_root": self.merkle_root,
            "provreg.config": _canonical(self.config),
            "provreg.tokenizer": self.tokenizer,
        }

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str] | None) -> WeightsStamp:
        """Parse header entries written by `to_metadata`.

        Raises:
            StampError: an entry is missing, is not valid JSON, or fails validation.
        """
        md = metadata or {}
        missing = [_PREFIX + k for k in _KEYS if _PREFIX + k not in md]
        if missing:
            raise StampError(f"weights file has no provenance stamp: missing {', '.join(missing)}")
        chain = _load_json("manifest_chain", md["provreg.manifest_chain"])
        if not isinstance(chain, list) or not all(isinstance(h, str) for h in chain):
            raise StampError("stamp entry 'provreg.manifest_chain' must be a JSON list of strings")
        config = _load_json("config", md["provreg.config"])
        return cls(
            manifest=md["provreg.manifest"],
            manifest_chain=tuple(chain),
            run=md["provreg.run"],
            registry=md["provreg.registry"],
            merkle_root=md["provreg.merkle_root"],
            config=config,
            tokenizer=md["provreg.tokenizer"],
            format=md["provreg.format"],
        )


def _check_hex(name: str, value: object) -> None:
    if not isinstance(value, str) or _HEX64.fullmatch(value) is None:
        raise StampError(f"stamp field {name!r} must be a lowercase hex SHA-256, got {value!r}")


def _load_json(name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise StampError(f"stamp entry 'provreg.{name}' is not valid JSON: {exc}") from exc


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Lowercase hex SHA-256 of a file, streamed (weights can be gigabytes)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def write_stamped_weights(
    path: str | os.PathLike[str], tensors: dict[str, torch.Tensor], stamp: WeightsStamp
) -> str:
    """Write `tensors` as safetensors stamped with `stamp`; return the file's SHA-256.

    The file is written to a temporary name in the same directory, synced and
    renamed over `path`, so a reader never sees a half-written or unstamped file.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=stamp.to_metadata())
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
            digest = hashlib.file_digest(f, "sha256").hexdigest()
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)
    return digest


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_stamp(path: str | os.PathLike[str]) -> WeightsStamp:
    """Read the stamp from a weights file's header (no tensor is loaded).

    Raises:
        FileNotFoundError: no file at `path`.
        StampError: not a safetensors file, no stamp, or a malformed stamp.
    """
    try:
        with safe_open(os.fspath(path), framework="pt") as f:
            metadata = f.metadata()
    except SafetensorError as exc:
        raise StampError(f"{os.fspath(path)} is not a readable safetensors file: {exc}") from exc
    return WeightsStamp.from_metadata(metadata)
