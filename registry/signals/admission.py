"""Opt-out signals at ingest: which records may be stored, and the count of those that may not.

``Admission`` judges each record's URL for the source's crawler by the observations known when
the ingest runs (``evaluate.Judge``). A disallowed record is not stored; an unknown one is
stored or refused as the caller says (``unknown="allow"`` by default, and the report says
which). A record without a URL has nothing to judge: it is unknown (signal ``no-url``).
``applied`` names every observation in force for an origin the ingest met, which is what the
shards of that ingest record (``shard_signal_observations``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from registry.db.types import utcnow
from registry.errors import InvalidInput
from registry.signals import evaluate, observations

UnknownPolicy = Literal["allow", "refuse"]
NO_URL = "no-url"


@dataclass
class AdmissionReport:
    """What the signals did to one ingest: records kept, excluded by (origin, signal), unknown."""

    crawler: str
    at: datetime
    unknown_policy: UnknownPolicy
    kept: int = 0
    excluded: Counter[tuple[str, str]] = field(default_factory=Counter)
    unknown: int = 0
    applied: set[int] = field(default_factory=set)

    @property
    def excluded_total(self) -> int:
        return sum(self.excluded.values())

    def as_json(self) -> dict[str, object]:
        return {
            "crawler": self.crawler,
            "judged_at": self.at.isoformat(),
            "unknown_policy": self.unknown_policy,
            "kept": self.kept,
            "unknown": self.unknown,
            "excluded": self.excluded_total,
            "excluded_by": [
                {"origin": o, "signal": s, "records": n}
                for (o, s), n in sorted(self.excluded.items())
            ],
            "observations_applied": sorted(self.applied),
        }


class Admission:
    """The record gate's judge for one ingest (``mask`` each batch of URLs)."""

    def __init__(
        self,
        session: Session,
        *,
        crawler: str,
        unknown: str = "allow",
        at: datetime | None = None,
        source: str | None = None,
    ) -> None:
        if unknown not in ("allow", "refuse"):
            raise InvalidInput(
                f"an unknown signal state is 'allow' or 'refuse', got {unknown!r}",
                field="ingest.signals_unknown",
            )
        self.session = session
        self.source = source
        policy: UnknownPolicy = "refuse" if unknown == "refuse" else "allow"
        self.report = AdmissionReport(crawler or "*", at or utcnow(), policy)
        self.licence = (
            observations.source_licence_signal(session, source) if source is not None else None
        )
        self.judge = evaluate.Judge([], self.report.crawler, self.report.at, self.licence)
        self._loaded: set[str] = set()
        from sqlalchemy import exists, select

        from registry.db.models import SignalObservation

        # With no observation at all every record is unknown: count them, judge none (ingest
        # without signals keeps its speed).
        self._none = self.licence is None and not session.scalar(
            select(exists(select(SignalObservation.id)))
        )

    def _load(self, origins: set[str]) -> None:
        """Compile the origins not seen yet (one query per batch of new origins)."""
        new = origins - self._loaded
        if not new:
            return
        self._loaded |= new
        facts = observations.facts(self.session, new, self.report.at)
        fresh = evaluate.Judge(facts, self.report.crawler, self.report.at, self.licence)
        self.judge.origins.update(fresh.origins)
        for rules in fresh.origins.values():
            self.report.applied |= rules.observation_ids()

    def mask(self, urls: Sequence[str | None]) -> list[bool]:
        """Which records to store, in order; counts the others.

        Raises:
            InvalidInput: a URL that is not absolute http(s) (ingest names the record).
        """
        if self._none:
            n = len(urls)
            self.report.unknown += n
            if self.report.unknown_policy == "allow":
                self.report.kept += n
                return [True] * n
            for u in urls:
                origin = self.judge.split(u)[0] if u is not None else ""
                self.report.excluded[(origin, "unknown" if u is not None else NO_URL)] += 1
            return [False] * n
        split = [(self.judge.split(u) if u is not None else None) for u in urls]
        self._load({s[0] for s in split if s is not None})
        keep: list[bool] = []
        refuse_unknown = self.report.unknown_policy == "refuse"
        for u, s in zip(urls, split, strict=True):
            if u is None or s is None:
                verdict: evaluate.Verdict = evaluate.UNKNOWN
                origin, signal = "", NO_URL
            else:
                verdict = self.judge.judge(u)
                origin = s[0]
                signal = verdict.decided_by.signal if verdict.decided_by else ""
            if verdict.state == "disallowed":
                self.report.excluded[(origin, signal)] += 1
                keep.append(False)
            elif verdict.state == "unknown":
                self.report.unknown += 1
                if refuse_unknown:
                    self.report.excluded[(origin, signal or "unknown")] += 1
                keep.append(not refuse_unknown)
            else:
                keep.append(True)
            if keep[-1]:
                self.report.kept += 1
        return keep


def record_applied(session: Session, shard_ids: Iterable[str], observation_ids: set[int]) -> int:
    """Link each shard to the observations its ingest applied (a shard registered again keeps
    its links and gains the new ones). Returns how many links were added."""
    from sqlalchemy import select

    from registry.db.chunks import chunked
    from registry.db.models import ShardSignalObservation

    ids = sorted(set(shard_ids))
    if not ids or not observation_ids:
        return 0
    existing: set[tuple[str, int]] = set()
    for chunk in chunked(ids):
        existing |= {
            (r.shard_id, r.observation_id)
            for r in session.scalars(
                select(ShardSignalObservation).where(ShardSignalObservation.shard_id.in_(chunk))
            )
        }
    new = [
        ShardSignalObservation(shard_id=s, observation_id=o)
        for s in ids
        for o in sorted(observation_ids)
        if (s, o) not in existing
    ]
    session.add_all(new)
    session.flush()
    return len(new)


def record_exclusions(
    session: Session, source_id: int, dataset: str, report: AdmissionReport
) -> None:
    """Keep an ingest's exclusion counts (per origin and signal) beside the registry's facts."""
    from registry.db.models import SignalExclusion

    session.add_all(
        SignalExclusion(
            source_id=source_id,
            dataset=dataset,
            origin=origin,
            signal=signal,
            records=n,
            crawler=report.crawler,
            judged_at=report.at,
        )
        for (origin, signal), n in sorted(report.excluded.items())
    )
    session.flush()
