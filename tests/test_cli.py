"""The `fmsearch` command, run in-process through typer's CliRunner on a small index built by the command itself.

Every printed number and every `--json` payload is checked against `fmsearch.open_index` and the brute-force oracle.
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import typer
from naive import NaiveIndex
from typer.testing import CliRunner

import fmsearch
from fmsearch import storage
from fmsearch.cli import EXIT_BUG, EXIT_DAMAGED, EXIT_ERROR, MAX_LIMIT, app, register_plugins

RECORDS: list[dict[str, Any]] = [
    {"text": "the cat sat on the mat", "id": "a", "n": 1},
    {"text": "Grüße aus Köln — naïve café", "id": "b"},
    {"text": "東京と京都と京都", "id": "c", "tags": ["x"]},
    {"text": "-dash at the start; the end", "id": "d"},
    {"text": "", "id": "empty"},
    {"text": "abababab\nline two\tthe end", "id": "f"},
]
TEXTS = [r["text"] for r in RECORDS]
QUERIES = ["the", "ab", "京都", "é", "-dash", "zzz", "\n", "the end"]


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("input") / "docs.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, corpus: Path, runner: CliRunner) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("cli") / "idx"
    result = runner.invoke(app, ["build", str(corpus), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


@pytest.fixture(scope="module")
def index(built: tuple[Path, Any]) -> Path:
    return built[0]


@pytest.fixture(scope="module")
def oracle() -> NaiveIndex:
    return NaiveIndex(TEXTS)


def run(runner: CliRunner, *args: str):
    return runner.invoke(app, [str(a) for a in args])


def assert_error(result, code: int = EXIT_ERROR, *fragments: str, progress: bool = False) -> None:
    """One red `error:` line on stderr naming the problem, the exit code, and no traceback anywhere.

    With `progress`, build progress lines may come before the error line (they go to stderr too).
    """
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    if progress:
        assert [line for line in lines if line.startswith("error:")] == lines[-1:], result.stderr
        lines = lines[-1:]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


# -- build -----------------------------------------------------------------------------------------------------------


def test_build_json_summary_matches_the_index(built: tuple[Path, Any]) -> None:
    out, payload = built
    idx = fmsearch.open_index(out)
    assert payload["num_documents"] == idx.num_documents == len(RECORDS)
    assert payload["num_bytes"] == idx.num_bytes == sum(len(t.encode()) for t in TEXTS)
    assert payload["index_bytes"] == idx.manifest["index_bytes"]
    assert payload["metadata_bytes"] == idx.manifest["metadata_bytes"]
    assert payload["ratio"] == pytest.approx(payload["index_bytes"] / payload["num_bytes"])
    assert payload["skipped_records"] == 0 and payload["bad_records"] == []
    for i, record in enumerate(RECORDS):
        assert idx.document(i).text == record["text"]
        assert idx.metadata(i) == {k: v for k, v in record.items() if k != "text"}


def test_build_prints_a_summary_table(runner: CliRunner, corpus: Path, tmp_path: Path) -> None:
    result = run(runner, "build", corpus, "--out", tmp_path / "idx")
    assert result.exit_code == 0, result.output
    idx = fmsearch.open_index(tmp_path / "idx")
    text = result.stdout
    for label in ("documents", "index size", "ratio", "metadata", "seconds", "MB/s", "peak RSS", "skipped records"):
        assert label in text
    assert f"{idx.manifest['index_bytes']:,} bytes" in text
    assert f"{idx.num_bytes:,} bytes" in text


def test_build_refuses_an_existing_out_without_force(runner: CliRunner, corpus: Path, index: Path) -> None:
    manifest = (index / storage.MANIFEST).read_bytes()
    result = run(runner, "build", corpus, "--out", index)
    assert_error(result, EXIT_ERROR, str(index), "already exists", "--force")
    assert (index / storage.MANIFEST).read_bytes() == manifest


def test_build_force_replaces_an_index(runner: CliRunner, corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "idx"
    other = tmp_path / "other.jsonl"
    other.write_text('{"text": "just one"}\n')
    assert run(runner, "build", corpus, "--out", out, "--json").exit_code == 0
    result = run(runner, "build", other, "--out", out, "--force", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["num_documents"] == 1
    assert fmsearch.open_index(out).document(0).text == "just one"


def test_build_force_never_replaces_a_folder_that_is_not_an_index(
    runner: CliRunner, corpus: Path, tmp_path: Path
) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    result = run(runner, "build", corpus, "--out", precious, "--force")
    assert_error(result, EXIT_ERROR, "not an fmsearch index")
    assert (precious / "thesis.tex").read_text() == "years of work"


def test_build_bad_record_is_an_error_naming_file_and_line(runner: CliRunner, tmp_path: Path) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text('{"text": "fine"}\n{"text": 5}\nnot json\n')
    result = run(runner, "build", src, "--out", tmp_path / "idx")
    assert_error(result, EXIT_ERROR, "bad.jsonl line 2", "--skip-bad-records", progress=True)
    assert not (tmp_path / "idx").exists()


def test_build_skip_bad_records_counts_and_lists_them(runner: CliRunner, tmp_path: Path) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text('{"text": "fine"}\n{"text": 5}\nnot json\n{"text": "also fine"}\n')
    result = run(runner, "build", src, "--out", tmp_path / "idx", "--skip-bad-records", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["num_documents"] == 2 and payload["skipped_records"] == 2
    assert "line 2" in payload["bad_records"][0] and "line 3" in payload["bad_records"][1]
    table = run(runner, "build", src, "--out", tmp_path / "idx2", "--skip-bad-records")
    assert table.exit_code == 0 and "line 3" in table.stdout


def test_build_text_field(runner: CliRunner, tmp_path: Path) -> None:
    src = tmp_path / "other.jsonl"
    src.write_text('{"body": "alpha beta", "title": "t1"}\n{"body": "beta gamma"}\n')
    result = run(runner, "build", src, "--out", tmp_path / "idx", "--text-field", "body", "--json")
    assert result.exit_code == 0, result.output
    idx = fmsearch.open_index(tmp_path / "idx")
    assert idx.count("beta") == 2 and idx.metadata(0) == {"title": "t1"}
    wrong = run(runner, "build", src, "--out", tmp_path / "idx2")
    assert_error(wrong, EXIT_ERROR, "missing text field 'text'", progress=True)


def test_build_preset(runner: CliRunner, corpus: Path, tmp_path: Path, oracle: NaiveIndex) -> None:
    result = run(runner, "build", corpus, "--out", tmp_path / "fast", "--preset", "fast", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(run(runner, "info", tmp_path / "fast", "--json").stdout)
    assert report["manifest"]["params"]["preset"] == "fast"
    for query in QUERIES:
        payload = json.loads(run(runner, "count", "--json", tmp_path / "fast", "--", query).stdout)
        assert payload["count"] == oracle.count(query), query
    bad = run(runner, "build", corpus, "--out", tmp_path / "other", "--preset", "tiny")
    assert_error(bad, EXIT_ERROR, "unknown preset 'tiny'", "compact", progress=True)
    assert not (tmp_path / "other").exists()


def test_build_missing_input(runner: CliRunner, tmp_path: Path) -> None:
    result = run(runner, "build", tmp_path / "nope.jsonl", "--out", tmp_path / "idx")
    assert_error(result, EXIT_ERROR, "nope.jsonl", progress=True)
    assert not (tmp_path / "idx").exists()


def test_build_without_out_is_a_usage_error(runner: CliRunner, corpus: Path) -> None:
    result = run(runner, "build", corpus)
    assert result.exit_code == 2 and "--out" in result.output


# -- count -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", QUERIES)
def test_count_matches_the_index_and_the_oracle(runner: CliRunner, index: Path, oracle: NaiveIndex, query: str) -> None:
    expected = oracle.count(query)
    assert fmsearch.open_index(index).count(query) == expected
    # A query starting with a dash needs `--` before it; options go before the `--`.
    args = ["count", index, "--", query] if query.startswith("-") else ["count", index, query]
    plain = run(runner, *args)
    assert plain.exit_code == 0, plain.output
    assert plain.stdout == f"{expected}\n"
    as_json = run(runner, "count", "--json", *args[1:])
    payload = json.loads(as_json.stdout)
    assert payload["count"] == expected and payload["query"] == query and payload["query_hex"] == query.encode().hex()
    assert payload["query_bytes"] == len(query.encode())


def test_count_hex_query(runner: CliRunner, index: Path, oracle: NaiveIndex) -> None:
    query = "京都"
    result = run(runner, "count", index, "--hex", query.encode().hex(), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["count"] == oracle.count(query) == 2
    spaced = " ".join(f"{b:02X}" for b in query.encode())  # "E4 BA AC E9 83 BD": spaces and capitals are fine
    assert json.loads(run(runner, "count", index, "--hex", spaced, "--json").stdout)["count"] == 2
    # A byte sequence that is not UTF-8 text: the first two bytes of 京.
    partial = query.encode()[:2]
    result = run(runner, "count", index, "--hex", partial.hex(), "--json")
    payload = json.loads(result.stdout)
    assert payload["count"] == oracle.count(partial)
    assert payload["query"] is None and payload["query_hex"] == partial.hex() and payload["query_bytes"] == 2


def test_argument_bytes_that_are_not_utf8_are_searched_as_they_are(
    runner: CliRunner, index: Path, oracle: NaiveIndex
) -> None:
    """Python hands undecodable argv bytes over as lone surrogates (surrogateescape); they are searched as bytes."""
    raw = "京".encode()[:2]  # two bytes of a three-byte character: not UTF-8 on their own
    as_arg = raw.decode("utf-8", errors="surrogateescape")
    payload = json.loads(run(runner, "count", index, as_arg, "--json").stdout)
    assert payload["count"] == oracle.count(raw) == oracle.count("京") == 3
    assert payload["query"] is None and payload["query_hex"] == raw.hex()


def test_query_is_taken_literally(runner: CliRunner, index: Path, oracle: NaiveIndex) -> None:
    """A backslash sequence is searched as typed, not interpreted as an escape."""
    result = run(runner, "count", index, "line\\n", "--json")
    assert json.loads(result.stdout)["count"] == oracle.count("line\\n") == 0
    assert json.loads(run(runner, "count", index, "line\n", "--json").stdout)["count"] == 0
    assert json.loads(run(runner, "count", index, "\nline", "--json").stdout)["count"] == 1


# -- find ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "limit", "offset"), [("the", 10, 0), ("the", 2, 1), ("京都", 5, 0), ("ab", 1, 2)])
def test_find_json_matches_the_index(
    runner: CliRunner, index: Path, oracle: NaiveIndex, query: str, limit: int, offset: int
) -> None:
    idx = fmsearch.open_index(index)
    result = run(runner, "find", index, query, "--limit", limit, "--offset", offset, "--context", 5, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    expected = idx.find(query, limit=limit, offset=offset)
    assert payload["total"] == expected.total == oracle.count(query)
    assert [(h["doc_id"], h["offset"]) for h in payload["hits"]] == [(h.doc_id, h.offset) for h in expected.hits]
    pattern = query.encode()
    for hit in payload["hits"]:
        data = TEXTS[hit["doc_id"]].encode()
        assert data[hit["offset"] : hit["offset"] + len(pattern)] == pattern
        assert hit["match"] == query
        snippet = (hit["before"] + hit["match"] + hit["after"]).encode()
        assert snippet == data[hit["start"] : hit["end"]]
        assert hit["start"] >= hit["offset"] - 5 - 3 and hit["end"] <= hit["offset"] + len(pattern) + 5 + 3
        assert hit["metadata"] == {k: v for k, v in RECORDS[hit["doc_id"]].items() if k != "text"}


def test_find_all_pages_cover_every_occurrence(runner: CliRunner, index: Path, oracle: NaiveIndex) -> None:
    seen = []
    for offset in range(0, 10, 2):
        payload = json.loads(run(runner, "find", index, "the", "-n", 2, "--offset", offset, "--json").stdout)
        seen += [(h["doc_id"], h["offset"]) for h in payload["hits"]]
    assert sorted(seen) == sorted(oracle.find("the"))


def test_find_table_shows_hits(runner: CliRunner, index: Path) -> None:
    idx = fmsearch.open_index(index)
    result = run(runner, "find", index, "京都")
    assert result.exit_code == 0, result.output
    assert "2 occurrences of '京都'" in result.stdout
    for hit in idx.find("京都").hits:
        assert f"{hit.offset:,}" in result.stdout
    assert "c" in result.stdout  # the metadata id column
    none = run(runner, "find", index, "zzz")
    assert none.exit_code == 0 and "0 occurrences" in none.stdout


def test_find_limit_over_the_maximum_is_refused(runner: CliRunner, index: Path) -> None:
    result = run(runner, "find", index, "the", "--limit", MAX_LIMIT + 1)
    assert result.exit_code == 2 and "--limit" in result.output
    negative = run(runner, "find", index, "the", "--offset", "-1")
    assert negative.exit_code == 2


# -- doc -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("doc_id", range(len(RECORDS)))
def test_doc_prints_the_exact_document(runner: CliRunner, index: Path, doc_id: int) -> None:
    result = run(runner, "doc", index, doc_id)
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == TEXTS[doc_id].encode()
    assert f"doc {doc_id}" in result.stderr


def test_doc_range_and_json(runner: CliRunner, index: Path) -> None:
    data = TEXTS[1].encode()
    result = run(runner, "doc", index, 1, "--start", 3, "--end", 9)
    assert result.stdout_bytes == data[3:9]
    payload = json.loads(run(runner, "doc", index, 1, "--start", 3, "--json").stdout)
    # Byte 3 falls inside "ü": the JSON text shows the cut character as U+FFFD.
    assert payload["text"] == data[3:].decode(errors="replace") and payload["length"] == len(data)
    assert payload["text"].startswith("\ufffd")
    assert (payload["start"], payload["end"]) == (3, len(data))
    assert payload["metadata"] == {"id": "b"}


def test_doc_errors(runner: CliRunner, index: Path) -> None:
    assert_error(run(runner, "doc", index, len(RECORDS)), EXIT_ERROR, "out of range", f"{len(RECORDS)} documents")
    assert_error(run(runner, "doc", index, 0, "--start", 5, "--end", 1000), EXIT_ERROR, "outside document 0")


# -- info ------------------------------------------------------------------------------------------------------------


def test_info_json_reports_every_component(runner: CliRunner, index: Path) -> None:
    idx = fmsearch.open_index(index)
    result = run(runner, "info", index, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    sizes = idx.sizes()
    assert set(report["sizes"]) == set(sizes)
    for group, entry in sizes.items():
        assert report["sizes"][group]["bytes"] == entry["bytes"]
        assert report["sizes"][group]["parts"] == entry["parts"]
    listed = {part for entry in sizes.values() for part in entry["parts"]}
    assert listed == set(idx.manifest["files"])  # every file of the shard is accounted for
    on_disk = sum((index / e["file"]).stat().st_size for e in idx.manifest["files"].values())
    assert report["index_bytes"] + report["metadata_bytes"] == on_disk
    assert report["index_bytes"] == idx.manifest["index_bytes"]
    assert report["num_documents"] == idx.num_documents and report["num_bytes"] == idx.num_bytes
    assert report["ratio"] == pytest.approx(report["index_bytes"] / idx.num_bytes)
    assert report["bits_per_byte"] == pytest.approx(8 * report["ratio"])
    assert report["manifest"]["format_version"] == storage.FORMAT_VERSION
    assert report["kind"] == "shard"


def test_info_table(runner: CliRunner, index: Path) -> None:
    idx = fmsearch.open_index(index)
    result = run(runner, "info", index)
    assert result.exit_code == 0, result.output
    for label in ("documents", "format version", "bits/byte", "bwt wavelet tree", "suffix array samples"):
        assert label in result.stdout
    assert f"{idx.manifest['index_bytes']:,}" in result.stdout


# -- verify ----------------------------------------------------------------------------------------------------------


def test_verify_healthy(runner: CliRunner, index: Path) -> None:
    result = run(runner, "verify", index)
    assert result.exit_code == 0, result.output
    assert "intact" in result.stdout
    payload = json.loads(run(runner, "verify", index, "--json").stdout)
    assert payload == {"index": str(index), "ok": True, "problems": []}


def test_verify_damaged(runner: CliRunner, index: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(index, copy)
    victim = copy / "sa_samples.bin"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2 + 32] ^= 1
    victim.write_bytes(bytes(data))
    result = run(runner, "verify", copy)
    assert result.exit_code == EXIT_DAMAGED
    assert "sa_samples.bin" in result.stderr and "Traceback" not in result.output
    payload = json.loads(run(runner, "verify", copy, "--json").stdout)
    assert payload["ok"] is False and len(payload["problems"]) == 1 and "sa_samples.bin" in payload["problems"][0]
    (copy / "doc_starts.bin").unlink()
    assert run(runner, "verify", copy).exit_code == EXIT_DAMAGED


def test_verify_missing_directory(runner: CliRunner, tmp_path: Path) -> None:
    assert_error(run(runner, "verify", tmp_path / "nope"), EXIT_ERROR, "no such index directory")
    assert_error(run(runner, "verify", "gs://bucket/cat"), EXIT_ERROR, "gs://bucket/cat is a URL", "fmsearch fetch")


def test_verify_catalog_uses_multi(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A directory holding catalog.json is checked by fmsearch.multi.verify_catalog (a stand-in here)."""
    catalog = tmp_path / "cat"
    catalog.mkdir()
    (catalog / "catalog.json").write_text("{}")
    answers: dict[str, list[str]] = {"problems": []}
    seen: list[Path] = []

    def verify_catalog(path: Path) -> list[str]:
        seen.append(Path(path))
        return answers["problems"]

    monkeypatch.setitem(sys.modules, "fmsearch.multi", types.SimpleNamespace(verify_catalog=verify_catalog))
    assert run(runner, "verify", catalog).exit_code == 0
    answers["problems"] = ["shard-0001: missing", "shard-0002/x.bin: checksum mismatch"]
    result = run(runner, "verify", catalog, "--json")
    assert result.exit_code == EXIT_DAMAGED
    assert json.loads(result.stdout)["problems"] == answers["problems"]
    assert seen == [catalog, catalog]


