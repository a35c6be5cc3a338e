"""``provreg signals``: opt-out signals observed per origin, stored as evidence, judged per URL.

``add`` imports what was observed from files (this is how a machine without network records
them); ``fetch`` gets them from the origin with httpx; ``show`` lists the evidence; ``check``
judges a URL; ``reparse`` reads the stored bytes again with another vocabulary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import JSON_HELP, console, emit, print_json, tx
from registry.entities.signals import ObservationOut, VerdictOut
from registry.errors import InvalidInput
from registry.signals import observations
from registry.signals.evaluate import HEADER, HTML, ROBOTS, TDMREP
from registry.signals.origins import parse_origin, parse_url
from registry.signals.vocab import CURRENT, VOCABULARIES

app = typer.Typer(no_args_is_help=True, help="Opt-out signals: robots.txt, Content-Usage, TDMRep.")


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read the {what} file {str(path)!r}: {exc.strerror}") from exc


def _summary(o: ObservationOut) -> str:
    p = o.parsed
    if o.kind == ROBOTS:
        rules = [
            f"{ua}: {r['directive']} {r['path']} {r['statement']}"
            for ua, rs in p.get("groups", {}).items()
            for r in rs
        ]
        return "; ".join(rules) or "no Content-Usage rules"
    if o.kind == TDMREP:
        rules = [f"{r['location']}={r['tdm-reservation']}" for r in p.get("rules", [])]
        return "; ".join(rules + [f"error: {e}" for e in p.get("errors", [])]) or "no rules"
    if o.kind == HTML:
        return f"tdm-reservation={p.get('tdm-reservation')}"
    return "; ".join(f"{k}: {v}" for k, v in p.get("fields", {}).items())


def _print_observations(rows: list[ObservationOut]) -> None:
    console.print(f"{len(rows)} observations")
    for o in rows:
        console.print(
            f"  {o.id}  {o.kind}  {o.url}  observed {o.observed_at.isoformat(timespec='seconds')}"
            f"  sha256 {o.sha256[:16]}  read with {o.vocabulary}\n      {_summary(o)}",
            markup=False,
        )


@app.command("add")
def add(
    origin: Annotated[str, typer.Argument(help="scheme://host[:port]")],
    observed_at: Annotated[str, typer.Option(help="when it was observed, ISO 8601 with offset")],
    robots: Annotated[Path | None, typer.Option(help="a robots.txt file")] = None,
    tdmrep: Annotated[Path | None, typer.Option(help="a /.well-known/tdmrep.json file")] = None,
    header: Annotated[
        list[str] | None,
        typer.Option(help="a response header field line, 'Content-Usage: train-ai=n' (repeat)"),
    ] = None,
    html: Annotated[Path | None, typer.Option(help="an HTML page (its TDMRep meta)")] = None,
    url: Annotated[str | None, typer.Option(help="the URL a header or HTML page came from")] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Record one observed signal: its bytes, their SHA-256 and how they read, as evidence."""
    given = [g for g in (robots, tdmrep, header, html) if g]
    if len(given) != 1:
        raise InvalidInput(
            "an observation is one robots.txt, tdmrep.json, header or HTML page",
            field="signals.kind",
        )
    when = observations.parse_time(observed_at)
    parse_origin(origin)
    if robots is not None:
        kind, raw = ROBOTS, _read(robots, "robots.txt")
    elif tdmrep is not None:
        kind, raw = TDMREP, _read(tdmrep, "tdmrep.json")
    elif html is not None:
        kind, raw = HTML, _read(html, "HTML")
    else:
        kind, raw = HEADER, "\r\n".join(header or []).encode()
    with tx() as session:
        out = observations.add_observation(
            session, origin=origin, kind=kind, raw=raw, observed_at=when, url=url
        )
    emit(
        out,
        as_json,
        lambda: console.print(
            f"observation {out.id}: {out.kind} of {out.origin} at "
            f"{out.observed_at.isoformat(timespec='seconds')}, sha256 {out.sha256} "
            f"({out.bytes} bytes, read with {out.vocabulary}): {_summary(out)}"
        ),
    )
    if not as_json:
        _stored_impact(out.origin)


