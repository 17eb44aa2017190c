"""Fuzz: schemathesis generates requests from the app's own OpenAPI schema (valid and invalid ones); whatever it
sends, the service answers without a server error. Bounded: a few examples per operation."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

import fmsearch
from service.main import create_app
from service.settings import ServiceSettings

DOCS = [{"text": t, "k": i} for i, t in enumerate(["abc abd", "λόγος a", "x", "ab\x00ab", "的一是"])]


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    fmsearch.build_index(DOCS, root / "s0")
    fmsearch.build_index(DOCS[::-1], root / "s1")
    app = create_app(
        ServiceSettings(
            indexes={"string": [str(root / "s0"), str(root / "s1")]},
            max_query_bytes=32,
            max_document_bytes=64,
            max_concurrent_per_client=1000,
        )
    )
    with TestClient(app):  # runs the lifespan: the indexes are open while schemathesis calls the app
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


INDEX = "string"


def check(case) -> None:
    response = case.call()
    assert response.status_code < 500, (case.method, case.path, case.body, response.text)
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], response.text


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error(case):
    check(case)
    # Again aimed at the served index, so that generated queries, pages and ids reach the shards.
    aimed = False
    if isinstance(case.body, dict) and isinstance(case.body.get("index"), str):
        case.body["index"], aimed = INDEX, True
    if case.path_parameters and "index" in case.path_parameters:
        case.path_parameters["index"], aimed = INDEX, True
    if aimed:
        check(case)
