"""Signed, offline-verifiable statements: keys, attestations, checkpoints (docs/attestations.md).

* ``keys``: ECDSA P-256 keys; create (private key 0600 outside the database), register, list,
  load (loose permissions refused); the key id is the SHA-256 of the DER SubjectPublicKeyInfo.
* ``dsse``: DSSE envelopes via ``securesystemslib``, serialised one way (their digest is stable).
* ``statements``: the in-toto Statements (a manifest's provreg predicate, SLSA provenance v1 for
  weights, a disclosure's detached signature) and the checkpoint payload, from plain values.
* ``records``: signing and storing them when a key is configured, and reading them back.
* ``verify``: offline verification, one failure mode per check (``verify.MODES``).
* ``checkpoints``: signed audit checkpoints and proving the chain extends one.
* ``oms``: OpenSSF Model Signing through ``model-signing``, with the same key.
"""
