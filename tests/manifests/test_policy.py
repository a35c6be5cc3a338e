"""Tests for manifests.policy: licence expressions and the policy verdict."""

import dataclasses
import random
from typing import Any

import pytest

from manifests.errors import LicenceExpressionError, PolicyInputError
from manifests.policy import (
    INTENDED_USES,
    LicenceFacts,
    PolicyVerdict,
    ShardFacts,
    SourceFacts,
    evaluate_policy,
    licence_ids,
    parse_licence_expression,
)


def facts(spdx_id: str, **flags: bool) -> LicenceFacts:
    base = {
        "commercial_use": True,
        "derivatives": True,
        "attribution": False,
        "share_alike": False,
        "non_commercial": False,
        "no_ai_training": False,
    }
    base.update(flags)
    return LicenceFacts(spdx_id=spdx_id, **base)


LICENCES = {
    f.spdx_id: f
    for f in (
        facts("MIT", attribution=True),
        facts("CC0-1.0"),
        facts("Apache-2.0", attribution=True),
        facts("CC-BY-4.0", attribution=True),
        facts("CC-BY-SA-4.0", attribution=True, share_alike=True),
        facts("CC-BY-NC-4.0", attribution=True, non_commercial=True, commercial_use=False),
        facts("CC-BY-ND-4.0", attribution=True, derivatives=False),
        facts("GPL-2.0-only", share_alike=True, attribution=True),
        facts("LicenseRef-no-ai", no_ai_training=True),
    )
}


def source(name: str, licence: str = "MIT", **changes: Any) -> SourceFacts:
    base: dict[str, object] = {
        "name": name,
        "licence_expression": licence,
        "status": "active",
        "consent_status": "not-required",
        "contributor_count": 0,
        "compensation_model": None,
    }
    base.update(changes)
    return SourceFacts(**base)  # type: ignore[arg-type]


def shard(n: int, source_name: str, status: str = "active") -> ShardFacts:
    return ShardFacts(shard_id=f"{n:064x}", source_name=source_name, status=status)


def run(
    sources: list[SourceFacts],
    use: str = "commercial",
    waivers: dict[str, str] | None = None,
    shards: list[ShardFacts] | None = None,
) -> PolicyVerdict:
    if shards is None:
        shards = [shard(i, s.name) for i, s in enumerate(sources)]
    return evaluate_policy(
        shards=shards,
        sources={s.name: s for s in sources},
        licences=LICENCES,
        intended_use=use,
        waivers=waivers or {},
    )


def codes(verdict: PolicyVerdict) -> list[tuple[str, str | None]]:
    return [(v.code, v.source) for v in verdict.violations]


# --- expressions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("MIT", "MIT"),
        ("mit or apache-2.0", "MIT OR Apache-2.0"),
        ("MIT AND (Apache-2.0 OR BSD-3-Clause)", "MIT AND (Apache-2.0 OR BSD-3-Clause)"),
        (
            "GPL-2.0-only WITH Classpath-exception-2.0",
            "GPL-2.0-only WITH Classpath-exception-2.0",
        ),
        ("LicenseRef-unknown", "LicenseRef-unknown"),
        ("LicenseRef-acme-1.0 OR CC0-1.0", "LicenseRef-acme-1.0 OR CC0-1.0"),
    ],
)
def test_parse_licence_expression(given: str, normal: str) -> None:
    assert parse_licence_expression(given) == normal
    assert parse_licence_expression(normal) == normal


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "MIT OR",
        "(MIT",
        "MIT XOR BSD-3-Clause",
        "Not-A-Licence",
        "MIT Apache-2.0",
        "MIT WITH Apache-2.0",
        "Classpath-exception-2.0",
        "MIT/Apache-2.0",
    ],
)
def test_malformed_expressions_raise_naming_the_expression(bad: str) -> None:
    with pytest.raises(LicenceExpressionError) as info:
        parse_licence_expression(bad)
    assert repr(bad) in str(info.value)
    with pytest.raises(LicenceExpressionError):
        licence_ids(bad)


