"""W3C TDMRep: the spec's own examples, its processing priority, and protocol errors."""

from __future__ import annotations

import json

import pytest

from registry.signals import tdmrep

# TDMRep final report, section "TDM File on the Origin Server", examples 1 and 2
EXAMPLE_1 = b'[\n  {\n  "location": "/",\n  "tdm-reservation": 1\n  }\n]'
EXAMPLE_2 = json.dumps(
    [
        {"location": "/directory-a/", "tdm-reservation": 1},
        {
            "location": "/directory-b/html/",
            "tdm-reservation": 1,
            "tdm-policy": "https://provider.com/policies/policy.json",
        },
        {"location": "/directory-b/images/*.jpg", "tdm-reservation": 0},
    ]
).encode()
# section "TDM Metadata in HTML Content"
HTML_EXAMPLE = b"""<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="tdm-reservation" content="1">
    <meta name="tdm-policy" content="https://provider.com/policies/policy.json">
    <title>Document title</title>
  </head>
  <body></body>
</html>"""


def test_example_1_reserves_everything() -> None:
    f = tdmrep.parse_file(EXAMPLE_1)
    assert f.errors == []
    assert f.lookup("/anything/at/all")[0].reservation == 1


@pytest.mark.parametrize(
    ("path", "reservation", "policy"),
    [
        ("/directory-a/report.pdf", 1, None),
        ("/directory-b/html/page.html", 1, "https://provider.com/policies/policy.json"),
        ("/directory-b/images/photo.jpg", 0, None),
        ("/directory-b/images/photo.png", None, None),  # no match: unset
        ("/elsewhere", None, None),
    ],
)
def test_example_2_locations(path: str, reservation: int | None, policy: str | None) -> None:
    value, _ = tdmrep.parse_file(EXAMPLE_2).lookup(path)
    assert (value.reservation, value.policy) == (reservation, policy)


def test_the_first_match_in_sequence_decides() -> None:
    f = tdmrep.parse_file(
        b'[{"location": "/a/*", "tdm-reservation": 0}, {"location": "/", "tdm-reservation": 1}]'
    )
    assert f.lookup("/a/x")[0].reservation == 0
    assert f.lookup("/b")[0].reservation == 1


def test_other_values_are_protocol_errors_read_as_unset() -> None:
    f = tdmrep.parse_file(
        b'[{"location": "/a/", "tdm-reservation": 2}, {"location": "/b/", "tdm-reservation": true},'
        b' {"tdm-reservation": 1}, {"location": "/c/", "tdm-reservation": 1}]'
    )
    assert len(f.errors) == 3
    assert f.lookup("/a/x")[0].reservation is None
    assert f.lookup("/b/x")[0].reservation is None
    assert f.lookup("/c/x")[0].reservation == 1


@pytest.mark.parametrize("data", [b"not json", b'{"location": "/"}', b"\xff\xfe"])
def test_a_file_that_is_not_an_array_has_no_rules(data: bytes) -> None:
    f = tdmrep.parse_file(data)
    assert f.rules == [] and f.errors


def test_html_meta_example() -> None:
    value = tdmrep.from_html(HTML_EXAMPLE)
    assert (value.reservation, value.policy) == (1, "https://provider.com/policies/policy.json")
    assert tdmrep.from_html(b"<html><head><title>x</title></head></html>").reservation is None


def test_headers() -> None:
    assert tdmrep.from_headers({"tdm-reservation": "1"}).reservation == 1
    assert tdmrep.from_headers({"tdm-reservation": "yes"}).reservation is None


def test_priority_file_then_header_then_html_and_absence_never_resets() -> None:
    file, header, html = tdmrep.TdmValue(1), tdmrep.TdmValue(0), tdmrep.TdmValue(1, "p")
    unset = tdmrep.TdmValue(None)
    assert tdmrep.resolve(file, header, unset) == (header, 1)  # a header supersedes the file
    assert tdmrep.resolve(file, header, html) == (html, 2)  # HTML meta supersedes both
    assert tdmrep.resolve(file, unset, unset) == (file, 0)  # absent values reset nothing
    assert tdmrep.resolve(unset, unset, unset) == (unset, None)
