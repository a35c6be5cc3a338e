"""Token counts in ``provreg.bytes/1``: what a shard registers, and the default run tokenizer.

``provreg.bytes/1`` is byte-level: a document is its UTF-8 bytes, one token each, followed by
one end-of-text token. ``count_tokens(text) == len(text.encode("utf-8")) + 1``. A shard's
registered ``tokens`` are always these: they describe the shard, whatever a run reads it with,
and the verified reader checks a shard's bytes against them.

A run may use a trained tokenizer instead (``registry.tokenizers``, a byte-level BPE): the run
names it, and the consumption it records, and so what the ledger prices, is counted in that
tokenizer's tokens (the statements say which). A change to this byte scheme must bump
``TOKENIZER``, or the counts registered at ingest no longer match what a run consumes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

TOKENIZER = "provreg.bytes/1"
"""Name of the tokenizer these counts assume; the trainer records it with each run."""


def count_tokens(text: str) -> int:
    """Tokens of one document: its UTF-8 bytes plus one end-of-text token."""
    return len(text.encode("utf-8")) + 1


def count_tokens_array(texts: pa.Array | pa.ChunkedArray) -> int:
    """Tokens of every document in a string column, without a Python loop."""
    import pyarrow.compute as pc

    n = len(texts)
    if n == 0:
        return 0
    total = pc.sum(pc.binary_length(texts)).as_py() or 0
    return int(total) + n
