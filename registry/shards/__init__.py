"""Shards: the content-addressed store, the canonical format, readers, ingest, registration,
uploads, verification, datasets and token counting."""
