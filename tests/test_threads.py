"""One open index serves many threads: the kernels release the GIL and share read-only memory maps."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

from naive import NaiveIndex

import fmsearch


def test_concurrent_queries_equal_sequential_ones(tmp_path):
    rng = random.Random(7)
    docs = ["".join(rng.choice("abcdé🎉 ") for _ in range(rng.randrange(0, 400))) for _ in range(300)]
    fmsearch.build_index(docs, tmp_path / "s")
    idx = fmsearch.open_index(tmp_path / "s")
    queries = []
    for _ in range(400):
        doc = rng.choice([d for d in docs if len(d) > 8])
        start = rng.randrange(len(doc) - 6)
        queries.append(doc[start : start + rng.randrange(1, 6)])

    def work(query: str) -> tuple[int, list[tuple[int, int]], str]:
        found = idx.find(query, limit=50)
        first = found.hits[0]
        return idx.count(query), sorted((h.doc_id, h.offset) for h in found.hits), idx.document(first.doc_id).text

    sequential = [work(q) for q in queries]
    oracle = NaiveIndex(docs)
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(work, queries))
    assert concurrent == sequential
    for query, (count, _, _) in zip(queries, sequential, strict=True):
        assert count == oracle.count(query)
