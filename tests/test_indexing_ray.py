"""The indexing job on local Ray: a 4-shard catalog answers like the oracle; worker kills, driver interrupts and
damaged shards are recovered from, and the result equals a clean build (same content checksums).

Ray is started once for the module (2 CPUs, loopback only, no dashboard); the corpus is about 12 MB so that a
shard's build lasts long enough (a second or more) to be killed in the middle.
"""

from __future__ import annotations

import os
import shutil
import signal

import pytest
from corpora import two_file_corpus
from naive import NaiveIndex

import fmsearch
from fmsearch.catalog import read_catalog
from fmsearch.multi import verify_catalog
from indexing.job import run_job
from indexing.ray_local import init_local_ray

SHARD_BYTES = 3_200_000


@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray")
    init_local_ray(2, logging_level="warning")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("raycorpus")
    return two_file_corpus(root, seed=5, vocab=3000, words=(100, 4000), docs=1000, first_file=400)


@pytest.fixture(scope="module")
def clean(ray_session, corpus):
    out = corpus["root"] / "clean"
    result = run_job(corpus["sources"], out, shard_size=SHARD_BYTES)
    return {"out": out, "result": result, "catalog": read_catalog(out)}


def _content(out) -> list[str]:
    return [s["content_xxh3_128"] for s in read_catalog(out)["shards"]]


def test_four_shards_on_ray_answer_like_the_oracle(clean, corpus):
    result = clean["result"]
    assert len(result.shards) == 4 and len(result.built) == 4
    assert all(o.node.startswith("ray node") for o in result.shards)
    idx = fmsearch.open_index(clean["out"])
    texts = corpus["texts"]
    oracle = NaiveIndex(texts)
    assert idx.num_documents == len(texts) and idx.num_bytes == oracle.num_bytes
    for query in ["zebra", "日本", "ünï", "zebra zebra", "abc", "p a", "xyzzy"]:
        assert idx.count(query) == oracle.count(query), query
        found = idx.find(query, limit=10**7)
        pairs = [(h.doc_id, h.offset) for h in found.hits]
        assert len(pairs) == len(set(pairs)) and set(pairs) == oracle.find(query), query
    # Paging over all hits of a query found in every shard, with a page size that does not divide the counts.
    full = idx.find("zebra", limit=10**7).hits
    counts = [s.count("zebra") for s in idx.shards]
    assert all(counts)
    paged = []
    for offset in range(0, len(full), 37):
        paged.extend(idx.find("zebra", limit=37, offset=offset).hits)
    assert paged == full
    for doc_id in [0, 1, 399, 400, 401, len(texts) - 1, *idx.first_doc_ids]:
        doc = idx.document(doc_id)
        assert doc.text == texts[doc_id]
        file, n = ("a.jsonl", doc_id) if doc_id < 400 else ("b.jsonl", doc_id - 400)
        assert doc.metadata["source"].endswith(file) and doc.metadata["n"] == n and doc.metadata["line"] == n + 1


def test_killed_worker_is_retried_and_the_catalog_equals_a_clean_build(clean, corpus, tmp_path):
    # The driver hears of a start when it next polls, so a small build may already be over when the kill lands and
    # the killed worker is idle: then nothing needs a retry. Such an attempt must still give a clean catalog; the
    # retry itself is checked on the first attempt whose kill caught a running build.
    for attempt in range(4):
        starts: list[tuple[str, int]] = []
        killed: list[str] = []

        def kill_first(name: str, pid: int, starts=starts, killed=killed) -> None:
            starts.append((name, pid))
            if not killed:
                killed.append(name)
                os.kill(pid, signal.SIGKILL)  # the Ray worker this test's Ray started for the build

        out = tmp_path / f"cat-{attempt}"
        result = run_job(corpus["sources"], out, shard_size=SHARD_BYTES, on_started=kill_first)
        assert len(result.built) == 4
        assert _content(out) == _content(clean["out"])
        assert verify_catalog(out) == []
        names = [name for name, _ in starts]
        if len(names) > len(set(names)):
            break
    # The task the killed worker was running (that worker may have finished another shard before) was retried:
    # exactly one shard started twice, every other once.
    assert sorted(names.count(s) for s in set(names)) == [1, 1, 1, 2], "no attempt's kill caught a running build"


def test_interrupted_driver_rerun_resumes_without_rebuilding(clean, corpus, tmp_path):
    out = tmp_path / "cat"
    seen: set[str] = set()

    def interrupt_at_third(name: str, pid: int) -> None:
        seen.add(name)
        if len(seen) == 3:  # two CPUs: when a third build starts, at least one has finished and published
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_job(corpus["sources"], out, shard_size=SHARD_BYTES, on_started=interrupt_at_third)
    assert not (out / "catalog.json").exists()
    published = sorted(p.name for p in (out / "shards").iterdir() if not p.name.startswith("."))
    assert 1 <= len(published) < 4
    stamps = {name: (out / "shards" / name / "manifest.json").stat().st_mtime_ns for name in published}
    result = run_job(corpus["sources"], out, shard_size=SHARD_BYTES)
    # A build cancelled at the interrupt may still have published in its last milliseconds: skipped is a superset.
    assert set(published) <= set(result.skipped) and len(result.skipped) < 4
    assert sorted(result.built + result.skipped) == sorted(s["name"] for s in clean["catalog"]["shards"])
    assert {name: (out / "shards" / name / "manifest.json").stat().st_mtime_ns for name in published} == stamps
    assert _content(out) == _content(clean["out"])


def test_corrupt_shard_is_named_by_verify_and_only_it_is_rebuilt(clean, corpus, tmp_path):
    out = tmp_path / "cat"
    shutil.copytree(clean["out"], out)
    victim = out / "shards" / "shard-00002" / "doc_starts.bin"
    data = bytearray(victim.read_bytes())
    data[100] ^= 0xFF
    victim.write_bytes(bytes(data))
    problems = verify_catalog(out)
    assert len(problems) == 1 and problems[0].startswith("shard shard-00002") and "doc_starts.bin" in problems[0]
    result = run_job(corpus["sources"], out, shard_size=SHARD_BYTES)
    assert result.built == ["shard-00002"] and sorted(result.skipped) == ["shard-00000", "shard-00001", "shard-00003"]
    assert [o.status for o in result.shards if o.name == "shard-00002"] == ["rebuilt"]
    assert verify_catalog(out) == []
    assert _content(out) == _content(clean["out"])


def test_a_shard_that_fits_no_node_is_refused_before_any_build(ray_session, corpus, tmp_path, monkeypatch):
    import indexing.job as job

    # As if the core needed 100 000x the shard's bytes: no node of this Ray offers that much memory.
    monkeypatch.setattr(job, "MEMORY_PER_BYTE", 100_000.0)
    with pytest.raises(job.InputError, match=r"needs about .* GiB .* lower --shard-size"):
        run_job(corpus["sources"], tmp_path / "cat", shard_size=SHARD_BYTES)
    assert not [p for p in (tmp_path / "cat" / "shards").iterdir()]