def test_licence_ids() -> None:
    assert licence_ids("MIT AND (Apache-2.0 OR LicenseRef-x)") == {
        "MIT",
        "Apache-2.0",
        "LicenseRef-x",
    }
    assert licence_ids("GPL-2.0-only WITH Classpath-exception-2.0") == {"GPL-2.0-only"}


# --- single rules ---------------------------------------------------------------------------


def test_clean_manifest_is_allowed_with_obligations() -> None:
    verdict = run([source("a", "MIT"), source("b", "CC0-1.0"), source("c", "CC-BY-SA-4.0")])
    assert verdict.allowed
    assert verdict.violations == ()
    assert dict(verdict.obligations) == {
        "a": ("attribution",),
        "b": (),
        "c": ("attribution", "share-alike"),
    }


@pytest.mark.parametrize(
    ("licence", "code"),
    [("CC-BY-NC-4.0", "non-commercial"), ("CC-BY-ND-4.0", "no-derivatives")],
)
def test_commercial_only_rules(licence: str, code: str) -> None:
    verdict = run([source("a", licence)], use="commercial")
    assert not verdict.allowed
    assert codes(verdict) == [(code, "a")]
    assert verdict.violations[0].licence == licence
    for use in ("research", "internal-evaluation", "education"):
        assert run([source("a", licence)], use=use).allowed


def test_commercial_use_false_counts_as_non_commercial() -> None:
    licences = dict(LICENCES, **{"LicenseRef-nc": facts("LicenseRef-nc", commercial_use=False)})
    verdict = evaluate_policy(
        shards=[shard(1, "a")],
        sources={"a": source("a", "LicenseRef-nc")},
        licences=licences,
        intended_use="commercial",
        waivers={},
    )
    assert codes(verdict) == [("non-commercial", "a")]


@pytest.mark.parametrize("use", INTENDED_USES)
def test_no_ai_training_blocks_every_use(use: str) -> None:
    verdict = run([source("a", "LicenseRef-no-ai")], use=use)
    assert codes(verdict) == [("no-ai-training", "a")]


def test_unknown_and_unrecognised_licences() -> None:
    verdict = run([source("a", "LicenseRef-unknown"), source("b", "BSD-3-Clause")], use="research")
    assert codes(verdict) == [("unknown-licence", "a"), ("unrecognised-licence", "b")]
    assert verdict.violations[1].licence == "BSD-3-Clause"


def test_invalid_stored_expression_is_a_violation() -> None:
    verdict = run([source("a", "MIT OR")], use="research")
    assert codes(verdict) == [("invalid-licence-expression", "a")]


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"status": "revoked"}, "source-revoked"),
        ({"consent_status": "opted-out"}, "source-opted-out"),
        ({"contributor_count": 3}, "no-compensation-terms"),
    ],
)
def test_source_rules(changes: dict[str, Any], code: str) -> None:
    verdict = run([source("a", "MIT", **changes)], use="research")
    assert codes(verdict) == [(code, "a")]


def test_compensation_terms_satisfy_contributors() -> None:
    for model in ("per-mtok", "flat", "pool", "none"):
        assert run([source("a", contributor_count=3, compensation_model=model)]).allowed


def test_revoked_shards_are_each_listed() -> None:
    shards = [shard(1, "a"), shard(2, "a", "revoked"), shard(3, "a", "revoked")]
    verdict = run([source("a")], shards=shards)
    assert codes(verdict) == [("shard-revoked", "a"), ("shard-revoked", "a")]
    assert [v.shard for v in verdict.violations] == [f"{2:064x}", f"{3:064x}"]


def test_unknown_source_and_unknown_use() -> None:
    verdict = evaluate_policy(
        shards=[shard(1, "ghost"), shard(2, "ghost")],
        sources={},
        licences=LICENCES,
        intended_use="military",
        waivers={},
    )
    assert codes(verdict) == [("unknown-intended-use", None), ("unknown-source", "ghost")]
    assert "2 shard(s)" in verdict.violations[1].message
    assert dict(verdict.obligations) == {}


# --- expression structure -------------------------------------------------------------------


