"""The router with shards held by Ray actors (local Ray on 127.0.0.1 only): the same answers as one in-process
shard, and an actor that dies gives 503 naming its shards, never a smaller count."""

from __future__ import annotations

import random

import pytest
from fastapi.testclient import TestClient
from naive import NaiveIndex

import fmsearch

ray = pytest.importorskip("ray", reason="ray is not installed")

from indexing.ray_local import init_local_ray  # noqa: E402
from service.main import create_app  # noqa: E402
from service.settings import ServiceSettings  # noqa: E402

rng = random.Random(5)
DOCS = [{"text": "".join(rng.choice("abcλ ") for _ in range(rng.randint(1, 50))), "i": i} for i in range(30)]
ORACLE = NaiveIndex([d["text"] for d in DOCS])
SPLITS = [(0, 8), (8, 15), (15, 22), (22, 30)]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("ray")
    paths = []
    for k, (lo, hi) in enumerate(SPLITS):
        fmsearch.build_index(DOCS[lo:hi], root / f"s{k}")
        paths.append(str(root / f"s{k}"))
    fmsearch.build_index(DOCS, root / "single")
    init_local_ray(2, log_to_driver=False)  # every Ray process on 127.0.0.1
    try:
        settings = ServiceSettings(
            indexes={"multi": paths, "single": [str(root / "single")]},
            ray_address="local",
            shards_per_actor=2,
            request_timeout_s=20,
        )
        app = create_app(settings)
        with TestClient(app) as c:
            c.app_ref = app
            yield c
    finally:
        ray.shutdown()


def test_ray_answers_equal_the_oracle(client):
    assert len(client.app_ref.state.router.backend.actors) == 3  # 4 shards in pairs + 1 single shard
    for q in ["a", "λ", "ab", "c c", "λλ", "zz"]:
        m = client.post("/v1/count", json={"index": "multi", "query": q}).json()
        s = client.post("/v1/count", json={"index": "single", "query": q}).json()
        assert m["count"] == s["count"] == ORACLE.count(q)
    assert 10 < ORACLE.count("aλ") <= 100
    body = client.post("/v1/find", json={"index": "multi", "query": "aλ", "limit": 100}).json()
    assert {(h["doc_id"], h["offset"]) for h in body["hits"]} == ORACLE.find("aλ")
    hits = client.post("/v1/search", json={"index": "multi", "query": "b", "limit": 5, "context": 3}).json()["hits"]
    assert all(h["metadata"]["i"] == h["doc_id"] and h["match"] == "b" for h in hits)
    assert client.get("/v1/indexes/multi/documents/20").json()["text"] == DOCS[20]["text"]
    counts = client.post("/v1/count/batch", json={"index": "multi", "queries": ["a", "b"]}).json()["counts"]
    assert counts == [ORACLE.count("a"), ORACLE.count("b")]
    assert 'fmsearch_shard_seconds_count{index="multi",shard="3"}' in client.get("/metrics").text


def test_dead_actor_gives_503(client):
    backend = client.app_ref.state.router.backend
    ray.kill(backend.actor_of("multi", 2))
    r = client.post("/v1/count", json={"index": "multi", "query": "a"})
    assert r.status_code == 503
    assert [m["shard"] for m in r.json()["missing_shards"]] == [2, 3]
    body = client.post("/v1/count", json={"index": "multi", "query": "a", "allow_partial": True}).json()
    lo, hi = SPLITS[2][0], SPLITS[3][1]
    assert body["complete"] is False
    assert body["count"] == ORACLE.count("a") - NaiveIndex([d["text"] for d in DOCS[lo:hi]]).count("a")
