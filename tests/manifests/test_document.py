"""Tests for manifests.document: the provreg.manifest/1 document."""

import copy
import dataclasses
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from manifests.canonical import canonical_json
from manifests.document import (
    SCHEMA,
    ManifestDocument,
    ManifestLicence,
    ManifestSource,
    Waiver,
    format_timestamp,
    merkle_commitment,
)
from manifests.errors import DocumentError
from manifests.merkle import EMPTY_ROOT, MerkleTree, verify_inclusion_against_document

IDS = sorted(hashlib.sha256(bytes([i])).hexdigest() for i in range(5))
ROOT = MerkleTree(IDS).root


def make_document(**changes: Any) -> ManifestDocument:
    fields: dict[str, Any] = {
        "name": "demo-mix",
        "created_at": "2025-03-04T05:06:07Z",
        "intended_use": "research",
        "parent": None,
        "merkle_root": ROOT,
        "shard_count": 5,
        "total_bytes": 1500,
        "total_records": 30,
        "total_tokens": 9000,
        # Given out of order on purpose: the document sorts them.
        "licences": (
            ManifestLicence("MIT", ("attribution",)),
            ManifestLicence("CC-BY-SA-4.0", ("share-alike", "attribution")),
        ),
        "sources": (
            ManifestSource(
                "wiki", "web", "CC-BY-SA-4.0", 3, 1000, 20, 6000, ("share-alike", "attribution")
            ),
            ManifestSource("code", "code", "MIT", 2, 500, 10, 3000, ("attribution",)),
        ),
        "waivers": (Waiver("wiki", "licence confirmed by counsel"),),
    }
    fields.update(changes)
    return ManifestDocument(**fields)


EXPECTED_DICT: dict[str, Any] = {
    "schema": "provreg.manifest/1",
    "name": "demo-mix",
    "created_at": "2025-03-04T05:06:07Z",
    "intended_use": "research",
    "parent": None,
    "merkle": {"algorithm": "rfc6962-sha256", "root": ROOT, "leaves": 5},
    "totals": {"shards": 5, "bytes": 1500, "records": 30, "tokens": 9000},
    "licences": [
        {"expression": "CC-BY-SA-4.0", "obligations": ["attribution", "share-alike"]},
        {"expression": "MIT", "obligations": ["attribution"]},
    ],
    "sources": [
        {
            "name": "code",
            "kind": "code",
            "licence": "MIT",
            "shards": 2,
            "bytes": 500,
            "records": 10,
            "tokens": 3000,
            "obligations": ["attribution"],
        },
        {
            "name": "wiki",
            "kind": "web",
            "licence": "CC-BY-SA-4.0",
            "shards": 3,
            "bytes": 1000,
            "records": 20,
            "tokens": 6000,
            "obligations": ["attribution", "share-alike"],
        },
    ],
    "waivers": [{"source": "wiki", "reason": "licence confirmed by counsel"}],
}


def test_to_dict_layout_and_sorting() -> None:
    assert make_document().to_dict() == EXPECTED_DICT


def test_round_trip() -> None:
    doc = make_document()
    data = json.loads(json.dumps(doc.to_dict()))
    parsed = ManifestDocument.from_dict(data)
    assert parsed == doc
    assert parsed.to_dict() == data
    assert parsed.hash == doc.hash


def test_hash_is_sha256_of_canonical_json() -> None:
    doc = make_document()
    assert doc.canonical_bytes() == canonical_json(EXPECTED_DICT)
    assert doc.hash == hashlib.sha256(doc.canonical_bytes()).hexdigest()
    assert doc.canonical_bytes().startswith(b'{"created_at":"2025-03-04T05:06:07Z","intended_use"')


KAT_HASH = "9f263c5a978f2211675dd7ad1735452b4d38f5e40fd64f0ea0dbb459103f5d04"


def test_known_answer_hash() -> None:
    doc = ManifestDocument(
        name="kat",
        created_at="2025-01-01T00:00:00Z",
        intended_use="education",
        parent=None,
        merkle_root=EMPTY_ROOT,
        shard_count=0,
        total_bytes=0,
        total_records=0,
        total_tokens=0,
    )
    expected_bytes = (
        b'{"created_at":"2025-01-01T00:00:00Z","intended_use":"education","licences":[],'
        b'"merkle":{"algorithm":"rfc6962-sha256","leaves":0,"root":"'
        + EMPTY_ROOT.encode()
        + b'"},"name":"kat","parent":null,"schema":"provreg.manifest/1","sources":[],'
        b'"totals":{"bytes":0,"records":0,"shards":0,"tokens":0},"waivers":[]}'
    )
    assert doc.canonical_bytes() == expected_bytes
    assert doc.hash == KAT_HASH


def test_construction_order_does_not_change_the_hash() -> None:
    a = make_document()
    b = make_document(
        licences=tuple(reversed(a.licences)),
        sources=tuple(reversed(a.sources)),
    )
    assert a == b
    assert a.hash == b.hash


def test_every_field_changes_the_hash() -> None:
    base = make_document()
    variants = [
        make_document(name="other"),
        make_document(created_at="2025-03-04T05:06:08Z"),
        make_document(intended_use="education"),
        make_document(parent="ab" * 32),
        make_document(waivers=()),
    ]
    assert len({base.hash, *(v.hash for v in variants)}) == len(variants) + 1


