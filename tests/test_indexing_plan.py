"""Partitioning and the job's bookkeeping without Ray: plan shape, stable ids, resume, append, changed input."""

from __future__ import annotations

import json
import random

import pytest

import fmsearch
from fmsearch.catalog import read_catalog
from fmsearch.errors import InputError
from fmsearch.presets import PRESETS
from indexing.job import ShardBuildFailed, run_job
from indexing.plan import BUILD_TEXT_KEY, make_plan, parse_size, read_plan, shard_documents
from indexing.sources import expand_sources


def _corpus(path, n=120, seed=3, big_at=None):
    rng = random.Random(seed)
    texts = ["".join(rng.choice("abcé ") for _ in range(rng.randint(0, 60))) for _ in range(n)]
    if big_at is not None:
        texts[big_at] = "B" * 500
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    return texts


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2GB", 2 * 10**9), ("500MB", 5 * 10**8), ("1.5GiB", 3 * 2**29), ("1000", 1000), ("64k", 64000)],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize(("text", "message"), [("lots", "not understood"), ("3GB", "between 1 byte"), ("0", "between")])
def test_parse_size_rejects_with_the_limit(text, message):
    with pytest.raises(InputError, match=message):
        parse_size(text)


def test_plan_covers_every_document_once_in_order_within_the_target(tmp_path):
    texts = _corpus(tmp_path / "c.jsonl", big_at=50)
    units = expand_sources([str(tmp_path / "c.jsonl")])
    shards = make_plan(units, shard_bytes=400)
    sizes = [len(t.encode()) + 1 for t in texts]
    assert sum(s["num_documents"] for s in shards) == len(texts)
    assert sum(s["num_bytes"] for s in shards) == sum(sizes)
    read_back = [
        d[BUILD_TEXT_KEY] for s in shards for d in shard_documents(s, text_field="text", skip_bad_records=False)
    ]
    assert read_back == texts
    for s in shards:
        # Over the target only when one document alone is larger (it then has a shard of its own).
        assert s["num_bytes"] <= 400 or s["num_documents"] == 1
    (big,) = [s for s in shards if s["num_bytes"] > 400]
    assert big["ranges"][0]["start"] == 51  # line 51 holds document 50
    # Greedy: a shard is closed only when the next document would not fit.
    first = 0
    for a in shards[:-1]:
        first += a["num_documents"]
        assert a["num_bytes"] + sizes[first] > 400
    assert [s["name"] for s in shards] == [f"shard-{i:05d}" for i in range(len(shards))]


def test_same_inputs_same_plan_and_ids(tmp_path):
    _corpus(tmp_path / "c.jsonl")
    units = expand_sources([str(tmp_path / "c.jsonl")])
    a = make_plan(units, shard_bytes=500)
    b = make_plan(units, shard_bytes=500)
    assert [s["fingerprint"] for s in a] == [s["fingerprint"] for s in b]
    run_job([str(tmp_path / "c.jsonl")], tmp_path / "x", shard_size=500, use_ray=False)
    run_job([str(tmp_path / "c.jsonl")], tmp_path / "y", shard_size=500, use_ray=False)
    x, y = read_catalog(tmp_path / "x"), read_catalog(tmp_path / "y")
    assert [s["content_xxh3_128"] for s in x["shards"]] == [s["content_xxh3_128"] for s in y["shards"]]


def test_rerun_reuses_the_plan_and_skips_published_shards(tmp_path):
    texts = _corpus(tmp_path / "c.jsonl")
    out = tmp_path / "cat"
    first = run_job([str(tmp_path / "c.jsonl")], out, shard_size=600, use_ray=False)
    assert len(first.built) == len(first.shards) > 2 and not first.skipped
    # A crash after two shards: the catalog and the later shards are not there yet, a staging dir is left behind.
    (out / "catalog.json").unlink()
    import shutil

    for outcome in first.shards[2:]:
        shutil.rmtree(out / "shards" / outcome.name)
    (out / "shards" / ".shard-00002.tmp-deadbeef").mkdir()
    kept = {p.name: p.stat().st_mtime_ns for p in (out / "shards" / "shard-00000").iterdir()}
    second = run_job([str(tmp_path / "c.jsonl")], out, shard_size=600, use_ray=False)
    assert second.skipped == ["shard-00000", "shard-00001"]
    assert second.built == [o.name for o in first.shards[2:]]
    assert {p.name: p.stat().st_mtime_ns for p in (out / "shards" / "shard-00000").iterdir()} == kept
    assert not list((out / "shards").glob(".shard-*"))
    idx = fmsearch.open_index(out)
    assert [idx.document(i).text for i in range(idx.num_documents)] == texts


