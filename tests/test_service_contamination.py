"""POST /v1/contamination: the service calls contamination.scoring.score_texts and holds entries to its limits."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import fmsearch

scoring = pytest.importorskip("contamination.scoring", reason="package contamination is not there")

from service.main import create_app  # noqa: E402
from service.settings import ServiceSettings  # noqa: E402

LEAKED = "What is the capital of France? The capital of France is Paris, a city on the Seine river."
DOCS = [
    {"text": "some training text. " + LEAKED + " more text follows here.", "src": "web"},
    {"text": "unrelated prose about gardening, tomatoes and the weather in spring", "src": "blog"},
]
CLEAN = "Zebras quietly compute eigenvalues under violet moonlight near Xylophone Bay, 1789."


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("contam")
    fmsearch.build_index(DOCS[:1], root / "s0")
    fmsearch.build_index(DOCS[1:], root / "s1")
    settings = ServiceSettings(
        indexes={"web": [str(root / "s0"), str(root / "s1")]},
        max_contamination_entries=3,
        max_contamination_text_bytes=200,
        max_query_bytes=16,  # entries are longer than a query may be: they are not queries
    )
    app = create_app(settings)
    with TestClient(app) as c:
        yield c, app


def test_scores_equal_the_library(setup):
    client, app = setup
    r = client.post(
        "/v1/contamination", json={"index": "web", "entries": [{"id": "q1", "text": LEAKED}, {"text": CLEAN}]}
    )
    assert r.status_code == 200, r.text
    got = r.json()["scores"]
    expected = scoring.score_texts(app.state.router.index("web"), [LEAKED, CLEAN])
    assert [g["id"] for g in got] == ["q1", None]
    for g, e in zip(got, expected, strict=True):
        assert (g["eta"], g["verdict"], g["windows_found"], g["windows_total"], g["longest_match"]) == (
            e.eta,
            e.verdict,
            e.windows_found,
            e.windows_total,
            e.longest_match,
        )
    assert got[0]["verdict"] == "dirty" and got[0]["evidence"]["doc_id"] == 0
    assert got[1]["verdict"] == "clean" and got[1]["evidence"] is None


def test_limits_and_errors(setup):
    client, _ = setup
    r = client.post("/v1/contamination", json={"index": "web", "entries": [{"text": "a"}] * 4})
    assert r.status_code == 413 and "limit of 3" in r.json()["error"]
    r = client.post("/v1/contamination", json={"index": "web", "entries": [{"text": "é" * 101}]})
    assert r.status_code == 413 and "202 bytes" in r.json()["error"] and "limit of 200" in r.json()["error"]
    r = client.post("/v1/contamination", json={"index": "web", "entries": [{"text": ""}]})
    assert r.status_code == 422 and r.json()["error"]
    r = client.post("/v1/contamination", json={"index": "nope", "entries": [{"text": "abc"}]})
    assert r.status_code == 404
    r = client.post("/v1/contamination", json={"index": "web", "entries": [{"text": 5}]})
    assert r.status_code == 422