def test_verify_inclusion_against_a_real_document() -> None:
    doc = make_document().to_dict()
    tree = MerkleTree(IDS)
    for shard in IDS:
        assert verify_inclusion_against_document(tree.inclusion_proof(shard), shard, doc)
    assert merkle_commitment(doc) == (ROOT, 5)


def test_format_timestamp() -> None:
    moment = datetime(2025, 3, 4, 7, 6, 7, 999_999, tzinfo=timezone(timedelta(hours=2)))
    assert format_timestamp(moment) == "2025-03-04T05:06:07Z"
    assert format_timestamp(datetime(2025, 1, 2, tzinfo=UTC)) == "2025-01-02T00:00:00Z"
    with pytest.raises(DocumentError):
        format_timestamp(datetime(2025, 1, 2))


# --- strict parsing -------------------------------------------------------------------------


def mutated(path: list[Any], value: Any = ..., delete: bool = False) -> dict[str, Any]:
    data = copy.deepcopy(EXPECTED_DICT)
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    "field",
    [
        "schema",
        "name",
        "created_at",
        "intended_use",
        "parent",
        "merkle",
        "totals",
        "licences",
        "sources",
        "waivers",
    ],
)
def test_missing_top_level_field_is_named(field: str) -> None:
    with pytest.raises(DocumentError, match=repr(field)):
        ManifestDocument.from_dict(mutated([field], delete=True))


@pytest.mark.parametrize(
    ("path", "match"),
    [
        (["merkle", "root"], "'root'"),
        (["merkle", "leaves"], "'leaves'"),
        (["totals", "tokens"], "'tokens'"),
        (["sources", 0, "kind"], r"sources\[0\].*'kind'"),
        (["licences", 1, "obligations"], r"licences\[1\].*'obligations'"),
        (["waivers", 0, "reason"], r"waivers\[0\].*'reason'"),
    ],
)
def test_missing_nested_field_is_named(path: list[Any], match: str) -> None:
    with pytest.raises(DocumentError, match=match):
        ManifestDocument.from_dict(mutated(path, delete=True))


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        (["schema"], "provreg.manifest/3", "schema"),
        (["extra"], 1, "'extra'"),
        (["merkle", "extra"], 1, "'extra'"),
        (["name"], "", "name"),
        (["name"], 7, "name"),
        (["created_at"], "2025-03-04 05:06:07", "created_at"),
        (["created_at"], "2025-03-04T05:06:07+00:00", "created_at"),
        (["created_at"], "2025-02-30T05:06:07Z", "created_at"),
        (["intended_use"], "military", "intended_use"),
        (["parent"], "not-a-hash", "parent"),
        (["merkle", "algorithm"], "sha256", "algorithm"),
        (["merkle", "root"], ROOT.upper(), "root"),
        (["merkle", "leaves"], 6, "leaves|shards"),
        (["merkle", "leaves"], -1, "leaves"),
        (["totals", "shards"], 6, "shards"),
        (["totals", "bytes"], 1501, "bytes"),
        (["totals", "tokens"], 9000.0, "tokens"),
        (["totals", "records"], True, "records"),
        (["totals", "records"], 2**53, "records"),
        (["licences"], {}, "licences"),
        (["licences", 0, "expression"], "cc-by-sa-4.0", "normal form"),
        (["licences", 0, "expression"], "MIT OR", "malformed"),
        (["licences", 0, "obligations"], ["share-alike", "attribution"], "sorted"),
        (["licences", 0, "obligations"], ["attribution", "attribution"], "twice"),
        (["licences", 0, "obligations"], ["pay-royalties"], "pay-royalties"),
        (["sources", 0, "name"], "zzz", "sorted"),
        (["sources", 1, "name"], "code", "twice"),
        (["sources", 0, "licence"], "Apache-2.0", "Apache-2.0"),
        (["sources", 0, "shards"], "2", "shards"),
        (["waivers", 0, "source"], "nobody", "nobody"),
        (["waivers", 0, "reason"], " ", "reason"),
        (
            ["waivers"],
            [{"source": "wiki", "reason": "a"}, {"source": "wiki", "reason": "b"}],
            "twice",
        ),
    ],
)
def test_bad_values_are_rejected(path: list[Any], value: Any, match: str) -> None:
    with pytest.raises(DocumentError, match=match):
        ManifestDocument.from_dict(mutated(path, value))


def test_unsorted_lists_are_rejected_not_silently_reordered() -> None:
    data = copy.deepcopy(EXPECTED_DICT)
    data["sources"].reverse()
    with pytest.raises(DocumentError, match="sorted"):
        ManifestDocument.from_dict(data)


def test_from_dict_rejects_non_mapping() -> None:
    with pytest.raises(DocumentError):
        ManifestDocument.from_dict([])  # type: ignore[arg-type]


def test_empty_manifest_needs_the_empty_root() -> None:
    with pytest.raises(DocumentError, match="empty"):
        make_document(
            shard_count=0,
            total_bytes=0,
            total_records=0,
            total_tokens=0,
            sources=(),
            licences=(),
            waivers=(),
        )


def test_document_is_frozen() -> None:
    doc = make_document()
    with pytest.raises(dataclasses.FrozenInstanceError):
        doc.name = "changed"  # type: ignore[misc]


def test_schema_constant() -> None:
    assert SCHEMA == "provreg.manifest/1"
