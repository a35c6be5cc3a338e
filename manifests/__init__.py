"""provreg manifests: the pure core (no database, no I/O).

* ``canonical``: RFC 8785 canonical JSON and SHA-256 digests.
* ``merkle``: RFC 6962 Merkle trees over shard ids, inclusion proofs, RFC 9162 verification.
* ``document``: the ``provreg.manifest/1`` document and its hash.
* ``policy``: SPDX licence expressions and the licence policy verdict.
* ``errors``: ``ManifestError`` and its subclasses.

See docs/manifest-format.md for the document format and how to verify a proof by hand.
"""
