"""The policy over record licences: records under their own licence are judged like a source's
licence, and each violation names the source, the record licence and its counts."""

from __future__ import annotations

import pytest

from manifests.errors import PolicyInputError
from manifests.policy import RecordLicenceFacts, evaluate_policy
from tests.manifests.test_policy import LICENCES, shard, source


def judge(use: str, *uses: RecordLicenceFacts, waivers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    web = source("web", "MIT")
    return evaluate_policy(
        shards=[shard(1, "web")],
        sources={"web": web},
        licences=LICENCES,
        intended_use=use,
        waivers=waivers or {},
        record_licences=uses,
    )


NC = RecordLicenceFacts("web", "CC-BY-NC-4.0", records=3, tokens=120)


def test_a_non_commercial_record_refuses_commercial_use_under_an_mit_source() -> None:
    verdict = judge("commercial", NC)
    assert not verdict.allowed
    (v,) = verdict.violations
    assert (v.code, v.source, v.record_licence, v.licence, v.records, v.tokens) == (
        "non-commercial", "web", "CC-BY-NC-4.0", "CC-BY-NC-4.0", 3, 120,
    )  # fmt: skip
    assert "3 record(s), 120 tokens under record licence CC-BY-NC-4.0" in v.message


def test_research_use_allows_them_and_reports_their_obligations() -> None:
    sa = RecordLicenceFacts("web", "CC-BY-SA-4.0", records=1, tokens=9)
    verdict = judge("research", NC, sa)
    assert verdict.allowed
    assert dict(verdict.record_obligations) == {
        ("web", "CC-BY-NC-4.0"): ("attribution",),
        ("web", "CC-BY-SA-4.0"): ("attribution", "share-alike"),
    }
    assert verdict.obligations["web"] == ("attribution",)  # the source's own licence


def test_no_ai_training_blocks_every_use_and_no_waiver_lifts_it() -> None:
    banned = RecordLicenceFacts("web", "LicenseRef-no-ai", records=2, tokens=10)
    verdict = judge("research", banned, waivers={"web": "accepted"})
    assert [(v.code, v.record_licence) for v in verdict.violations] == [
        ("no-ai-training", "LicenseRef-no-ai")
    ]


def test_each_record_licence_is_its_own_violation_in_a_stable_order() -> None:
    nd = RecordLicenceFacts("web", "CC-BY-ND-4.0", records=5, tokens=50)
    either = RecordLicenceFacts("web", "CC-BY-NC-4.0 OR CC0-1.0", records=7, tokens=70)
    verdict = judge("commercial", nd, NC, either)
    assert [(v.code, v.record_licence, v.records) for v in verdict.violations] == [
        ("no-derivatives", "CC-BY-ND-4.0", 5),
        ("non-commercial", "CC-BY-NC-4.0", 3),
    ]  # the OR has an allowed branch


def test_without_record_licences_the_verdict_is_unchanged() -> None:
    assert judge("commercial") == evaluate_policy(
        shards=[shard(1, "web")],
        sources={"web": source("web", "MIT")},
        licences=LICENCES,
        intended_use="commercial",
        waivers={},
    )


@pytest.mark.parametrize("bad", [{"records": -1}, {"tokens": 1.5}, {"source_name": ""}])
def test_malformed_record_licence_facts_are_refused(bad: dict[str, object]) -> None:
    spec: dict[str, object] = {
        "source_name": "web",
        "licence_expression": "MIT",
        "records": 1,
        "tokens": 1,
    }
    with pytest.raises(PolicyInputError):
        RecordLicenceFacts(**(spec | bad))  # type: ignore[arg-type]
