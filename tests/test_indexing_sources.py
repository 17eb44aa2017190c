"""Corpus sources: expansion of what the user names, readers with provenance, resuming mid-unit, `datasets` input.

`datasets` sources are tested on local data the tests create: a dataset saved with `save_to_disk`, and the hf://
reader (`datasets.load_dataset(..., streaming=True)`, the hub code path) on local parquet and JSON lines files
through the packaged `parquet` / `json` builders. Nothing here touches the network.
"""

from __future__ import annotations

import gzip
import json
import os

import pytest
import zstandard

from fmsearch.errors import InputError
from indexing.job import run_job
from indexing.sources import expand_source, expand_sources, read_unit

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

RECORDS = [{"text": f"document {i} {'é' * (i % 3)}", "k": i} for i in range(25)]


def _jsonl(path, records=RECORDS, blank_every: int = 0) -> str:
    lines = []
    for i, r in enumerate(records):
        lines.append(json.dumps(r))
        if blank_every and i % blank_every == 0:
            lines.append("")
    data = ("\n".join(lines) + "\n").encode()
    if str(path).endswith(".gz"):
        data = gzip.compress(data)
    elif str(path).endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return str(path)


def _parquet(path, records=RECORDS, row_group_size: int = 4) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(records), path, row_group_size=row_group_size)
    return str(path)


def _texts(unit, **kw) -> list[str]:
    return [r.text for r in read_unit(unit, **kw)]


# -- expansion -----------------------------------------------------------------------------------------------------


def test_glob_and_directory_expand_in_sorted_order(tmp_path):
    for name in ["b.jsonl", "a.jsonl", "c.parquet"]:
        (_parquet if name.endswith("parquet") else _jsonl)(tmp_path / name)
    (tmp_path / "sub").mkdir()
    _jsonl(tmp_path / "sub" / "a.jsonl.gz")
    (tmp_path / "notes.md").write_text("ignored in a directory")
    units = expand_source(str(tmp_path / "*.jsonl"))
    assert [os.path.basename(u["name"]) for u in units] == ["a.jsonl", "b.jsonl"]
    units = expand_source(str(tmp_path))
    assert [os.path.relpath(u["path"], tmp_path) for u in units] == [
        "a.jsonl",
        "b.jsonl",
        "c.parquet",
        os.path.join("sub", "a.jsonl.gz"),
    ]
    assert [u["kind"] for u in units] == ["jsonl", "jsonl", "parquet", "jsonl"]
    units = expand_sources([str(tmp_path / "b.jsonl"), str(tmp_path / "a.jsonl")])
    assert [os.path.basename(u["name"]) for u in units] == ["b.jsonl", "a.jsonl"]  # the order given is kept


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("missing.jsonl", "input not found"),
        ("*.nothing", "matches no files"),
        ("s3://bucket/x.jsonl", "unsupported URL scheme"),
        ("hf://", "no dataset name"),
        ("hf://a/b/c/d", "path parts"),
        ("hf://org/name?splt=train", "unknown option"),
    ],
)
def test_unusable_sources_name_the_problem(tmp_path, monkeypatch, spec, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match=message):
        expand_source(spec)


