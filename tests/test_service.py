"""The HTTP API through TestClient: every endpoint, every limit and every error path, with status and message.

Expected values come from tests/naive.py (plain Python over the documents' UTF-8 bytes), never from the engine.
"""

from __future__ import annotations

import json
import random

import pytest
from fastapi.testclient import TestClient
from naive import NaiveIndex

import fmsearch
from service.main import create_app
from service.settings import ServiceSettings

WORDS = ["fox", "dog", "λόγος", "naïve", "的一是", "over", "the", "lazy", "quick", "brown", "émigré", "a", "ab"]


def make_docs(seed: int, n: int) -> list[dict]:
    rng = random.Random(seed)
    docs = [
        {"text": "the quick brown fox jumps over the lazy dog", "title": "pangram", "n": 0},
        {"text": "ἀρχὴ λόγος fox fox — naïve émigré", "title": "unicode", "n": 1},
        {"text": "x", "title": "tiny", "n": 2},
    ]
    for i in range(3, n):
        docs.append({"text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 40))), "n": i})
    return docs


DOCS = make_docs(7, 40)
ORACLE = NaiveIndex([d["text"] for d in DOCS])


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    root = tmp_path_factory.mktemp("svc")
    fmsearch.build_index(DOCS, root / "all")
    return {"all": str(root / "all")}


def settings_for(paths, **kw) -> ServiceSettings:
    base = {
        "indexes": {"corpus": [paths["all"]]},
        "max_query_bytes": 64,
        "max_batch_queries": 5,
        "max_batch_bytes": 100,
        "max_hits_per_page": 7,
        "max_find_offset": 1000,
        "max_context_bytes": 50,
        "max_document_bytes": 30,
        "max_body_bytes": 4096,
    }
    base.update(kw)
    return ServiceSettings(**base)


@pytest.fixture(scope="module")
def client(paths):
    with TestClient(create_app(settings_for(paths))) as c:
        yield c


def post_raw(client, path: str, body: bytes):
    return client.post(path, content=body, headers={"content-type": "application/json"})


def assert_error(r, status: int, *fragments: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert isinstance(body["error"], str)
    for f in fragments:
        assert f in body["error"], (f, body["error"])
    return body


# -- indexes, health ------------------------------------------------------------------------------------------------


def test_indexes_lists_documents_bytes_and_shards(client):
    r = client.get("/v1/indexes")
    assert r.status_code == 200
    (ix,) = r.json()["indexes"]
    assert ix["name"] == "corpus"
    assert ix["documents"] == len(DOCS)
    assert ix["bytes"] == sum(len(d["text"].encode()) for d in DOCS)
    assert len(ix["shards"]) == 1 and ix["shards"][0]["documents"] == len(DOCS)
    assert client.get("/v1/indexes/corpus").json() == ix
    assert_error(client.get("/v1/indexes/nope"), 404, "unknown index 'nope'", "corpus")


def test_health_ready_and_metrics(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"ready": True, "indexes": {"corpus": 1}}
    client.post("/v1/count", json={"index": "corpus", "query": "fox"})
    client.post("/v1/count", json={"index": "nope", "query": "fox"})
    text = client.get("/metrics").text
    assert 'fmsearch_requests_total{method="POST",route="/v1/count",status="200"}' in text
    assert 'fmsearch_errors_total{route="/v1/count",status="404"}' in text
    assert "fmsearch_request_seconds_bucket" in text
    assert 'fmsearch_shard_seconds_count{index="corpus",shard="0"}' in text


def test_readyz_before_start_is_503(paths):
    app = create_app(settings_for(paths))
    c = TestClient(app)  # not entered: the lifespan has not opened anything
    assert c.get("/readyz").status_code == 503
    assert_error(c.post("/v1/count", json={"index": "corpus", "query": "a"}), 503, "still opening")


# -- count -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["fox", "the", "λόγος", "ï", "的一", " ", "a", "zzz", "o", "fox fox"])
def test_count_equals_oracle(client, query):
    r = client.post("/v1/count", json={"index": "corpus", "query": query})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == ORACLE.count(query)
    assert body["per_shard"] == [ORACLE.count(query)]
    assert body["query_bytes"] == len(query.encode())
    assert body["complete"] is True and body["missing_shards"] == []
    assert body["latency_ms"] >= 0


def test_count_batch_equals_oracle(client):
    queries = ["fox", "λόγος", "zzz", "o", "the "]
    r = client.post("/v1/count/batch", json={"index": "corpus", "queries": queries})
    assert r.status_code == 200, r.text
    assert r.json()["counts"] == [ORACLE.count(q) for q in queries]
    r = client.post("/v1/count/batch", json={"index": "corpus", "queries": []})
    assert r.json()["counts"] == []
    assert_error(client.post("/v1/count/batch", json={"index": "nope", "queries": []}), 404, "unknown index")


def test_count_batch_limits_and_bad_items(client):
    assert_error(
        client.post("/v1/count/batch", json={"index": "corpus", "queries": ["a"] * 6}), 413, "6 queries", "limit of 5"
    )
    assert_error(
        client.post("/v1/count/batch", json={"index": "corpus", "queries": ["a" * 60] * 2}),
        413,
        "120 query bytes",
        "limit of 100",
    )
    assert_error(
        client.post("/v1/count/batch", json={"index": "corpus", "queries": ["a", ""]}), 422, "queries[1]", "empty"
    )
    assert_error(client.post("/v1/count/batch", json={"index": "corpus", "queries": "fox"}), 422, "queries")


# -- find and search -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["fox", "o", "λόγος", "the"])
def test_find_pages_cover_every_occurrence_once(client, query):
    expected = ORACLE.find(query)
    seen = []
    offset = 0
    while True:
        r = client.post("/v1/find", json={"index": "corpus", "query": query, "limit": 7, "offset": offset})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total"] == len(expected)
        if not body["hits"]:
            break
        seen.extend((h["doc_id"], h["offset"]) for h in body["hits"])
        offset += 7
    assert len(seen) == len(expected) and set(seen) == expected


def test_search_snippets_and_highlight_span(client):
    r = client.post("/v1/search", json={"index": "corpus", "query": "fox", "limit": 7, "context": 6})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == ORACLE.count("fox")
    assert len(body["hits"]) == min(7, ORACLE.count("fox"))
    for h in body["hits"]:
        doc = DOCS[h["doc_id"]]["text"].encode()
        assert h["match"] == "fox" and h["length"] == 3
        assert (h["match_start"], h["match_end"]) == (h["offset"], h["offset"] + 3)
        assert doc[h["match_start"] : h["match_end"]] == b"fox"
        assert (h["before"] + h["match"] + h["after"]).encode() == doc[h["start"] : h["end"]]
        # context is 6 bytes, widened to whole UTF-8 characters (at most 3 more bytes)
        assert h["match_start"] - h["start"] >= 6 or h["start"] == 0
        assert h["match_start"] - h["start"] <= 9 and h["end"] - h["match_end"] <= 9
        assert h["metadata"]["n"] == h["doc_id"]


def test_search_snippet_never_cuts_a_character(client):
    # "ἀρχ" is 3 + 2 + 2 bytes: 3 bytes of context start inside "ρ", so the snippet moves to a character boundary
    r = client.post("/v1/search", json={"index": "corpus", "query": "ὴ λόγος", "context": 3})
    (h,) = r.json()["hits"]
    assert h["doc_id"] == 1 and h["match"] == "ὴ λόγος"
    assert h["before"] in ("χ", "ρχ")


def test_find_and_search_limits(client):
    assert_error(
        client.post("/v1/find", json={"index": "corpus", "query": "a", "limit": 8}), 422, "limit is 8", "limit of 7"
    )
    assert_error(client.post("/v1/find", json={"index": "corpus", "query": "a", "offset": 1001}), 422, "limit of 1000")
    assert_error(client.post("/v1/find", json={"index": "corpus", "query": "a", "limit": -1}), 422, "limit")
    assert_error(client.post("/v1/find", json={"index": "corpus", "query": "a", "limit": "many"}), 422, "limit")
    assert_error(client.post("/v1/search", json={"index": "corpus", "query": "a", "context": 51}), 422, "limit of 50")
    assert_error(client.post("/v1/search", json={"index": "corpus", "query": "a", "offset": 2**60}), 422, "offset")
    r = client.post("/v1/find", json={"index": "corpus", "query": "fox", "offset": 999})
    assert r.status_code == 200 and r.json()["hits"] == [] and r.json()["total"] == ORACLE.count("fox")


# -- documents -------------------------------------------------------------------------------------------------------


def test_document_text_range_and_metadata(client):
    r = client.get("/v1/indexes/corpus/documents/0")
    assert_error(r, 413, "43 bytes", "limit of 30", "start and end")
    r = client.get("/v1/indexes/corpus/documents/0", params={"start": 4, "end": 9})
    assert r.status_code == 200
    body = r.json()
    assert body["text"] == "quick" and body["length"] == 43 and body["metadata"]["title"] == "pangram"
    r = client.get("/v1/indexes/corpus/documents/1", params={"start": 0, "end": 3})
    assert r.json()["text"] == "ἀ"  # 3 bytes: one Greek letter with its breathing mark
    r = client.get("/v1/indexes/corpus/documents/2")
    assert r.json()["text"] == "x" and r.json()["end"] == 1


def test_document_errors(client):
    n = len(DOCS)
    assert_error(
        client.get(f"/v1/indexes/corpus/documents/{n}"), 404, f"document id {n} is out of range", f"0..{n - 1}"
    )
    assert_error(client.get("/v1/indexes/corpus/documents/-1"), 422, "doc_id")
    assert_error(client.get("/v1/indexes/corpus/documents/abc"), 422, "doc_id")
    assert_error(client.get("/v1/indexes/corpus/documents/99999999999999999999"), 422, "doc_id")
    assert_error(client.get("/v1/indexes/nope/documents/0"), 404, "unknown index")
    assert_error(client.get("/v1/indexes/corpus/documents/2", params={"start": 0, "end": 5}), 422, "outside document 2")
    assert_error(client.get("/v1/indexes/corpus/documents/0", params={"start": 9, "end": 4}), 422, "outside document")


# -- bad input never gives a 500 -------------------------------------------------------------------------------------


def test_query_errors(client):
    assert_error(client.post("/v1/count", json={"index": "corpus", "query": ""}), 422, "empty")
    assert_error(client.post("/v1/count", json={"index": "nope", "query": "a"}), 404, "unknown index 'nope'")
    assert_error(client.post("/v1/count", json={"index": "corpus", "query": "é" * 33}), 413, "66 bytes", "limit of 64")
    assert_error(client.post("/v1/count", json={"index": "corpus", "query": 5}), 422, "query", "string")
    assert_error(client.post("/v1/count", json={"index": "corpus"}), 422, "query", "required")
    assert_error(client.post("/v1/count", json={"index": "corpus", "query": "a", "extra": 1}), 422, "extra")
    assert_error(client.post("/v1/count", json=["fox"]), 422)
    assert_error(post_raw(client, "/v1/count", b'{"index": "corpus", "query": "\\ud800"}'), 422, "surrogates")


def test_body_errors(client):
    assert_error(post_raw(client, "/v1/count", b'{"index": "corpus", "query": "\xff\xfe"}'), 400, "not valid UTF-8")
    assert_error(post_raw(client, "/v1/count", b'{"index": "corpus", "query": "\xc3"}'), 400, "not valid UTF-8")
    assert_error(post_raw(client, "/v1/count", b'{"index": "corpus", "query": '), 422, "not valid JSON")
    assert_error(post_raw(client, "/v1/count", b""), 422)
    assert_error(post_raw(client, "/v1/count", b"x" * 5000), 413, "limit of 4096 bytes")
    r = client.post("/v1/count", content=iter([b"x" * 3000, b"y" * 3000]), headers={"content-type": "application/json"})
    assert_error(r, 413, "limit of 4096")  # chunked, no Content-Length
    assert_error(client.get("/v1/nothing"), 404, "no such endpoint")
    assert_error(client.get("/v1/count"), 405, "not allowed")


def test_nul_and_control_bytes_are_queries_like_any_other(client):
    r = client.post("/v1/count", json={"index": "corpus", "query": "\x00"})
    assert r.status_code == 200 and r.json()["count"] == 0


# -- overload --------------------------------------------------------------------------------------------------------


def test_overload_gives_429_with_retry_after(paths, monkeypatch):
    import threading

    from service import shard_ops

    gate = threading.Event()
    entered = threading.Semaphore(0)
    original = shard_ops.OPS["count"]

    def slow_count(shard, query):
        entered.release()
        gate.wait(5)
        return original(shard, query)

    monkeypatch.setitem(shard_ops.OPS, "count", slow_count)
    with TestClient(create_app(settings_for(paths, max_concurrent_per_client=2))) as c:
        results = []
        threads = [
            threading.Thread(target=lambda: results.append(c.post("/v1/count", json={"index": "corpus", "query": "a"})))
            for _ in range(2)
        ]
        for t in threads:
            t.start()
        assert entered.acquire(timeout=5) and entered.acquire(timeout=5)  # both requests are at their shard
        r = c.post("/v1/count", json={"index": "corpus", "query": "a"})
        gate.set()
        for t in threads:
            t.join()
        body = assert_error(r, 429, "limit is 2", "retry")
        assert r.headers["retry-after"] == "1" and body["code"] == "too_many_requests"
        assert all(x.status_code == 200 for x in results)
        assert c.get("/healthz").status_code == 200  # health is never throttled


# -- admin -----------------------------------------------------------------------------------------------------------


def test_admin_reload_is_off_by_default_and_needs_the_token(paths):
    with TestClient(create_app(settings_for(paths))) as c:
        assert_error(c.post("/v1/admin/reload", json={}), 404, "disabled", "FMSEARCH_ADMIN_TOKEN")
    with TestClient(create_app(settings_for(paths, admin_token="s3cret"))) as c:
        assert_error(c.post("/v1/admin/reload", json={}), 401, "Bearer")
        assert_error(c.post("/v1/admin/reload", json={}, headers={"Authorization": "Bearer nope"}), 401)
        r = c.post("/v1/admin/reload", json={"index": "corpus"}, headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 200 and r.json() == {"reloaded": ["corpus"]}
        assert c.post("/v1/count", json={"index": "corpus", "query": "fox"}).json()["count"] == ORACLE.count("fox")
        r = c.post("/v1/admin/reload", json={"index": "nope"}, headers={"Authorization": "Bearer s3cret"})
        assert_error(r, 404, "unknown index")


# -- page ------------------------------------------------------------------------------------------------------------


def test_root_negotiates_page_or_json(client):
    r = client.get("/", headers={"accept": "text/html,application/xhtml+xml"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html") and "count-form" in r.text
    r = client.get("/", headers={"accept": "application/json"})
    assert r.json()["service"] == "fmsearch"
    assert client.get("/ui").status_code == 200
    assert "runSearch" in client.get("/static/app.js").text


def test_openapi_lists_the_v1_endpoints(client):
    spec = client.get("/openapi.json").json()
    for path in (
        "/v1/count",
        "/v1/count/batch",
        "/v1/find",
        "/v1/search",
        "/v1/indexes",
        "/v1/indexes/{index}/documents/{doc_id}",
        "/",
    ):
        assert path in spec["paths"], path
    json.dumps(spec)
