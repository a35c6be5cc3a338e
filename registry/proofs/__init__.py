"""Record proofs: a record's place in a ``provreg.manifest/2`` manifest.

* ``record_roots``: each shard's record root (``manifests.records``), stored on the shard row at
  ingest or computed from the verified file when a ``/2`` manifest first needs it.
* ``records``: the two-level proof (record -> shard record root -> manifest root) for a record
  given by id or URL; ``manifests.records.verify_record_proof`` checks it with no database.
"""
