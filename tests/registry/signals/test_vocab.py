"""draft-ietf-aipref-vocab: its own examples, unknown labels, parse failures, older drafts."""

from __future__ import annotations

import pytest

from registry.signals.vocab import CURRENT, combine, parse_statement, vocabulary

V = vocabulary(CURRENT)


@pytest.mark.parametrize(
    ("text", "train_ai", "prefs"),
    [
        # section 6: "allow model training, disallow search"
        (b"train-ai=y, search=n", "allow", {"train-ai": "y", "search": "n"}),
        # 6.5.1: the last value applies, and a boolean or a string is no Token: all unknown
        (b'train-ai=y, train-ai, search=n, search="n"', "unknown", {}),
        # 6.5.2: parameters are disregarded; the last member wins
        (b"train-ai;allow=n, train-ai=y", "allow", {"train-ai": "y"}),
        (b"train-ai=n", "disallow", {"train-ai": "n"}),
        # unknown labels are ignored; tokens other than y/n leave the category unknown
        (b"future-use=n, train-ai=y", "allow", {"train-ai": "y"}),
        (b"train-ai=maybe, search=y", "unknown", {"search": "y"}),
        (b"", "unknown", {}),
    ],
)
def test_the_drafts_examples(text: bytes, train_ai: str, prefs: dict[str, str]) -> None:
    statement = parse_statement(text, V)
    assert statement.error is None
    assert statement.training(V) == train_ai
    assert statement.preferences == prefs


def test_the_parameters_example_is_unknown_either_way() -> None:
    # 6.5.2's last example ends in ";", which RFC 9651 parsing (http-sf) refuses; the draft
    # means "parameters, preference unknown". Both readings give unknown for train-ai.
    assert parse_statement(b'train-ai;has;parameters="?";', V).training(V) == "unknown"
    ok = parse_statement(b'train-ai;has;parameters="?"', V)
    assert ok.error is None and ok.training(V) == "unknown"


@pytest.mark.parametrize("text", [b"Train-AI=n", b"train-ai=n,,", b"train-ai=n;", b"=n", b"\x00"])
def test_a_parse_failure_states_no_preference(text: bytes) -> None:
    statement = parse_statement(text, V)
    assert statement.error
    assert statement.preferences == {}
    assert statement.training(V) == "unknown"


def test_older_drafts_read_their_own_labels() -> None:
    # -03 had "bots" (automated processing) above train-ai; -07 does not know it.
    v03 = vocabulary("draft-ietf-aipref-vocab-03")
    assert parse_statement(b"bots=n", v03).training(v03) == "disallow"
    assert parse_statement(b"bots=n", V).training(V) == "unknown"
    # the more specific label decides where both are stated
    assert parse_statement(b"bots=n, train-ai=y", v03).training(v03) == "allow"
    v02 = vocabulary("draft-ietf-aipref-vocab-02")
    assert parse_statement(b"train-genai=n, train-ai=y", v02).training(v02) == "disallow"


def test_combining_statements_is_most_restrictive() -> None:
    assert combine(["allow", "disallow", "unknown"]) == "disallow"
    assert combine(["unknown", "allow"]) == "allow"
    assert combine(["unknown"]) == combine([]) == "unknown"
