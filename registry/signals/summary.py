"""What the disclosures say of opt-out signals (EU summary section 3.1, HTML and JSON): the
signals honoured, the origins checked and the records excluded per signal type, for a manifest
chain, from the registry's tables alone (never the shard files).

"Applied" observations are those linked to the chain's shards at ingest; exclusions are those
of the ingests of the chain's sources (an excluded record is in no shard). A registry where no
ingest judged a URL says nothing (``None``), so disclosures without signals keep their bytes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, select, text
from sqlalchemy.orm import Session

from registry.db.models import ShardSignalObservation, SignalExclusion
from registry.signals.vocab import CURRENT

SIGNALS_HONOURED = (
    "robots.txt (RFC 9309) Allow/Disallow for the source's crawler",
    "robots.txt Content-Usage (draft-ietf-aipref-attach-05)",
    "Content-Usage HTTP header (draft-ietf-aipref-attach-05)",
    "W3C TDMRep: tdmrep.json, tdm-reservation header, HTML meta",
    "Cloudflare Content-Signal ai-train",
)


def signals_summary(session: Session, chain: list[str]) -> dict[str, Any] | None:
    """The signal figures of a manifest chain (its hashes), or None if no ingest judged URLs."""
    if not session.scalar(
        select(exists(select(ShardSignalObservation.shard_id)) | exists(select(SignalExclusion.id)))
    ):
        return None
    names = {f"m{i}": h for i, h in enumerate(chain)}
    listed = ", ".join(f":{n}" for n in names)
    in_chain = f"SELECT shard_id FROM manifest_shards WHERE manifest_hash IN ({listed})"
    applied = session.execute(
        text(
            "SELECT o.origin, o.kind FROM signal_observations o WHERE o.id IN ("
            "SELECT DISTINCT l.observation_id FROM shard_signal_observations l "
            f"WHERE l.shard_id IN ({in_chain}))"
        ),
        names,
    ).all()
    excluded = session.execute(
        text(
            "SELECT e.signal, e.origin, SUM(e.records) FROM signal_exclusions e "
            "WHERE e.source_id IN (SELECT DISTINCT s.source_id FROM shards s "
            f"WHERE s.id IN ({in_chain})) GROUP BY e.signal, e.origin"
        ),
        names,
    ).all()
    kinds: dict[str, int] = {}
    for _, kind in applied:
        kinds[kind] = kinds.get(kind, 0) + 1
    by_signal: dict[str, int] = {}
    for signal, _, n in excluded:
        by_signal[signal] = by_signal.get(signal, 0) + int(n)
    origins = {o for o, _ in applied} | {o for _, o, _ in excluded if o}
    return {
        "signals_honoured": list(SIGNALS_HONOURED),
        "vocabulary": CURRENT,
        "origins_checked": len(origins),
        "observations_applied": len(applied),
        "observations_by_kind": dict(sorted(kinds.items())),
        "records_excluded": sum(by_signal.values()),
        "records_excluded_by_signal": dict(sorted(by_signal.items())),
    }
