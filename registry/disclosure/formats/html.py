"""The public disclosure page: one self-contained HTML file (see ``_page``) for people."""

from __future__ import annotations

from registry.disclosure.facts import NOT_PROVIDED, DisclosureFacts, DisclosureInputs
from registry.disclosure.formats._page import bars, definitions, donut, esc, num, page, pct, table

HASHLIB_SNIPPET = '''import hashlib

def verify(shard, leaf_index, tree_size, path, root):
    """RFC 9162 2.1.3.2 inclusion check for a provreg shard id."""
    if not 0 <= leaf_index < tree_size:
        return False
    fn, sn = leaf_index, tree_size - 1
    r = hashlib.sha256(b"\\x00" + bytes.fromhex(shard)).digest()
    for p_hex in path:
        p = bytes.fromhex(p_hex)
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = hashlib.sha256(b"\\x01" + p + r).digest()
            while fn != 0 and fn % 2 == 0:
                fn >>= 1
                sn >>= 1
        else:
            r = hashlib.sha256(b"\\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and r.hex() == root'''


def _cards(facts: DisclosureFacts) -> str:
    t = facts.totals
    items = [
        ("Tokens", num(t.tokens)),
        ("Records", num(t.records)),
        ("Shards", num(t.shards)),
        ("Bytes", num(t.bytes)),
        ("Sources", num(len(facts.sources))),
    ]
    cards = "".join(
        f'<div class="card"><div class="muted">{esc(k)}</div><div class="n" data-figure="{esc(k.lower())}">{esc(v)}</div></div>'
        for k, v in items
    )
    return f'<div class="cards">{cards}</div>'


def _charts(facts: DisclosureFacts) -> str:
    return (
        '<div class="charts">'
        + donut("Token share by source kind", [(s.key, s.token_share) for s in facts.by_kind])
        + donut(
            "Token share by licence family",
            [(s.key, s.token_share) for s in facts.by_licence_family],
        )
        + bars("Token share by licence", [(s.key, s.token_share) for s in facts.by_licence])
        + "</div>"
    )


def _sources(facts: DisclosureFacts) -> str:
    rows = [
        (
            s.name,
            s.kind,
            s.licence,
            s.licence_family,
            num(s.tokens),
            pct(s.token_share),
            num(s.records),
            num(s.shards),
            f"{s.collected_from or '?'} to {s.collected_to or '?'}",
            s.uri,
        )
        for s in facts.sources
    ]
    headers = (
        "Source",
        "Kind",
        "Licence",
        "Family",
        "Tokens",
        "Share",
        "Records",
        "Shards",
        "Collected",
        "URI",
    )
    return table(headers, rows, numeric=(4, 5, 6, 7))


def _crawl(facts: DisclosureFacts) -> str:
    c = facts.crawl
    if not c.domains_total:
        return "<p>No web-crawled sources.</p>"
    head = (
        f"<p>{num(c.domains_total)} domains, {num(c.tokens)} tokens. "
        f"Domain basis: {esc(c.domain_basis)}.</p>"
    )
    rows = [(d.domain, num(d.sources), num(d.tokens), pct(d.token_share)) for d in c.top_domains]
    return head + table(("Domain", "Sources", "Tokens", "Share of crawl"), rows, numeric=(1, 2, 3))


def _takedown(facts: DisclosureFacts) -> str:
    """That a takedown removed records before the manifest was rebased: when, how much."""
    t = facts.takedown
    assert t is not None
    return (
        f"<p>{t.takedowns} takedown(s), the last at {esc(t.last_at)}, removed "
        f"{t.records_removed:,} record(s) ({t.tokens_removed:,} tokens) before this manifest "
        "was rebased.</p>"
    )


def _signals(facts: DisclosureFacts) -> str:
    """The opt-out signals judged per record URL at ingest, and the records they excluded."""
    sig = facts.signals
    if sig is None:
        return ""
    rows = [(k, num(v)) for k, v in sig.records_excluded_by_signal.items()]
    return (
        f"<p>{num(sig.origins_checked)} origins checked, {num(sig.observations_applied)} "
        f"observations applied, {num(sig.records_excluded)} records excluded. Signals honoured: "
        f"{esc('; '.join(sig.signals_honoured))} (vocabulary {esc(sig.vocabulary)}).</p>"
        + table(("Signal", "Records excluded"), rows, numeric=(1,))
    )


def _records(facts: DisclosureFacts) -> str:
    """Domains of record URLs by content size (a table and an inline SVG chart), authors,
    record licences and the span of record dates: only for disclosures with profiled shards."""
    r = facts.records
    if r is None:
        return ""
    head = (
        f"<p>{num(r.shards)} shards carry per-record provenance: {num(r.records_with_url)} "
        f"records with a URL from {num(r.domains_total)} domains, {num(r.authors_total)} authors, "
        f"record dates {esc(r.records_from or '?')} to {esc(r.records_to or '?')}. "
        f"Listed: {esc(r.rule)}. Domain basis: {esc(r.basis)}.</p>"
    )
    rows = [(d.domain, num(d.records), num(d.bytes), pct(d.byte_share)) for d in r.domains]
    chart = bars(
        "Share of record text by domain", [(d.domain, d.byte_share) for d in r.domains[:20]]
    )
    out = head + chart + table(("Domain", "Records", "Bytes", "Share"), rows, numeric=(1, 2, 3))
    if r.licences:
        out += "<h3>Records under their own licence</h3>" + table(
            ("Record licence", "Records", "Tokens"),
            [(x.licence, num(x.records), num(x.tokens)) for x in r.licences],
            numeric=(1, 2),
        )
    return out


