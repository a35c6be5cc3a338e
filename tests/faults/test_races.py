"""Races between transactions over the same content-addressed files, reproduced with threads
on the real database (each thread its own connection), in process so each step is ordered.

These are the regression tests of issue 19's defects 1 (a failed ingest deleting the shard
files another transaction committed), the ``--gc`` race (an orphan that a running ingest is
about to commit) and 11 (concurrent writers on PostgreSQL dying on unique constraints).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import datasets
import pytest
from sqlalchemy import Engine, func, select

from registry.db.models import Dataset, DatasetShard, Shard
from registry.shards import ingest as ingest_module
from registry.shards.datasets import create_dataset
from registry.shards.ingest import ingest_dataset
from registry.shards.store import ShardStore
from registry.shards.verification import verify_shards
from tests.faults.conftest import FIGURES
from tests.registry import factories as f

pytestmark = pytest.mark.faults

RECORDS = [f"record {i}: " + "lorem ipsum " * (i % 40) for i in range(3000)]
SHARD_BYTES = 8192  # about 25 shards


class Failed(Exception):
    """The failure injected into one ingest."""


def _setup(session_factory: Callable[..., Any], *datasets_: str) -> None:
    with session_factory() as s:
        f.source(s, "src")
        for name in datasets_:
            create_dataset(s, name)


def _ingest(session_factory: Callable[..., Any], store: ShardStore, dataset: str, rows: Any) -> Any:
    with store.track(), session_factory() as s:
        return ingest_dataset(s, store, rows, source="src", dataset=dataset, shard_size=SHARD_BYTES)


def _in_thread(target: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["result"] = target()
        except BaseException as exc:  # handed to the test
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def _race(writers: int) -> None:
    FIGURES["races"] += 1
    FIGURES["writers"] += writers


def _lost(session_factory: Callable[..., Any], store: ShardStore) -> list[str]:
    with session_factory() as s:
        report = verify_shards(s, store)
    FIGURES["lost"] += sum(p.problem == "missing" for p in report.problems)
    return [f"{p.problem} {p.shard_id}" for p in report.problems]


@pytest.mark.parametrize("fails", ["while reading", "before commit"])
def test_a_failed_ingest_keeps_the_shards_another_ingest_committed(
    session_factory: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fails: str,
) -> None:
    """Defect 1: A and B make the same shards; B commits them while A runs; then A fails.
    A's cleanup must not delete a file that B's committed rows name."""
    _setup(session_factory, "a")  # A's dataset exists: A holds no lock while it reads
    store = ShardStore(tmp_path / "store")
    b_done = threading.Event()

    def a_rows() -> Iterator[dict[str, str]]:
        yield from ({"text": t} for t in RECORDS)
        if fails == "while reading":
            b_done.wait(timeout=4)  # on SQLite B cannot commit meanwhile (A holds the lock)
            raise Failed("malformed input after the first shards")

    if fails == "before commit":

        def crash_point(name: str) -> None:
            if name == "ingest.before_commit" and threading.current_thread() is a_thread:
                b_done.wait(timeout=4)
                raise Failed("the commit of A failed")

        monkeypatch.setattr(ingest_module, "crash_point", crash_point)

    a_thread, a_out = _in_thread(
        lambda: _ingest(
            session_factory, store, "a", datasets.IterableDataset.from_generator(a_rows)
        )
    )
    # B starts once A's first files are in the store (or A had no reason to put them there).
    for _ in range(40):
        if list(store.ids()):
            break
        threading.Event().wait(0.05)
    b_thread, b_out = _in_thread(
        lambda: _ingest(session_factory, store, "b", datasets.Dataset.from_dict({"text": RECORDS}))
    )
    _race(2)
    b_thread.join(timeout=60)
    b_done.set()
    a_thread.join(timeout=60)
    assert isinstance(a_out.get("error"), Failed), a_out
    assert "error" not in b_out, b_out
    assert len(b_out["result"].shard_ids) > 10
    assert _lost(session_factory, store) == []


def test_gc_keeps_the_files_a_running_ingest_is_about_to_commit(
    session_factory: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``shard verify --all --gc`` while an ingest has put its files in place and not yet
    committed: those files are not orphans, and must survive."""
    _setup(session_factory, "a")
    store = ShardStore(tmp_path / "store")
    placed, go = threading.Event(), threading.Event()

    def crash_point(name: str) -> None:
        if name == "ingest.before_commit":
            placed.set()
            go.wait(timeout=30)

    monkeypatch.setattr(ingest_module, "crash_point", crash_point)
    a_thread, a_out = _in_thread(
        lambda: _ingest(session_factory, store, "a", datasets.Dataset.from_dict({"text": RECORDS}))
    )
    assert placed.wait(timeout=60)

    def gc() -> Any:
        with session_factory() as s:
            return verify_shards(s, store, gc=True)

    gc_thread, gc_out = _in_thread(gc)
    _race(2)
    gc_thread.join(timeout=1.5)  # PostgreSQL: done; SQLite: waits for the ingest's lock
    go.set()
    a_thread.join(timeout=60)
    gc_thread.join(timeout=60)
    assert "error" not in a_out and "error" not in gc_out, (a_out, gc_out)
    assert _lost(session_factory, store) == []


