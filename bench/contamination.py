"""Contamination scoring speed: the kernel-backed scorer against a per-window `count()` loop, same entries, same run.

Data: a shard of the corpus given with --corpus (e.g. the 200 MB corpus of shared/corpus/make_corpus.py;
`--mb` keeps only the first MB of it), built once under --index-dir. Benchmark: --entries entries (default 1,000),
seeded: 10% dirty (verbatim slices of corpus documents), 10% suspicious (slices whose words are replaced in runs,
about half of them), the rest clean (word salad: corpus words in random order, so short windows still match by
chance).
Entries are 150-1,000 characters, like benchmark questions and passages.

Compared per category: entries per second of `score_texts` (eta, verdict, longest match and evidence), of
`score_texts(evidence=False)`, and of the loop `idx.count(window) > 0` for every window (eta and verdict only).
Verdicts and eta must be identical; the script exits 1 if they are not.

    python bench/contamination.py [--corpus FILE] [--mb 200] [--entries 1000] [--index-dir DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

# This script is named like the package it measures: keep its own folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

import fmsearch  # noqa: E402
from contamination.scoring import score_texts  # noqa: E402
from contamination.windows import DEFAULT_PARAMS, windows  # noqa: E402


def read_docs(corpus: Path, max_bytes: int) -> list[str]:
    docs, size = [], 0
    with corpus.open(encoding="utf-8") as f:
        for line in f:
            text = json.loads(line)["text"]
            docs.append(text)
            size += len(text.encode())
            if size >= max_bytes:
                break
    return docs


def make_entries(docs: list[str], n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    long_docs = [d for d in docs if len(d) > 1200]
    vocab = [w for d in rng.sample(docs, min(200, len(docs))) for w in d.split()[:300]]
    entries = []
    for i in range(n):
        length = rng.randint(150, 1000)
        if i % 10 == 0:
            d = rng.choice(long_docs)
            a = rng.randrange(len(d) - length)
            entries.append(("dirty", d[a : a + length]))
        elif i % 10 == 1:
            d = rng.choice(long_docs)
            a = rng.randrange(len(d) - length)
            words = d[a : a + length].split(" ")
            # Runs of kept and replaced words, about half each, so some windows survive whole.
            out, keep = [], True
            for w in words:
                if rng.random() < 0.1:
                    keep = not keep
                out.append(w if keep else f"zq{rng.randrange(10**6)}")
            entries.append(("suspicious", " ".join(out)))
        else:
            words = []
            while sum(len(w) + 1 for w in words) < length:
                words.append(rng.choice(vocab))
            entries.append(("clean", " ".join(words)))
    return entries


def build(docs: list[str], out: Path, shards: int) -> None:
    """One shard, or a catalog of `shards` shards cut at document boundaries (the catalog format of `indexing`)."""
    if shards == 1:
        fmsearch.build_index(docs, out)
        return
    from fmsearch.catalog import shard_entry, write_catalog

    entries, first = [], 0
    step = -(-len(docs) // shards)
    for k in range(shards):
        part = docs[k * step : (k + 1) * step]
        name = f"shard-{k:03d}"
        fmsearch.build_index(part, out / name)
        shard = fmsearch.open_index(out / name)
        entries.append(shard_entry({"name": name, "path": name, "ranges": []}, shard.manifest, first))
        first += shard.num_documents
    write_catalog(out, name=out.name, shards=entries, build_params={}, sources=["bench/contamination.py"])


def per_window_loop(idx, texts: list[str]) -> list[tuple[int, int, str]]:
    out = []
    for text in texts:
        spans = windows(text, DEFAULT_PARAMS.length)
        found = sum(1 for s, e in spans if idx.count(text[s:e]) > 0)
        out.append((found, len(spans), DEFAULT_PARAMS.verdict(found / len(spans))))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, required=True, help="JSON-lines corpus (e.g. from make_corpus.py)")
    ap.add_argument("--mb", type=float, default=200.0, help="use the first MB of the corpus")
    ap.add_argument("--entries", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--index-dir", type=Path, default=None, help="where the index is (built if missing)")
    ap.add_argument("--shards", type=int, default=1, help="build a catalog of this many shards (needs `indexing`)")
    ap.add_argument("--json", type=Path, default=None, help="also write the table as JSON here")
    args = ap.parse_args()
    console = Console()
    if not args.corpus.is_file():
        console.print(f"[red]error:[/] {args.corpus} not found; make it with shared/corpus/make_corpus.py")
        return 2
    max_bytes = int(args.mb * 1e6)
    index_dir = args.index_dir or Path(f"/tmp/contamination-bench-{int(args.mb)}mb-{args.shards}")
    docs = read_docs(args.corpus, max_bytes)
    if not ((index_dir / "manifest.json").is_file() or (index_dir / "catalog.json").is_file()):
        with console.status(f"building {args.shards} shard(s) of {len(docs):,} documents at {index_dir} ..."):
            t = time.perf_counter()
            build(docs, index_dir, args.shards)
            console.print(f"built {index_dir} in {time.perf_counter() - t:.1f} s")
    idx = fmsearch.open_index(index_dir)
    idx.warm()
    entries = make_entries(docs, args.entries, args.seed)
    # Compile the kernels and bring the index pages these entries touch into memory before any timing, so that
    # whichever method runs first does not pay for the disk.
    with console.status("warming up (one untimed pass) ..."):
        score_texts(idx, [e for _, e in entries])
        per_window_loop(idx, [entries[0][1]])

    rows, mismatches = [], 0
    cats = ("dirty", "suspicious", "clean")
    totals = {"scorer": 0.0, "verdict only": 0.0, "loop": 0.0}
    for cat in cats:
        texts = [e for c, e in entries if c == cat]
        # CPU seconds of this process: other work on the shared machine does not count against either method.
        t0 = time.process_time()
        full = score_texts(idx, texts)
        t1 = time.process_time()
        lean = score_texts(idx, texts, evidence=False)
        t2 = time.process_time()
        loop = per_window_loop(idx, texts)
        t3 = time.process_time()
        for a, b, c in zip(full, lean, loop, strict=True):
            if (a.windows_found, a.windows_total, a.verdict) != c or (b.windows_found, b.verdict) != c[::2]:
                mismatches += 1
        verdicts = {v: sum(1 for s in full if s.verdict == v) for v in cats}
        n_windows = sum(s.windows_total for s in full)
        row = {
            "entries": cat,
            "n": len(texts),
            "windows": n_windows,
            "verdicts d/s/c": f"{verdicts['dirty']}/{verdicts['suspicious']}/{verdicts['clean']}",
            "scorer e/s": len(texts) / (t1 - t0),
            "verdict-only e/s": len(texts) / (t2 - t1),
            "count() loop e/s": len(texts) / (t3 - t2),
            "speedup": (t3 - t2) / (t1 - t0),
            "speedup verdict-only": (t3 - t2) / (t2 - t1),
        }
        totals["scorer"] += t1 - t0
        totals["verdict only"] += t2 - t1
        totals["loop"] += t3 - t2
        rows.append(row)
    n = len(entries)
    rows.append(
        {
            "entries": "all",
            "n": n,
            "windows": sum(r["windows"] for r in rows),
            "verdicts d/s/c": "",
            "scorer e/s": n / totals["scorer"],
            "verdict-only e/s": n / totals["verdict only"],
            "count() loop e/s": n / totals["loop"],
            "speedup": totals["loop"] / totals["scorer"],
            "speedup verdict-only": totals["loop"] / totals["verdict only"],
        }
    )
    kind = f"catalog of {len(idx.shards)} shards" if len(idx.shards) > 1 else "shard"
    table = Table(
        expand=False, title=f"contamination scoring, {idx.num_bytes / 1e6:,.0f} MB {kind}, {idx.num_documents:,} docs"
    )
    for key in rows[0]:
        table.add_column(key, justify="right")
    for r in rows:
        table.add_row(
            *[f"{v:,.1f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else v for v in r.values()]
        )
    console.print(table)
    console.print(
        "entries per CPU second of this process. scorer: eta, verdict, longest match, evidence; "
        "verdict-only: evidence=False (still with longest match); count() loop: eta and verdict only"
    )
    console.print(f"load average during the run: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    console.print(f"identical verdicts and windows found: {'yes' if not mismatches else f'NO ({mismatches} differ)'}")
    # Wall clock over all entries (shared machine: other work slows both sides), one thread and one per core.
    texts = [e for _, e in entries]
    t0 = time.perf_counter()
    score_texts(idx, texts)
    t1 = time.perf_counter()
    score_texts(idx, texts, workers=os.cpu_count() or 1)
    t2 = time.perf_counter()
    per_window_loop(idx, texts)
    t3 = time.perf_counter()
    wall = {
        "scorer 1 thread e/s": n / (t1 - t0),
        f"scorer {os.cpu_count()} threads e/s": n / (t2 - t1),
        "count() loop e/s": n / (t3 - t2),
    }
    console.print("wall clock, all entries: " + ", ".join(f"{k} {v:,.0f}" for k, v in wall.items()))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "wall": wall, "mismatches": mismatches}, indent=1))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
