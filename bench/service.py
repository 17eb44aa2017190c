"""Question: what does HTTP cost on top of the engine for /v1/count?

Compares, on one shard of a corpus (default: the 200 MB corpus built by corpus/make_corpus.py), requests per second
and p50 / p99 latency of POST /v1/count with 50-byte queries at 1, 8 and 32 concurrent clients against the same
queries called on the engine in-process (threads, same concurrency). The server is `uvicorn service.main:create_app`
in its own process on 127.0.0.1; the load generator is a small keep-alive HTTP/1.1 client on asyncio. Every run is
bounded by --seconds per level. Also reports errors (non-200 answers) and the server's RSS before and after.

    python bench/service.py --shard DIR [--corpus corpus.jsonl] [--seconds 30] [--levels 1,8,32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

import fmsearch


def sample_queries(idx, n: int, size: int, seed: int = 0) -> list[str]:
    """`n` substrings of `size` UTF-8 bytes taken from random documents (all occur at least once)."""
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        doc = rng.randrange(idx.num_documents)
        length = idx.document_length(doc)
        if length < size:
            continue
        start = rng.randrange(length - size + 1)
        data = idx.extract(doc, start, start + size)
        try:
            out.append(data.decode("utf-8"))
        except UnicodeDecodeError:
            continue  # cut inside a character: draw again
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentiles(latencies: list[float]) -> tuple[float, float]:
    a = np.asarray(latencies) * 1000
    return float(np.percentile(a, 50)), float(np.percentile(a, 99))


def bench_engine(idx, queries: list[str], clients: int, seconds: float) -> dict:
    """The engine in-process: `clients` threads calling idx.count in a loop (the kernel releases the GIL)."""
    stop = time.perf_counter() + seconds
    lat: list[list[float]] = [[] for _ in range(clients)]

    def worker(k: int) -> None:
        i = k
        mine = lat[k]
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            idx.count(queries[i % len(queries)])
            mine.append(time.perf_counter() - t0)
            i += clients

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    flat = [x for xs in lat for x in xs]
    p50, p99 = percentiles(flat)
    return {"rps": len(flat) / elapsed, "p50": p50, "p99": p99, "n": len(flat), "errors": 0}


async def _client(port: int, bodies: list[bytes], start: int, step: int, stop: float, lat: list, errs: list) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = start
    try:
        while time.perf_counter() < stop:
            body = bodies[i % len(bodies)]
            i += step
            t0 = time.perf_counter()
            writer.write(
                b"POST /v1/count HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            lat.append(time.perf_counter() - t0)
            if status != 200:
                errs.append(status)
    finally:
        writer.close()


async def _load(port: int, bodies: list[bytes], clients: int, seconds: float) -> dict:
    lat: list[float] = []
    errs: list[int] = []
    stop = time.perf_counter() + seconds
    t0 = time.perf_counter()
    await asyncio.gather(*(_client(port, bodies, k, clients, stop, lat, errs) for k in range(clients)))
    elapsed = time.perf_counter() - t0
    p50, p99 = percentiles(lat)
    return {"rps": len(lat) / elapsed, "p50": p50, "p99": p99, "n": len(lat), "errors": len(errs)}


def start_server(shard: Path, port: int) -> subprocess.Popen:
    env = dict(os.environ)
    env["FMSEARCH_INDEXES"] = json.dumps({"bench": [str(shard)]})
    env["FMSEARCH_MAX_CONCURRENT_PER_CLIENT"] = "1000"
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "service.main:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    proc = subprocess.Popen(cmd, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if b" 200 " in s.recv(100):
                    return proc
        except OSError:
            pass
        if proc.poll() is not None:
            raise SystemExit("the server exited during start")
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not become ready in 120 s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--shard", type=Path, required=True, help="shard or catalog dir (a shard is built from --corpus if missing)"
    )
    ap.add_argument("--corpus", type=Path, help="JSONL corpus to build the shard from when it does not exist")
    ap.add_argument("--seconds", type=float, default=30.0, help="duration of each level (bounded)")
    ap.add_argument("--levels", default="1,8,32", help="concurrent clients per level")
    ap.add_argument("--query-bytes", type=int, default=50)
    args = ap.parse_args()
    if not (args.shard / "manifest.json").exists() and not (args.shard / "catalog.json").exists():
        if args.corpus is None:
            raise SystemExit(f"{args.shard} holds no index; give --corpus to build one")
        print(f"building {args.shard} from {args.corpus} ...", flush=True)
        fmsearch.build_index([args.corpus], args.shard, progress=True)
    idx = fmsearch.open_index(args.shard)
    idx.warm()
    queries = sample_queries(idx, 2000, args.query_bytes)
    bodies = [json.dumps({"index": "bench", "query": q}).encode() for q in queries]
    levels = [int(x) for x in args.levels.split(",")]
    print(
        f"shard: {idx.num_documents} documents, {idx.num_bytes / 1e6:.0f} MB; {len(queries)} queries of "
        f"{args.query_bytes} bytes; {args.seconds:g} s per level; {os.cpu_count()} cores",
        flush=True,
    )

    engine = {c: bench_engine(idx, queries, c, min(args.seconds, 10.0)) for c in levels}
    port = free_port()
    proc = start_server(args.shard, port)
    try:
        asyncio.run(_load(port, bodies, 4, 2.0))  # warm-up: connections, first requests
        rss = [rss_mb(proc.pid)]
        http = {}
        for c in levels:
            http[c] = asyncio.run(_load(port, bodies, c, args.seconds))
            rss.append(rss_mb(proc.pid))
    finally:
        proc.terminate()
        proc.wait(10)

    print()
    print(
        "| clients | HTTP req/s | HTTP p50 ms | HTTP p99 ms | errors | engine calls/s | engine p50 ms | engine p99 ms "
        "| overhead (engine/HTTP throughput) | server RSS MB after |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for k, c in enumerate(levels):
        h, e = http[c], engine[c]
        print(
            f"| {c} | {h['rps']:,.0f} | {h['p50']:.2f} | {h['p99']:.2f} | {h['errors']} | {e['rps']:,.0f} | "
            f"{e['p50']:.3f} | {e['p99']:.3f} | {e['rps'] / max(h['rps'], 1e-9):.1f}x | {rss[k + 1]:.0f} |"
        )
    print(f"server RSS after warm-up: {rss[0]:.0f} MB; after the last level: {rss[-1]:.0f} MB")


if __name__ == "__main__":
    main()
