"""Provenance stamps for safetensors weights files (invariant 4): the header entries, pure.

A stamp is a handful of string entries in the safetensors header, so anyone holding the file
can read which manifest, run and registry it came from with any safetensors reader, without
loading a tensor. This module only turns a ``WeightsStamp`` into those entries and back (with
validation); writing a stamped file is ``trainer.stamping``, reading one without torch is
``registry.runs.read_stamp``. The registry records the file's SHA-256, so a stamp can be
checked in both directions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from manifests.canonical import compact_json
from manifests.digests import is_hex64
from manifests.errors import StampError

__all__ = ["PREFIX", "STAMP_FORMAT", "STAMP_FORMAT_2", "StampError", "WeightsStamp"]

STAMP_FORMAT = "provreg.stamp/1"
STAMP_FORMAT_2 = "provreg.stamp/2"  # /1 plus the manifest a trained tokenizer came from
FORMATS = (STAMP_FORMAT, STAMP_FORMAT_2)
PREFIX = "provreg."  # every stamp entry's key starts with it
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


@dataclass(frozen=True)
class WeightsStamp:
    """Where a weights file came from.

    `manifest_chain` lists the manifests the weights were trained on, oldest
    first (continued training appends), so its last entry is `manifest`.
    `tokenizer` is `provreg.bytes/1` or a trained tokenizer's SHA-256; for the latter,
    `tokenizer_manifest` is the manifest it was trained on (itself provenance: it may differ
    from `manifest`), and the stamp is `provreg.stamp/2`. A byte-tokenizer stamp is
    `provreg.stamp/1`, entry for entry as before; both are read.
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
    tokenizer_manifest: str | None = None
    format: str = ""  # derived: /2 when tokenizer_manifest is set, else /1

    def __post_init__(self) -> None:
        expected = STAMP_FORMAT if self.tokenizer_manifest is None else STAMP_FORMAT_2
        if self.format == "":
            object.__setattr__(self, "format", expected)
        if self.format not in FORMATS:
            raise StampError(
                f"unsupported stamp format {self.format!r}; expected one of {', '.join(FORMATS)}"
            )
        if self.format != expected:
            raise StampError(
                f"a {self.format} stamp must {'not ' if self.format == STAMP_FORMAT else ''}"
                "name the manifest its tokenizer was trained on ('tokenizer_manifest')"
            )
        if self.tokenizer_manifest is not None:
            _check_hex("tokenizer_manifest", self.tokenizer_manifest)
            _check_hex("tokenizer", self.tokenizer)
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
            compact_json(self.config)
        except (TypeError, ValueError) as exc:
            raise StampError(f"stamp field 'config' is not JSON-serialisable: {exc}") from exc

    def to_metadata(self) -> dict[str, str]:
        """The safetensors header entries, all strings, under the `provreg.` prefix."""
        extra = {}
        if self.tokenizer_manifest is not None:
            extra["provreg.tokenizer_manifest"] = self.tokenizer_manifest
        return extra | {
            "provreg.format": self.format,
            "provreg.manifest": self.manifest,
            "provreg.manifest_chain": compact_json(list(self.manifest_chain)),
            "provreg.run": self.run,
            "provreg.registry": self.registry,
            "provreg.merkle_root": self.merkle_root,
            "provreg.config": compact_json(self.config),
            "provreg.tokenizer": self.tokenizer,
        }

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str] | None) -> WeightsStamp:
        """Parse header entries written by `to_metadata` (other entries are ignored).

        Raises:
            StampError: an entry is missing, is not valid JSON, or fails validation.
        """
        md = metadata or {}
        missing = [PREFIX + k for k in _KEYS if PREFIX + k not in md]
        if missing:
            raise StampError(f"weights file has no provenance stamp: missing {', '.join(missing)}")
        chain = _load_json("manifest_chain", md["provreg.manifest_chain"])
        if not isinstance(chain, list) or not all(isinstance(h, str) for h in chain):
            raise StampError("stamp entry 'provreg.manifest_chain' must be a JSON list of strings")
        config = _load_json("config", md["provreg.config"])
        if md["provreg.format"] == STAMP_FORMAT_2 and "provreg.tokenizer_manifest" not in md:
            raise StampError("weights file stamp is missing provreg.tokenizer_manifest")
        return cls(
            manifest=md["provreg.manifest"],
            manifest_chain=tuple(chain),
            run=md["provreg.run"],
            registry=md["provreg.registry"],
            merkle_root=md["provreg.merkle_root"],
            config=config,
            tokenizer=md["provreg.tokenizer"],
            tokenizer_manifest=(
                md.get("provreg.tokenizer_manifest")
                if md["provreg.format"] == STAMP_FORMAT_2
                else None
            ),
            format=md["provreg.format"],
        )


def _check_hex(name: str, value: object) -> None:
    if not is_hex64(value):
        raise StampError(f"stamp field {name!r} must be a lowercase hex SHA-256, got {value!r}")


def _load_json(name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise StampError(f"stamp entry 'provreg.{name}' is not valid JSON: {exc}") from exc