def test_unsupported_file_type_names_the_accepted_ones(tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(InputError, match=r"x\.csv: unsupported file type.*\.jsonl"):
        expand_source(str(tmp_path / "x.csv"))
    with pytest.raises(InputError, match="no sources"):
        expand_sources([])


def test_hf_spec_parsing():
    (unit,) = expand_source("hf://allenai/c4/en?split=validation&field=content&revision=abc")
    assert (unit["dataset"], unit["config"], unit["split"], unit["field"], unit["revision"]) == (
        "allenai/c4",
        "en",
        "validation",
        "content",
        "abc",
    )
    (unit,) = expand_source("hf://wikitext?config=wikitext-2-raw-v1")
    assert (unit["dataset"], unit["config"], unit["split"], unit["field"]) == (
        "wikitext",
        "wikitext-2-raw-v1",
        "train",
        None,
    )


# -- readers -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["c.jsonl", "c.jsonl.gz", "c.jsonl.zst"])
def test_jsonl_provenance_and_resume_mid_file(tmp_path, name):
    (unit,) = expand_source(_jsonl(tmp_path / name, blank_every=4))
    records = list(read_unit(unit))
    assert [r.text for r in records] == [r["text"] for r in RECORDS]
    raw_lines = gzip.decompress(open(unit["path"], "rb").read()) if name.endswith(".gz") else None
    if raw_lines is None and name.endswith(".zst"):
        raw_lines = zstandard.ZstdDecompressor().decompress(open(unit["path"], "rb").read())
    raw_lines = (raw_lines or open(unit["path"], "rb").read()).split(b"\n")
    for r in records:
        assert r.metadata["source"] == unit["name"]
        # `line` is the 1-based line of the record in the (decompressed) file: blank lines count.
        assert json.loads(raw_lines[r.metadata["line"] - 1])["k"] == r.metadata["k"]
    tail = records[10:]
    resumed = list(read_unit(unit, start=tail[0].position, byte_offset=tail[0].byte_offset))
    assert resumed == tail


def test_parquet_rows_and_resume_inside_a_row_group(tmp_path):
    (unit,) = expand_source(_parquet(tmp_path / "t.parquet"))
    records = list(read_unit(unit))
    assert [r.metadata["row"] for r in records] == list(range(len(RECORDS)))
    assert [r.metadata["k"] for r in records] == [r["k"] for r in RECORDS]
    assert list(read_unit(unit, start=9)) == records[9:]  # row 9 sits inside the third group of 4


def test_record_fields_named_like_provenance_are_kept_aside(tmp_path):
    (unit,) = expand_source(_jsonl(tmp_path / "p.jsonl", [{"text": "t", "source": "web", "line": 7}]))
    (record,) = read_unit(unit)
    assert record.metadata == {"record_source": "web", "record_line": 7, "source": unit["name"], "line": 1}


def test_bad_records_raise_with_line_or_are_skipped(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n{"text": 3}\nnot json\n{"body": "x"}\n{"text": "fine"}\n')
    (unit,) = expand_source(str(path))
    with pytest.raises(InputError, match=r"bad\.jsonl line 2: .*'text'.*--skip-bad-records"):
        list(read_unit(unit))
    assert [(r.text, r.metadata["line"]) for r in read_unit(unit, skip_bad_records=True)] == [("ok", 1), ("fine", 5)]


def test_txt_is_one_document(tmp_path):
    path = tmp_path / "doc.txt"
    path.write_text("line one\nline two\n", encoding="utf-8")
    (unit,) = expand_source(str(path))
    (record,) = read_unit(unit)
    assert record.text == "line one\nline two\n" and record.metadata == {"source": str(path), "line": 1}


# -- datasets ------------------------------------------------------------------------------------------------------


def test_saved_dataset_and_dataset_dict(tmp_path):
    import datasets

    rows = [{"content": f"row {i} ü", "id": i} for i in range(30)]
    ds = datasets.Dataset.from_list(rows)
    ds.save_to_disk(str(tmp_path / "one"))
    (unit,) = expand_source(str(tmp_path / "one") + "?field=content")
    assert unit["kind"] == "saved"
    records = list(read_unit(unit))
    assert [r.text for r in records] == [r["content"] for r in rows]
    assert [(r.metadata["row"], r.metadata["id"]) for r in records] == [(i, i) for i in range(30)]
    assert list(read_unit(unit, start=17)) == records[17:]

    datasets.DatasetDict({"train": ds, "test": ds.select(range(5))}).save_to_disk(str(tmp_path / "dict"))
    (unit,) = expand_source(str(tmp_path / "dict") + "?split=test&field=content")
    assert [r.text for r in read_unit(unit)] == [r["content"] for r in rows[:5]]
    (unit,) = expand_source(str(tmp_path / "dict"))
    with pytest.raises(InputError, match=r"splits .*\?split=NAME"):
        list(read_unit(unit))


@pytest.mark.parametrize("builder", ["parquet", "json"])
def test_hf_streaming_reader_on_local_files(tmp_path, builder):
    path = _parquet(tmp_path / "d.parquet") if builder == "parquet" else _jsonl(tmp_path / "d.jsonl")
    (unit,) = expand_source(f"hf://{builder}?data_files={path}&split=train")
    records = list(read_unit(unit))
    assert [r.text for r in records] == [r["text"] for r in RECORDS]
    assert [r.metadata["row"] for r in records] == list(range(len(RECORDS)))
    assert records[0].metadata["source"].startswith(f"hf://{builder}?")
    assert list(read_unit(unit, start=11)) == records[11:]


def test_catalog_from_mixed_sources_keeps_order_and_provenance(tmp_path):
    """Files, a saved dataset and an hf:// source in one catalog of several shards, ids in source order."""
    import datasets

    import fmsearch

    datasets.Dataset.from_list([{"text": f"saved {i}"} for i in range(12)]).save_to_disk(str(tmp_path / "saved"))
    sources = [
        _jsonl(tmp_path / "a.jsonl.gz"),
        str(tmp_path / "saved"),
        "hf://parquet?data_files=" + _parquet(tmp_path / "p.parquet"),
    ]
    result = run_job(sources, tmp_path / "cat", shard_size=150, use_ray=False)
    assert len(result.shards) > 3
    idx = fmsearch.open_index(tmp_path / "cat")
    expected = [r["text"] for r in RECORDS] + [f"saved {i}" for i in range(12)] + [r["text"] for r in RECORDS]
    assert [idx.document(i).text for i in range(idx.num_documents)] == expected
    assert idx.metadata(0)["line"] == 1 and idx.metadata(25) == {"source": str(tmp_path / "saved"), "row": 0}
    assert idx.metadata(37)["row"] == 0 and idx.metadata(37)["source"] == sources[2]
    assert idx.count("document 1") == 2 * sum("document 1" in r["text"] for r in RECORDS)
