"""POST / answers the request bodies of infini-gram mini's API documentation with its documented fields, so an
existing client (find, then get_doc_by_rank over every rank of segment_by_shard) works unchanged.
Lengths are UTF-8 bytes here (theirs are characters)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from naive import NaiveIndex

import fmsearch
from service.main import create_app
from service.settings import ServiceSettings

DOCS = [
    {"text": "The University of Washington is in Seattle.", "url": "a"},
    {"text": "natural language processing at the University of Washington", "url": "b"},
    {"text": "Université de Montréal — natural language processing", "url": "c"},
    {"text": "nothing to see", "url": "d"},
    {"text": "University of Washington, University of Washington", "url": "e"},
]
ORACLE = NaiveIndex([d["text"] for d in DOCS])


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("compat")
    fmsearch.build_index(DOCS[:2], root / "s0")
    fmsearch.build_index(DOCS[2:], root / "s1")
    settings = ServiceSettings(indexes={"v2_test": [str(root / "s0"), str(root / "s1")]}, max_context_bytes=10000)
    with TestClient(create_app(settings)) as c:
        yield c


def test_count_documented_body(client):
    r = client.post("/", json={"index": "v2_test", "query_type": "count", "query": "University of Washington"})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"count", "latency"}
    assert body["count"] == ORACLE.count("University of Washington") == 4 and body["latency"] >= 0


def test_count_empty_query_counts_the_corpus(client):
    body = client.post("/", json={"index": "v2_test", "query_type": "count", "query": ""}).json()
    assert body["count"] == ORACLE.num_bytes


def test_find_then_get_doc_by_rank_like_their_client(client):
    query = "natural language processing"
    found = client.post("/", json={"index": "v2_test", "query_type": "find", "query": query}).json()
    assert set(found) == {"cnt", "segment_by_shard", "latency"}
    assert found["cnt"] == ORACLE.count(query) == 2
    assert len(found["segment_by_shard"]) == 2
    seen = set()
    for s, (start, end) in enumerate(found["segment_by_shard"]):
        assert 0 <= start <= end
        for rank in range(start, end):
            payload = {
                "index": "v2_test",
                "query_type": "get_doc_by_rank",
                "query": query,
                "s": s,
                "rank": rank,
                "max_ctx_len": 10,
                "source": "api",
                "timestamp": 1,
            }
            doc = client.post("/", json=payload).json()
            for key in ("doc_ix", "doc_len", "disp_len", "needle_offset", "metadata", "text", "spans", "latency"):
                assert key in doc, key
            text = DOCS[doc["doc_ix"]]["text"]
            assert doc["doc_len"] == len(text.encode())
            assert doc["disp_len"] == len(doc["text"].encode())
            needle = doc["text"].encode()[doc["needle_offset"] : doc["needle_offset"] + len(query.encode())]
            assert needle == query.encode() and doc["text"] in text
            assert json.loads(doc["metadata"])["url"] == DOCS[doc["doc_ix"]]["url"]
            assert "".join(piece for piece, _ in doc["spans"]) == doc["text"]
            assert [piece for piece, label in doc["spans"] if label == "0"] == [query]
            seen.add((doc["doc_ix"], text.encode().index(doc["text"].encode()) + doc["needle_offset"]))
    assert seen == ORACLE.find(query)


def test_max_ctx_len_is_bytes_on_each_side(client):
    doc = client.post(
        "/",
        json={
            "index": "v2_test",
            "query_type": "get_doc_by_rank",
            "query": "Montréal",
            "s": 1,
            "rank": 0,
            "max_ctx_len": 3,
        },
    ).json()
    assert doc["doc_ix"] == 2 and doc["needle_offset"] == 3
    # 3 bytes after the match end inside the 3-byte "—": cut back or widened to a whole character
    assert doc["text"] in ("de Montréal ", "de Montréal —")


@pytest.mark.parametrize(
    "payload, fragment",
    [
        ({"index": "nope", "query_type": "count", "query": "a"}, "unknown index"),
        ({"index": "v2_test", "query_type": "ngram", "query": "a"}, "query_type must be one of"),
        ({"index": "v2_test", "query_type": "find", "query": ""}, "empty"),
        ({"index": "v2_test", "query_type": "get_doc_by_rank", "query": "a"}, "needs s"),
        ({"index": "v2_test", "query_type": "get_doc_by_rank", "query": "a", "s": 2, "rank": 0}, "has 2 shards"),
        ({"index": "v2_test", "query_type": "get_doc_by_rank", "query": "Seattle", "s": 0, "rank": 1}, "[0, 1)"),
        (
            {"index": "v2_test", "query_type": "get_doc_by_rank", "query": "a", "s": 0, "rank": 0, "max_ctx_len": 0},
            "max_ctx_len",
        ),
        (
            {
                "index": "v2_test",
                "query_type": "get_doc_by_rank",
                "query": "a",
                "s": 0,
                "rank": 0,
                "max_ctx_len": 10001,
            },
            "limit of 10000",
        ),
        ({"index": "v2_test", "query_type": "count", "query": 7}, "query"),
        ({"query_type": "count", "query": "a"}, "index"),
    ],
)
def test_errors_come_as_error_field_with_4xx(client, payload, fragment):
    r = client.post("/", json=payload)
    assert 400 <= r.status_code < 500, r.text
    assert fragment in r.json()["error"]
