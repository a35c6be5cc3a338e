"""Tests for manifests.canonical: RFC 8785 canonical JSON and hashing."""

import hashlib
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from manifests.canonical import canonical_json, digest, sha256_hex
from manifests.errors import CanonicalisationError, ManifestError

REPO_ROOT = Path(__file__).resolve().parents[2]

# A fixed document; its canonical bytes are written out by hand below.
KAT_DOCUMENT = {
    "zeta": [3, 2.50, 1.0, -0.0, True, None],
    "alpha": {"b": "é", "a": "tab\there", "A": 1e21},
    "Émile": 'quote" and \\ backslash',
    "10": 1e-7,
}
KAT_CANONICAL = (
    '{"10":1e-7,'
    '"alpha":{"A":1e+21,"a":"tab\\there","b":"\u00e9"},'
    '"zeta":[3,2.5,1,0,true,null],'
    '"\u00c9mile":"quote\\" and \\\\ backslash"}'
).encode()
KAT_SHA256 = "f3c7d2e09315071fc319527df52ae1545e8b18426242de578cde8b7993324659"


def test_known_answer_vector() -> None:
    assert canonical_json(KAT_DOCUMENT) == KAT_CANONICAL
    assert hashlib.sha256(KAT_CANONICAL).hexdigest() == KAT_SHA256
    assert digest(KAT_DOCUMENT) == KAT_SHA256


def test_sha256_hex() -> None:
    assert sha256_hex(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert sha256_hex(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_key_order_does_not_matter() -> None:
    a = {"b": 1, "a": {"y": [1, 2], "x": None}, "c": "z"}
    b = {"c": "z", "a": {"x": None, "y": [1, 2]}, "b": 1}
    assert canonical_json(a) == canonical_json(b) == b'{"a":{"x":null,"y":[1,2]},"b":1,"c":"z"}'
    assert digest(a) == digest(b)


def test_list_order_does_matter() -> None:
    assert digest([1, 2]) != digest([2, 1])


def test_rfc8785_key_sorting_example() -> None:
    """RFC 8785 §3.2.3: keys sort by UTF-16 code units, so U+1F600 sorts before U+FB33."""
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    expected = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    ).encode("utf-8")
    assert canonical_json(value) == expected
    # Code-point order would put U+FB33 first: the library must not do that.
    keys_in_output = list(json.loads(expected))
    assert keys_in_output.index("\U0001f600") < keys_in_output.index("\ufb33")
    assert sorted(value).index("\U0001f600") > sorted(value).index("\ufb33")


def test_rfc8785_section_3_2_2_example() -> None:
    text = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        ' "literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    ).encode("utf-8")
    assert canonical_json(json.loads(text)) == expected


# RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical text.
IEEE_VECTORS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "text"), IEEE_VECTORS)
def test_rfc8785_number_vectors(bits: str, text: str) -> None:
    (value,) = struct.unpack(">d", bytes.fromhex(bits))
    assert canonical_json(value) == text.encode()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (-1.0, "-1"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1.5e-7, "1.5e-7"),
        (0.1, "0.1"),
        (2**53 - 1, "9007199254740991"),
        (-(2**53) + 1, "-9007199254740991"),
        (True, "true"),
        (0, "0"),
    ],
)
def test_numbers(value: object, text: str) -> None:
    assert canonical_json(value) == text.encode()


@pytest.mark.parametrize(
    "bad",
    [
        float("nan"),
        float("inf"),
        float("-inf"),
        [1, float("nan")],
        {"a": {"b": float("inf")}},
        2**53,
        -(2**53),
        {1: "non-string key"},
        {"set": {1, 2}},
        b"bytes",
        "\ud800",  # lone surrogate
    ],
)
def test_rejects_values_json_cannot_carry(bad: object) -> None:
    with pytest.raises(CanonicalisationError):
        canonical_json(bad)
    with pytest.raises(ManifestError):
        digest(bad)


def test_canonicalisation_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        canonical_json(float("nan"))


def test_nested_structures() -> None:
    value = {"outer": [{"z": [], "a": {}}, [[["deep", {"k": 1.25}]]], ""]}
    assert canonical_json(value) == b'{"outer":[{"a":{},"z":[]},[[["deep",{"k":1.25}]]],""]}'
    assert canonical_json((1, (2, 3))) == b"[1,[2,3]]"


def test_canonical_bytes_are_valid_json_that_round_trips() -> None:
    value = {"s": "line\nbreak \u2028 \x01", "n": [1, 2.5, -3e-9], "u": "\u00fc\U0001f600"}
    out = canonical_json(value)
    assert json.loads(out) == value
    assert canonical_json(json.loads(out)) == out
    assert b"\\u0001" in out and "\u2028".encode() in out  # only controls are escaped


_SEED_SCRIPT = """
import json, sys
from manifests.canonical import digest
keys = [f"k{i}" for i in range(200)] + ["\\u00e9", "\\U0001f600", "\\ufb33"]
doc = {k: {"set-like": {str(j): j for j in range(i % 7)}} for i, k in enumerate(keys)}
print(digest(doc))
"""


def test_hash_does_not_depend_on_pythonhashseed() -> None:
    results = set()
    for seed in ("0", "1", "4242", "random"):
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(REPO_ROOT))
        out = subprocess.run(
            [sys.executable, "-c", _SEED_SCRIPT],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        results.add(out.stdout.strip())
    assert len(results) == 1
    (value,) = results
    assert len(value) == 64