def test_catalog_of_two_shards(runner: CliRunner, tmp_path: Path) -> None:
    """count / find / doc / info / verify on a real catalog (catalog.json written by the indexing package)."""
    from fmsearch import catalog as catalog_mod

    root = tmp_path / "cat"
    entries, first = [], 0
    for k, texts in enumerate([TEXTS[:3], TEXTS[3:]]):
        rel = f"shards/s{k}"
        fmsearch.build_index(texts, root / rel)
        manifest = json.loads((root / rel / storage.MANIFEST).read_text())
        entries.append(catalog_mod.shard_entry({"name": f"s{k}", "path": rel, "ranges": []}, manifest, first))
        first += manifest["num_documents"]
    catalog_mod.write_catalog(root, name="two", shards=entries, build_params={}, sources=[])
    oracle = NaiveIndex(TEXTS)
    for query in ("the", "京都", "ab"):
        assert json.loads(run(runner, "count", root, query, "--json").stdout)["count"] == oracle.count(query)
        payload = json.loads(run(runner, "find", root, query, "-n", 100, "--json").stdout)
        assert sorted((h["doc_id"], h["offset"]) for h in payload["hits"]) == sorted(oracle.find(query))
    assert run(runner, "doc", root, 5).stdout_bytes == TEXTS[5].encode()
    report = json.loads(run(runner, "info", root, "--json").stdout)
    assert report["kind"] == "catalog" and report["num_shards"] == 2 and report["num_documents"] == len(TEXTS)
    on_disk = sum(p.stat().st_size for p in (root / "shards").rglob("*.bin"))
    assert report["index_bytes"] + report["metadata_bytes"] == on_disk
    assert "catalog" in run(runner, "info", root).stdout
    assert run(runner, "verify", root).exit_code == 0
    victim = root / "shards/s1/sa_samples.bin"
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0xFF
    victim.write_bytes(bytes(data))
    damaged = run(runner, "verify", root, "--json")
    assert damaged.exit_code == EXIT_DAMAGED
    problems = json.loads(damaged.stdout)["problems"]
    assert len(problems) == 1 and "s1" in problems[0] and "sa_samples.bin" in problems[0]


