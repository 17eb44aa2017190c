"""Tests of fmsearch.sources: reading documents from files, directories and memory."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from fmsearch.errors import InputError
from fmsearch.sources import MAX_EXAMPLES, RecordReport, read_documents

RECORDS = [
    {"text": "plain ascii", "id": 1},
    {"text": "nul\x00inside\x00", "id": 2, "tags": ["a", "b"]},
    {"text": "emoji 😀🎉, é ü ñ 中文", "id": 3, "meta": {"nested": [1, 2.5, None]}},
    {"text": "", "id": 4},
    {"text": "line\nbreak\r\nsep\u2028tab\t", "id": 5, "source": None},
]
EXPECTED = [(r["text"], {k: v for k, v in r.items() if k != "text"}) for r in RECORDS]


def jsonl_bytes(records: list, ensure_ascii: bool = True) -> bytes:
    lines = (json.dumps(r, ensure_ascii=ensure_ascii) + "\n" for r in records)
    return "".join(lines).encode("utf-8")


def compressed_for(path: Path, data: bytes) -> bytes:
    if path.name.endswith(".gz"):
        return gzip.compress(data)
    if path.name.endswith(".zst"):
        return zstandard.ZstdCompressor().compress(data)
    return data


def write_jsonl(path: Path, records: list, ensure_ascii: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(compressed_for(path, jsonl_bytes(records, ensure_ascii)))
    return path


def read_all(inputs, **kwargs) -> list:
    return list(read_documents(inputs, **kwargs))


def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


# --- round trips -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["c.jsonl", "c.json", "c.jsonl.gz", "c.jsonl.zst"])
@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_json_lines_round_trip(tmp_path, name, ensure_ascii):
    path = write_jsonl(tmp_path / name, RECORDS, ensure_ascii)
    assert read_all(path) == EXPECTED
    assert read_all(str(path)) == EXPECTED
    assert read_all([path]) == EXPECTED


def test_suffix_is_case_insensitive(tmp_path):
    path = write_jsonl(tmp_path / "C.JSONL", RECORDS)
    assert read_all(path) == EXPECTED


def test_zstd_multiple_frames_and_streamed_writer(tmp_path):
    frames = [zstandard.ZstdCompressor().compress(jsonl_bytes([r])) for r in RECORDS]
    (tmp_path / "frames.jsonl.zst").write_bytes(b"".join(frames))
    assert read_all(tmp_path / "frames.jsonl.zst") == EXPECTED

    # A streamed frame has no content size in its header.
    with open(tmp_path / "streamed.jsonl.zst", "wb") as fh:
        with zstandard.ZstdCompressor().stream_writer(fh) as writer:
            writer.write(jsonl_bytes(RECORDS))
    assert read_all(tmp_path / "streamed.jsonl.zst") == EXPECTED


@pytest.mark.parametrize("name", ["long.jsonl", "long.jsonl.gz", "long.jsonl.zst"])
def test_long_lines_and_no_final_newline(tmp_path, name):
    rng = random.Random(7)
    texts = [rng.randbytes(n).hex() for n in (1_500_000, 10, 0, 2_500_000, 3)]
    texts[2] = "😀\x00"
    data = jsonl_bytes([{"text": t} for t in texts]).removesuffix(b"\n")
    path = tmp_path / name
    path.write_bytes(compressed_for(path, data))
    # Random hex barely compresses, so the file spans several 1 MiB reads.
    assert path.stat().st_size > 3 << 20
    assert read_all(path) == [(t, {}) for t in texts]


@pytest.mark.parametrize("name", ["t.jsonl.gz", "t.jsonl.zst"])
@pytest.mark.parametrize("cut", [10, 30])
def test_truncated_compressed_file_raises(tmp_path, name, cut):
    path = write_jsonl(tmp_path / name, RECORDS * 50)
    path.write_bytes(path.read_bytes()[:-cut])
    with pytest.raises(InputError, match=name):
        read_all(path, skip_bad_records=True)


@pytest.mark.parametrize("name", ["bad.jsonl.gz", "bad.jsonl.zst", "bad.parquet"])
def test_corrupt_file_raises(tmp_path, name):
    (tmp_path / name).write_bytes(b"this is not a compressed or parquet file\n" * 5)
    with pytest.raises(InputError, match=name):
        read_all(tmp_path / name, skip_bad_records=True)


def test_parquet_round_trip_over_several_batches(tmp_path):
    n = 2600  # more than one record batch and several row groups
    texts = [RECORDS[i % len(RECORDS)]["text"] + str(i) for i in range(n)]
    texts[7] = ""
    table = pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "text": pa.array(texts, pa.string()),
            "score": pa.array([None if i % 3 else i / 2 for i in range(n)]),
            "tags": pa.array([["a", str(i)] for i in range(n)]),
        }
    )
    pq.write_table(table, tmp_path / "c.parquet", row_group_size=1000)
    docs = read_all(tmp_path / "c.parquet")
    assert [t for t, _ in docs] == texts
    assert docs[3] == (texts[3], {"id": 3, "score": 1.5, "tags": ["a", "3"]})
    assert docs[4][1] == {"id": 4, "score": None, "tags": ["a", "4"]}
    assert all(type(m["id"]) is int and type(m["tags"]) is list for _, m in docs)


def test_parquet_large_string_column(tmp_path):
    texts = ["a\x00b", "😀", ""]
    table = pa.table({"text": pa.array(texts, pa.large_string())})
    pq.write_table(table, tmp_path / "c.parquet")
    assert read_all(tmp_path / "c.parquet") == [(t, {}) for t in texts]


def test_txt_whole_file_is_one_document(tmp_path, monkeypatch):
    content = "first line\r\nNUL\x00 and emoji 😀\n\nno newline at end"
    (tmp_path / "a.txt").write_bytes(content.encode("utf-8"))
    (tmp_path / "empty.txt").write_bytes(b"")
    docs = read_all([tmp_path / "a.txt", tmp_path / "empty.txt"])
    assert docs == [
        (content, {"path": str(tmp_path / "a.txt")}),
        ("", {"path": str(tmp_path / "empty.txt")}),
    ]
    monkeypatch.chdir(tmp_path)
    assert read_all("./a.txt") == [(content, {"path": "./a.txt"})]


def test_directory_is_read_recursively_in_sorted_path_order(tmp_path):
    root = tmp_path / "corpus"
    write_jsonl(root / "b.jsonl", [{"text": "b1"}, {"text": "b2"}])
    write_jsonl(root / "a" / "b" / "c.jsonl.gz", [{"text": "abc"}])
    write_jsonl(root / "a" / "y.jsonl.zst", [{"text": "ay"}])
    (root / "a" / "z.txt").write_text("az")
    (root / "a-b.txt").write_text("a-b")
    (root / "a.txt").write_text("a")
    pq.write_table(pa.table({"text": ["p"]}), root / "a" / "b" / "p.parquet")
    (root / "notes.md").write_text("ignored")
    (root / "a" / "data.csv").write_text("ignored")
    texts = [t for t, _ in read_all(root)]
    assert texts == ["abc", "p", "ay", "az", "a-b", "a", "b1", "b2"]
    assert [t for t, _ in read_all([root / "a", root / "a.txt"])] == texts[:4] + ["a"]


def test_empty_directory_yields_nothing(tmp_path):
    assert read_all(tmp_path) == []


# --- in-memory inputs ---------------------------------------------------------------


def test_mixed_iterable_of_texts_dicts_and_paths(tmp_path):
    path = write_jsonl(tmp_path / "f.jsonl", [{"text": "from file", "n": 1}])
    items = ["a 😀", {"text": "b\x00", "k": [1]}, path, "", str(path), {"text": ""}]
    assert read_all(items) == [
        ("a 😀", {}),
        ("b\x00", {"k": [1]}),
        ("from file", {"n": 1}),
        ("", {}),
        (str(path), {}),  # a str inside an iterable is text, never a path
        ("", {}),
    ]


def test_custom_text_field(tmp_path):
    records = [{"body": "one", "text": "kept as metadata"}, {"body": "two"}]
    path = write_jsonl(tmp_path / "c.jsonl", records)
    pq.write_table(pa.table({"body": ["p"], "text": ["t"]}), tmp_path / "c.parquet")
    docs = read_all([path, tmp_path / "c.parquet", {"body": "d"}], text_field="body")
    assert docs == [
        ("one", {"text": "kept as metadata"}),
        ("two", {}),
        ("p", {"text": "t"}),
        ("d", {}),
    ]
    with pytest.raises(InputError, match="missing text field 'text'"):
        read_all(path)  # the default field is absent from the second record


def test_a_lone_dict_or_bytes_is_not_an_iterable_of_documents():
    with pytest.raises(TypeError):
        read_all({"text": "one document"})
    with pytest.raises(TypeError):
        read_all(b"text")


def test_generator_input_is_consumed_lazily():
    pulled = []

    def source():
        for i in range(1000):
            pulled.append(i)
            yield f"doc {i}"

    docs = read_documents(source())
    assert pulled == []
    assert next(docs) == ("doc 0", {})
    assert next(docs) == ("doc 1", {})
    assert pulled == [0, 1]


def test_files_are_streamed_not_read_ahead(tmp_path):
    path = write_lines(tmp_path / "s.jsonl", [b'{"text": "first"}', b"{broken"])
    docs = read_documents([path, tmp_path / "missing.jsonl"])
    assert next(docs) == ("first", {})  # yielded before the bad line is reached
    with pytest.raises(InputError, match="s.jsonl line 2"):
        next(docs)


# --- bad records ------------------------------------------------------------------

BAD_JSON_LINES = [
    (b"not json", "invalid JSON"),
    (b'{"text": "unterminated', "invalid JSON"),
    (b"[1, 2]", "not a JSON object (got array)"),
    (b'"just a string"', "not a JSON object (got string)"),
    (b'{"body": "x", "id": 7}', "missing text field 'text' (fields: body, id)"),
    (b'{"text": 5}', "text field 'text' is not a string (got number)"),
    (b'{"text": ["a"]}', "text field 'text' is not a string (got array)"),
    (b'{"text": null}', "text field 'text' is null"),
    (b'{"text": "a\\ud800b"}', "lone surrogate"),
    (b'{"text": "\xff\xfe"}', "not valid UTF-8"),
    (b'{"text": "x", "n": ' + b"9" * 5000 + b"}", "invalid JSON"),
]


def bad_jsonl(tmp_path: Path, bad_line: bytes) -> Path:
    lines = [b'{"text": "good 1"}', b"", bad_line, b'{"text": "good 2"}']
    return write_lines(tmp_path / "corpus.jsonl", lines)


@pytest.mark.parametrize(("bad_line", "reason"), BAD_JSON_LINES)
def test_bad_json_line_raises_with_file_and_line(tmp_path, bad_line, reason):
    path = bad_jsonl(tmp_path, bad_line)
    with pytest.raises(InputError) as info:
        read_all(path)
    message = str(info.value)
    assert f"{path} line 3: " in message
    assert reason in message
    assert "--skip-bad-records" in message


@pytest.mark.parametrize(("bad_line", "reason"), BAD_JSON_LINES)
def test_bad_json_line_is_skipped_and_counted(tmp_path, bad_line, reason):
    path = bad_jsonl(tmp_path, bad_line)
    report = RecordReport()
    docs = read_all(path, skip_bad_records=True, report=report)
    assert docs == [("good 1", {}), ("good 2", {})]
    assert report.skipped == 1
    [bad] = report.examples
    assert (bad.path, bad.line) == (str(path), 3)
    assert reason in bad.reason


def test_error_message_format(tmp_path):
    lines = [b'{"text": "ok"}'] * 16 + [b'{"id": 17, "body": "b"}']
    path = write_lines(tmp_path / "corpus.jsonl", lines)
    with pytest.raises(InputError) as info:
        read_all(path)
    assert str(info.value) == (
        f"{path} line 17: missing text field 'text' (fields: id, body); "
        "fix the record or pass --skip-bad-records to skip and count bad records"
    )


def test_blank_lines_crlf_and_bom_are_not_bad(tmp_path):
    data = b'\xef\xbb\xbf{"text": "a"}\r\n\r\n   \n\t\n{"text": "b"}\r\n\n{"text": "c"}'
    (tmp_path / "c.jsonl").write_bytes(data)
    report = RecordReport()
    assert read_all(tmp_path / "c.jsonl", skip_bad_records=True, report=report) == [
        ("a", {}),
        ("b", {}),
        ("c", {}),
    ]
    assert report.skipped == 0


def test_line_numbers_count_blank_lines_in_compressed_files(tmp_path):
    data = b'{"text": "a"}\n\n{"text": 1}\n{"text": "b"}\n'
    (tmp_path / "c.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(data))
    report = RecordReport()
    docs = read_all(tmp_path / "c.jsonl.zst", skip_bad_records=True, report=report)
    assert docs == [("a", {}), ("b", {})]
    assert [(b.path, b.line) for b in report.examples] == [(str(tmp_path / "c.jsonl.zst"), 3)]


def test_report_counts_all_but_keeps_first_examples(tmp_path):
    lines = [b'{"text": "ok"}'] + [b'{"n": %d}' % i for i in range(30)]
    path = write_lines(tmp_path / "c.jsonl", lines)
    report = RecordReport()
    assert read_all(path, skip_bad_records=True, report=report) == [("ok", {})]
    assert report.skipped == 30
    assert len(report.examples) == MAX_EXAMPLES == 20
    assert [b.line for b in report.examples] == list(range(2, 22))


def test_report_accumulates_and_is_optional(tmp_path):
    path = bad_jsonl(tmp_path, b"{oops")
    report = RecordReport()
    read_all(path, skip_bad_records=True, report=report)
    read_all(path, skip_bad_records=True, report=report)
    assert report.skipped == 2
    docs = read_all(path, skip_bad_records=True)  # no report given
    assert docs == [("good 1", {}), ("good 2", {})]


def test_parquet_without_text_column(tmp_path):
    pq.write_table(pa.table({"body": ["x"], "id": [1]}), tmp_path / "p.parquet")
    good = write_jsonl(tmp_path / "g.jsonl", [{"text": "after"}])
    inputs = [tmp_path / "p.parquet", good]
    with pytest.raises(InputError, match=r"p\.parquet: no column 'text' \(columns: b"):
        read_all(inputs)
    report = RecordReport()
    docs = read_all(inputs, skip_bad_records=True, report=report)
    assert docs == [("after", {})]
    assert report.skipped == 1
    assert (report.examples[0].path, report.examples[0].line) == (
        str(tmp_path / "p.parquet"),
        0,
    )


@pytest.mark.parametrize(
    ("column", "reason"),
    [
        (pa.array(["a", None, "c"], pa.string()), "is null"),
        (pa.array([b"a", b"b", b"c"], pa.binary()), "not a string (got bytes)"),
        (pa.array([1, 2, 3]), "not a string (got number)"),
    ],
)
def test_parquet_bad_values(tmp_path, column, reason):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"text": column, "id": [1, 2, 3]}), path)
    values = column.to_pylist()
    bad_rows = [row for row, v in enumerate(values, 1) if not isinstance(v, str)]
    with pytest.raises(InputError) as info:
        read_all(path)
    assert f"p.parquet line {bad_rows[0]}: " in str(info.value)
    assert reason in str(info.value)
    report = RecordReport()
    docs = read_all(path, skip_bad_records=True, report=report)
    good_rows = [row for row in range(1, 4) if row not in bad_rows]
    assert docs == [(values[row - 1], {"id": row}) for row in good_rows]
    assert [b.line for b in report.examples] == bad_rows


def test_txt_not_utf8(tmp_path):
    (tmp_path / "bad.txt").write_bytes(b"fine\nstill fine\nbad \xff here\n")
    (tmp_path / "good.txt").write_text("good")
    with pytest.raises(InputError, match=r"bad\.txt line 3: not valid UTF-8"):
        read_all(tmp_path)
    report = RecordReport()
    docs = read_all(tmp_path, skip_bad_records=True, report=report)
    assert docs == [("good", {"path": str(tmp_path / "good.txt")})]
    assert [(b.path, b.line) for b in report.examples] == [(str(tmp_path / "bad.txt"), 3)]


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({"body": "x"}, "missing text field 'text' (fields: body)"),
        ({}, "missing text field 'text' (fields: none)"),
        ({"text": 3.5}, "not a string (got number)"),
        ({"text": None}, "is null"),
        ({"text": "\udc80"}, "lone surrogate"),
        ("lone \ud800 surrogate", "lone surrogate"),
        (42, "unsupported item type int"),
        (None, "unsupported item type NoneType"),
        (b"bytes", "unsupported item type bytes"),
    ],
)
def test_bad_in_memory_items(item, reason):
    items = ["first", {"text": "second"}, item, "last"]
    with pytest.raises(InputError) as info:
        read_all(items)
    assert "input item 3: " in str(info.value)
    assert reason in str(info.value)
    report = RecordReport()
    docs = read_all(items, skip_bad_records=True, report=report)
    assert docs == [("first", {}), ("second", {}), ("last", {})]
    assert report.skipped == 1
    assert report.examples[0].path == "<input>"
    assert report.examples[0].line == 3
    assert reason in report.examples[0].reason


# --- files that cannot be read at all -------------------------------------------


@pytest.mark.parametrize("skip", [False, True])
def test_unsupported_suffix(tmp_path, skip):
    (tmp_path / "data.csv").write_text("text\nhello\n")
    for inputs in (tmp_path / "data.csv", [tmp_path / "data.csv"]):
        with pytest.raises(InputError) as info:
            read_all(inputs, skip_bad_records=skip)
        message = str(info.value)
        assert "data.csv" in message
        for suffix in (".jsonl", ".jsonl.gz", ".jsonl.zst", ".parquet", ".txt"):
            assert suffix in message


@pytest.mark.parametrize("skip", [False, True])
def test_missing_file(tmp_path, skip):
    missing = tmp_path / "nope.jsonl"
    for inputs in (missing, str(missing), ["text", missing]):
        with pytest.raises(InputError, match="nope.jsonl"):
            read_all(inputs, skip_bad_records=skip)
