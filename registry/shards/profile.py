"""A shard's record profile: records, bytes and tokens per registrable domain, per author and
per record licence, and its span of record dates, summed while the shard is written.

The registry stores these per shard (``shard_domains``, ``shard_authors``,
``shard_record_licences``, ``shards.records_from/records_to``) so that policies and
disclosures at scale sum rows in SQL and never open a shard file. Every sum is Arrow's
``group_by`` over a row group the writer holds anyway: no second read of the input.

Domains are registrable domains from the Public Suffix List (``tldextract`` with the snapshot
it bundles: never the network): ``news.bbc.co.uk`` -> ``bbc.co.uk``. A host with no public
suffix (``localhost``, an IP address) is its own domain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from registry.shards.record_fields import day_of, hosts
from registry.shards.record_keys import add_keys

if TYPE_CHECKING:
    import pyarrow as pa


@lru_cache(maxsize=1)
def _extractor() -> Any:
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@lru_cache(maxsize=1_000_000)
def registrable_domain(host: str) -> str:
    """``news.bbc.co.uk`` -> ``bbc.co.uk``; a host without a public suffix is itself."""
    bare = host.strip("[]")
    parts = _extractor()(bare)
    return str(parts.top_domain_under_public_suffix or bare)


@dataclass
class RecordProfile:
    """Sums per key: ``domains`` key -> [records, bytes, tokens]; ``authors`` and ``licences``
    key -> [records, tokens]; the earliest and latest record day."""

    domains: dict[str, list[int]] = field(default_factory=dict)
    authors: dict[str, list[int]] = field(default_factory=dict)
    licences: dict[str, list[int]] = field(default_factory=dict)
    keys: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    """The record key index's rows: (kind, key) -> [records, tokens] (``record_keys``)."""
    first: date | None = None
    last: date | None = None

    def add(self, table: pa.Table) -> None:
        """Add a row group of a v2 shard (columns id, text, url, author, licence, created)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        sizes = pc.binary_length(table.column("text"))
        base = pa.table({"bytes": sizes, "tokens": pc.add(sizes, 1)})
        add_keys(self.keys, table, base.column("tokens").to_pylist())
        urls = table.column("url")
        if urls.null_count < len(urls):
            host = hosts(urls)
            distinct = pc.unique(host).drop_null()
            domains = pa.array([registrable_domain(h) for h in distinct.to_pylist()], pa.string())
            domain = pc.take(domains, pc.index_in(host, value_set=distinct))
            _sum_into(self.domains, base.append_column("key", domain), ("bytes", "tokens"))
        for column, into in (("author", self.authors), ("licence", self.licences)):
            keys = table.column(column)
            if keys.null_count < len(keys):
                _sum_into(into, base.append_column("key", keys), ("tokens",))
        created = table.column("created").drop_null()
        if len(created):
            lo, hi = pc.min(created).as_py(), pc.max(created).as_py()
            days = [day_of(lo), day_of(hi)]  # normalised: the text order is the day order
            self.first = min(days + ([self.first] if self.first else []))
            self.last = max(days + ([self.last] if self.last else []))


def _sum_into(into: dict[str, list[int]], table: pa.Table, sums: tuple[str, ...]) -> None:
    grouped = table.group_by("key").aggregate([("tokens", "count"), *((s, "sum") for s in sums)])
    rows = grouped.to_pydict()
    for i, key in enumerate(rows["key"]):
        if key is None:
            continue
        figures = [rows["tokens_count"][i], *(rows[f"{s}_sum"][i] for s in sums)]
        have = into.get(key)
        into[key] = figures if have is None else [a + b for a, b in zip(have, figures, strict=True)]
