"""Attestations: signing and verifying a weights file against hashlib SHA-256 of the same file,
and ``audit verify --checkpoint`` over N audit rows.

    python -m bench.attest [--size 1GiB] [--rows 1000000] [--repeat 3] [--oms] [--quick]

(a) a stamped safetensors file of ``--size`` bytes; the baseline is ``hashlib.file_digest``
    over it. "Attest" is what the registry does for a run's weights: hash the file once, build
    the SLSA statement, sign the DSSE envelope. "Verify" is ``attest verify`` offline: the
    signature, the file's SHA-256, the exported manifest (its hash and Merkle root) and the
    stamp. Targets: both <= 1.1x the baseline. Best of ``--repeat``, after one warm-up read, so
    every figure reads the file from the page cache alike. ``--oms`` also times OpenSSF Model
    Signing (``model_signing`` hashes the file itself) for reference.
(b) a SQLite registry holding ``--rows`` hash-chained audit rows and a signed checkpoint; the
    time to prove the chain extends it (``checkpoints.verify_against``), in rows/s.

``--quick`` is ``--size 64MiB --rows 20000 --repeat 2``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import rfc8785
from cryptography.hazmat.primitives.asymmetric import ec
from safetensors.numpy import save_file
from tqdm import tqdm

from manifests.document import ManifestDocument, ManifestLicence, ManifestSource
from manifests.merkle import merkle_root
from manifests.stamp import WeightsStamp
from registry.attest import dsse, keys, statements
from registry.attest.verify import verify_weights_attestation
from registry.shards.store import hash_file

UNITS = {"kib": 1024, "mib": 1024**2, "gib": 1024**3, "kb": 1000, "mb": 1000**2, "gb": 1000**3}


def parse_size(text: str) -> int:
    low = text.strip().lower()
    for unit, factor in UNITS.items():
        if low.endswith(unit):
            return int(float(low[: -len(unit)]) * factor)
    return int(low)


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _manifest(directory: Path, shards: int = 64) -> tuple[Path, ManifestDocument]:
    ids = sorted(hashlib.sha256(f"shard {i}".encode()).hexdigest() for i in range(shards))
    doc = ManifestDocument(
        name="bench",
        created_at="2026-12-02T00:00:00Z",
        intended_use="research",
        parent=None,
        merkle_root=merkle_root(ids),
        shard_count=shards,
        total_bytes=shards,
        total_records=shards,
        total_tokens=shards,
        licences=(ManifestLicence("MIT"),),
        sources=(ManifestSource("bench", "synthetic", "MIT", shards, shards, shards, shards),),
    )
    path = directory / "manifest.json"
    lines = [doc.canonical_bytes().decode()] + [
        f'{{"id":"{i}","source":"bench","bytes":1,"records":1,"tokens":1,"status":"active"}}'
        for i in ids
    ]
    path.write_text("\n".join(lines) + "\n")
    return path, doc


def bench_file(size: int, repeat: int, oms: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="provreg-bench-attest-") as tmp:
        d = Path(tmp)
        manifest_path, doc = _manifest(d)
        run_id = "ab" * 16
        stamp = WeightsStamp(
            manifest=doc.hash,
            manifest_chain=(doc.hash,),
            run=run_id,
            registry="bench",
            merkle_root=doc.merkle_root,
            config={"n_layer": 1},
            tokenizer="provreg.bytes/1",
        )
        weights = d / "model.safetensors"
        save_file({"w": np.ones(size, dtype=np.uint8)}, str(weights), metadata=stamp.to_metadata())
        private = ec.generate_private_key(ec.SECP256R1())
        signer = keys.Signer(keys.key_id(private.public_key()), private, "")
        now = datetime.now(UTC)

        def baseline() -> None:
            with open(weights, "rb") as f:
                hashlib.file_digest(f, "sha256")

        envelope: list[bytes] = []

        def attest() -> None:
            digest, _ = hash_file(weights)
            statement = statements.weights_statement(
                file_name=weights.name,
                sha256=digest,
                registry="bench",
                run_id=run_id,
                manifest=doc.hash,
                merkle_root=doc.merkle_root,
                tree_size=doc.shard_count,
                config={"model": {"n_layer": 1}},
                seed=0,
                tokenizer="provreg.bytes/1",
                tokenizer_manifest=None,
                code_version="bench",
                started=now - timedelta(hours=1),
                finished=now,
            )
            envelope[:] = [dsse.sign(statements.encode(statement), dsse.IN_TOTO, signer)]

        def verify() -> None:
            verify_weights_attestation(
                weights, envelope[0], manifest=manifest_path, keys=[signer.public_key]
            )

        baseline()  # warm the page cache
        attest()
        t_base = best(baseline, repeat)
        t_loop = best(lambda: hash_file(weights), repeat)
        t_attest = best(attest, repeat)
        t_verify = best(verify, repeat)
        gib = size / 1024**3
        print(f"weights file {size:,} bytes ({gib:.2f} GiB), best of {repeat}")
        print(
            f"  hashlib SHA-256      {t_base:7.3f} s  ({size / t_base / 1e6:,.0f} MB/s, file_digest)"
        )
        print(
            f"  hash_file (1 MiB)    {t_loop:7.3f} s  {t_loop / t_base:.3f}x  (the loop attest uses)"
        )
        print(
            f"  attest and sign      {t_attest:7.3f} s  {t_attest / t_base:.3f}x  (target <= 1.1x)"
        )
        print(
            f"  verify offline       {t_verify:7.3f} s  {t_verify / t_base:.3f}x  (target <= 1.1x)"
        )
        if oms:
            _bench_oms(d, weights, private, t_base, repeat)


def _bench_oms(
    d: Path, weights: Path, private: ec.EllipticCurvePrivateKey, t_base: float, repeat: int
) -> None:
    from cryptography.hazmat.primitives import serialization

    from registry.attest import oms

    key_path = d / "k.pem"
    key_path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pub_path = d / "k.pub.pem"
    pub_path.write_text(keys.public_pem(private.public_key()))
    sig = d / "model.sig"
    oms.sign(weights, sig, str(key_path))  # imports sigstore once, outside the timing
    t_sign = best(lambda: oms.sign(weights, sig, str(key_path)), repeat)
    t_check = best(lambda: oms.verify(weights, sig, pub_path), repeat)
    print(f"  OMS sign (reference) {t_sign:7.3f} s  {t_sign / t_base:.3f}x")
    print(f"  OMS verify           {t_check:7.3f} s  {t_check / t_base:.3f}x")


def bench_audit(rows: int) -> None:
    from sqlalchemy import insert

    from registry import audit
    from registry.attest import checkpoints
    from registry.db import migrate
    from registry.db.engine import make_engine, transaction
    from registry.db.models import AuditEntry, SigningKey

    with tempfile.TemporaryDirectory(prefix="provreg-bench-audit-") as tmp:
        engine = make_engine(f"sqlite:///{tmp}/registry.db")
        migrate.upgrade(engine)
        private = ec.generate_private_key(ec.SECP256R1())
        signer = keys.Signer(keys.key_id(private.public_key()), private, "")
        start = datetime.now(UTC)
        prev, batch = audit.GENESIS, []
        with transaction(engine, actor="bench") as session:
            session.add(
                SigningKey(
                    key_id=signer.key_id,
                    name="bench",
                    algorithm=keys.ALGORITHM,
                    public_key=keys.public_pem(private.public_key()),
                )
            )
            for i in tqdm(range(1, rows + 1), desc="audit rows", unit="row", mininterval=1):
                entry = AuditEntry(
                    id=i,
                    at=start + timedelta(microseconds=i),
                    actor="bench",
                    action="bench.write",
                    object_kind="bench",
                    object_id=str(i),
                    payload_sha256=hashlib.sha256(rfc8785.dumps({"i": i})).hexdigest(),
                    prev_hash=prev,
                )
                entry.hash = prev = audit.entry_hash(entry)
                batch.append({c.key: getattr(entry, c.key) for c in AuditEntry.__table__.columns})
                if len(batch) == 10_000:
                    session.execute(insert(AuditEntry), batch)
                    batch = []
            if batch:
                session.execute(insert(AuditEntry), batch)
        with transaction(engine, actor="bench") as session:
            made = checkpoints.create_checkpoint(session, signer=signer)
        t0 = time.perf_counter()
        with transaction(engine, actor="bench", write=False) as session:
            report = checkpoints.verify_against(session, made.envelope, [signer.public_key])
        elapsed = time.perf_counter() - t0
        assert report.ok, report.problem
        print(f"audit verify --checkpoint over {report.rows:,} rows (SQLite)")
        print(f"  {elapsed:7.3f} s  {report.rows / elapsed:,.0f} rows/s")
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="1GiB", help="the weights file's size (e.g. 64MiB)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="audit rows")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--oms", action="store_true", help="also time OpenSSF Model Signing")
    parser.add_argument("--quick", action="store_true", help="64MiB, 20,000 rows, 2 repeats")
    args = parser.parse_args()
    size, rows, repeat = parse_size(args.size), args.rows, args.repeat
    if args.quick:
        size, rows, repeat = 64 * 1024**2, 20_000, 2
    print(f"load: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPUs")
    bench_file(size, repeat, args.oms)
    bench_audit(rows)


if __name__ == "__main__":
    main()