def _handling(facts: DisclosureFacts) -> str:
    h = facts.handling
    consent = ", ".join(f"{k}: {v}" for k, v in h.consent.items())
    periods = table(
        ("Kind", "From", "To", "Sources without dates"),
        [
            (p.key, p.collected_from or "—", p.collected_to or "—", num(p.sources_without_dates))
            for p in facts.collection
        ],
        numeric=(3,),
    )
    measures = "".join(f"<li>{esc(m)}</li>" for m in h.pii_measures) or "<li>none recorded</li>"
    return (
        "<h3>Collection periods</h3>"
        + periods
        + "<h3>Text-and-data-mining reservations and consent</h3>"
        + f"<p>{num(h.tdm_checked)} of {num(h.sources)} sources were checked for TDM opt-outs "
        f"(robots.txt, TDMRep, licence terms) and {num(h.tdm_respected)} recorded the "
        f"reservations as respected; checked sources hold {num(h.tdm_tokens_checked)} tokens. "
        f"Consent status by source: {esc(consent)}.</p>"
        + "<h3>Personal information</h3>"
        + f"<p>{num(h.pii_sources)} sources ({num(h.pii_tokens)} tokens) are recorded as "
        "containing personal information. Measures recorded:</p>" + f"<ul>{measures}</ul>"
    )


def _compensation(facts: DisclosureFacts) -> str:
    c = facts.compensation
    rows = [(m.model, num(m.sources), num(m.tokens)) for m in c.models]
    return (
        table(("Compensation model", "Sources", "Tokens"), rows, numeric=(1, 2))
        + f'<p><strong data-figure="contributors-compensated">{num(c.contributors_compensated)}</strong> '
        f"contributors compensated ({esc(c.basis)}). Individual amounts are not published.</p>"
    )


def _provenance(facts: DisclosureFacts) -> str:
    parts = [
        table(
            ("Manifest chain (training content)", "Name", "Use", "Created", "Shards"),
            [
                (m.hash, m.name, m.intended_use, m.created_at, num(m.shards))
                for m in facts.manifest_chain
            ],
            numeric=(4,),
        ),
        table(
            ("Lineage (revisions, oldest first)", "Name", "Created"),
            [(m.hash, m.name, m.created_at) for m in facts.lineage],
        ),
    ]
    if facts.runs:
        parts.append(
            table(
                ("Run", "Manifest", "Tokenizer", "Status", "Steps", "Finished"),
                [
                    (
                        r.id,
                        r.manifest,
                        r.tokenizer
                        + (f" (trained on {r.tokenizer_manifest})" if r.tokenizer_manifest else ""),
                        r.status,
                        num(r.steps_done),
                        r.finished_at or "—",
                    )
                    for r in facts.runs
                ],
                numeric=(4,),
            )
        )
    if facts.weights:
        parts.append(
            table(
                ("Weights file SHA-256", "Run", "Bytes"),
                [(w.sha256, w.run, num(w.bytes)) for w in facts.weights],
                numeric=(2,),
            )
        )
    return "".join(parts)


def _verification(facts: DisclosureFacts) -> str:
    roots = table(
        ("Manifest", "Algorithm", "Merkle root", "Leaves"),
        [(m.manifest, m.algorithm, m.root, num(m.leaves)) for m in facts.merkle],
        numeric=(3,),
    )
    steps = "".join(f"<li>{esc(s)}</li>" for s in facts.verification)
    return f"{roots}<ol>{steps}</ol><pre><code>{esc(HASHLIB_SNIPPET)}</code></pre>"


def render(facts: DisclosureFacts, inputs: DisclosureInputs) -> bytes:
    m = facts.manifest
    title = f"Training data disclosure: {inputs.model or m.name}"
    stated = definitions(
        [
            ("Provider", inputs.provider),
            ("Provider contact", inputs.provider_contact),
            ("Model", inputs.model),
        ],
        NOT_PROVIDED,
    )
    body = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="muted">Subject: {esc(facts.subject_kind)} <span class="hash">{esc(facts.subject)}</span>'
        f" · manifest <strong>{esc(m.name)}</strong> "
        f'(<span class="hash">{esc(m.hash)}</span>) · intended use {esc(m.intended_use)} · '
        f"as of {esc(facts.as_of)} · schema {esc(facts.schema_)}</p>",
        stated,
        "<h2>Key figures</h2>",
        _cards(facts),
        "<h2>Composition</h2>",
        _charts(facts),
        "<h2>Sources</h2>",
        _sources(facts),
        "<h2>Web-crawled data: top domains</h2>",
        _crawl(facts),
        *(["<h2>Records: domains by content size</h2>", _records(facts)] if facts.records else []),
        *(["<h2>Opt-out signals</h2>", _signals(facts)] if facts.signals else []),
        *(["<h2>Takedowns</h2>", _takedown(facts)] if facts.takedown else []),
        "<h2>Collection, opt-outs and personal data</h2>",
        _handling(facts),
        "<h2>Compensation</h2>",
        _compensation(facts),
        "<h2>Provenance</h2>",
        _provenance(facts),
        "<h2>Verify that a shard was in the training data</h2>",
        _verification(facts),
        '<p class="muted">Generated by provreg from its registry; every figure is derived from '
        "registered shards and sources.</p>",
    ]
    return page(title, body)
