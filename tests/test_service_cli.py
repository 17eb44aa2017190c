"""`fmsearch serve`: the command starts uvicorn on the given address and serves the named indexes; bad targets are
refused with a message before anything starts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

import fmsearch
from service.cli import parse_targets


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_parse_targets(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    got = parse_targets([str(tmp_path / "a"), f"both={tmp_path / 'a'},{tmp_path / 'b'}"])
    assert got == {"a": [str(tmp_path / "a")], "both": [str(tmp_path / "a"), str(tmp_path / "b")]}
    import typer

    with pytest.raises(typer.BadParameter, match="not a directory"):
        parse_targets([str(tmp_path / "missing")])
    with pytest.raises(typer.BadParameter, match="s3://b/cat is a URL.*fmsearch fetch s3://b/cat DIR"):
        parse_targets(["s3://b/cat"])
    with pytest.raises(typer.BadParameter, match="two indexes are named 'a'"):
        parse_targets([str(tmp_path / "a"), f"a={tmp_path / 'b'}"])


def test_serve_answers_over_http(tmp_path):
    fmsearch.build_index([{"text": "hello world, hello fmsearch"}], tmp_path / "hello")
    port = free_port()
    cmd = [sys.executable, "-m", "fmsearch", "serve", f"greet={tmp_path / 'hello'}", "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 300  # startup warms the kernels: on a fresh install they compile first
        while True:
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "the server did not become ready in 300 s"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        r = httpx.post(f"http://127.0.0.1:{port}/v1/count", json={"index": "greet", "query": "hello"})
        assert r.json()["count"] == 2
    finally:
        proc.terminate()
        proc.wait(10)


def test_serve_refuses_a_missing_directory(tmp_path):
    env = {**os.environ, "COLUMNS": "300"}  # rich wraps the error box at the terminal width
    cmd = [sys.executable, "-m", "fmsearch", "serve", str(tmp_path / "nope")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode != 0 and "nope is not a directory" in r.stdout + r.stderr
