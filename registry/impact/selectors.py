"""A selector (``domain=``, ``url=``, ...) and the shards holding records it matches.

Domains and authors are answered by ``shard_domains`` / ``shard_authors``; a URL or record id
by the record key index (``shard_record_keys``, see ``registry.shards.record_keys``); a source
or shard by the shards table. None of them opens a shard file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.catalogue.sources import source_row
from registry.db.models import Shard, ShardAuthor, ShardDomain, ShardRecordKey, Source
from registry.errors import InvalidInput, NotFound
from registry.shards.format import FORMAT_V2
from registry.shards.lookup import shard_row
from registry.shards.profile import registrable_domain
from registry.shards.record_keys import RECORD, URL, record_key, url_key

KINDS = ("source", "shard", "domain", "url", "author", "record")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Selector:
    kind: str
    value: str

    def __str__(self) -> str:
        return f"{self.kind}={self.value}"


def selector(kind: str, value: str) -> Selector:
    """A checked selector.

    Raises:
        InvalidInput: an unknown kind, an empty value, an author without ``SOURCE:KEY``, a
            record id that is not 64 hex digits, a URL that is not absolute http(s).
    """
    if kind not in KINDS:
        raise InvalidInput(
            f"unknown selector {kind!r}: one of {', '.join(KINDS)}", field="impact.selector"
        )
    text = (value or "").strip()
    if not text:
        raise InvalidInput(f"the {kind} selector is empty", field="impact.selector")
    if kind == "author" and (":" not in text or not all(text.split(":", 1))):
        raise InvalidInput(
            f"an author is SOURCE:KEY (the source's name and the author's key), not {text!r}",
            field="impact.selector",
        )
    if kind == "record" and not _HEX64.match(text.lower()):
        raise InvalidInput(
            f"a record id is a SHA-256 (64 hex digits), not {text!r}", field="impact.selector"
        )
    if kind == "url" and not re.match(r"^https?://[^/\s]+", text, re.IGNORECASE):
        raise InvalidInput(f"not an absolute http(s) URL: {text!r}", field="impact.selector")
    if kind == "domain":
        text = text.lower().rstrip(".")
        if registrable_domain(text) != text:
            raise InvalidInput(
                f"records are counted by registrable domain: {registrable_domain(text)!r}, "
                f"not {text!r}",
                field="impact.selector",
            )
    if kind == "record":
        text = text.lower()
    return Selector(kind, text)


def one_selector(**given: str | None) -> tuple[str, str]:
    """The one selector given among keyword arguments (kind=value), as (kind, value).

    Raises:
        InvalidInput: none or several.
    """
    chosen = [(k, v) for k, v in given.items() if v is not None]
    if len(chosen) != 1:
        raise InvalidInput("name exactly one selection of records", field="impact.selector_count")
    return chosen[0]


@dataclass(frozen=True)
class Match:
    """One shard's matching records and their tokens."""

    shard_id: str
    records: int
    tokens: int


def matching_shards(session: Session, sel: Selector) -> list[Match]:
    """Every shard holding records the selector matches, sorted by shard id.

    Raises:
        NotFound: an unknown source or shard.
    """
    if sel.kind == "shard":
        row = shard_row(session, sel.value)
        return [Match(row.id, row.records, row.tokens)]
    if sel.kind == "source":
        src = source_row(session, sel.value)
        rows = session.execute(
            select(Shard.id, Shard.records, Shard.tokens).where(Shard.source_id == src.id)
        )
    elif sel.kind == "domain":
        rows = session.execute(
            select(ShardDomain.shard_id, ShardDomain.records, ShardDomain.tokens).where(
                ShardDomain.domain == sel.value
            )
        )
    elif sel.kind == "author":
        name, key = sel.value.split(":", 1)
        src = source_row(session, name)
        rows = session.execute(
            select(ShardAuthor.shard_id, ShardAuthor.records, ShardAuthor.tokens)
            .join(Shard, Shard.id == ShardAuthor.shard_id)
            .where(ShardAuthor.author == key, Shard.source_id == src.id)
        )
    else:
        kind, hashed = (
            (URL, url_key(sel.value)) if sel.kind == "url" else (RECORD, record_key(sel.value))
        )
        rows = session.execute(
            select(ShardRecordKey.shard_id, ShardRecordKey.records, ShardRecordKey.tokens).where(
                ShardRecordKey.kind == kind, ShardRecordKey.key == hashed
            )
        )
    return sorted((Match(s, r, t) for s, r, t in rows), key=lambda m: m.shard_id)


def unindexed_shards(session: Session) -> int:
    """v2 shards with no record key rows (stored before the index existed): one index range."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Shard)
            .where(Shard.format == FORMAT_V2, Shard.keys_indexed.is_(False))
        )
        or 0
    )


def source_names(session: Session, shard_ids: list[str]) -> dict[str, tuple[str, str]]:
    """shard id -> (source name, status)."""
    from registry.db.chunks import chunked

    out: dict[str, tuple[str, str]] = {}
    for part in chunked(shard_ids):
        for sid, name, status in session.execute(
            select(Shard.id, Source.name, Shard.status)
            .join(Source, Source.id == Shard.source_id)
            .where(Shard.id.in_(part))
        ):
            out[sid] = (name, status)
    return out


__all__ = ["KINDS", "Match", "NotFound", "Selector", "matching_shards", "selector"]
