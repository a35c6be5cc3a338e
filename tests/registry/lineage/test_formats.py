"""The model card parses with ``huggingface_hub``; the SPDX 3.0 AI package of continued
training validates with spdx-python-model, ``trainedOn`` every manifest of its chain."""

from __future__ import annotations

import io
from pathlib import Path

from huggingface_hub import ModelCard

from registry import disclosure
from registry.lineage.model_card import model_card
from tests.conftest import Cli
from tests.registry.attest.conftest import Signed


def test_model_card_parses_with_huggingface_hub(signed: Signed, cli: Cli, tmp_path: Path) -> None:
    parent_run, _, parent_digest = signed.weights("parent")
    child_run, child_path, _ = signed.weights("child", parent=parent_run)
    with signed.tx() as s:
        published = disclosure.publish(s, str(child_path), "json")
    out = tmp_path / "README.md"
    cli("weights", "card", str(child_path), "--out", str(out), "--model", "tiny-child")
    card = ModelCard.load(out)  # a local path: no network
    data = card.data.to_dict()
    assert data["license"] == "mit"
    assert data["datasets"] == [
        f"provreg:manifest/{signed.manifest}",
        f"provreg:disclosure/{published.hash}",
    ]
    assert data["base_model"] == f"provreg:weight/{parent_digest}"
    assert data["base_model_relation"] == "finetune"
    assert signed.manifest in card.text and signed.merkle_root in card.text
    assert "provreg attest verify" in card.text and child_run in card.text
    with signed.tx() as s:
        first = model_card(s, parent_digest, registry_url="https://reg.example")
    assert "base_model" not in first.data.to_dict()
    assert first.data.datasets == [f"https://reg.example/manifests/{signed.manifest}"]


def test_spdx_ai_package_of_continued_training_validates(signed: Signed) -> None:
    import spdx_python_model

    spdx = spdx_python_model.v3_0_1
    from registry import manifests

    with signed.tx() as s:  # continued training on a second manifest (same shards, new name)
        later = manifests.create_manifest(
            s, manifests.ManifestIn(name="later", intended_use="research", datasets=["code"])
        ).hash
    parent_run, _, _ = signed.weights("parent")
    _, child_path, child_digest = signed.weights("child", parent=parent_run, on=later)
    with signed.tx() as s:
        facts = disclosure.build_facts(s, str(child_path))
    content = disclosure.render(facts, "spdx")
    objects = spdx.SHACLObjectSet()
    spdx.JSONLDDeserializer().read(io.BytesIO(content), objects)
    assert objects.link() == set()  # every trainedOn target is in the document
    spdx.JSONLDSerializer().write(objects, io.BytesIO())  # required properties present
    models = {m.verifiedUsing[0].hashValue: m for m in objects.foreach_type(spdx.ai_AIPackage)}
    assert child_digest in models
    datasets = {d._id for d in objects.foreach_type(spdx.dataset_DatasetPackage)}
    trained = [
        r
        for r in objects.foreach_type(spdx.Relationship)
        if r.relationshipType.endswith("/trainedOn")
    ]
    assert {r.from_._id for r in trained} == {m._id for m in models.values()}
    for r in trained:
        assert r.to and {t._id for t in r.to} <= datasets
    (child,) = [r for r in trained if r.from_._id == models[child_digest]._id]
    assert [t._id for t in child.to] == [
        f"urn:provreg:manifest:{signed.manifest}",
        f"urn:provreg:manifest:{later}",
    ]
