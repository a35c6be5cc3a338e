"""Shards: content-addressed files of text records, and the datasets that list them.

The flow, one module a step::

    readers -> format -> store -> registration -> datasets
    (input)    (bytes)   (file)   (row, link,      (NAME@VERSION)
                                   audit)

- ``readers``: files, globs, directories and ``datasets`` objects in, streams of Arrow text
  arrays out (JSONL, Parquet, CSV, text, ``save_to_disk``).
- ``format``: the canonical shard, Parquet with exactly ``id`` and ``text`` written byte for
  byte the same, so the same records give the same shard id (``docs/shard-format.md``).
- ``token_count``: tokens as the trainer's tokenizer counts them, registered with each shard.
- ``store``: the content-addressed files (``ShardStore``, local or any fsspec URL), staging,
  and the temporary files a killed process left.
- ``file_locks``: when a stored file may be placed or removed while other transactions use it.
- ``registration``: the one writer of shard rows and dataset links, and their audit entry.
- ``ingest``: readers -> format -> store -> registration in one transaction (``provreg
  ingest``), and canonical files registered as they are (``provreg shard register``).
- ``uploads``: bytes for a shard registered by id, streamed and checked against the id.
- ``datasets``: dataset versions, their totals and statistics.
- ``lookup``: one shard by id or unique prefix.
- ``verification``: the store re-hashed against the registry, and orphan files.
- ``resolve``: what the trainer asks of a manifest's shard, and where its bytes live.

Shapes in and out are in ``registry.entities.shards``. Nothing is re-exported here: import the
module that holds what you need.
"""
