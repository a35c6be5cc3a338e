"""A byte-level BPE tokenizer trained with Hugging Face ``tokenizers`` on a manifest's records.

Why ``tokenizers``: it is the implementation the field uses (GPT-2's byte-level BPE, in Rust),
so a provreg tokenizer is a standard ``tokenizer.json`` any Hugging Face stack loads. provreg
adds only provenance: the file is named by its SHA-256, trained only on records that came
through the verified reader, and registered with the manifest they came from
(``registry.tokenizers``).

Reproducible: the records are fed in one fixed order (shards by id, records in file order), and
``BPESettings.to_dict()`` names everything else that changes the bytes (the vocabulary size,
the minimum pair frequency, the special token, the pre-tokenizer and the ``tokenizers``
version), so the same manifest and settings give the same file, byte for byte.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import tokenizers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from trainer.errors import TrainerError
from trainer.reader import ShardSource, read_verified, verified_loader

KIND = "provreg.bpe-bytelevel/1"
EOT_TOKEN = "<|endoftext|>"


class TokenizerIntegrityError(TrainerError):
    """A tokenizer file whose bytes do not hash to its id."""


@dataclass(frozen=True)
class BPESettings:
    """What, beside the manifest, decides a trained tokenizer's bytes."""

    vocab_size: int = 8192
    min_frequency: int = 2

    def __post_init__(self) -> None:
        if type(self.vocab_size) is not int or self.vocab_size < 257:
            raise ValueError(
                f"vocab_size must be an int >= 257 (bytes + EOT), got {self.vocab_size!r}"
            )
        if type(self.min_frequency) is not int or self.min_frequency < 1:
            raise ValueError(f"min_frequency must be an int >= 1, got {self.min_frequency!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "vocab_size": self.vocab_size,
            "min_frequency": self.min_frequency,
            "special_tokens": [EOT_TOKEN],
            "pre_tokenizer": "ByteLevel(add_prefix_space=False)",
            "order": "shards by id, records in file order",
            "tokenizers": tokenizers.__version__,
        }


def train_bpe(
    texts: Iterable[str],
    settings: BPESettings,
    *,
    length: int | None = None,
    show_progress: bool = False,
) -> bytes:
    """Train a byte-level BPE on ``texts`` (in the order given); the ``tokenizer.json`` bytes."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=settings.vocab_size,
        min_frequency=settings.min_frequency,
        special_tokens=[EOT_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=show_progress,
    )
    tok.train_from_iterator(texts, trainer=trainer, length=length)
    return tok.to_str().encode("utf-8")


def manifest_records(
    source: ShardSource, shard_ids: Sequence[str], *, ahead: int = 1
) -> Iterator[str]:
    """Every record of the shards, verified, in the training order: shards by id, file order.

    With ``ahead`` (the default), the next shard is read and verified by the data stream's
    ``Prefetcher`` while the caller (``tokenizers`` counting pairs, which releases the GIL)
    works on the records before it; a shard's records are yielded only after its whole file
    hashed to its id, as without read-ahead.
    """
    from trainer.data import Prefetcher, Slot

    order = sorted(shard_ids)
    if ahead < 1:
        for shard_id in order:
            yield from read_verified(source, shard_id).texts
        return
    loads = Prefetcher(verified_loader(source), (Slot(0, i, s) for i, s in enumerate(order)))
    try:
        for loaded in loads:
            loads.want_next()
            yield from loaded.texts
    finally:
        loads.close()


class BPETokenizer:
    """A trained tokenizer file, checked against its id; ``TokenEncoder`` for the data stream.

    Raises:
        TokenizerIntegrityError: the bytes do not hash to ``identity``.
        ValueError: not a tokenizer file with the end-of-text token.
    """

    def __init__(self, data: bytes, identity: str | None = None) -> None:
        digest = hashlib.sha256(data).hexdigest()
        if identity is not None and digest != identity:
            raise TokenizerIntegrityError(
                f"tokenizer {identity} failed verification: its file hashes to {digest}"
            )
        try:
            self._tok = Tokenizer.from_str(data.decode("utf-8"))
        except Exception as exc:  # tokenizers raises a bare Exception on bad JSON
            raise ValueError(f"tokenizer {digest} is not a tokenizers JSON file: {exc}") from exc
        eot = self._tok.token_to_id(EOT_TOKEN)
        if eot is None:
            raise ValueError(f"tokenizer {digest} has no {EOT_TOKEN} token")
        self.identity: str = digest
        self.vocab_size: int = self._tok.get_vocab_size()
        self.eot: int = eot

    @property
    def backend(self) -> Tokenizer:
        """The ``tokenizers.Tokenizer`` itself."""
        return self._tok

    def encode(self, text: str, *, eot: bool = True) -> list[int]:
        ids: list[int] = self._tok.encode(text, add_special_tokens=False).ids
        if eot:
            ids.append(self.eot)  # a fresh list from tokenizers: no copy
        return ids

    def encode_array(self, text: str, *, eot: bool = True) -> np.ndarray:
        return np.asarray(self.encode(text, eot=eot), dtype=np.int64)

    def encode_batch(self, texts: Sequence[str], *, eot: bool = True) -> list[list[int]]:
        """Many documents at once (``tokenizers`` runs them in parallel)."""
        out = []
        for e in self._tok.encode_batch(texts, add_special_tokens=False):
            ids = e.ids
            if eot:
                ids.append(self.eot)
            out.append(ids)
        return out

    def decode(self, ids: Iterable[int]) -> str:
        return str(self._tok.decode([int(i) for i in ids if int(i) != self.eot]))


def train_manifest_tokenizer(
    client: Any,
    manifest: str,
    settings: BPESettings,
    *,
    store: str,
    show_progress: bool = False,
) -> tuple[Any, bool]:
    """Train a BPE on a manifest's verified records, store the file, register it.

    ``client`` is a ``trainer.client.LocalRegistry`` (registration writes the database).
    Returns (the registered ``TokenizerOut``, whether it was new): the same manifest and settings
    give the same bytes, so training again registers nothing new.

    Raises:
        NotFound: an unknown manifest. TrainerError: a shard failed verification (nothing is
            stored or registered).
    """
    from registry.tokenizers import put_tokenizer_file

    info = client.manifest(manifest)
    ids = client.shard_ids(info.hash)
    records = manifest_records(client.shard_source(info.hash), ids)
    data = train_bpe(records, settings, length=info.total_records, show_progress=show_progress)
    tok = BPETokenizer(data)
    tokenizer_id, uri = put_tokenizer_file(store, data)
    return client.register_tokenizer(
        tokenizer_id=tokenizer_id,
        kind=KIND,
        vocab_size=tok.vocab_size,
        manifest_ref=info.hash,
        settings=settings.to_dict(),
        store_uri=uri,
        size=len(data),
    )
