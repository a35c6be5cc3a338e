"""The ingest gate's judge: disallowed records are counted by origin and signal, unknown ones
follow the policy, and the observations applied are named."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from registry.errors import InvalidInput
from registry.signals import observations as obs
from registry.signals.admission import Admission
from tests.registry import factories

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _observe(session: Any) -> tuple[int, int]:
    robots = obs.add_observation(
        session,
        origin="https://news.example",
        kind="robots.txt",
        raw=b"User-agent: *\nContent-Usage: train-ai=n\nContent-Usage: /open/ train-ai=y\n",
        observed_at=T0,
    )
    tdm = obs.add_observation(
        session,
        origin="https://blog.example",
        kind="tdmrep.json",
        raw=b'[{"location": "/", "tdm-reservation": 1}]',
        observed_at=T0,
    )
    return robots.id, tdm.id


URLS = [
    "https://news.example/a",
    "https://news.example/open/b",
    "https://blog.example/c",
    "https://other.example/d",
    None,
]


def test_disallowed_records_are_dropped_and_counted(session_factory: Any) -> None:
    with session_factory() as session:
        robots_id, tdm_id = _observe(session)
        gate = Admission(session, crawler="CCBot")
        assert gate.mask(URLS) == [False, True, False, True, True]
        assert gate.mask(["https://news.example/z"]) == [False]
    r = gate.report.as_json()
    assert r["excluded_by"] == [
        {"origin": "https://blog.example", "signal": "tdmrep", "records": 1},
        {"origin": "https://news.example", "signal": "robots-content-usage", "records": 2},
    ]
    assert (r["kept"], r["unknown"], r["unknown_policy"]) == (3, 2, "allow")
    assert r["observations_applied"] == sorted([robots_id, tdm_id])


def test_refusing_unknown_records(session_factory: Any) -> None:
    with session_factory() as session:
        _observe(session)
        gate = Admission(session, crawler="CCBot", unknown="refuse")
        assert gate.mask(URLS) == [False, True, False, False, False]
    by = {(e["origin"], e["signal"]): e["records"] for e in gate.report.as_json()["excluded_by"]}  # type: ignore[attr-defined]
    assert by[("https://other.example", "unknown")] == 1
    assert by[("", "no-url")] == 1


def test_observations_after_the_ingest_time_do_not_apply(session_factory: Any) -> None:
    with session_factory() as session:
        _observe(session)
        gate = Admission(session, crawler="CCBot", at=datetime(2026, 10, 1, tzinfo=UTC))
        assert gate.mask(URLS) == [True] * 5
        assert gate.report.applied == set()


def test_a_licence_forbidding_training_excludes_everything(session_factory: Any) -> None:
    with session_factory() as session:
        factories.source(session, "reserved", licence="LicenseRef-tdm-reserved")
        gate = Admission(session, crawler="CCBot", source="reserved")
        assert gate.mask(URLS[:4]) == [False] * 4
    assert {s for _, s in gate.report.excluded} == {"licence"}


def test_a_bad_policy_or_url_is_refused(session_factory: Any) -> None:
    with session_factory() as session:
        with pytest.raises(InvalidInput, match="'allow' or 'refuse'"):
            Admission(session, crawler="x", unknown="maybe")
        _observe(session)
        with pytest.raises(InvalidInput):
            Admission(session, crawler="x").mask(["not a url"])


def test_without_any_observation_every_record_is_unknown(session_factory: Any) -> None:
    with session_factory() as session:
        allow = Admission(session, crawler="x")
        assert allow.mask(URLS) == [True] * 5
        refuse = Admission(session, crawler="x", unknown="refuse")
        assert refuse.mask(URLS) == [False] * 5
    assert (allow.report.kept, allow.report.unknown, allow.report.excluded_total) == (5, 5, 0)
    assert refuse.report.excluded_total == 5 and refuse.report.excluded[("", "no-url")] == 1
