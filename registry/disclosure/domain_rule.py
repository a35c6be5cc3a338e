"""How many domains the EU summary lists: section 2.3 of the Commission's template asks for
"a summary of the most relevant domain names" crawled, by size of content.

Our reading of the template (AI Office, 24 July 2025; ``docs/disclosure.md`` cites it): the top
10% of all domain names by size of content; for an SME, the top 5% or 1,000 domain names,
whichever is fewer. The template does not say how to round a share of a count: we round up, so
any crawl with a domain lists at least one (10% of 25 domains is 3; 5% of 25 is 2). Domains are
ranked by content size (text bytes), ties by name, so the list is the same on every run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

SHARE = (1, 10)
"""10% of the domains."""
SME_SHARE = (1, 20)
"""5% of the domains, for small and medium-sized enterprises..."""
SME_MOST = 1000
"""...and never more than this many."""
RULE = (
    "the top 10% of domain names by content size (for an SME: the top 5% or 1,000 domain "
    "names, whichever is fewer), rounded up; ranked by text bytes, ties by name"
)

T = TypeVar("T")


def _ceil_share(count: int, share: tuple[int, int]) -> int:
    num, den = share
    return -(-count * num // den)  # exact integer ceiling: no float rounding


def relevant_domain_count(domains: int, *, sme: bool = False) -> int:
    """How many of ``domains`` distinct domain names the summary lists.

    Raises:
        ValueError: a negative count.
    """
    if domains < 0:
        raise ValueError(f"a count of domains cannot be negative: {domains}")
    if sme:
        return min(_ceil_share(domains, SME_SHARE), SME_MOST)
    return _ceil_share(domains, SHARE)


def most_relevant(ranked: Sequence[T], total: int, *, sme: bool = False) -> list[T]:
    """The head of ``ranked`` (largest first) that the rule keeps out of ``total`` domains."""
    return list(ranked[: relevant_domain_count(total, sme=sme)])