def test_or_is_allowed_with_the_allowed_branch_obligations() -> None:
    verdict = run([source("a", "CC-BY-NC-4.0 OR MIT")])
    assert verdict.allowed
    assert verdict.obligations["a"] == ("attribution",)


def test_or_picks_the_least_obligation_branch() -> None:
    verdict = run([source("a", "CC-BY-SA-4.0 OR CC0-1.0 OR MIT")])
    assert verdict.allowed
    assert verdict.obligations["a"] == ()


def test_and_needs_every_branch() -> None:
    verdict = run([source("a", "CC-BY-NC-4.0 AND MIT")])
    assert not verdict.allowed
    assert codes(verdict) == [("non-commercial", "a")]
    assert run([source("a", "CC-BY-SA-4.0 AND MIT")]).obligations["a"] == (
        "attribution",
        "share-alike",
    )


def test_blocked_or_lists_every_branch() -> None:
    verdict = run([source("a", "CC-BY-NC-4.0 OR CC-BY-ND-4.0 OR LicenseRef-no-ai")])
    assert not verdict.allowed
    assert sorted((v.code, v.licence) for v in verdict.violations) == [
        ("no-ai-training", "LicenseRef-no-ai"),
        ("no-derivatives", "CC-BY-ND-4.0"),
        ("non-commercial", "CC-BY-NC-4.0"),
    ]


def test_nested_expression() -> None:
    assert run([source("a", "MIT AND (CC-BY-NC-4.0 OR Apache-2.0)")]).allowed
    blocked = run([source("a", "LicenseRef-no-ai AND (CC-BY-NC-4.0 OR Apache-2.0)")])
    assert codes(blocked) == [("no-ai-training", "a")]


def test_with_exception_evaluates_as_the_licence() -> None:
    verdict = run([source("a", "GPL-2.0-only WITH Classpath-exception-2.0")])
    assert verdict.allowed
    assert verdict.obligations["a"] == ("attribution", "share-alike")


# --- waivers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"status": "revoked"}, "source-revoked"),
        ({"consent_status": "opted-out"}, "source-opted-out"),
        ({"licence_expression": "LicenseRef-unknown"}, "unknown-licence"),
    ],
)
def test_waiver_lifts_uncertainty_and_withdrawal(changes: dict[str, Any], code: str) -> None:
    sources = [source("a", **changes)]
    assert codes(run(sources)) == [(code, "a")]
    verdict = run(sources, waivers={"a": "legal reviewed 2025-01"})
    assert verdict.allowed
    assert [(v.code, v.source) for v in verdict.waived] == [(code, "a")]


def test_waiver_lifts_revoked_shards() -> None:
    shards = [shard(1, "a", "revoked")]
    assert not run([source("a")], shards=shards).allowed
    verdict = run([source("a")], shards=shards, waivers={"a": "reviewed"})
    assert verdict.allowed
    assert [v.code for v in verdict.waived] == ["shard-revoked"]


@pytest.mark.parametrize(
    ("licence", "code"),
    [
        ("CC-BY-NC-4.0", "non-commercial"),
        ("CC-BY-ND-4.0", "no-derivatives"),
        ("LicenseRef-no-ai", "no-ai-training"),
        ("BSD-3-Clause", "unrecognised-licence"),
    ],
)
def test_waiver_does_not_lift_licensor_terms(licence: str, code: str) -> None:
    verdict = run([source("a", licence)], waivers={"a": "we accept the risk"})
    assert codes(verdict) == [(code, "a")]
    assert verdict.waived == ()


def test_waiver_does_not_lift_missing_compensation_terms() -> None:
    verdict = run([source("a", contributor_count=2)], waivers={"a": "pay later"})
    assert codes(verdict) == [("no-compensation-terms", "a")]


def test_waiver_with_empty_reason_is_not_a_waiver() -> None:
    verdict = run([source("a", status="revoked")], waivers={"a": "  "})
    assert codes(verdict) == [("empty-waiver-reason", "a"), ("source-revoked", "a")]