# -- errors ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command", [["count", "{dir}", "x"], ["find", "{dir}", "x"], ["doc", "{dir}", "0"], ["info", "{dir}"]]
)
def test_missing_and_non_index_directories(runner: CliRunner, tmp_path: Path, command: list[str]) -> None:
    missing = [c.replace("{dir}", str(tmp_path / "missing")) for c in command]
    assert_error(run(runner, *missing), EXIT_ERROR, "missing", "no such index directory")
    url = [c.replace("{dir}", "s3://bucket/cat") for c in command]
    assert_error(run(runner, *url), EXIT_ERROR, "s3://bucket/cat is a URL", "fmsearch fetch s3://bucket/cat DIR")
    empty = tmp_path / "empty"
    empty.mkdir(exist_ok=True)
    not_index = [c.replace("{dir}", str(empty)) for c in command]
    assert_error(run(runner, *not_index), EXIT_ERROR, "not an fmsearch index")
    file = tmp_path / "file.txt"
    file.write_text("x")
    a_file = [c.replace("{dir}", str(file)) for c in command]
    assert_error(run(runner, *a_file), EXIT_ERROR, "not a directory")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["count", "{dir}", ""], "query is empty"),
        (["find", "{dir}", ""], "query is empty"),
        (["count", "{dir}", "--hex", "ff"], "0xFF"),
        (["count", "{dir}", "--hex", "xyz"], "not hex"),
        (["count", "{dir}", "--hex", ""], "query is empty"),
    ],
)
def test_bad_queries(runner: CliRunner, index: Path, args: list[str], fragment: str) -> None:
    assert_error(run(runner, *[a.replace("{dir}", str(index)) for a in args]), EXIT_ERROR, fragment)


