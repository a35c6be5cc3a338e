"""The signals service over a real database (SQLite and PostgreSQL): evidence kept exactly,
audited and append-only; bad input changes nothing; re-reading with another vocabulary."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, select

from registry.db.models import AuditEntry
from registry.errors import InvalidInput, NotFound
from registry.signals import observations as obs
from tests.conftest import snapshot
from tests.registry import factories

T0 = datetime(2026, 11, 1, tzinfo=UTC)
ROBOTS = b"User-agent: *\nDisallow: /private/\nContent-Usage: train-ai=n\nContent-Usage: /ok/ train-ai=y\n"


def test_an_observation_keeps_its_bytes_hash_reading_and_audit_row(session_factory: Any) -> None:
    raw = ROBOTS + b"# \xc3\xa9t\xc3\xa9 \x00\n"  # non-ASCII and a NUL survive exactly
    with session_factory() as session:
        out = obs.add_observation(
            session, origin="https://Example.COM:443", kind="robots.txt", raw=raw, observed_at=T0
        )
    assert out.origin == "https://example.com"
    assert out.url == "https://example.com/robots.txt"
    assert out.sha256 == hashlib.sha256(raw).hexdigest()
    assert out.bytes == len(raw)
    assert out.vocabulary == "draft-ietf-aipref-vocab-07"
    assert out.parsed["groups"]["*"][0]["preferences"] == {"train-ai": "n"}
    with session_factory() as session:
        detail = obs.get_observation(session, out.id)
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "signal.observe")
        ).all()
        stored = session.execute(sa.text("SELECT raw FROM signal_observations")).scalar_one()
    assert bytes(stored) == raw
    assert detail.raw_text == raw.decode()
    assert [a.object_id for a in audit] == [str(out.id)]


def test_evidence_is_append_only_in_the_database(engine: Engine, session_factory: Any) -> None:
    with session_factory() as session:
        obs.add_observation(
            session, origin="https://a.org", kind="robots.txt", raw=ROBOTS, observed_at=T0
        )
    for statement in (
        "UPDATE signal_observations SET raw = NULL",
        "DELETE FROM signal_observations",
    ):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text(statement))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"origin": "example.com"}, "not an http:// or https:// URL"),
        ({"origin": "https://example.com/path"}, "no path"),
        ({"origin": "ftp://example.com"}, "not an http:// or https://"),
        ({"origin": "https://u:p@example.com"}, "credentials"),
        ({"kind": "sitemap"}, "unknown signal kind"),
        ({"observed_at": datetime(2026, 11, 1)}, "UTC offset"),
        ({"observed_at": datetime.now(UTC) + timedelta(days=1)}, "in the future"),
        ({"kind": "http-header", "raw": b"Content-Usage: train-ai=n"}, "name that URL"),
        (
            {"kind": "http-header", "raw": b"X-Other: 1", "url": "https://a.org/x"},
            "carries no signal",
        ),
        ({"kind": "http-header", "raw": b"no colon", "url": "https://a.org/x"}, "Name: value"),
        ({"kind": "html", "raw": b"<html>", "url": "https://b.org/x"}, "not on origin"),
        ({"url": "https://a.org/robots.txt"}, "takes no URL"),
        ({"raw": b"x" * (1024 * 1024 + 1)}, "at most"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    engine: Engine, session_factory: Any, kwargs: dict[str, Any], message: str
) -> None:
    args: dict[str, Any] = {
        "origin": "https://a.org",
        "kind": "robots.txt",
        "raw": ROBOTS,
        "observed_at": T0,
        **kwargs,
    }
    before = snapshot(engine)
    with pytest.raises(InvalidInput, match=message), session_factory() as session:
        obs.add_observation(session, **args)
    assert snapshot(engine) == before


def test_an_unparsable_statement_is_evidence_read_as_no_preference(session_factory: Any) -> None:
    with session_factory() as session:
        out = obs.add_observation(
            session,
            origin="https://a.org",
            kind="http-header",
            raw=b"Content-Usage: Train-AI=n",
            url="https://a.org/x",
            observed_at=T0,
        )
        verdict = obs.check_url(session, "https://a.org/x")
    assert out.parsed["content-usage"]["train-ai"] == "unknown"
    assert "error" in out.parsed["content-usage"]
    assert verdict.state == "unknown"
    assert verdict.signals[0].signal == "content-usage-header"


def test_check_judges_by_what_was_known_at_the_time(session_factory: Any) -> None:
    with session_factory() as session:
        first = obs.add_observation(
            session, origin="https://a.org", kind="robots.txt", raw=ROBOTS, observed_at=T0
        )
        obs.add_observation(
            session,
            origin="https://a.org",
            kind="robots.txt",
            raw=b"User-agent: *\nAllow: /\n",
            observed_at=T0 + timedelta(days=5),
        )
    with session_factory() as session:
        early = obs.check_url(session, "https://a.org/page", at=T0 + timedelta(days=1))
        before = obs.check_url(session, "https://a.org/page", at=T0 - timedelta(days=1))
        now = obs.check_url(session, "https://a.org/page")
        private = obs.check_url(session, "https://a.org/private/x", at=T0)
    assert early.state == "disallowed" and early.decided_by is not None
    assert early.decided_by.observation == first.id
    assert before.state == "unknown"
    assert now.state == "unknown"  # the newer robots.txt replaced the rule
    assert private.decided_by is not None and private.decided_by.signal == "robots-disallow"


def test_the_source_licence_is_a_signal(session_factory: Any) -> None:
    with session_factory() as session:
        factories.source(session, "reserved", licence="LicenseRef-tdm-reserved")
        factories.source(session, "mit", licence="MIT")
    with session_factory() as session:
        v = obs.check_url(session, "https://a.org/x", source="reserved")
        assert v.state == "disallowed" and v.decided_by is not None
        assert v.decided_by.signal == "licence" and v.decided_by.observation is None
        assert obs.check_url(session, "https://a.org/x", source="mit").state == "unknown"
        with pytest.raises(NotFound):
            obs.check_url(session, "https://a.org/x", source="nope")


def test_reparse_appends_a_reading_and_the_evaluator_uses_it(
    engine: Engine, session_factory: Any
) -> None:
    with session_factory() as session:
        o = obs.add_observation(
            session,
            origin="https://a.org",
            kind="http-header",
            raw=b"Content-Usage: bots=n",
            url="https://a.org/x",
            observed_at=T0,
        )
        assert obs.check_url(session, "https://a.org/x").state == "unknown"  # -07: no "bots"
    before = snapshot(engine)["signal_observations"]
    with session_factory() as session:
        assert obs.reparse(session, "draft-ietf-aipref-vocab-03") == 1
        assert obs.reparse(session, "draft-ietf-aipref-vocab-03") == 0  # already read so
    with session_factory() as session:
        again = obs.list_observations(session, "https://a.org")[0]
        verdict = obs.check_url(session, "https://a.org/x")
    assert snapshot(engine)["signal_observations"] == before  # the evidence is untouched
    assert (again.id, again.vocabulary, again.readings) == (o.id, "draft-ietf-aipref-vocab-03", 2)
    assert again.parsed["content-usage"]["train-ai"] == "disallow"
    assert verdict.state == "disallowed"
    with pytest.raises(InvalidInput, match="unknown vocabulary"), session_factory() as session:
        obs.reparse(session, "draft-ietf-aipref-vocab-99")


def test_bulk_judge_over_several_origins(session_factory: Any) -> None:
    with session_factory() as session:
        obs.add_observation(
            session, origin="https://a.org", kind="robots.txt", raw=ROBOTS, observed_at=T0
        )
        obs.add_observation(
            session,
            origin="http://b.org:8080",
            kind="tdmrep.json",
            raw=b'[{"location": "/", "tdm-reservation": 1}]',
            observed_at=T0,
        )
        urls = ["https://a.org/ok/1", "https://a.org/2", "http://b.org:8080/x", "https://c.org/"]
        judge = obs.judge(session, urls, crawler="bot")
    assert [judge.judge(u).state for u in urls] == [
        "allowed",
        "disallowed",
        "disallowed",
        "unknown",
    ]
