"""``provreg.disclosure/1``: the facts themselves, as deterministic JSON.

Schema (every figure derived from the registry; see ``registry.disclosure.facts``):
``schema``, ``subject_kind`` (manifest | run | weights), ``subject``, ``as_of`` (the manifest's
``created_at``, the run's ``finished_at`` or the weights' ``created_at``), ``manifest``,
``manifest_chain``, ``lineage``, ``runs``, ``weights``, ``totals`` {shards, records, tokens,
bytes}, ``by_kind`` / ``by_licence`` / ``by_licence_family`` [{key, sources, shards, records,
tokens, bytes, token_share}], ``sources`` [...], ``crawl`` {domain_basis, domains_total, tokens,
top_domains}, ``collection`` [{key, collected_from, collected_to, sources_without_dates}],
``handling`` {tdm_*, consent, pii_*}, ``compensation`` {models, contributors_compensated, basis},
``merkle`` [{manifest, algorithm, root, leaves}], ``verification`` [steps], and ``inputs``:
the provider-stated fields, each a string or ``"Not provided"``.
A new field may be added within version 1; a changed or removed one makes version 2.
"""

from __future__ import annotations

from registry.disclosure.facts import NOT_PROVIDED, DisclosureFacts, DisclosureInputs
from registry.disclosure.formats._encoding import dumps, facts_json


def render(facts: DisclosureFacts, inputs: DisclosureInputs) -> bytes:
    data = facts_json(facts)
    data["inputs"] = {
        k: (v if v is not None else NOT_PROVIDED)
        for k, v in inputs.model_dump().items()
        if k != "content_base_url" and not (k == "sme" and v is None)
    }
    return dumps(data)
