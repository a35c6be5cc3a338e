"""provreg's registry: the services that the CLI (``cli/``), the web API (``api/``) and the
trainer (``trainer/``) all call. It imports none of them.

One sub-package or module per concept (``docs/architecture.md`` is the full map):

- ``db``: typed ORM models, exact column types, engine and transactions, migrations wiring,
  keyset paging, hash-prefix lookup, chunked ``IN`` queries;
- ``catalogue``: licences, contributors, sources, and revoking a source;
- ``shards``: the content-addressed store, the canonical format, readers, ingest,
  registration, uploads, verification, datasets, token counting;
- ``manifests``: freezing, proving and checking training manifests (over the pure
  ``manifests`` package);
- ``runs``: a training run's lifecycle, consumption, and the weights it wrote;
- ``ledger``: settlement, pools, corrections, statements, exact allocation, money;
- ``disclosure``: what a public disclosure is about, its facts, publishing, its formats;
- ``auth``: API tokens and roles; ``audit``: the hash-chained audit log;
- ``entities``: every shape that leaves the registry (frozen pydantic models);
- ``errors``: the domain errors; ``config``: settings; ``faults``: crash points for tests.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("provreg")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
