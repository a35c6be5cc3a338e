"""OpenLineage events for runs: valid against the spec's own JSON schemas (vendored beside this
file), every facet against the schema its ``_schemaURL`` names, received by a local HTTP
receiver on 127.0.0.1 and written to a file; none sent for a rolled-back transaction."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from registry import runs
from registry.config import get_settings
from registry.lineage.openlineage import FACET_SCHEMA_URL, JOB_NAME
from tests.registry.attest.conftest import Signed

SPEC = Path(__file__).parent / "openlineage_spec"
FACET_SCHEMA = Path(__file__).parents[3] / "registry" / "data" / "ProvregManifestDatasetFacet.json"


def _registry() -> Registry:
    resources = []
    for path in [*SPEC.glob("*.json"), FACET_SCHEMA]:
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


def validate(event: dict[str, Any]) -> None:
    """The event against RunEvent, then each facet against the schema it names."""
    registry = _registry()

    def check(instance: Any, ref: str) -> None:
        Draft202012Validator(
            {"$ref": ref}, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
        ).validate(instance)

    check(event, "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent")
    facets = list(event["run"].get("facets", {}).values())
    for ds in event["inputs"] + event["outputs"]:
        facets += list(ds.get("facets", {}).values())
    for facet in facets:
        check(facet, facet["_schemaURL"])  # an unknown schema URL fails: it is not vendored


class Receiver(BaseHTTPRequestHandler):
    events: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.events.append((self.path, json.loads(body)))  # type: ignore[attr-defined]
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[list[Any], Path]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.events = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    log = tmp_path / "events.jsonl"
    os.environ["PROVREG_OPENLINEAGE_URL"] = f"http://127.0.0.1:{server.server_port}"
    os.environ["PROVREG_OPENLINEAGE_FILE"] = str(log)
    get_settings.cache_clear()
    try:
        yield server.events, log  # type: ignore[attr-defined]
    finally:
        for name in ("PROVREG_OPENLINEAGE_URL", "PROVREG_OPENLINEAGE_FILE"):
            os.environ.pop(name, None)
        get_settings.cache_clear()
        server.shutdown()
        server.server_close()


def test_run_events_are_schema_valid_and_received(
    signed: Signed, receiver: tuple[list[Any], Path]
) -> None:
    received, log = receiver
    parent_run, _, parent_digest = signed.weights("parent")
    child_run, _, child_digest = signed.weights("child", parent=parent_run)
    with signed.tx() as s:
        failed = runs.open_run(
            s, manifest_ref=signed.manifest, config={"train": {"steps": 1, "batch_size": 1}, "model": {"block_size": 6}},
            seed=0, tokenizer="t", code_version="c",
        )  # fmt: skip
    with signed.tx() as s:
        runs.fail_run(s, failed.id, "out of memory")
    paths = {p for p, _ in received}
    events = [e for _, e in received]
    assert paths == {"/api/v1/lineage"}
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"] * 2 + ["START", "FAIL"]
    for e in events:
        validate(e)
        assert e["job"]["name"] == JOB_NAME
        (inp,) = e["inputs"]
        assert inp["name"] == signed.manifest
        facet = inp["facets"]["provreg_manifest"]
        assert facet["_schemaURL"] == FACET_SCHEMA_URL
        assert facet["merkleRoot"] == signed.merkle_root and facet["treeSize"] == 3
        assert facet["licences"] == ["MIT"] and facet["attestation"]
    complete = events[3]
    assert complete["run"]["runId"].replace("-", "") == child_run
    (out,) = complete["outputs"]
    assert out["facets"]["datasetType"]["datasetType"] == "MODEL"
    assert out["facets"]["datasetVersion"]["datasetVersion"] == child_digest
    assert complete["run"]["facets"]["parent"]["run"]["runId"].replace("-", "") == parent_run
    assert events[1]["outputs"][0]["facets"]["datasetVersion"]["datasetVersion"] == parent_digest
    assert "parent" not in events[1]["run"]["facets"]
    assert events[-1]["run"]["facets"]["errorMessage"]["message"] == "out of memory"
    written = [json.loads(line) for line in log.read_text().splitlines()]
    assert written == events  # the file transport got the same events


def test_a_rolled_back_run_sends_nothing(signed: Signed, receiver: tuple[list[Any], Path]) -> None:
    received, _ = receiver
    with pytest.raises(RuntimeError), signed.tx() as s:
        runs.open_run(
            s, manifest_ref=signed.manifest, config={"train": {"steps": 1, "batch_size": 1}, "model": {"block_size": 6}},
            seed=0, tokenizer="t", code_version="c",
        )  # fmt: skip
        raise RuntimeError("the caller gave up")
    assert received == []


def test_a_consumer_that_is_down_fails_no_run(signed: Signed, tmp_path: Path) -> None:
    os.environ["PROVREG_OPENLINEAGE_URL"] = "http://127.0.0.1:9"  # discard port: refused
    get_settings.cache_clear()
    try:
        run_id, _, _ = signed.weights("w")
    finally:
        os.environ.pop("PROVREG_OPENLINEAGE_URL")
        get_settings.cache_clear()
    with signed.tx() as s:
        assert runs.get_run(s, run_id).status == "completed"
