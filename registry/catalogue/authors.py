"""Record authors as contributors: one per (source, author key), made on first ingest.

Why a mapping and not a column: a curator may merge an author key into an existing contributor
(``link_author``), so one person with records in several sources gets one statement; the
ledger pays whoever the key maps to when the run is settled.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from registry import audit, limits
from registry.catalogue.contributors import contributor_row
from registry.db.chunks import chunked
from registry.db.models import Contributor, Shard, SourceAuthor
from registry.db.types import utcnow
from registry.entities.catalogue import AuthorLinkOut
from registry.errors import Conflict, InvalidInput, NotFound


def ensure_authors(session: Session, shard_authors: Iterable[tuple[str, str]]) -> int:
    """Make a contributor (kind ``author``) for each (source, author key) not yet known, in
    the caller's (the ingest's) transaction; returns how many were made."""
    pairs = sorted(set(shard_authors))
    shards = {sid for sid, _ in pairs}
    source_of: dict[str, int] = {}
    for chunk in chunked(sorted(shards)):
        source_of.update(
            (a, b)
            for a, b in session.execute(
                select(Shard.id, Shard.source_id).where(Shard.id.in_(chunk))
            )
        )
    wanted = {(source_of[sid], author) for sid, author in pairs}
    if not wanted:
        return 0
    known = _known(session, {sid for sid, _ in wanted})
    new = sorted(wanted - known)
    if not new:
        return 0
    names = _source_names(session, {sid for sid, _ in new})
    now = utcnow()
    new_names = _free_names(session, [(names[sid], author) for sid, author in new])
    rows = [{"name": n, "kind": "author", "created_at": now} for n in new_names]
    for part in chunked(rows, 5000):
        session.execute(insert(Contributor), list(part))
    ids: dict[str, int] = {}
    for chunk in chunked(new_names):
        ids.update(
            (a, b)
            for a, b in session.execute(
                select(Contributor.name, Contributor.id).where(Contributor.name.in_(chunk))
            )
        )
    links = [
        {"source_id": sid, "author": author, "contributor_id": ids[n]}
        for (sid, author), n in zip(new, new_names, strict=True)
    ]
    for part in chunked(links, 5000):
        session.execute(insert(SourceAuthor), list(part))
    return len(new)


def author_contributors(session: Session, source_ids: Iterable[int]) -> dict[tuple[int, str], int]:
    """(source id, author key) -> contributor id, for the sources' known authors."""
    out: dict[tuple[int, str], int] = {}
    for chunk in chunked(sorted(set(source_ids))):
        query = select(SourceAuthor.source_id, SourceAuthor.author, SourceAuthor.contributor_id)
        for sid, author, cid in session.execute(query.where(SourceAuthor.source_id.in_(chunk))):
            out[(sid, author)] = cid
    return out


def link_author(session: Session, ref: str, contributor: str) -> AuthorLinkOut:
    """Pay the author key ``ref`` (``SOURCE:KEY``) as ``contributor`` from now on.

    Charges already in the ledger stay with whom they paid (append-only); settlements after
    the link pay the contributor.

    Raises:
        InvalidInput: ``ref`` is not SOURCE:KEY.
        NotFound: an unknown source, author key of that source, or contributor.
    """
    from registry.catalogue.sources import source_row

    source_name, sep, author = ref.partition(":")
    if not sep or not source_name or not author:
        raise InvalidInput(f"author {ref!r} is not SOURCE:KEY (e.g. forum:alice)", field="author")
    source = source_row(session, source_name)
    link = session.get(SourceAuthor, (source.id, author))
    if link is None:
        raise NotFound(f"source {source.name!r} has no author {author!r}", field="author")
    target = contributor_row(session, contributor)
    before = session.get(Contributor, link.contributor_id)
    link.contributor_id = target.id
    session.flush()
    audit.record(
        session,
        "author.link",
        "contributor",
        str(target.id),
        {"source": source.name, "author": author, "contributor": target.name}
        | {"was": before.name if before else None},
    )
    return AuthorLinkOut(
        source=source.name,
        author=author,
        contributor=target.name,
        was=before.name if before else None,
    )


def _known(session: Session, source_ids: set[int]) -> set[tuple[int, str]]:
    out: set[tuple[int, str]] = set()
    for chunk in chunked(sorted(source_ids)):
        query = select(SourceAuthor.source_id, SourceAuthor.author)
        out.update(
            (a, b) for a, b in session.execute(query.where(SourceAuthor.source_id.in_(chunk)))
        )
    return out


def _source_names(session: Session, source_ids: set[int]) -> dict[int, str]:
    from registry.db.models import Source

    out: dict[int, str] = {}
    for chunk in chunked(sorted(source_ids)):
        out.update(
            (a, b)
            for a, b in session.execute(select(Source.id, Source.name).where(Source.id.in_(chunk)))
        )
    return out


def _free_names(session: Session, keys: list[tuple[str, str]]) -> list[str]:
    """A contributor name for each (source name, author key): ``_name``'s, or, where a
    contributor already has that name (a curator's ``forum:alice``), the hashed form, so the
    ingest never pays a key to a contributor nobody linked it to.

    Raises:
        Conflict: the hashed name is taken too (only a contributor named so on purpose).
    """
    names = [_name(source, author) for source, author in keys]
    taken = _taken(session, names)
    if not taken:
        return names
    out = [_hashed(src, a) if n in taken else n for (src, a), n in zip(keys, names, strict=True)]
    for n in _taken(session, [n for n in out if n not in names]):
        raise Conflict(
            f"contributor {n!r} already exists: an author key of its source would be named so; "
            "rename that contributor, then ingest again",
            field="author",
        )
    return out


def _taken(session: Session, names: list[str]) -> set[str]:
    out: set[str] = set()
    for chunk in chunked(sorted(set(names))):
        out.update(session.scalars(select(Contributor.name).where(Contributor.name.in_(chunk))))
    return out


def _hashed(source: str, author: str) -> str:
    return f"{source}:sha256-{hashlib.sha256(author.encode()).hexdigest()[:16]}"


def _name(source: str, author: str) -> str:
    """``SOURCE:KEY``; a key that would not fit a name (too long, or with a ``/``) is named by
    the first 16 hex digits of its SHA-256 instead, so every author gets a contributor."""
    name = f"{source}:{author}"
    if len(name) <= limits.NAME and "/" not in author and author.isprintable():
        return name
    return _hashed(source, author)