def test_query_over_the_limit(runner: CliRunner, index: Path) -> None:
    result = run(runner, "count", index, "a" * 70_000)
    assert_error(result, EXIT_ERROR, "70000 bytes", "65536")


def test_damaged_index_is_an_error_not_a_traceback(runner: CliRunner, index: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(index, copy)
    (copy / "doc_starts.bin").write_bytes(b"short")
    assert_error(run(runner, "count", copy, "the"), EXIT_ERROR, "doc_starts.bin")


def test_unexpected_exception_is_reported_as_a_bug(
    runner: CliRunner, index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug gives one error line and exit code 70, never confused with bad input (2); FMSEARCH_DEBUG re-raises."""

    def broken(*args: Any, **kwargs: Any) -> None:
        raise KeyError("params")

    monkeypatch.setattr(fmsearch, "open_index", broken)
    assert_error(run(runner, "count", index, "the"), EXIT_BUG, "unexpected KeyError", "FMSEARCH_DEBUG=1")
    monkeypatch.setenv("FMSEARCH_DEBUG", "1")
    result = run(runner, "count", index, "the")
    assert isinstance(result.exception, KeyError)


def test_interrupt_is_one_line_and_exit_130(runner: CliRunner, index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(fmsearch, "open_index", interrupted)
    assert_error(run(runner, "info", index), 130, "interrupted")


# -- plugins and entry points ----------------------------------------------------------------------------------------


def test_register_plugins_loads_present_and_skips_missing_or_broken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    pkg = tmp_path / "fmplugin_test_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "cli.py").write_text(
        "def register(app):\n    @app.command()\n    def hello(name: str) -> None:\n        print(f'hello {name}')\n"
    )
    (pkg / "broken.py").write_text("raise ImportError('half written')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    target = typer.Typer()

    @target.command()
    def other() -> None:  # with two commands typer keeps subcommand names
        pass

    loaded = register_plugins(
        target, ("fmplugin_test_pkg.cli", "fmplugin_test_pkg.broken", "no_such_pkg.cli", "fmplugin_test_pkg.none")
    )
    assert loaded == ["fmplugin_test_pkg.cli"]
    assert "fmplugin_test_pkg.broken" in capsys.readouterr().err
    result = CliRunner().invoke(target, ["hello", "you"])
    assert result.exit_code == 0 and result.stdout == "hello you\n"


def test_python_dash_m_entry_point(index: Path) -> None:
    """`python -m fmsearch` runs the same app, and the error path holds outside CliRunner too."""
    ok = subprocess.run([sys.executable, "-m", "fmsearch", "count", str(index), "the"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == f"{NaiveIndex(TEXTS).count('the')}\n"
    bad = subprocess.run(
        [sys.executable, "-m", "fmsearch", "info", str(index / "nope")], capture_output=True, text=True
    )
    assert bad.returncode == EXIT_ERROR
    assert bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr
    helped = subprocess.run([sys.executable, "-m", "fmsearch", "--help"], capture_output=True, text=True)
    assert helped.returncode == 0
    for command in ("build", "count", "find", "doc", "info", "verify"):
        assert command in helped.stdout


# -- the demo --------------------------------------------------------------------------------------------------------


def test_demo_stdlib_files_are_the_standard_library() -> None:
    from fmsearch import demo

    root, files = demo.stdlib_files()
    names = {p.relative_to(root).as_posix() for p in files}
    assert {"os.py", "json/__init__.py"} <= names
    assert not any("site-packages" in n or "dist-packages" in n for n in names)
    assert [p.relative_to(root).parts for p in files] == sorted(p.relative_to(root).parts for p in files)


def test_demo_builds_checks_and_reuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """The demo on a stand-in library of three files: built, every count agrees, reused, rebuilt when stale."""
    from fmsearch import demo

    lib = tmp_path / "lib"
    (lib / "pkg").mkdir(parents=True)
    (lib / "antigravity.py").write_text("import webbrowser\nwebbrowser.open('https://xkcd.com/353/')\n")
    (lib / "a.py").write_text("import os\nclass A:\n    def __init__(self):\n        f = lambda: 'π…'\n")
    (lib / "pkg" / "b.py").write_text("# Guido was here\nraise NotImplementedError\n")
    files = sorted(lib.rglob("*.py"), key=lambda p: p.relative_to(lib).parts)
    monkeypatch.setattr(demo, "stdlib_files", lambda: (lib, files))
    out = tmp_path / "out"

    demo.run(out)
    first = capsys.readouterr().out
    assert "(built now)" in first and "identical to the file" in first
    assert first.count("✓") == len(demo.QUERIES) and "MISMATCH" not in first
    idx = fmsearch.open_index(out / "stdlib")
    assert [idx.metadata(i)["path"] for i in range(idx.num_documents)] == ["a.py", "antigravity.py", "pkg/b.py"]

    demo.run(out)
    assert "(reused, verified)" in capsys.readouterr().out

    (lib / "a.py").write_text("import os\n")  # another corpus now
    demo.run(out)
    stale = capsys.readouterr().out
    assert "another corpus" in stale and "(built now)" in stale
    assert fmsearch.open_index(out / "stdlib").document(0).text == "import os\n"

    victim = out / "stdlib" / "doc_starts.bin"
    victim.write_bytes(victim.read_bytes()[:-1] + b"\x01")
    demo.run(out)
    damaged = capsys.readouterr().out
    assert "cannot be reused" in damaged and "(built now)" in damaged
    assert storage.verify(out / "stdlib") == []

    def unreadable(m: dict[str, Any]) -> None:  # intact files, parameters this fmsearch does not read
        m["params"]["block"] = 12345

    manifest = json.loads((out / "stdlib" / storage.MANIFEST).read_text())
    unreadable(manifest)
    manifest.pop("manifest_xxh3_128")
    storage.write_manifest(out / "stdlib", manifest)
    demo.run(out)
    old_layout = capsys.readouterr().out
    assert "cannot be reused" in old_layout and "(built now)" in old_layout
    assert fmsearch.open_index(out / "stdlib").manifest["params"]["block"] != 12345


def test_demo_refuses_to_replace_a_folder_that_is_not_an_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fmsearch import demo

    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "x.py").write_text("x = 1\n")
    monkeypatch.setattr(demo, "stdlib_files", lambda: (lib, [lib / "x.py"]))
    (tmp_path / "out" / "stdlib").mkdir(parents=True)
    (tmp_path / "out" / "stdlib" / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit) as caught:
        demo.main(["--out", str(tmp_path / "out")])
    assert caught.value.code == EXIT_ERROR
    assert (tmp_path / "out" / "stdlib" / "notes.txt").read_text() == "mine"


BUILD_SPY = """
import sys, fmsearch, fmsearch.build as build
loaded = {}
sort, bwt = build.pydivsufsort.divsufsort, build._bwt_and_samples
def spy_sort(text):
    loaded["suffix array"] = "numba" in sys.modules
    return sort(text)
def spy_bwt(*args):
    result = bwt(*args)
    loaded["bwt"] = "numba" in sys.modules
    return result
build.pydivsufsort.divsufsort, build._bwt_and_samples = spy_sort, spy_bwt
fmsearch.build_index(["abc", "abd"], sys.argv[1])
loaded["end"] = "numba" in sys.modules
print(loaded)
"""


def test_numba_loads_only_after_the_builds_memory_peak(tmp_path: Path) -> None:
    # numba is ~60 MB resident once imported; text + suffix array are the build's peak, so it must load after them.
    done = subprocess.run([sys.executable, "-c", BUILD_SPY, str(tmp_path / "out")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str({"suffix array": False, "bwt": False, "end": True})
