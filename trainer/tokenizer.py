"""Byte-level tokenizer: one token per UTF-8 byte, plus an end-of-text token.

Bytes need no vocabulary file, so the tokenizer is fully named by its
`identity`, and the number of tokens of a record is known at ingest time
(`count_tokens`, owned by the registry, which
records it per shard at ingest) without running any model code.

`TokenEncoder` is what the data stream needs of any tokenizer: this one, or a trained
byte-level BPE (`trainer.bpe.BPETokenizer`), whose identity is its file's SHA-256.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import numpy as np

from registry.shards.token_count import TOKENIZER as IDENTITY
from registry.shards.token_count import count_tokens

__all__ = ["EOT", "IDENTITY", "VOCAB_SIZE", "ByteTokenizer", "TokenEncoder", "count_tokens"]

EOT = 256
VOCAB_SIZE = 257


class TokenEncoder(Protocol):
    """A tokenizer as training sees it: a name that goes into the run, and documents to ids."""

    identity: str  # provreg.bytes/1, or a trained tokenizer's SHA-256
    vocab_size: int
    eot: int

    def encode(self, text: str, *, eot: bool = True) -> list[int]: ...

    def encode_array(self, text: str, *, eot: bool = True) -> np.ndarray:
        """Token ids of one document as int64, ending with ``eot`` when asked."""
        ...

    def decode(self, ids: Iterable[int]) -> str: ...


class ByteTokenizer:
    """Token = byte value (0..255); EOT (256) closes each document."""

    identity: str = IDENTITY
    vocab_size: int = VOCAB_SIZE
    eot: int = EOT

    def encode(self, text: str, *, eot: bool = True) -> list[int]:
        """Token ids of `text`; a document (eot=True) ends with EOT, a prompt does not."""
        return self.encode_array(text, eot=eot).tolist()

    def encode_array(self, text: str, *, eot: bool = True) -> np.ndarray:
        """Like `encode`, as an int64 array (what the batcher packs)."""
        raw = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
        out = np.empty(raw.size + (1 if eot else 0), dtype=np.int64)
        out[: raw.size] = raw
        if eot:
            out[-1] = EOT
        return out

    def decode(self, ids: Iterable[int]) -> str:
        """Text of `ids`, skipping EOT; invalid UTF-8 becomes U+FFFD.

        Raises:
            ValueError: an id is outside 0..256.
        """
        data = bytearray()
        for i in ids:
            i = int(i)
            if i == EOT:
                continue
            if not 0 <= i < 256:
                raise ValueError(f"token id {i} is outside the byte vocabulary 0..{EOT}")
            data.append(i)
        return data.decode("utf-8", errors="replace")