@app.command("fetch")
def fetch(
    origin: Annotated[str, typer.Argument(help="scheme://host[:port]")],
    url: Annotated[
        list[str] | None, typer.Option(help="also GET this URL for its signal headers (repeat)")
    ] = None,
    crawler: Annotated[str, typer.Option(help="the User-Agent to send")] = "provreg",
    timeout: Annotated[float, typer.Option(help="seconds per request")] = 10.0,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """GET the origin's robots.txt, tdmrep.json and the given URLs; record what they state."""
    from registry.db.types import utcnow
    from registry.signals.fetch import fetch_origin

    origin = parse_origin(origin)
    for u in url or []:
        if parse_url(u)[0] != origin:
            raise InvalidInput(f"URL {u!r} is not on origin {origin}", field="signals.url")
    fetched = fetch_origin(origin, list(url or []), user_agent=crawler, timeout=timeout)
    recorded: list[ObservationOut] = []
    with tx() as session:
        for f in fetched:
            if f.raw is not None:
                recorded.append(
                    observations.add_observation(
                        session,
                        origin=origin,
                        kind=f.kind,
                        raw=f.raw,
                        observed_at=utcnow(),
                        url=f.url if f.kind in (HEADER, HTML) else None,
                        via="signals fetch",
                    )
                )
    skipped = [{"kind": f.kind, "url": f.url, "note": f.note} for f in fetched if f.raw is None]

    def human() -> None:
        _print_observations(recorded)
        for s in skipped:
            console.print(f"not recorded: {s['kind']} {s['url']}: {s['note']}")

    emit({"recorded": recorded, "not_recorded": skipped}, as_json, human)


@app.command("show")
def show(
    origin: Annotated[str, typer.Argument(help="scheme://host[:port]")],
    raw: Annotated[bool, typer.Option(help="print each observation's raw text too")] = False,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Every observation of an origin: when, its SHA-256, and how it reads."""
    with tx(write=False) as session:
        rows = observations.list_observations(session, origin)
        details = [observations.get_observation(session, o.id) for o in rows] if raw else []

    def human() -> None:
        _print_observations(rows)
        for d in details:
            console.print(f"--- observation {d.id} ({d.kind}, sha256 {d.sha256})")
            console.print(d.raw_text, markup=False)

    emit(details if raw else rows, as_json, human)


def _print_verdict(v: VerdictOut) -> None:
    decided = v.decided_by
    why = (
        f"{decided.signal} (observation {decided.observation}): {decided.detail}"
        if decided and decided.observation
        else (f"{decided.signal}: {decided.detail}" if decided else "no signal states a preference")
    )
    console.print(f"{v.url}: {v.state} for AI training, crawler {v.crawler!r}; decided by {why}")
    for s in v.signals:
        if s != decided:
            console.print(f"  {s.signal}: {s.state} ({s.detail})")


@app.command("check")
def check(
    url: Annotated[str | None, typer.Argument(help="an absolute http(s) URL")] = None,
    all_: Annotated[
        bool,
        typer.Option(
            "--all", help="every stored record that observations made since ingest disallow"
        ),
    ] = False,
    crawler: Annotated[str, typer.Option(help="the crawler's user-agent token")] = "*",
    at: Annotated[str | None, typer.Option(help="judge by what was known then (ISO 8601)")] = None,
    source: Annotated[str | None, typer.Option(help="also judge this source's licence")] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Allowed, disallowed or unknown for AI training, and which signal decided; with --all,
    the stored records that observations made since their ingest now disallow."""
    if all_ == (url is not None):
        raise InvalidInput("judge one URL, or every stored record", field="signals.check")
    if url is None:
        _check_stored(as_json)
        return
    when = observations.parse_time(at, "the time to judge at") if at is not None else None
    with tx(write=False) as session:
        verdict = observations.check_url(session, url, crawler=crawler, at=when, source=source)
    emit(verdict, as_json, lambda: _print_verdict(verdict))


def _check_stored(as_json: bool, origin: str | None = None) -> int:
    """Print the stored records observations made since ingest disallow; return how many."""
    from registry.config import get_settings
    from registry.impact.stored_signals import disallowed_records
    from registry.shards.store import ShardStore

    with tx(write=False) as session:
        found = disallowed_records(
            session, ShardStore(get_settings().store), [origin] if origin else None
        )
    if as_json:
        print_json([r.__dict__ for r in found])
        return len(found)
    for r in found:
        console.print(
            f"shard {r.shard_id[:12]} record {r.record_id[:12]} {r.url}: disallowed by "
            f"{r.signal} (observation {r.observation}); provreg takedown --url {r.url} --reason ...",
            markup=False,
        )
    console.print(f"{len(found)} stored record(s) now disallowed", markup=False)
    return len(found)


def _stored_impact(origin: str) -> None:
    """After an observation: if its origin's records are stored, what they reached and the
    command that would take the disallowed ones down."""
    from registry.errors import NotFound, ProvregError
    from registry.impact.report import impact
    from registry.shards.profile import registrable_domain
    from registry.signals.rejudge import host

    domain = registrable_domain(host(origin))
    try:
        with tx(write=False) as session:
            rep = impact(session, "domain", domain)
    except NotFound:
        return
    except ProvregError as exc:  # advice only: the observation is recorded either way
        console.print(f"(the stored records' impact could not be read: {exc.detail})", markup=False)
        return
    console.print(
        f"stored: {rep.records} record(s) of {domain} in {len(rep.shards)} shard(s), in "
        f"{len(rep.manifests)} manifest(s) and {len(rep.runs)} run(s) (provreg impact --domain "
        f"{domain})",
        markup=False,
    )
    if _check_stored(False, origin):
        console.print(
            f"to apply: provreg takedown --url URL --reason ... for each, or every record of "
            f"the domain: provreg takedown --domain {domain} --reason ...",
            markup=False,
        )


@app.command("reparse")
def reparse(
    vocabulary: Annotated[
        str, typer.Option(help=f"one of {', '.join(sorted(VOCABULARIES))}")
    ] = CURRENT,
    origin: Annotated[str | None, typer.Option(help="only this origin's observations")] = None,
) -> None:
    """Read the stored bytes again with another vocabulary (a new reading; nothing edited)."""
    with tx() as session:
        count = observations.reparse(session, vocabulary, origin)
    console.print(f"{count} observations read again with {vocabulary}")
