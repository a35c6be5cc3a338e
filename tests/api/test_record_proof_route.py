"""``GET /manifests/{hash}/records/proof``: public, for published manifests only, over a real
server and HTTP client; proofs checked by the independent RFC 6962 code of the test corpus."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import Engine

from registry import disclosure, manifests
from registry.db.engine import transaction
from registry.entities.manifests import ManifestIn
from registry.shards.store import ShardStore
from tests.conftest import snapshot
from tests.registry import record_proof_corpus as rc


def _world(engine: Engine, store_dir: Path, tmp_path: Path) -> tuple[rc.Corpus, str]:
    """The corpus's manifest, published; and an unpublished manifest of one of its shards."""
    store = ShardStore(store_dir)
    with transaction(engine, actor="test") as s:
        corpus = rc.build(s, store, tmp_path / "in")
        disclosure.publish(s, corpus.manifest, "json")
        hidden = manifests.create_manifest(
            s,
            ManifestIn(name="hidden", intended_use="research", shards=[corpus.shards[0]]),
            store=store,
        )
    return corpus, hidden.hash


def test_published_unpublished_unknown_and_absent(
    engine: Engine, store_dir: Path, tmp_path: Path, client: httpx.Client
) -> None:
    corpus, hidden = _world(engine, store_dir, tmp_path)
    shard = next(
        s for s in corpus.shards if corpus.urls[s][0] is not None and len(corpus.urls[s]) > 1
    )
    url = corpus.urls[shard][-1]
    got = client.get(f"/manifests/{corpus.manifest}/records/proof", params={"url": url})
    assert got.status_code == 200, got.text
    proof = got.json()
    assert (proof["url"], proof["shard"]) == (url, shard)
    assert rc.independent_verify(proof, corpus.document)
    by_id = client.get(
        f"/manifests/{corpus.manifest}/records/proof", params={"record": corpus.records[shard][0]}
    )
    assert by_id.status_code == 200 and rc.independent_verify(by_id.json(), corpus.document)

    before = snapshot(engine)
    absent = client.get(
        f"/manifests/{corpus.manifest}/records/proof", params={"url": "https://forum.example/none"}
    )
    assert absent.status_code == 404
    assert absent.json()["detail"] == "not in this manifest"
    assert set(absent.json()) <= {"type", "title", "status", "detail", "field", "instance"}
    assert not any(s in absent.text for s in corpus.shards)

    unpublished = client.get(f"/manifests/{hidden}/records/proof", params={"url": url})
    unknown = client.get(f"/manifests/{'ab' * 32}/records/proof", params={"url": url})
    assert unpublished.status_code == unknown.status_code == 404
    strip = {"detail", "instance"}
    assert {k: v for k, v in unpublished.json().items() if k not in strip} == {
        k: v for k, v in unknown.json().items() if k not in strip
    }
    assert unpublished.json()["detail"].replace(hidden, "X") == unknown.json()["detail"].replace(
        "ab" * 32, "X"
    )
    assert snapshot(engine) == before
