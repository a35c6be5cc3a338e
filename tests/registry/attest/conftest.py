"""A registry with a signing key configured, a manifest, and stamped weights files on disk."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import save_file

from manifests.stamp import WeightsStamp
from registry import manifests, runs
from registry.attest import keys
from registry.config import get_settings
from tests.registry import factories as f
from tests.registry.runs.conftest import SHAPE


@dataclass
class Signed:
    tx: Callable[..., Any]
    tmp: Path
    manifest: str
    merkle_root: str
    key_path: str
    public_path: str
    key_id: str

    def export_manifest(self, path: Path | None = None) -> Path:
        """What ``provreg manifest export`` writes: the document, then one line per shard."""
        path = path or self.tmp / "manifest.json"
        with self.tx() as s:
            row = manifests.manifest_row(s, self.manifest)
            lines = [row.document] + [
                line.model_dump_json() for line in manifests.shard_lines(s, row.hash)
            ]
        path.write_text("\n".join(lines) + "\n")
        return path

    def weights(
        self,
        name: str,
        *,
        parent: str | None = None,
        stamp_run: str | None = None,
        on: str | None = None,
    ) -> tuple[str, Path, str]:
        """Open a run (continuing ``parent``; on manifest ``on``, by default the fixture's),
        write stamped weights, record them, finish. ``stamp_run`` stamps another run id than
        the real one (a stamp that lies)."""
        manifest = on or self.manifest
        with self.tx() as s:
            run = runs.open_run(
                s,
                manifest_ref=manifest,
                config=SHAPE,
                seed=3,
                tokenizer="provreg.bytes/1",
                code_version="0.1.0",
                parent_run_id=parent,
            )
        with self.tx() as s:
            chain = runs.manifest_chain(s, run.id)
        stamp = WeightsStamp(
            manifest=manifest,
            manifest_chain=tuple(chain),
            run=stamp_run or run.id,
            registry="test",
            merkle_root=self.merkle_root,
            config=SHAPE["model"],
            tokenizer="provreg.bytes/1",
        )
        path = self.tmp / f"{name}.safetensors"
        save_file({"w": np.arange(64, dtype=np.float32)}, str(path), metadata=stamp.to_metadata())
        digest, size = runs.read_weights_header(str(path))[0], path.stat().st_size
        with self.tx() as s:
            runs.record_weights(s, run.id, sha256=digest, path=str(path), size=size)
            runs.finish_run(s, run.id)
        return run.id, path, digest


def set_key(path: str | None) -> None:
    if path is None:
        os.environ.pop("PROVREG_SIGNING_KEY", None)
    else:
        os.environ["PROVREG_SIGNING_KEY"] = path
    get_settings.cache_clear()


@pytest.fixture
def signed(session_factory: Callable[..., Any], tmp_path: Path) -> Iterator[Signed]:
    with session_factory() as s:
        key, key_path = keys.create_key(s, "registry-key", path=str(tmp_path / "keys" / "k.pem"))
    set_key(key_path)
    try:
        with session_factory() as s:
            src = f.source(s, "stdlib", licence="MIT")
            f.shards(s, src, "code", 3)
            m = manifests.create_manifest(
                s, manifests.ManifestIn(name="m", intended_use="research", datasets=["code"])
            )
        yield Signed(
            session_factory,
            tmp_path,
            m.hash,
            m.merkle_root,
            key_path,
            str(Path(key_path).with_suffix(".pub.pem")),
            key.key_id,
        )
    finally:
        set_key(None)


def statement_of(envelope: bytes) -> dict[str, Any]:
    import base64

    return json.loads(base64.b64decode(json.loads(envelope)["payload"]))