def test_unused_waiver_is_a_violation() -> None:
    verdict = run([source("a")], waivers={"elsewhere": "old waiver"})
    assert codes(verdict) == [("unused-waiver", "elsewhere")]


def test_waived_unknown_in_and_still_blocked_by_the_other_branch() -> None:
    verdict = run([source("a", "LicenseRef-unknown AND CC-BY-NC-4.0")], waivers={"a": "ok"})
    assert codes(verdict) == [("non-commercial", "a")]
    assert [v.code for v in verdict.waived] == ["unknown-licence"]


def test_or_prefers_a_branch_that_needs_no_waiver() -> None:
    verdict = run([source("a", "LicenseRef-unknown OR MIT")], waivers={"a": "ok"})
    assert verdict.allowed
    assert verdict.waived == ()
    assert verdict.obligations["a"] == ("attribution",)


# --- everything at once, and determinism ----------------------------------------------------


def test_combined_violations_are_all_listed_in_order() -> None:
    sources = [
        source("b-nc", "CC-BY-NC-4.0"),
        source("a-revoked", "LicenseRef-no-ai", status="revoked", consent_status="opted-out"),
        source("c-unpaid", "MIT", contributor_count=5),
    ]
    shards = [
        shard(1, "b-nc"),
        shard(2, "a-revoked", "revoked"),
        shard(3, "c-unpaid"),
        shard(4, "nobody"),
    ]
    verdict = run(sources, shards=shards, waivers={"zzz": "stale"})
    assert not verdict.allowed
    assert codes(verdict) == [
        ("no-ai-training", "a-revoked"),
        ("shard-revoked", "a-revoked"),
        ("source-opted-out", "a-revoked"),
        ("source-revoked", "a-revoked"),
        ("non-commercial", "b-nc"),
        ("no-compensation-terms", "c-unpaid"),
        ("unknown-source", "nobody"),
        ("unused-waiver", "zzz"),
    ]


def test_verdict_is_deterministic_whatever_the_input_order() -> None:
    sources = [
        source(f"s{i}", lic, status=st)
        for i, (lic, st) in enumerate(
            [
                ("MIT", "active"),
                ("CC-BY-NC-4.0", "revoked"),
                ("LicenseRef-unknown", "active"),
                ("CC-BY-ND-4.0 OR LicenseRef-no-ai", "active"),
            ]
        )
    ]
    shards = [shard(i, f"s{i % 4}", "revoked" if i % 5 == 0 else "active") for i in range(40)]
    first = run(sources, shards=shards, waivers={"s1": "r", "s9": "x"})
    rng = random.Random(7)
    for _ in range(5):
        rng.shuffle(shards)
        rng.shuffle(sources)
        again = run(sources, shards=shards, waivers={"s9": "x", "s1": "r"})
        assert again == first
        assert list(again.obligations) == list(first.obligations)


# --- input checks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "deleted"},
        {"consent_status": "maybe"},
        {"compensation_model": "barter"},
        {"contributor_count": -1},
        {"contributor_count": True},
        {"licence_expression": 5},
    ],
)
def test_source_facts_reject_bad_values(changes: dict[str, Any]) -> None:
    with pytest.raises(PolicyInputError):
        source("a", **changes)


def test_shard_and_licence_facts_reject_bad_values() -> None:
    with pytest.raises(PolicyInputError):
        ShardFacts(shard_id="XYZ", source_name="a", status="active")
    with pytest.raises(PolicyInputError):
        shard(1, "a", "gone")
    with pytest.raises(PolicyInputError):
        dataclasses.replace(LICENCES["MIT"], attribution="yes")  # type: ignore[arg-type]


def test_mismatched_mapping_keys_raise() -> None:
    with pytest.raises(PolicyInputError):
        evaluate_policy(
            shards=[],
            sources={"x": source("a")},
            licences=LICENCES,
            intended_use="research",
            waivers={},
        )
    with pytest.raises(PolicyInputError):
        evaluate_policy(
            shards=[],
            sources={},
            licences={"MIT": LICENCES["Apache-2.0"]},
            intended_use="research",
            waivers={},
        )
