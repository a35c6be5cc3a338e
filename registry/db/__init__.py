"""The database: typed ORM models, column types, engine and transactions, migrations wiring,
keyset paging, hash-prefix lookup and chunked ``IN`` queries."""