@pytest.mark.parametrize("into", ["a new dataset", "an existing dataset"])
def test_concurrent_ingests_all_succeed(
    session_factory: Callable[..., Any], engine: Engine, tmp_path: Path, into: str
) -> None:
    """Defect 11: eight ingests at once into one dataset (new, or existing with the same
    input) all succeed; no raw unique violation, no row twice, no file lost."""
    _setup(session_factory, *(["d"] if into == "an existing dataset" else []))
    store = ShardStore(tmp_path / "store")
    same = into == "an existing dataset"
    inputs = [RECORDS if same else [f"writer {n}: {t}" for t in RECORDS[:600]] for n in range(8)]
    threads = [
        _in_thread(
            lambda rows=rows: _ingest(
                session_factory, store, "d", datasets.Dataset.from_dict({"text": rows})
            )
        )
        for rows in inputs
    ]
    _race(len(threads))
    for thread, _ in threads:
        thread.join(timeout=120)
    errors = [out["error"] for _, out in threads if "error" in out]
    assert errors == []
    ids = {i for _, out in threads for i in out["result"].shard_ids}
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Dataset)) == 1
        assert s.scalar(select(func.count()).select_from(Shard)) == len(ids)
        assert s.scalar(select(func.count()).select_from(DatasetShard)) == len(ids)
    assert _lost(session_factory, store) == []


def _barrier_threads(n: int, work: Callable[[], Any]) -> list[dict[str, Any]]:
    """``n`` threads that start ``work`` at the same moment; their outcomes."""
    barrier = threading.Barrier(n)

    def run() -> Any:
        barrier.wait(timeout=30)
        return work()

    threads = [_in_thread(run) for _ in range(n)]
    _race(n)
    for thread, _ in threads:
        thread.join(timeout=120)
    return [out for _, out in threads]


def test_concurrent_settles_of_one_run_pay_once(
    session_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight settles of one run at once, the first to reach its commit made to fail: the run
    is paid exactly once; the others find it settled, or a concurrent settle (a Conflict)."""
    from registry import ledger
    from registry.db.models import LedgerEntry
    from registry.errors import Conflict
    from registry.ledger import settlement
    from tests.registry.ledger import ledger_fixtures as lf

    with session_factory() as s:
        src = lf.source(s, "paid", "per-mtok:2.00:EUR", {"ann": "0.5", "bob": "0.5"})
        shard_ids = lf.shards(s, src, 2)
        run = lf.run(s, "b" * 32, lf.manifest(s, "m", shard_ids), dict.fromkeys(shard_ids, 10**6))
    failed = threading.Lock()

    def crash_point(name: str) -> None:
        if name == "settle.before_commit" and failed.acquire(blocking=False):
            raise Failed("the first settle dies before its commit")

    monkeypatch.setattr(settlement, "crash_point", crash_point)

    def settle() -> Any:
        with session_factory() as s:
            return ledger.settle_run(s, run)

    outcomes = _barrier_threads(8, settle)
    errors = [o["error"] for o in outcomes if "error" in o]
    assert sum(isinstance(e, Failed) for e in errors) == 1
    assert all(isinstance(e, Failed | Conflict) for e in errors), errors
    assert sum(not o["result"].already_settled for o in outcomes if "result" in o) == 1
    with session_factory() as s:
        assert s.scalar(select(func.sum(LedgerEntry.amount_minor))) == 400
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == 2


def test_concurrent_manifest_creations(session_factory: Callable[..., Any]) -> None:
    """Eight creations at once: four distinct names all made; three more under one of those
    names refused (a Conflict, not a unique violation); one over an unknown dataset fails."""
    from registry import manifests
    from registry.db.models import Manifest
    from registry.errors import Conflict, NotFound

    with session_factory() as s:
        src = f.source(s, "src")
        f.shards(s, src, "d", 3)
    names = iter(["m0", "m1", "m2", "m3", "m0", "m0", "m0", "bad"])
    lock = threading.Lock()

    def create() -> Any:
        with lock:
            name = next(names)
        with session_factory() as s:
            return manifests.create_manifest(
                s,
                manifests.ManifestIn(
                    name=name,
                    intended_use="research",
                    datasets=["nowhere" if name == "bad" else "d"],
                ),
            )

    outcomes = _barrier_threads(8, create)
    errors = [o["error"] for o in outcomes if "error" in o]
    assert sum(isinstance(e, NotFound) for e in errors) == 1
    conflicts = [e for e in errors if isinstance(e, Conflict)]
    assert len(conflicts) == 3 and len(errors) == 4, errors
    # the same name and selection in the same second make the same document: refused either way
    assert all(
        "manifest name 'm0' is taken" in str(e) or "already exists" in str(e) for e in conflicts
    )
    with session_factory() as s:
        assert sorted(s.scalars(select(Manifest.name))) == ["m0", "m1", "m2", "m3"]
