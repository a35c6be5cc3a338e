"""What a run may report (issue 19, defect 4): consumption checked against the run's steps.

The rule (``registry.runs.lifecycle.StreamShape``): after ``s`` steps a run has consumed exactly
``s * batch_size * (block_size + 1)`` tokens, of each shard at most its tokens and records times
the epochs those tokens span, and never more completed records than tokens. The shards of
``reg`` hold 2000, 2001 and 2002 tokens (10, 11, 12 records): 6003 a manifest epoch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from registry import audit, ledger, manifests, runs
from registry.catalogue import contributors, sources
from registry.db.models import AuditEntry, Consumption, TrainingRun
from registry.entities.catalogue import ShareIn, SourceIn, TermsIn
from registry.entities.runs import Progress
from registry.errors import ImplausibleReport, InvalidInput
from registry.limits import MAX_SAFE_INT
from tests.conftest import snapshot
from tests.registry import factories as f
from tests.registry.runs.conftest import SHAPE, TOKENS_PER_STEP, Reg, config
from tests.registry.shards import shard_files
from trainer.client import LocalRegistry
from trainer.run import TrainSpec, train_with_registry


def _report(steps: int, delta: dict[str, tuple[int, int]]) -> Progress:
    return Progress(steps_done=steps, cursor={"at": steps}, consumption_delta=delta)


@pytest.mark.parametrize(
    "bad",
    [
        {"train": {"block_size": 6}},  # a shape half declared
        {"train": {"steps": 10, "batch_size": 1}},  # no model.block_size
        {"train": {"steps": 0, "batch_size": 1}, "model": {"block_size": 6}},
        {"train": {"steps": True, "batch_size": 1}, "model": {"block_size": 6}},
        {"train": {"steps": 2**60, "batch_size": 2**10}, "model": {"block_size": 6}},
    ],
)
def test_a_run_config_must_declare_its_stream(reg: Reg, engine: Engine, bad: Any) -> None:
    before = snapshot(engine)
    with pytest.raises(InvalidInput, match=r"run config must give|would consume more than"):
        reg.open(config=bad)
    assert snapshot(engine) == before


def test_honest_reports_over_several_epochs_are_accepted(reg: Reg) -> None:
    run = reg.open(config=config(steps=2000))
    a, b, c = reg.ids
    # 1715 steps of 7 tokens: 12005 tokens, two epochs of 6003; each shard at most twice.
    done = 1715
    with reg.tx() as s:
        runs.record_progress(s, run.id, _report(done, {a: (4000, 20), b: (4002, 22), c: (4003, 1)}))
    assert reg.consumption(run.id) == {a: (4000, 20), b: (4002, 22), c: (4003, 1)}


def test_a_torchrun_job_consumes_its_world_size_times_the_batch(reg: Reg) -> None:
    """Each of ``world_size`` processes takes a batch per step (trainer/ddp.py declares it)."""
    a = reg.ids[0]
    two = reg.open(config={**SHAPE, "world_size": 2})
    with reg.tx() as s:
        runs.record_progress(s, two.id, _report(3, {a: (3 * 2 * TOKENS_PER_STEP, 1)}))
    assert reg.consumption(two.id) == {a: (42, 1)}
    one = reg.open()
    with (
        pytest.raises(ImplausibleReport, match="42 tokens in 3 steps; 3 steps of 1 rows"),
        reg.tx() as s,
    ):
        runs.record_progress(s, one.id, _report(3, {a: (42, 1)}))
    with pytest.raises(InvalidInput, match="world_size"):
        reg.open(config={**SHAPE, "world_size": 0})


def test_a_loop_of_its_own_shape_is_checked_per_shard(reg: Reg, engine: Engine) -> None:
    """A config that declares no stream (a library loop that tokenises records itself) is
    accepted; its reports still cannot take more of a shard than the epochs they span."""
    a, b, _ = reg.ids
    run = reg.open(config={"model": {"kind": "lstm"}})
    with reg.tx() as s:  # 2,500 tokens: one epoch of 6,003 at most, so at most 2,000 of a
        runs.record_progress(s, run.id, _report(1, {a: (2000, 10), b: (500, 2)}))
    assert reg.consumption(run.id) == {a: (2000, 10), b: (500, 2)}
    other = reg.open(config={"model": {"kind": "lstm"}})
    with pytest.raises(ImplausibleReport, match="so at most 2,000 tokens"), reg.tx() as s:
        runs.record_progress(s, other.id, _report(1, {a: (2001, 10)}))
    with pytest.raises(ImplausibleReport, match="records of shard"), reg.tx() as s:
        runs.record_progress(s, reg.open(config={}).id, _report(1, {b: (3, 4)}))


# Each bad report follows a good one (2 steps, 14 tokens of shard 0); the run is 100 steps of 7
# tokens over the shards of ``reg`` (1000 steps where it says so): (what, steps done, delta by
# shard index, message).
IMPLAUSIBLE = [
    ("2**53-1 tokens of one shard", 3, {0: (MAX_SAFE_INT, 1)}, "tokens in 3 steps"),
    ("too few tokens", 5, {0: (20, 1)}, "34 tokens in 5 steps; 5 steps of 1 rows of 7"),
    ("too many tokens", 5, {0: (22, 1)}, "36 tokens in 5 steps"),
    ("beyond the run's steps", 101, {0: (693, 1)}, "step 101 is beyond the run's 100 steps"),
    ("more of a shard than an epoch", 302, {0: (2100, 5)}, "so at most 2,000 tokens"),
    ("more records than the shard", 302, {0: (1000, 11), 1: (1100, 1)}, "and 10 records of it"),
    ("more records than tokens", 3, {1: (7, 8)}, "8 records of shard"),
]


@pytest.mark.parametrize(
    ("what", "steps", "delta", "message"), IMPLAUSIBLE, ids=[c[0] for c in IMPLAUSIBLE]
)
def test_an_implausible_report_is_refused_audited_and_fails_the_run(
    reg: Reg, what: str, steps: int, delta: dict[int, tuple[int, int]], message: str
) -> None:
    run = reg.open(config=config(steps=100 if what == "beyond the run's steps" else 1000))
    with reg.tx() as s:
        runs.record_progress(s, run.id, _report(2, {reg.ids[0]: (2 * TOKENS_PER_STEP, 1)}))
    report = _report(steps, {reg.ids[i]: v for i, v in delta.items()})
    with pytest.raises(ImplausibleReport) as err, reg.tx() as s:
        runs.record_progress(s, run.id, report)
    assert err.value.status == 422 and message in err.value.detail, err.value.detail
    assert "\n" not in err.value.detail
    with reg.tx() as s:
        row = s.get(TrainingRun, run.id)
        assert row is not None and row.status == "failed" and message in (row.error or "")
        assert row.steps_done == 2  # the refused report moved nothing
        [refusal] = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "run.report_refused")
        ).all()
        assert refusal.object_id == run.id
        assert audit.verify(s).ok
    assert reg.consumption(run.id) == {reg.ids[0]: (2 * TOKENS_PER_STEP, 1)}


def test_a_refused_completion_fails_the_run_and_it_cannot_be_settled(
    session_factory: Any,
) -> None:
    """The issue's case: a trainer token reported 2**53-1 tokens for a shard of about 66k,
    and settling paid 13,510,798,882.11 EUR. Now the report is refused and nothing is owed."""
    with session_factory() as s:
        contributors.add_contributor(s, name="alice")
        sources.add_source(
            s,
            SourceIn(
                name="src",
                uri="https://x",
                kind="licensed",
                licence="MIT",
                contributors=[ShareIn(contributor="alice", share=1)],
                terms=TermsIn(model="per-mtok", amount="1.5", currency="EUR"),
            ),
        )
        src = sources.source_row(s, "src")
        ids = f.shards(s, src, "d", 1)
        m = manifests.create_manifest(
            s, manifests.ManifestIn(name="m", intended_use="research", datasets=["d"])
        )
        run = runs.open_run(
            s, manifest_ref=m.hash, config=SHAPE, seed=0, tokenizer="t", code_version="c"
        )
    lying = _report(1, {ids[0]: (MAX_SAFE_INT, 1)})
    with pytest.raises(ImplausibleReport), session_factory() as s:
        runs.complete_run(s, run.id, lying, sha256="a" * 64, path="w", size=1)
    with session_factory() as s:
        assert runs.get_run(s, run.id).status == "failed"
        assert s.scalars(select(Consumption)).all() == []
        with pytest.raises(Exception, match="only a completed run can be settled"):
            ledger.settle_run(s, run.id)


def test_a_real_run_over_one_small_shard_for_many_epochs_passes_the_checks(
    session_factory: Any, engine: Engine, tmp_path: Path
) -> None:
    """The trainer's own reports meet the rule exactly, here over 14 epochs of one shard."""
    store = tmp_path / "store"
    with session_factory() as s:
        src = f.source(s, "tiny", licence="MIT")
        [sid] = shard_files.register(s, src, "tiny", store, [["a small record", "and one more"]])
        m = manifests.create_manifest(
            s, manifests.ManifestIn(name="m", intended_use="research", datasets=["tiny"])
        )
    spec = TrainSpec(
        manifest=m.hash,
        overrides={"n_layer": 1, "n_head": 1, "n_embd": 8, "block_size": 8},
        steps=12,
        batch_size=3,
        checkpoint_every=4,
        out=str(tmp_path / "w.safetensors"),
    )
    client = LocalRegistry(engine, store=str(store), actor="test")
    result = train_with_registry(client, spec, threads=1)
    run = client.get_run(result.run_id)
    assert (run.status, run.tokens) == ("completed", 12 * 3 * 9)
    assert run.tokens // m.total_tokens >= 10  # many epochs of the one shard
    assert {k: u.tokens for k, u in result.usage.items()} == {sid: run.tokens}


def test_counts_past_the_limit_are_refused_by_the_shape_and_the_service(reg: Reg) -> None:
    with pytest.raises(ValueError):
        _report(1, {reg.ids[0]: (2**53, 1)})
    with pytest.raises(ValueError):
        Progress(steps_done=2**63, cursor={}, consumption_delta={})
    run = reg.open(config=config())
    forged = Progress.model_construct(
        steps_done=1, cursor={}, consumption_delta={reg.ids[0]: (2**63, 1)}
    )
    with pytest.raises(InvalidInput, match="the limit is 9,007,199,254,740,991"), reg.tx() as s:
        runs.record_progress(s, run.id, forged)


def test_a_failure_is_recorded_whatever_its_message_holds(reg: Reg) -> None:
    """Why a run failed is kept even with a NUL (PostgreSQL would refuse it) or 100,000
    characters: made storable, not refused."""
    run = reg.open()
    with reg.tx() as s:
        out = runs.fail_run(s, run.id, "bad byte \x00 here " + "x" * 100_000)
    assert out.status == "failed" and out.error is not None
    assert out.error.startswith("bad byte \ufffd here") and len(out.error) == 20_000