def test_a_shard_published_by_another_attempt_during_the_build_is_kept(tmp_path, monkeypatch):
    """A worker of an interrupted run may publish the shard while the rerun's task builds it: the task keeps the
    intact shard instead of failing on it; a damaged one still fails the task."""
    from indexing import job

    _corpus(tmp_path / "c.jsonl")
    out = tmp_path / "cat"
    run_job([str(tmp_path / "c.jsonl")], out, shard_size=600, use_ray=False)
    shard = read_plan(out)["corpora"][0]["shards"][0]
    target = out / "shards" / shard["name"]
    published = {p.name: p.read_bytes() for p in target.iterdir()}
    real_build = job._build

    def other_attempt_publishes_first(shard_, target_, *args, damage=False):
        real_build(shard_, target_, *args)  # the other attempt's shard appears at the target ...
        if damage:
            (target_ / "sa_samples.bin").write_bytes(b"truncated")
        raise fmsearch.errors.IndexExists(f"{target_} already exists")  # ... so ours cannot be published

    for damage in (False, True):
        import shutil

        shutil.rmtree(target)
        monkeypatch.setattr(job, "_build", lambda *a, damage=damage: other_attempt_publishes_first(*a, damage=damage))
        if damage:
            with pytest.raises(fmsearch.errors.IndexExists):
                job.build_shard(shard, str(out), "text", False)
            continue
        outcome = job.build_shard(shard, str(out), "text", False)
        assert outcome["name"] == shard["name"]
        assert {p.name: p.read_bytes() for p in target.iterdir() if p.name != "manifest.json"} == {
            k: v for k, v in published.items() if k != "manifest.json"
        }


def test_other_sources_need_append_which_adds_shards_without_rewriting(tmp_path):
    a = _corpus(tmp_path / "a.jsonl", n=40, seed=1)
    b = _corpus(tmp_path / "b.jsonl", n=30, seed=2)
    out = tmp_path / "cat"
    run_job([str(tmp_path / "a.jsonl")], out, shard_size=500, use_ray=False)
    before = read_catalog(out)["shards"]
    with pytest.raises(InputError, match="--append"):
        run_job([str(tmp_path / "b.jsonl")], out, shard_size=500, use_ray=False)
    result = run_job([str(tmp_path / "b.jsonl")], out, shard_size=500, use_ray=False, append=True)
    assert len(result.skipped) == len(before)
    after = read_catalog(out)
    assert after["shards"][: len(before)] == before  # same manifests: existing shards were not rewritten
    assert after["sources"] == [str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl")]
    assert after["shards"][len(before)]["first_doc_id"] == 40
    idx = fmsearch.open_index(out)
    assert [idx.document(i).text for i in range(idx.num_documents)] == a + b
    assert idx.metadata(40)["source"] == str(tmp_path / "b.jsonl") and idx.metadata(40)["line"] == 1
    assert len(read_plan(out)["corpora"]) == 2


def test_input_changed_after_planning_is_reported(tmp_path):
    _corpus(tmp_path / "c.jsonl")
    out = tmp_path / "cat"
    run_job([str(tmp_path / "c.jsonl")], out, shard_size=600, use_ray=False)
    import shutil

    shutil.rmtree(out / "shards" / "shard-00001")
    _corpus(tmp_path / "c.jsonl", seed=9)  # rewritten with other documents
    with pytest.raises(
        ShardBuildFailed, match=r"shard-00001: InputError: .*c\.jsonl: input file changed since the plan"
    ):
        run_job([str(tmp_path / "c.jsonl")], out, shard_size=600, use_ray=False)


def test_a_catalog_takes_one_job_at_a_time(tmp_path):
    import fcntl

    _corpus(tmp_path / "c.jsonl")
    out = tmp_path / "cat"
    out.mkdir()
    with open(out / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(InputError, match="another `fmsearch index` is running"):
            run_job([str(tmp_path / "c.jsonl")], out, use_ray=False)
    assert run_job([str(tmp_path / "c.jsonl")], out, use_ray=False).built == ["shard-00000"]


def test_empty_input_and_an_unknown_storage_scheme_are_refused(tmp_path):
    (tmp_path / "e.jsonl").write_text("\n\n")
    with pytest.raises(InputError, match="no documents"):
        run_job([str(tmp_path / "e.jsonl")], tmp_path / "cat", use_ray=False)
    with pytest.raises(InputError, match="unknown storage scheme 'foo'"):
        run_job([str(tmp_path / "e.jsonl")], "foo://bucket/cat", use_ray=False)


def test_preset_reaches_every_shard_and_a_new_preset_is_a_new_plan(tmp_path):
    texts = _corpus(tmp_path / "c.jsonl")
    out = tmp_path / "cat"
    with pytest.raises(InputError, match=f"unknown preset 'tiny'; choose one of: {', '.join(PRESETS)}"):
        run_job([str(tmp_path / "c.jsonl")], out, preset="tiny", use_ray=False)
    run_job([str(tmp_path / "c.jsonl")], out, shard_size=800, preset="fast", use_ray=False)
    idx = fmsearch.open_index(out)
    assert {shard.manifest["params"]["preset"] for shard in idx.shards} == {"fast"}
    assert read_catalog(out)["build_params"]["preset"] == "fast"
    assert [idx.document(i).text for i in range(idx.num_documents)] == texts
    # The same sources with another preset are another request: refused without --append (no silent mix).
    with pytest.raises(InputError, match="--append"):
        run_job([str(tmp_path / "c.jsonl")], out, shard_size=800, use_ray=False)
