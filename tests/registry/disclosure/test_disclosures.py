"""Disclosures: facts, every format, validation by the standards' own libraries, publishing."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine

from registry import disclosure
from registry.db.models import SOURCE_KINDS
from registry.disclosure.facts import NOT_PROVIDED
from registry.errors import InvalidInput, NotFound
from tests.conftest import Cli, snapshot
from tests.registry.disclosure import disclosure_corpus as dc

FORMATS = list(disclosure.FORMATS)
EU_IDS = [
    "1",
    "1.1",
    "1.2",
    "1.3",
    "2",
    "2.1",
    "2.2",
    "2.2.1",
    "2.2.2",
    "2.3",
    "2.4",
    "2.5",
    "2.6",
    "3",
    "3.1",
    "3.2",
    "3.3",
]


@pytest.fixture
def corpus(session_factory, tmp_path: Path) -> dc.Corpus:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        c = dc.build(s, tmp_path / "store")
        dc.add_run(s, c)
    return c


def _facts(session_factory, ref: str, **kw: bool) -> disclosure.DisclosureFacts:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        return disclosure.build_facts(s, ref, **kw)


def test_facts_are_derived_from_the_registry(session_factory, corpus) -> None:  # type: ignore[no-untyped-def]
    f = _facts(session_factory, corpus.manifest[:12])
    assert f.subject_kind == "manifest" and f.subject == corpus.manifest
    assert f.totals.shards == len(corpus.shard_ids) == 9
    assert f.totals.tokens == sum(corpus.tokens.values())
    assert f.totals.records == 34
    assert {s.key for s in f.by_kind} == set(SOURCE_KINDS)
    assert sum(s.tokens for s in f.by_kind) == f.totals.tokens
    assert abs(sum(s.token_share for s in f.by_kind) - 1) < 1e-5
    family = {s.name: s.licence_family for s in f.sources}
    assert family["wiki"] == "permissive"  # CC-BY-SA-4.0 OR MIT: the most permissive branch
    assert family["internal"] == "proprietary"  # LicenseRef-proprietary AND MIT: both apply
    assert family["forum"] == "public-domain"
    news = corpus.tokens["crawl-news"]
    blogs = corpus.tokens["crawl-blogs"]
    assert [(d.domain, d.tokens) for d in f.crawl.top_domains] == sorted(
        [("news.example.com", news), ("blogs.example.net", blogs)], key=lambda x: -x[1]
    )
    assert f.handling.tdm_checked == 2 and f.handling.pii_sources == 1
    assert f.handling.pii_measures == ("e-mail addresses and phone numbers removed",)
    # With the ledger module (registry.ledger.public_aggregate): Carol has a ledger entry, Dan
    # has none; without it, both contributors of paying sources count.
    ledger = f.compensation.basis.startswith("contributors with ledger entries")
    assert f.compensation.contributors_compensated == (1 if ledger else 2)
    assert {m.model: m.sources for m in f.compensation.models} == {
        "none": 3,
        "no terms recorded": 1,
        "per-mtok": 1,
        "flat": 1,
        "pool": 1,
    }
    assert f.merkle[0].leaves == 9 and f.as_of == "2026-03-01T12:00:00Z"
    assert [m.hash for m in f.lineage] == [corpus.manifest]
    assert "provreg manifest prove" in f.verification[1]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_deterministically_and_leaks_nothing(
    session_factory, corpus, fmt: str
) -> None:  # type: ignore[no-untyped-def]
    for subject in (corpus.manifest, corpus.run):
        f = _facts(session_factory, subject, with_shards=True)
        content = disclosure.render(f, fmt)
        assert content == disclosure.render(_facts(session_factory, subject, with_shards=True), fmt)
        text = content.decode("utf-8")
        for secret in (*dc.SECRETS, "Carol Secret", "/private/weights"):
            assert secret not in text, f"{secret!r} leaked into {fmt}"
        if fmt.endswith("html") or fmt == "html":
            assert "http://" not in text.replace("http-equiv", "")
            assert "<script" not in text and "src=" not in text
        else:
            json.loads(text)


def test_html_page_shows_key_figures_and_charts(session_factory, corpus) -> None:  # type: ignore[no-untyped-def]
    f = _facts(session_factory, corpus.manifest)
    text = disclosure.render(
        f, "html", disclosure.DisclosureInputs(model="Demo <b>LM</b>")
    ).decode()
    assert f"{f.totals.tokens:,}" in text and "Demo &lt;b&gt;LM&lt;/b&gt;" in text
    assert text.count("<svg") == 3 and "news.example.com" in text
    assert f.merkle[0].root in text and "hashlib.sha256" in text


def test_eu_summary_has_every_section_and_marks_what_is_not_provided(
    session_factory, corpus
) -> None:  # type: ignore[no-untyped-def]
    f = _facts(session_factory, corpus.run)
    data = json.loads(disclosure.render(f, "eu-summary"))
    ids, fields = [], {}

    def walk(node: dict) -> None:  # type: ignore[type-arg]
        ids.append(node["id"])
        for fld in node.get("fields", ()):
            fields[(node["id"], fld["label"])] = fld
        for child in node.get("subsections", ()):
            walk(child)

    for section in data["sections"]:
        walk(section)
    assert ids == EU_IDS
    assert fields[("1.1", "Provider name")] == {
        "label": "Provider name",
        "value": NOT_PROVIDED,
        "source": "not-provided",
    }
    assert fields[("3.2", "Measures")]["value"] == NOT_PROVIDED
    assert fields[("2.3", "Crawlers used")]["value"] == "Yes"
    domains = fields[("2.3", "Most relevant domain names (by share of crawled tokens)")]["value"]
    assert {d["domain"] for d in domains} == {"news.example.com", "blogs.example.net"}
    assert [x["name"] for x in fields[("2.2.1", "Datasets")]["value"]] == ["books"]
    assert any(
        "weights sha256" in v
        for v in fields[("1.2", "Training data identifiers (provreg)")]["value"]
    )
    stated = disclosure.DisclosureInputs(provider="ACME AI", illegal_content_measures="hash lists")
    again = json.loads(disclosure.render(f, "eu-summary", stated))
    provider = again["sections"][0]["subsections"][0]["fields"][0]
    assert provider == {"label": "Provider name", "value": "ACME AI", "source": "input"}
    html = disclosure.render(f, "eu-summary-html").decode()
    for title in (
        "1.1. Provider identification",
        "2.2.2. Private datasets",
        "3.1. Respect of reservation",
    ):
        assert title in html
    assert html.count(NOT_PROVIDED) >= 10


def test_croissant_validates_and_reads_the_local_shards(session_factory, corpus) -> None:  # type: ignore[no-untyped-def]
    mlc = pytest.importorskip("mlcroissant")
    f = _facts(session_factory, corpus.manifest, with_shards=True)
    doc = json.loads(disclosure.render(f, "croissant"))
    files = [d for d in doc["distribution"] if d["@type"] == "cr:FileObject"]
    assert sorted(x["sha256"] for x in files) == corpus.shard_ids
    assert doc["conformsTo"] == "http://mlcommons.org/croissant/1.0"
    assert "https://spdx.org/licenses/CC-BY-SA-4.0.html" in doc["license"]
    path = corpus.store / "croissant.json"  # the document sits at the store's root
    path.write_bytes(disclosure.render(f, "croissant"))
    dataset = mlc.Dataset(jsonld=str(path))
    warnings = dataset.metadata.ctx.issues.warnings
    assert all("version" in w for w in warnings), warnings  # explained in the module docstring
    records = list(dataset.records("records"))
    assert len(records) == f.totals.records
    assert {r["records/id"].decode() for r in records} >= {"wiki-0-0", "books-0-5"}
    with_url = json.loads(
        disclosure.render(
            f, "croissant", disclosure.DisclosureInputs(content_base_url="https://d.example/store/")
        )
    )
    assert with_url["distribution"][0]["contentUrl"].startswith("https://d.example/store/sha256/")


def test_spdx_loads_in_the_spdx_3_model(session_factory, corpus) -> None:  # type: ignore[no-untyped-def]
    spdx = pytest.importorskip("spdx_python_model").v3_0_1
    f = _facts(session_factory, corpus.run)
    content = disclosure.render(
        f, "spdx", disclosure.DisclosureInputs(dataset_availability="query")
    )
    objects = spdx.SHACLObjectSet()
    spdx.JSONLDDeserializer().read(io.BytesIO(content), objects)
    assert objects.link() == set()  # every reference resolves
    spdx.JSONLDSerializer().write(objects, io.BytesIO())  # checks required properties
    (pkg,) = objects.foreach_type(spdx.dataset_DatasetPackage)
    assert pkg.dataset_datasetSize == f.totals.bytes
    assert pkg.dataset_hasSensitivePersonalInformation.endswith("/yes")
    assert pkg.dataset_datasetAvailability.endswith("/query")
    assert pkg.verifiedUsing[0].hashValue == corpus.manifest
    rels = {r.relationshipType.rsplit("/", 1)[1] for r in objects.foreach_type(spdx.Relationship)}
    assert rels == {"hasDeclaredLicense", "hasConcludedLicense", "trainedOn"}
    (expr,) = objects.foreach_type(spdx.simplelicensing_LicenseExpression)
    assert "(CC-BY-SA-4.0 OR MIT)" in expr.simplelicensing_licenseExpression
    bad = content.replace(b'"text"', b'"textish"')
    with pytest.raises(Exception, match="textish"):
        spdx.JSONLDDeserializer().read(io.BytesIO(bad), spdx.SHACLObjectSet())


def test_publishing_is_idempotent_and_content_addressed(session_factory, corpus) -> None:  # type: ignore[no-untyped-def]
    import hashlib

    with session_factory() as s:
        a = disclosure.publish(s, corpus.manifest, "html")
    with session_factory() as s:
        b = disclosure.publish(s, corpus.manifest[:10], "html")
        c = disclosure.publish(s, corpus.manifest, "json")
    assert a.hash == b.hash == hashlib.sha256(a.content).hexdigest()
    with session_factory() as s:
        listed = disclosure.list_published(s)
        assert sorted(d.hash for d in listed) == sorted({a.hash, c.hash})
        assert disclosure.get_published(s, c.hash).content == c.content
        assert disclosure.published_sibling(s, a, "json") == disclosure.get_published(s, c.hash)


def test_bad_requests_change_nothing(
    session_factory, corpus, engine: Engine, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(engine)
    cases = [
        ((corpus.manifest, "pdf"), InvalidInput, "unknown disclosure format"),
        (("0" * 12, "json"), NotFound, "unknown manifest"),
        ((str(tmp_path / "missing.safetensors"), "json"), NotFound, "no weights file"),
    ]
    for (subject, fmt), exc, message in cases:
        with pytest.raises(exc, match=message), session_factory() as s:
            disclosure.publish(s, subject, fmt)
    assert snapshot(engine) == before


def test_weights_file_subject_checks_the_stamp_both_ways(session_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    weights = tmp_path / "model.safetensors"
    with session_factory() as s:
        c = dc.build(s, tmp_path / "store")
        dc.add_run(s, c, weights)
    f = _facts(session_factory, str(weights))
    assert (f.subject_kind, f.subject) == ("weights", c.weights)
    assert [r.id for r in f.runs] == [c.run] and [w.sha256 for w in f.weights] == [c.weights]
    assert f.as_of == "2026-03-03T01:00:00Z"
    other = tmp_path / "copy.safetensors"
    other.write_bytes(weights.read_bytes() + b" ")
    with pytest.raises(Exception, match=r"not a readable|not registered"), session_factory() as s:
        disclosure.build_facts(s, str(other))


def test_cli_disclose_writes_and_publishes(cli: Cli, corpus, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "d.json"
    result = cli("disclose", corpus.manifest[:12], "--format", "json", "--out", str(out))
    assert json.loads(out.read_text())["schema"] == "provreg.disclosure/1"
    assert result.stdout.splitlines()[0] == str(out)
    published = json.loads(
        cli(
            "disclose",
            corpus.manifest,
            "--format",
            "eu-summary",
            "--provider",
            "ACME",
            "--publish",
            "--json",
        ).stdout
    )
    again = json.loads(
        cli(
            "disclose",
            corpus.manifest,
            "--format",
            "eu-summary",
            "--provider",
            "ACME",
            "--publish",
            "--json",
        ).stdout
    )
    assert published["hash"] == again["hash"] and published["published"]
    bad = cli("disclose", corpus.manifest, "--format", "docx", ok=False)
    assert bad.exit_code == 1 and "unknown disclosure format" in bad.stderr
