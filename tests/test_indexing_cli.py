"""`fmsearch index` and `fmsearch catalog` as a user runs them (typer's runner; --no-ray keeps it fast)."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

import fmsearch
from indexing.cli import register

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_index_then_catalog(tmp_path):
    src = tmp_path / "c.jsonl"
    src.write_text("".join(json.dumps({"text": f"doc {i} " + "x" * i}) + "\n" for i in range(60)))
    out = tmp_path / "cat"
    args = ["index", str(src), "--out", str(out), "--shard-size", "1KB", "--no-ray"]
    result = runner.invoke(_app(), args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "shard-00000" in result.output and "built" in result.output
    idx = fmsearch.open_index(out)
    assert idx.num_documents == 60 and len(idx.shards) > 1
    listing = runner.invoke(_app(), ["catalog", str(out)], env={"COLUMNS": "200"})
    assert listing.exit_code == 0, listing.output
    last = idx.shards[-1]
    assert f"{60 - last.num_documents}..59" in listing.output
    again = runner.invoke(_app(), args, env={"COLUMNS": "200"})
    assert again.exit_code == 0 and "skipped" in again.output


def test_errors_are_one_line_with_what_to_do(tmp_path):
    result = runner.invoke(_app(), ["index", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "cat"), "--no-ray"])
    assert result.exit_code == 2
    assert "input not found" in result.output and "Traceback" not in result.output
    result = runner.invoke(_app(), ["index", "x.jsonl", "--out", str(tmp_path / "c2"), "--shard-size", "huge"])
    assert result.exit_code == 2 and "not understood" in result.output
    result = runner.invoke(
        _app(),
        ["index", "x.jsonl", "--out", str(tmp_path / "c3"), "--workers", "2"],
        env={"RAY_ADDRESS": "127.0.0.1:1"},
    )
    assert result.exit_code == 2 and "--workers" in result.output
    result = runner.invoke(_app(), ["catalog", str(tmp_path)])
    assert result.exit_code == 2 and "catalog.json" in result.output


def test_a_job_with_failed_shards_exits_1_and_says_to_rerun(tmp_path, monkeypatch):
    from indexing import job

    def partly_failed(*args, **kwargs):
        raise job.ShardBuildFailed("1 of 3 shards failed; the 2 others are published, a rerun resumes")

    monkeypatch.setattr(job, "run_job", partly_failed)
    result = runner.invoke(_app(), ["index", "x.jsonl", "--out", str(tmp_path / "cat"), "--no-ray"])
    assert result.exit_code == 1 and "1 of 3 shards failed" in result.output and "Traceback" not in result.output
