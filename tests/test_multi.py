"""A catalog of shards answers like one index over all its documents.

The catalog is built without Ray (the job's serial path: the same plan and shard builds, one after another); the
expected answers come from the brute-force oracle in tests/naive.py and from one shard built over the whole corpus.
"""

from __future__ import annotations

import json
import random
import shutil

import numpy as np
import pytest
from naive import NaiveIndex, to_bytes

import fmsearch
from fmsearch.catalog import read_catalog
from fmsearch.errors import ChecksumMismatch, IndexFormatError, InvalidDocument, InvalidQuery, QueryTooLong
from fmsearch.multi import CatalogIndex, open_catalog, verify_catalog
from indexing.job import run_job

WORDS = ["alpha", "beta", "gamma", "dé", "日本", "ab", "ba", "a", "b", "😀", "x\ny"]
QUERIES = ["a", "ab", "alpha", "ta ga", "日", "本 ", "😀", "x\ny", "é", "zzz", "ba ba", " ", "mma d"]


def _texts(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 40))) for _ in range(n)]
    texts[3] = ""  # an empty document takes an id like any other
    texts[7] = "a" * 200  # many overlapping hits in one document
    return texts


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("multi")
    texts = _texts(7, 240)
    # Two files, so shards also span a file border; ids run on across files.
    with open(root / "a.jsonl", "w", encoding="utf-8") as f:
        for i, t in enumerate(texts[:100]):
            f.write(json.dumps({"text": t, "n": i}) + "\n")
    with open(root / "b.jsonl", "w", encoding="utf-8") as f:
        for i, t in enumerate(texts[100:], 100):
            f.write(json.dumps({"text": t, "n": i}) + "\n")
    sizes = [len(t.encode()) + 1 for t in texts]
    # Every shard but the last holds more than total/4 and at most total/4 + the largest document: exactly 4 shards.
    target = -(-sum(sizes) // 4) + max(sizes)
    result = run_job([str(root / "a.jsonl"), str(root / "b.jsonl")], root / "cat", shard_size=target, use_ray=False)
    single = fmsearch.build_index(texts, root / "single")
    return {
        "root": root,
        "texts": texts,
        "oracle": NaiveIndex(texts),
        "result": result,
        "idx": fmsearch.open_index(root / "cat"),
        "single": fmsearch.open_index(single.path),
    }


def test_opens_as_a_catalog_of_four_shards(corpus):
    idx = corpus["idx"]
    assert isinstance(idx, CatalogIndex)
    assert len(idx.shards) == 4
    assert idx.num_documents == len(corpus["texts"])
    assert idx.num_bytes == corpus["oracle"].num_bytes
    assert sum(s.num_documents for s in idx.shards) == len(corpus["texts"])
    assert idx.first_doc_ids[0] == 0 and idx.first_doc_ids == sorted(idx.first_doc_ids)
    assert idx.name == "cat"


@pytest.mark.parametrize("query", QUERIES)
def test_count_and_find_equal_the_oracle_and_one_big_shard(corpus, query):
    idx, oracle, single = corpus["idx"], corpus["oracle"], corpus["single"]
    assert idx.count(query) == oracle.count(query) == single.count(query)
    result = idx.find(query, limit=10**6)
    assert result.total == oracle.count(query)
    pairs = [(h.doc_id, h.offset) for h in result.hits]
    assert len(pairs) == len(set(pairs))
    assert set(pairs) == oracle.find(query) == {(h.doc_id, h.offset) for h in single.find(query, limit=10**6).hits}


def test_count_many_equals_the_oracle(corpus):
    got = corpus["idx"].count_many(QUERIES)
    assert got.dtype == np.int64
    assert got.tolist() == [corpus["oracle"].count(q) for q in QUERIES]


@pytest.mark.parametrize("page", [1, 3, 7, 50])
def test_paging_crosses_shard_borders_without_gaps_or_repeats(corpus, page):
    idx, oracle = corpus["idx"], corpus["oracle"]
    query = "a"  # hits in every shard
    full = [(h.doc_id, h.offset) for h in idx.find(query, limit=10**6).hits]
    assert set(full) == oracle.find(query)
    pages = []
    offset = 0
    while True:
        result = idx.find(query, limit=page, offset=offset)
        assert result.total == len(full) and result.offset == offset
        if not result.hits:
            break
        assert len(result.hits) == min(page, len(full) - offset)
        pages.extend((h.doc_id, h.offset) for h in result.hits)
        offset += page
    assert pages == full


def test_hit_order_is_shard_by_shard(corpus):
    idx = corpus["idx"]
    hits = idx.find("a", limit=10**6).hits
    shard_of = [int(np.searchsorted(idx.first_doc_ids, h.doc_id, side="right")) - 1 for h in hits]
    assert shard_of == sorted(shard_of) and len(set(shard_of)) == 4
    # A page that starts inside shard 1 and ends inside shard 2.
    counts = [s.count("a") for s in idx.shards]
    start = counts[0] + counts[1] - 2
    page = idx.find("a", limit=5, offset=start).hits
    assert [(h.doc_id, h.offset) for h in page] == [(h.doc_id, h.offset) for h in hits[start : start + 5]]


def test_documents_metadata_and_provenance_by_global_id(corpus):
    idx, texts = corpus["idx"], corpus["texts"]
    for doc_id in range(len(texts)):
        doc = idx.document(doc_id)
        assert doc.doc_id == doc_id and doc.text == texts[doc_id]
        assert idx.document_length(doc_id) == len(texts[doc_id].encode())
        meta = idx.metadata(doc_id)
        assert meta["n"] == doc_id
        file, line = ("a.jsonl", doc_id + 1) if doc_id < 100 else ("b.jsonl", doc_id - 99)
        assert meta["source"].endswith(file) and meta["line"] == line


def test_extract_and_snippet_by_global_id(corpus):
    idx, oracle = corpus["idx"], corpus["oracle"]
    for hit in idx.find("gamma", limit=50).hits:
        assert idx.extract(hit.doc_id, hit.offset, hit.offset + 5) == b"gamma"
        snip = idx.snippet(hit.doc_id, hit.offset, 5, context=8)
        assert snip.doc_id == hit.doc_id and snip.match == "gamma"
        assert snip.text.encode() == oracle.extract(hit.doc_id, snip.start, snip.end)
        assert snip.metadata["n"] == hit.doc_id


def test_matching_statistics_equal_the_oracle(corpus):
    idx, oracle = corpus["idx"], corpus["oracle"]
    for text in ["alpha beta gamma", "zzalphaq日本語", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "x\nyy"]:
        got = idx.matching_statistics(text)
        assert got.tolist() == oracle.matching_statistics(text)
        assert got.tolist() == corpus["single"].matching_statistics(text).tolist()


def test_bad_input_raises_the_cores_typed_errors(corpus):
    idx = corpus["idx"]
    n = idx.num_documents
    with pytest.raises(InvalidQuery, match="empty"):
        idx.count("")
    with pytest.raises(InvalidQuery, match="0xFF"):
        idx.find(b"a\xff")
    with pytest.raises(InvalidQuery, match="query 1"):
        idx.count_many(["a", ""])
    with pytest.raises(InvalidQuery, match="limit"):
        idx.find("a", limit=-1)
    with pytest.raises(InvalidDocument, match=f"ids 0..{n - 1}"):
        idx.document(n)
    with pytest.raises(InvalidDocument):
        idx.metadata(-1)
    with pytest.raises(InvalidDocument, match=f"document {n - 1} "):
        idx.extract(n - 1, 0, 10**6)
    small = open_catalog(corpus["root"] / "cat", max_query_bytes=4)
    with pytest.raises(QueryTooLong, match="limit of 4"):
        small.count("alpha")
    with pytest.raises(QueryTooLong):
        small.matching_statistics("alpha")


def test_warm_and_sizes(corpus):
    idx = corpus["idx"]
    idx.warm()
    sizes = idx.sizes()
    assert sizes.keys() == idx.shards[0].sizes().keys()
    total = sum(g["bytes"] for g in sizes.values())
    assert total == sum(sum(g["bytes"] for g in s.sizes().values()) for s in idx.shards)


def test_catalog_json_lists_shards_in_order(corpus):
    cat = read_catalog(corpus["root"] / "cat")
    assert cat["magic"] == "fmsearch-catalog" and cat["format_version"] == 1
    first = 0
    for entry in cat["shards"]:
        assert entry["first_doc_id"] == first
        first += entry["num_documents"]
        assert entry["path"].startswith("shards/") and entry["manifest_xxh3_128"]
        assert sum(span["num_documents"] for span in entry["source_plan"]) == entry["num_documents"]
    assert first == len(corpus["texts"])
    assert len(cat["sources"]) == 2


def test_verify_names_the_damaged_shard_and_open_refuses_a_replaced_one(corpus, tmp_path):
    copy = tmp_path / "cat"
    shutil.copytree(corpus["root"] / "cat", copy)
    assert verify_catalog(copy) == []
    victim = copy / "shards" / "shard-00002" / "sa_samples.bin"
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0x55
    victim.write_bytes(bytes(data))
    problems = verify_catalog(copy)
    assert len(problems) == 1 and "shard-00002" in problems[0] and "checksum" in problems[0]
    # A shard directory swapped for another one: its manifest is not the one the catalog lists.
    shutil.rmtree(copy / "shards" / "shard-00001")
    shutil.copytree(copy / "shards" / "shard-00003", copy / "shards" / "shard-00001")
    with pytest.raises(IndexFormatError, match="shard-00001"):
        open_catalog(copy)
    assert any("shard-00001" in p for p in verify_catalog(copy))


def test_tampered_catalog_json_is_refused(corpus, tmp_path):
    copy = tmp_path / "cat"
    shutil.copytree(corpus["root"] / "cat", copy)
    path = copy / "catalog.json"
    body = json.loads(path.read_text())
    body["shards"][0]["num_documents"] += 1
    path.write_text(json.dumps(body))
    with pytest.raises(ChecksumMismatch, match="catalog.json"):
        fmsearch.open_index(copy)
    assert "checksum" in verify_catalog(copy)[0]


def test_single_shard_catalog_and_query_bytes(tmp_path):
    texts = ["héllo wörld", "hello"]
    src = tmp_path / "c.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    run_job([str(src)], tmp_path / "cat", use_ray=False)
    idx = fmsearch.open_index(tmp_path / "cat")
    assert len(idx.shards) == 1
    assert idx.count(to_bytes("ö")) == 1 and idx.count("hello") == 1 and idx.count(b"l") == 5
