"""Token counts as the trainer's tokenizer sees them, so the ledger prices what the model reads.

The trainer's tokenizer is byte-level: a document is its UTF-8 bytes, one token each, followed by
one end-of-text token. ``count_tokens(text) == len(text.encode("utf-8")) + 1``. Any other
tokenizer the trainer adopts must change this module too (and bump ``TOKENIZER``), or the counts
registered at ingest no longer match what a run consumes.
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
