"""Indexing job: end-to-end wall time of a catalog build, 1 shard vs 4 shards on 1 and 2 Ray workers, against the
core's single-shard build (`fmsearch.build_index`, no Ray) measured in the same run, on the same JSON lines corpus
(the 200 MB corpus of shared/corpus/make_corpus.py, or its first --mb megabytes).

Questions: do 2 workers give >= 1.8x the throughput of 1 (target), and how much does this machine allow: the run
`halves` builds the corpus's two halves with `build_index` in two fresh processes, one after the other and then both
at once (no Ray), so its ratio is the ceiling any job can reach here (two vCPUs that are one core's hyperthreads, or
a shared memory bus, give less than 2x)? Is the job's overhead over the core's build
(planning pass, Ray start, task dispatch, verification, catalog) <= 10% of the build time? Does the driver's memory
stay flat (it streams; no corpus in memory)? Each configuration runs in a fresh process, so that its peak RSS is its
own; the driver's RSS is the job process's (Ray workers are separate processes; their peak is in the manifests).

    python bench/indexing.py CORPUS.jsonl [--mb 200] [--out-dir DIR] [--only core,1x1,4x1,4x2] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = {  # name -> (shards, workers); "core" is the plain single-shard build
    "core": (1, 0),
    "1x1": (1, 1),
    "4x1": (4, 1),
    "4x2": (4, 2),
    "20x2": (20, 2),  # small shards: suffix sorting is superlinear and cache-bound, so many small shards build faster
    "halves": (2, 0),  # the machine's ceiling for 2 workers: two core builds at once vs one after the other
}
BUILD_ONE = "import sys, fmsearch; fmsearch.build_index(sys.argv[1], sys.argv[2])"


def _split_halves(corpus: Path, text_bytes: int, work: Path) -> list[Path]:
    """The corpus's lines as two files of about equal text bytes."""
    halves = [work / "half-0.jsonl", work / "half-1.jsonl"]
    written = 0
    with open(corpus, "rb") as src, open(halves[0], "wb") as first, open(halves[1], "wb") as second:
        for line in src:
            if not line.strip():
                continue
            (first if written < text_bytes // 2 else second).write(line)
            written += len(json.loads(line)["text"].encode()) + 1
    return halves


def _build_processes(halves: list[Path], out: Path, together: bool) -> float:
    """Wall seconds to build each half in its own fresh process, all at once or one after the other."""
    started = time.perf_counter()
    procs = []
    for k, half in enumerate(halves):
        proc = subprocess.Popen([sys.executable, "-c", BUILD_ONE, str(half), str(out / f"{k}-{together}")])
        if not together and proc.wait() != 0:
            raise SystemExit(f"building {half} failed")
        procs.append(proc)
    if any(proc.wait() != 0 for proc in procs):
        raise SystemExit("building the halves failed")
    return time.perf_counter() - started


def _prefix(corpus: Path, mb: float | None, work: Path) -> Path:
    """The corpus, or its first `mb` megabytes of whole lines."""
    if mb is None:
        return corpus
    limit = int(mb * 1e6)
    out = work / f"corpus-{mb:g}mb.jsonl"
    written = 0
    with open(corpus, "rb") as src, open(out, "wb") as dst:
        for line in src:
            if written + len(line) > limit and written:
                break
            dst.write(line)
            written += len(line)
    return out


def _text_bytes(corpus: Path) -> int:
    total = 0
    with open(corpus, "rb") as f:
        for line in f:
            if line.strip():
                total += len(json.loads(line)["text"].encode()) + 1
    return total


def run_one(kind: str, corpus: Path, out: Path, text_bytes: int) -> dict:
    """One configuration, in this (fresh) process; returns its measurements."""
    started = time.perf_counter()
    if kind == "core":
        import fmsearch

        summary = fmsearch.build_index(corpus, out)
        wall = time.perf_counter() - started
        return {
            "wall": wall,
            "build": wall,
            "plan": 0.0,
            "ray_start": 0.0,
            "ray_stop": 0.0,
            "shards": 1,
            "index_bytes": summary.index_bytes,
            "driver_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "worker_rss": summary.peak_rss_bytes,
            "build_sum": wall,
        }
    if kind == "halves":
        out.mkdir(parents=True)
        halves = _split_halves(corpus, text_bytes, out)
        one_after_other = _build_processes(halves, out, together=False)
        wall = _build_processes(halves, out, together=True)
        manifests = [json.loads(p.read_text()) for p in out.glob("*-True/manifest.json")]
        return {
            "wall": wall,
            "build": wall,
            "sequential": one_after_other,
            "plan": 0.0,
            "ray_start": 0.0,
            "ray_stop": 0.0,
            "shards": 2,
            "index_bytes": sum(m["index_bytes"] for m in manifests),
            "driver_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "worker_rss": max(m["build"]["peak_rss_bytes"] for m in manifests),
            "build_sum": sum(m["build"]["seconds"] for m in manifests),
        }
    from indexing.job import run_job

    shards, workers = RUNS[kind]
    # Slightly over 1/shards, so that greedy packing gives `shards` shards, not one more.
    shard_size = text_bytes + 1 if shards == 1 else text_bytes // shards * 102 // 100
    result = run_job([str(corpus)], out, shard_size=shard_size, workers=workers)
    wall = time.perf_counter() - started
    manifests = [json.loads((out / "shards" / s.name / "manifest.json").read_text()) for s in result.shards]
    return {
        "wall": wall,
        "build": result.build_seconds,
        "plan": result.plan_seconds,
        "ray_start": result.ray_start_seconds,
        "ray_stop": result.ray_stop_seconds,
        "shards": len(result.shards),
        "index_bytes": result.index_bytes,
        "driver_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "worker_rss": max(m["build"]["peak_rss_bytes"] for m in manifests),
        "build_sum": sum(m["build"]["seconds"] for m in manifests),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path, help="JSON lines corpus (field 'text')")
    parser.add_argument("--mb", type=float, default=None, help="use only the first MB megabytes")
    parser.add_argument("--out-dir", type=Path, default=None, help="scratch directory (default: a temp dir)")
    parser.add_argument("--only", default=",".join(RUNS), help="comma-separated runs: " + ",".join(RUNS))
    parser.add_argument("--json", type=Path, default=None, help="also write every figure to this JSON file")
    parser.add_argument("--run-one", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--text-bytes", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_one:
        print(json.dumps(run_one(args.run_one, args.corpus, args.out, args.text_bytes)))
        return

    if args.out_dir:
        Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="fmsearch-bench-", dir=args.out_dir))
    try:
        corpus = _prefix(args.corpus, args.mb, work)
        text_bytes = _text_bytes(corpus)
        mb = text_bytes / 1e6
        print(f"corpus {args.corpus.name}: {mb:,.1f} MB of text ({corpus.stat().st_size / 1e6:,.1f} MB file)")
        load_start = os.getloadavg()
        print(f"load average at start: {load_start[0]:.2f} (the machine is shared: figures vary with it)")
        # Ray's dashboard process asks cloud metadata services what machine this is unless
        # ~/ray_bootstrap_config.yaml exists (see indexing/ray_local.py): the runs get a HOME holding an empty one, so
        # that the benchmark sends nothing off the machine.
        home = work / "home"
        home.mkdir()
        (home / "ray_bootstrap_config.yaml").write_text("{}\n")
        env = {**os.environ, "HOME": str(home), "RAY_USAGE_STATS_ENABLED": "0"}
        rows = {}
        for kind in args.only.split(","):
            out = work / f"out-{kind}"
            cmd = [sys.executable, __file__, str(corpus), "--run-one", kind, "--out", str(out)]
            done = subprocess.run([*cmd, "--text-bytes", str(text_bytes)], capture_output=True, text=True, env=env)
            if done.returncode != 0:
                raise SystemExit(f"run {kind} failed:\n{done.stderr[-3000:]}")
            rows[kind] = json.loads(done.stdout.strip().splitlines()[-1])
            r = rows[kind]
            print(
                f"  {kind:<5} wall {r['wall']:7.1f} s  {mb / r['wall']:6.2f} MB/s  "
                f"driver RSS {r['driver_rss'] / 1e6:6.0f} MB"
            )
            shutil.rmtree(out, ignore_errors=True)
        load_end = os.getloadavg()
        print(f"load average at end: {load_end[0]:.2f}")
        _report(rows, mb)
        if args.json:
            figures = {"corpus": args.corpus.name, "text_mb": mb, "cpus": os.cpu_count(), "runs": rows}
            figures["load_average"] = {"start": load_start[0], "end": load_end[0]}
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(figures, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _report(rows: dict, mb: float) -> None:
    from rich.console import Console
    from rich.table import Table

    labels = {
        "core": "core build_index, 1 shard, no Ray",
        "1x1": "job: 1 shard, 1 worker",
        "4x1": "job: 4 shards, 1 worker",
        "4x2": "job: 4 shards, 2 workers",
        "20x2": "job: 20 shards, 2 workers",
        "halves": "core build_index x2 processes at once, no Ray",
    }
    table = Table(title=f"indexing {mb:,.1f} MB of text")
    for col in (
        "run",
        "shards",
        "wall s",
        "MB/s",
        "plan s",
        "Ray start s",
        "Ray stop s",
        "build s",
        "sum of shard builds s",
        "index/text",
        "driver peak RSS MB",
        "worker peak RSS MB",
    ):
        table.add_column(col, justify="left" if col == "run" else "right")
    for kind, r in rows.items():
        table.add_row(
            labels[kind],
            str(r["shards"]),
            f"{r['wall']:.1f}",
            f"{mb / r['wall']:.2f}",
            f"{r['plan']:.1f}",
            f"{r['ray_start']:.1f}",
            f"{r['ray_stop']:.1f}",
            f"{r['build']:.1f}",
            f"{r['build_sum']:.1f}",
            f"{r['index_bytes'] / (mb * 1e6):.3f}",
            f"{r['driver_rss'] / 1e6:.0f}",
            f"{r['worker_rss'] / 1e6:.0f}",
        )
    console = Console(width=200)
    console.print(table)
    if "4x1" in rows and "4x2" in rows:
        speedup = rows["4x1"]["wall"] / rows["4x2"]["wall"]
        console.print(f"2 workers vs 1 (4 shards): {speedup:.2f}x throughput (target >= 1.8x)")
    if "halves" in rows:
        ceiling = rows["halves"]["sequential"] / rows["halves"]["wall"]
        console.print(
            f"this machine's ceiling: 2 builds at once vs one after the other (no Ray): {ceiling:.2f}x "
            f"({rows['halves']['sequential']:.1f} s -> {rows['halves']['wall']:.1f} s)"
        )
    if "1x1" in rows and "4x2" in rows:
        console.print(f"4 shards on 2 workers vs 1 shard on 1 worker: {rows['1x1']['wall'] / rows['4x2']['wall']:.2f}x")
    if "core" in rows and "1x1" in rows:
        overhead = rows["1x1"]["wall"] - rows["core"]["wall"]
        ray_fixed = rows["1x1"]["ray_start"] + rows["1x1"]["ray_stop"]
        console.print(
            f"job overhead over the core's build (1 shard): {overhead:+.1f} s = "
            f"{100 * overhead / rows['core']['wall']:+.1f}% of the build (target <= 10%); of it, starting and "
            f"stopping the embedded Ray {ray_fixed:.1f} s, the rest {overhead - ray_fixed:+.1f} s = "
            f"{100 * (overhead - ray_fixed) / rows['core']['wall']:+.1f}%"
        )


if __name__ == "__main__":
    # Run as a script, this file's folder comes first on sys.path and its name would shadow the `indexing` package.
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    main()
