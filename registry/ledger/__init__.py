"""The compensation ledger: what each contributor is owed for what each run consumed.

Money is exact (invariant 6): a source's amount is computed as an exact Decimal in minor units,
rounded once (half to even) to whole minor units, then split across the source's contributors
by largest remainder, so the parts add up exactly to the source's amount. Entries are only ever
appended: every charge has an idempotency ``key`` (settling twice adds nothing) and a correction
is a reversal plus a new charge. The rules are written down in ``docs/ledger.md``.

The public services are re-exported here (``from registry import ledger``, then
``ledger.settle_run(session, run_id)``); what they return is in ``registry.entities.ledger``.

- ``settlement``: ``settle_run``, a completed run's consumption priced and split into charges.
- ``pools``: ``create_pool`` and ``settle_pool``, revenue-share pools split by tokens.
- ``corrections``: ``reverse_entry`` and ``correct_entry``, appended, never edited.
- ``statements``: reading: ``get_entry``, ``statement``, ``ledger_summary``,
  ``public_aggregate`` (the figures a disclosure may publish).
- ``consumption``: tokens consumed per source; which run pays a flat fee.
- ``attribution``: the exact tokens each run consumed from each author's records.
- ``usage``: what a contributor can see: their records each settled run consumed.
- ``terms``: sources' terms and shares, loaded in bulk; refusing sources without terms; the
  split of an amount by shares.
- ``entries``: entry keys, the one row shape, bulk insert, totals per currency.
- ``allocation`` and ``money``: the exact arithmetic (largest remainder; ISO 4217 amounts).
"""

from registry.ledger.corrections import correct_entry, reverse_entry
from registry.ledger.pools import create_pool, settle_pool
from registry.ledger.settlement import settle_run
from registry.ledger.statements import get_entry, ledger_summary, public_aggregate, statement
from registry.ledger.usage import usage

__all__ = [
    "correct_entry",
    "create_pool",
    "get_entry",
    "ledger_summary",
    "public_aggregate",
    "reverse_entry",
    "settle_pool",
    "settle_run",
    "statement",
    "usage",
]
