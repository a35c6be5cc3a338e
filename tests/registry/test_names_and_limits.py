"""The one name rule (registry/names.py) and the input limits (registry/limits.py), through the
services, on SQLite and PostgreSQL alike (issue 19, defects 6 and 10)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, String

from registry import auth, limits
from registry.catalogue import contributors, sources
from registry.db import models
from registry.entities.catalogue import SourceIn
from registry.errors import Conflict, InvalidInput, NotFound
from registry.names import lookup_key, normalise_name
from registry.shards.datasets import create_dataset
from tests.conftest import snapshot

NFC, NFD = "caf\u00e9", "cafe\u0301"


def test_the_limits_are_the_column_sizes() -> None:
    columns = {
        limits.NAME: [
            models.Contributor.name,
            models.Source.name,
            models.Dataset.name,
            models.Manifest.name,
            models.ApiToken.name,
        ],
        limits.CONTACT: [models.Contributor.contact],
        limits.PAYOUT_REF: [models.Contributor.payout_ref],
        limits.URI: [models.Source.uri],
        limits.LICENCE: [models.Source.licence_expression],
        limits.JURISDICTION: [models.Source.jurisdiction],
        limits.PATH: [models.TrainingRun.checkpoint_path],
        limits.LABEL: [models.TrainingRun.tokenizer, models.TrainingRun.code_version],
    }
    for size, cols in columns.items():
        for col in cols:
            assert isinstance(col.type, String) and col.type.length == size, col


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        (NFD, NFC),
        ("  alice  ", "alice"),
        ("a b?c#d%e+f", "a b?c#d%e+f"),
        ("\u0915\u094d\u200d", None),
    ],
)
def test_names_are_nfc_and_stripped(raw: str, stored: str | None) -> None:
    expected = stored if stored is not None else unicodedata.normalize("NFC", raw)
    assert normalise_name(raw, "name") == expected
    assert lookup_key(raw) == expected


BAD_NAMES = [
    ("", "is empty"),
    ("   ", "is empty"),
    ("x" * 201, "is 201 characters long; the limit is 200"),
    ("nul\x00byte", "holds a NUL character at character 4"),
    ("tab\there", "control character U+0009 at character 4"),
    ("line\u2028sep", "control character U+2028"),
    ("rtl\u202eoverride", "control character U+202E"),
    ("zero\u200bwidth", "control character U+200B"),
    ("lone\ud800", "lone surrogate (U+D800)"),
    ("a/b", "holds a slash; a name must be one segment of a URL path"),
    ("a\\b", "holds a backslash"),
    ("..", "an empty, '.' or '..' segment"),
    (".", "an empty, '.' or '..' segment"),
]


@pytest.mark.parametrize(("raw", "message"), BAD_NAMES)
def test_a_bad_name_is_one_clear_error(raw: str, message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        normalise_name(raw, "contributor name")
    assert message in err.value.detail and err.value.detail.startswith("contributor name")
    assert "\n" not in err.value.detail
    assert lookup_key(raw) is None


def test_dataset_names_may_hold_slashes_between_segments() -> None:
    assert normalise_name("org/web", "dataset name", slash=True) == "org/web"
    for bad in ("org//web", "org/../web", "/web", "web/"):
        with pytest.raises(InvalidInput, match="segment"):
            normalise_name(bad, "dataset name", slash=True)


def test_nfc_and_nfd_cafe_are_one_contributor(
    session_factory: Callable[..., Any], engine: Engine
) -> None:
    """Defect 10: the two spellings were two contributors that look the same."""
    with session_factory() as s:
        made = contributors.add_contributor(s, name=NFD)
    assert made.name == NFC
    before = snapshot(engine)
    with pytest.raises(Conflict, match="already exists"), session_factory() as s:
        contributors.add_contributor(s, name=NFC)
    with session_factory() as s:
        assert contributors.get_contributor(s, NFD).id == made.id
        assert contributors.get_contributor(s, NFC).id == made.id
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    "call",
    [
        lambda s: contributors.add_contributor(s, name="nul\x00"),
        lambda s: contributors.add_contributor(s, name="x" * 100_000),
        lambda s: contributors.add_contributor(s, name="ok", contact="c" * 301),
        lambda s: contributors.add_contributor(s, name="ok", payout_ref="p" * 201),
        lambda s: contributors.add_contributor(s, name="a/b"),
        lambda s: auth.create_token(s, name="bell\x07", role="reader"),
        lambda s: auth.create_token(s, name="a/b", role="reader"),
        lambda s: create_dataset(s, "web", description="d" * (limits.LONG_TEXT + 1)),
        lambda s: create_dataset(s, "web/../x"),
    ],
    ids=[
        "nul",
        "long-name",
        "long-contact",
        "long-payout",
        "slash",
        "token-control",
        "token-slash",
        "long-description",
        "dot-segment",
    ],
)
def test_every_limit_is_checked_in_the_service_on_both_databases(
    session_factory: Callable[..., Any], engine: Engine, call: Callable[[Any], Any]
) -> None:
    """Defect 6 and 10: SQLite stored a 100,000-character name and a NUL, PostgreSQL refused
    them with a traceback; now both refuse with the same InvalidInput before any write."""
    before = snapshot(engine)
    with pytest.raises(InvalidInput), session_factory() as s:
        call(s)
    assert snapshot(engine) == before


def _source(**kw: Any) -> SourceIn:
    base: dict[str, Any] = {"name": "s", "uri": "https://x", "kind": "web-crawl", "licence": "MIT"}
    return SourceIn.model_construct(**(base | kw))  # unvalidated: the service must check


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"uri": ""}, "source URI is empty"),
        ({"uri": "u" * 2001}, "source URI is 2,001 characters long; the limit is 2,000"),
        ({"name": "n" * 201}, "source name is 201 characters long"),
        ({"licence": "MIT OR " * 200 + "MIT"}, "licence expression is 1,403 characters long"),
        ({"jurisdiction": "j" * 101}, "jurisdiction is 101 characters long; the limit is 100"),
        ({"description": "d" * 10_001}, "source description is 10,001 characters long"),
        ({"uri": "nul\x00"}, "source URI holds a NUL character"),
        ({"name": "a/b"}, "a name must be one segment of a URL path"),
    ],
)
def test_source_fields_are_checked_by_the_service(
    session_factory: Callable[..., Any], engine: Engine, fields: dict[str, Any], message: str
) -> None:
    before = snapshot(engine)
    with pytest.raises(InvalidInput) as err, session_factory() as s:
        sources.add_source(s, _source(**fields))
    assert message in err.value.detail
    assert snapshot(engine) == before


def test_a_name_that_cannot_be_one_is_not_found_on_both_databases(
    session_factory: Callable[..., Any],
) -> None:
    """PostgreSQL raised on a NUL in a lookup, SQLite answered 'not found'."""
    with session_factory() as s:
        for lookup in (contributors.get_contributor, sources.get_source):
            with pytest.raises(NotFound):
                lookup(s, "nul\x00")
        with pytest.raises(NotFound):
            auth.revoke_token(s, "nul\x00")


def test_check_count_and_text() -> None:
    assert limits.check_count(0, "n") == 0
    for bad, message in [
        (True, "whole number"),
        (1.0, "whole number"),
        (-1, "0 or more"),
        (2**53, "the limit is 9,007,199,254,740,991"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            limits.check_count(bad, "n")
    assert limits.check_text("ok", "t", 2) == "ok"
    with pytest.raises(InvalidInput, match="must be text"):
        limits.check_text(3, "t", 2)  # type: ignore[arg-type]
