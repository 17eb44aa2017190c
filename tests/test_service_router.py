"""The fan-out: an index of several shards answers exactly like one shard holding the same documents, and a shard
that fails or times out gives 503 (or, when asked, a partial answer flagged complete: false), never a wrong total."""

from __future__ import annotations

import random
import time

import pytest
from fastapi.testclient import TestClient
from naive import NaiveIndex

import fmsearch
from service.main import create_app
from service.settings import ServiceSettings

ALPHABET = "ab cé的\n"


def make_docs(seed: int, n: int) -> list[dict]:
    rng = random.Random(seed)
    return [{"text": "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 60))), "i": i} for i in range(n)]


DOCS = make_docs(11, 45)
SPLITS = [(0, 12), (12, 13), (13, 31), (31, 45)]  # one shard holds a single document
ORACLE = NaiveIndex([d["text"] for d in DOCS])
QUERIES = ["a", "b", "ab", "ba", " ", "é", "的", "\n", "aa", "a b", "é的", "cé", "abab", "zz", "的的的"]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("router")
    fmsearch.build_index(DOCS, root / "single")
    shard_paths = []
    for k, (lo, hi) in enumerate(SPLITS):
        fmsearch.build_index(DOCS[lo:hi], root / f"shard{k}")
        shard_paths.append(str(root / f"shard{k}"))
    settings = ServiceSettings(
        indexes={"single": [str(root / "single")], "multi": shard_paths},
        max_hits_per_page=100,
        request_timeout_s=1.0,
    )
    app = create_app(settings)
    with TestClient(app) as c:
        c.app_ref = app
        yield c


def shards_of(client, name):
    return client.app_ref.state.router.index(name).shards


@pytest.mark.parametrize("query", QUERIES)
def test_count_multi_equals_single_equals_oracle(client, query):
    single = client.post("/v1/count", json={"index": "single", "query": query}).json()
    multi = client.post("/v1/count", json={"index": "multi", "query": query}).json()
    assert single["count"] == multi["count"] == ORACLE.count(query)
    expected_per_shard = [NaiveIndex([d["text"] for d in DOCS[lo:hi]]).count(query) for lo, hi in SPLITS]
    assert multi["per_shard"] == expected_per_shard


def test_count_batch_multi_equals_single(client):
    single = client.post("/v1/count/batch", json={"index": "single", "queries": QUERIES}).json()["counts"]
    multi = client.post("/v1/count/batch", json={"index": "multi", "queries": QUERIES}).json()["counts"]
    assert single == multi == [ORACLE.count(q) for q in QUERIES]


@pytest.mark.parametrize("query", ["a", "b ", "é", "的"])
@pytest.mark.parametrize("page", [1, 5, 17, 100])
def test_find_pages_multi_equal_single_as_sets(client, query, page):
    def all_hits(name):
        hits, offset = [], 0
        while True:
            body = client.post("/v1/find", json={"index": name, "query": query, "limit": page, "offset": offset}).json()
            assert body["total"] == ORACLE.count(query) and body["complete"]
            if not body["hits"]:
                return hits
            assert len(body["hits"]) == min(page, body["total"] - offset)
            hits.extend((h["doc_id"], h["offset"]) for h in body["hits"])
            offset += page

    single, multi = all_hits("single"), all_hits("multi")
    assert len(multi) == len(set(multi)) == ORACLE.count(query)
    assert set(single) == set(multi) == ORACLE.find(query)


def test_search_and_documents_use_global_ids(client):
    body = client.post("/v1/search", json={"index": "multi", "query": "的", "limit": 100, "context": 4}).json()
    assert body["total"] == ORACLE.count("的")
    for h in body["hits"]:
        assert h["metadata"]["i"] == h["doc_id"]
        assert DOCS[h["doc_id"]]["text"].encode()[h["match_start"] : h["match_end"]] == "的".encode()
    for doc_id in (0, 11, 12, 13, 30, 31, 44):
        m = client.get(f"/v1/indexes/multi/documents/{doc_id}").json()
        s = client.get(f"/v1/indexes/single/documents/{doc_id}").json()
        assert m["text"] == s["text"] == DOCS[doc_id]["text"] and m["metadata"]["i"] == doc_id
    r = client.get("/v1/indexes/multi/documents/45")
    assert r.status_code == 404 and "0..44" in r.json()["error"]


def _fail(*args, **kwargs):
    raise OSError("disk went away")


def test_failing_shard_gives_503_naming_it(client, monkeypatch):
    broken = shards_of(client, "multi")[2]
    monkeypatch.setattr(broken, "count", _fail)
    monkeypatch.setattr(broken, "count_many", _fail)
    for path, body in [
        ("/v1/count", {"index": "multi", "query": "a"}),
        ("/v1/count/batch", {"index": "multi", "queries": ["a"]}),
        ("/v1/find", {"index": "multi", "query": "a"}),
        ("/v1/search", {"index": "multi", "query": "a"}),
    ]:
        r = client.post(path, json=body)
        assert r.status_code == 503, (path, r.text)
        err = r.json()
        assert "1 of 4 shards" in err["error"] and "2:shard2" in err["error"] and "allow_partial" in err["error"]
        assert [m["shard"] for m in err["missing_shards"]] == [2]
        assert "OSError" in err["missing_shards"][0]["reason"]
    r = client.post("/", json={"index": "multi", "query_type": "count", "query": "a"})
    assert r.status_code == 503 and "error" in r.json()


def test_failing_shard_with_allow_partial_is_flagged(client, monkeypatch):
    broken = shards_of(client, "multi")[2]
    monkeypatch.setattr(broken, "count", _fail)
    lo, hi = SPLITS[2]
    without = ORACLE.count("a") - NaiveIndex([d["text"] for d in DOCS[lo:hi]]).count("a")
    body = client.post("/v1/count", json={"index": "multi", "query": "a", "allow_partial": True}).json()
    assert body["complete"] is False and body["count"] == without
    assert body["per_shard"][2] is None and body["missing_shards"][0]["shard"] == 2
    body = client.post("/v1/find", json={"index": "multi", "query": "a", "allow_partial": True, "limit": 100}).json()
    assert body["complete"] is False and body["total"] == without
    assert all(not (lo <= h["doc_id"] < hi) for h in body["hits"]) and len(body["hits"]) == min(100, without)


def test_shard_failing_while_locating_flags_the_page(client, monkeypatch):
    broken = shards_of(client, "multi")[0]
    monkeypatch.setattr(broken, "find", _fail)
    r = client.post("/v1/find", json={"index": "multi", "query": "a", "limit": 5})
    assert r.status_code == 503 and r.json()["missing_shards"][0]["shard"] == 0
    body = client.post("/v1/find", json={"index": "multi", "query": "a", "limit": 5, "allow_partial": True}).json()
    assert body["complete"] is False and body["total"] == ORACLE.count("a")  # counts were complete; the page is not


def test_slow_shard_times_out(client, monkeypatch):
    broken = shards_of(client, "multi")[1]
    original = broken.count

    def slow(q):
        time.sleep(1.5)
        return original(q)

    monkeypatch.setattr(broken, "count", slow)
    t0 = time.monotonic()
    r = client.post("/v1/count", json={"index": "multi", "query": "a"})
    assert time.monotonic() - t0 < 1.4
    assert r.status_code == 503 and "timed out after 1 s" in r.json()["error"]
    body = client.post("/v1/count", json={"index": "multi", "query": "a", "allow_partial": True}).json()
    assert body["complete"] is False and body["per_shard"][1] is None
    time.sleep(1.6)  # let the abandoned calls finish before the shard is restored


def test_bad_input_is_not_a_shard_failure(client):
    r = client.post("/v1/count", json={"index": "multi", "query": ""})
    assert r.status_code == 422 and "empty" in r.json()["error"]


def test_catalog_directory_serves_like_the_shard_list(tmp_path):
    from fmsearch import catalog, storage

    entries, first = [], 0
    for k, (lo, hi) in enumerate(SPLITS):
        fmsearch.build_index(DOCS[lo:hi], tmp_path / f"shard{k}")
        manifest = storage.read_manifest(tmp_path / f"shard{k}")
        entries.append(catalog.shard_entry({"name": f"shard{k}", "path": f"shard{k}", "ranges": []}, manifest, first))
        first += manifest["num_documents"]
    catalog.write_catalog(tmp_path, name="cat", shards=entries, build_params={}, sources=[])
    with TestClient(create_app(ServiceSettings(indexes={"cat": [str(tmp_path)]}))) as c:
        info = c.get("/v1/indexes/cat").json()
        assert info["documents"] == len(DOCS) and len(info["shards"]) == len(SPLITS)
        for q in QUERIES:
            assert c.post("/v1/count", json={"index": "cat", "query": q}).json()["count"] == ORACLE.count(q)
        body = c.post("/v1/find", json={"index": "cat", "query": "é的", "limit": 100}).json()
        assert {(h["doc_id"], h["offset"]) for h in body["hits"]} == ORACLE.find("é的")
        assert c.get("/v1/indexes/cat/documents/44").json()["text"] == DOCS[44]["text"]
