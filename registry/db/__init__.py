"""The database: typed ORM models, column types, engine and transactions, migrations wiring,
keyset paging, hash-prefix lookup, chunked ``IN`` queries, and inserts that skip a key a
concurrent writer took first (``upsert``)."""
