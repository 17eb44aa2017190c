"""How big, how fast to build, and how fast to query is one fmsearch shard, next to baselines measured in the same run?

Compares one fmsearch shard built from a JSON-lines corpus (the first --mb MB of its `text` fields) with
  * libdivsufsort (`pydivsufsort.divsufsort`) sorting the same concatenated text: the floor of any suffix-array build;
  * a plain suffix array + text searched by binary search (a numba kernel comparing bytes): count and find on the
    same 10-, 50- and 200-byte patterns, which also serves as the oracle for every count and hit fmsearch returns;
  * sdsl-lite `csa_wt<wt_huff<rrr_vector<127>>,32,64>` reference figures (measured earlier on this class of machine
    on a similar 200 MB corpus; not re-run here) and the project's targets.
Without --corpus it indexes the Python standard library's sources, so it runs anywhere (figures then are not
comparable with the 200 MB references).

Also measured (no baseline): open in a fresh process, find per hit (1..1000 hits, limit=100), snippets, extract,
and matching statistics on text copied from the corpus, on English-like text not in it, and on near-copies (one byte
in 100 changed: the contamination case).

Every query figure is a median over several hundred patterns (fixed seed), each timed as the median of 3 rounds over
the whole pattern set (never the same pattern twice in a row, which would find it in the CPU cache), with the page
cache warm and the kernels compiled (`idx.warm()`); wall clock and thread CPU time are both recorded. Build and open
run in fresh processes so their peak / resident memory is theirs alone.

    python bench/core.py --corpus corpus.jsonl --mb 200 --json bench-out/core.json
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

# bench/ is not a package, and it holds scripts named like the project's packages (contamination.py, ...): it stays
# on the import path only while the helpers are imported, so that an `import contamination` finds the package.
_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE))
from _common import (  # noqa: E402
    Corpus,
    Timings,
    console,
    fmt,
    load_corpus,
    machine,
    median,
    phase,
    print_table,
    run_probe,
    time_call,
    time_each,
    warm_files,
    write_json,
)

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

# sdsl-lite csa_wt<wt_huff<rrr_vector<127>>,32,64> on a similar 200 MB corpus, same class of machine (issue figures).
SDSL = {
    "build_seconds": 55.0,
    "peak_rss_ratio": 4.9,
    "index_ratio": 0.43,
    "count_us": {10: 49.0, 50: 213.0, 200: 798.0},
    "find_us_per_hit": 107.0,
    "extract_mb_s": 0.29,
}
# The project's targets: (comparison, bound).
TARGETS = {
    "index_ratio": ("<=", 0.40),
    "count_us_50": ("<=", 30.0),
    "find_us_per_hit": ("<=", 15.0),
    "snippet_us": ("<=", 100.0),
    "extract_mb_s": (">=", 5.0),
    "build_mb_per_cpu_s": (">=", 7.0),
    "peak_rss_ratio": ("<=", 5.5),
    "open_ms": ("<", 50.0),
    "open_rss_mb": ("<", 50.0),
}
PATTERN_LENGTHS = (10, 50, 200)
FIND_LIMIT = 100
SNIPPET_CONTEXT = 100
NEAR_COPY_EVERY = 100


# -- baseline: a plain suffix array searched by binary search -------------------------------------------------------


@njit(nogil=True, cache=True)
def _compare(text, pos, pattern, lo, hi):
    """Sign of (first hi-lo bytes of the suffix at pos) minus pattern[lo:hi]; a shorter suffix compares lower."""
    n = text.shape[0]
    for k in range(hi - lo):
        if pos + k >= n:
            return -1
        a = text[pos + k]
        b = pattern[lo + k]
        if a != b:
            return -1 if a < b else 1
    return 0


@njit(nogil=True, cache=True)
def sa_interval(text, sa, pattern, lo, hi):
    """[sp, ep) of the suffix-array rows whose suffix starts with pattern[lo:hi]: two binary searches."""
    a, b = 0, sa.shape[0]
    while a < b:
        m = (a + b) >> 1
        if _compare(text, sa[m], pattern, lo, hi) < 0:
            a = m + 1
        else:
            b = m
    sp = a
    b = sa.shape[0]
    while a < b:
        m = (a + b) >> 1
        if _compare(text, sa[m], pattern, lo, hi) <= 0:
            a = m + 1
        else:
            b = m
    return sp, a


@njit(nogil=True, cache=True)
def sa_count_many(text, sa, patterns, bounds):
    out = np.zeros(bounds.shape[0] - 1, dtype=np.int64)
    for i in range(out.shape[0]):
        sp, ep = sa_interval(text, sa, patterns, bounds[i], bounds[i + 1])
        out[i] = ep - sp
    return out


class SuffixArrayBaseline:
    """Text + uncompressed suffix array: the simplest exact index, and the oracle for fmsearch's answers."""

    def __init__(self, text: np.ndarray, sa: np.ndarray, doc_starts: np.ndarray) -> None:
        self.text, self.sa, self.doc_starts = text, sa, doc_starts

    def count(self, p: np.ndarray) -> int:
        sp, ep = sa_interval(self.text, self.sa, p, 0, p.shape[0])
        return ep - sp

    def count_many(self, flat: np.ndarray, bounds: np.ndarray) -> np.ndarray:
        return sa_count_many(self.text, self.sa, flat, bounds)

    def find(self, p: np.ndarray, limit: int) -> tuple[int, list[tuple[int, int]]]:
        sp, ep = sa_interval(self.text, self.sa, p, 0, p.shape[0])
        pos = self.sa[sp : min(ep, sp + limit)].astype(np.int64)
        docs = np.searchsorted(self.doc_starts, pos, side="right") - 1
        offs = pos - self.doc_starts[docs] - 1
        return ep - sp, list(zip(docs.tolist(), offs.tolist(), strict=True))


# -- patterns ------------------------------------------------------------------------------------------------------


def sample_substrings(docs: list[bytes], length: int, count: int, rng: np.random.Generator) -> list[bytes]:
    """`count` random substrings of `length` bytes, each from a random document at least that long."""
    eligible = [d for d in docs if len(d) >= length]
    if not eligible:
        return []
    out = []
    for _ in range(count):
        d = eligible[rng.integers(len(eligible))]
        start = int(rng.integers(len(d) - length + 1))
        out.append(d[start : start + length])
    return out


WORDS = (
    "the of and to in is that it was for on are as with his they at be this from have or by one had not but what "
    "all were when we there can an your which their said if do will each about how up out them then she many some "
    "so these would other into has more her two like him see time could no make than first been its who now people "
    "my made over did down only way find use may water long little very after words called just where most know "
    "get through back much before go good new write our used me man too any day same right look think also around "
    "another came come work three word must because does part even place well such here take why things help put "
    "years different away again off went old number great tell men say small every found still between name should "
    "home big give air line set own under read last never us left end along while might next sound below saw "
    "something thought both few those always looked show large often together asked house world going want school "
    "important until form food keep children feet land side without boy once animals life enough took sometimes "
    "four head above kind began almost live page got earth need far hand high year mother light parts country"
).split()


def english_like(nbytes: int, rng: np.random.Generator) -> str:
    """Random sentences of common English words: reads like prose, but no long span of it is in any corpus."""
    out: list[str] = []
    size = 0
    while size < nbytes:
        n = int(rng.integers(5, 16))
        words = [WORDS[i] for i in rng.integers(len(WORDS), size=n)]
        sentence = " ".join(words).capitalize() + rng.choice([".", ".", ".", ",", "?", ";"]) + " "
        out.append(sentence)
        size += len(sentence)
    return "".join(out)[:nbytes]


def mutate_every(data: bytes, every: int) -> bytes:
    """`data` with one byte changed every `every` bytes (to '#', or '@' where it was '#')."""
    b = bytearray(data)
    for k in range(every // 2, len(b), every):
        b[k] = ord("#") if b[k] != ord("#") else ord("@")
    return bytes(b)


# -- the measurements ----------------------------------------------------------------------------------------------


def us(seconds: float) -> float:
    return seconds * 1e6


def fig(timings: Timings, f: Callable[..., float | None], *args: Any) -> dict[str, float | None]:
    """A figure computed as f(times, *args) from the wall-clock and from the thread-CPU timings."""
    return {"wall": f(timings.wall, *args), "cpu": f(timings.cpu, *args)}


def per_item(times: list[float], n: int) -> float:
    """Microseconds per item (pattern, byte) when `times` took n items in all."""
    return us(sum(times) / n)


def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    import fmsearch

    rng = np.random.default_rng(args.seed)
    res: dict[str, Any] = {"machine": machine(), "args": {k: str(v) for k, v in vars(args).items()}}

    with phase("cut corpus"):
        corpus: Corpus = load_corpus(args.corpus, args.mb, work / "corpus.jsonl")
        warm_files(corpus.path)
    nbytes = corpus.num_bytes
    res["corpus"] = {"source": corpus.source, "documents": len(corpus.docs), "bytes": nbytes}
    console.print(f"corpus: {corpus.source}: {len(corpus.docs):,} documents, {nbytes / 1e6:,.1f} MB of text")

    # Build in a fresh process: its peak RSS is the build's alone, not this script's copy of the corpus. A first
    # build after a checkout also compiles numba's build kernels (about 10 s): a tiny build first keeps that out.
    with phase("compile the build kernels (tiny build)"):
        tiny = work / "tiny.jsonl"
        tiny.write_text('{"text": "a tiny document that compiles the build kernels"}\n')
        run_probe("build", str(tiny), str(work / "tiny-shard"), args.preset or "")
        shutil.rmtree(work / "tiny-shard")
    shard = work / "shard"
    builds = []
    for i in range(args.build_repeats):
        target = shard if i == 0 else work / f"shard-{i}"
        with phase(f"build fmsearch shard ({i + 1}/{args.build_repeats})"):
            builds.append(run_probe("build", str(corpus.path), str(target), args.preset or ""))
        if i > 0:
            shutil.rmtree(target)
    manifest_build = fmsearch.open_index(shard).manifest["build"]
    res["build"] = {
        "runs": builds,
        "seconds": median([b["seconds"] for b in builds]),
        "cpu_seconds": median([b["cpu_seconds"] for b in builds]),
        "manifest": manifest_build,
    }

    with phase("baseline: divsufsort"):
        text_bytes, starts = corpus.concatenated()
        (work / "text.bin").write_bytes(text_bytes)
        sas = [run_probe("divsufsort", str(work / "text.bin"), str(work / "sa.npy")) for _ in range(args.build_repeats)]
        (work / "text.bin").unlink()
    res["divsufsort"] = {
        "runs": sas,
        "seconds": median([s["seconds"] for s in sas]),
        "cpu_seconds": median([s["cpu_seconds"] for s in sas]),
        "peak_rss": median([s["peak_rss"] for s in sas]),
    }
    text = np.frombuffer(text_bytes, dtype=np.uint8)
    doc_starts = np.array([*starts, len(text_bytes)], dtype=np.int64)
    base = SuffixArrayBaseline(text, np.load(work / "sa.npy", mmap_mode="r"), doc_starts)

    with phase(f"open in a fresh process (x{args.open_repeats})"):
        opens = [run_probe("open", str(shard)) for _ in range(args.open_repeats)]
    res["open"] = {
        "runs": opens,
        "ms": median([o["open_seconds"] * 1e3 for o in opens]),
        "rss_mb": median([o["open_rss"] / 2**20 for o in opens]),
        "warm_ms": median([o["warm_seconds"] * 1e3 for o in opens]),
        "warm_rss_mb": median([o["warm_rss"] / 2**20 for o in opens]),
        "import_ms": median([o["import_seconds"] * 1e3 for o in opens]),
        "import_rss_mb": median([o["import_rss"] / 2**20 for o in opens]),
    }

    idx = fmsearch.open_index(shard)
    idx.warm()
    warm_files(shard, work / "sa.npy")
    m = idx.manifest
    res["preset"] = m.get("params", {}).get("preset", args.preset or "default")
    if m["num_bytes"] != nbytes:
        raise SystemExit(
            f"error: the shard holds {m['num_bytes']:,} bytes of text but the cut corpus {nbytes:,}; the figures "
            "per corpus byte would be wrong (does the corpus hold records fmsearch reads differently?)"
        )
    sizes = idx.sizes()
    res["size"] = {
        "index_bytes": m["index_bytes"],
        "metadata_bytes": m["metadata_bytes"],
        "groups_bits_per_byte": {g: v["bytes"] * 8 / nbytes for g, v in sizes.items()},
        "parts_bytes": {g: v["parts"] for g, v in sizes.items()},
    }

    mismatches: list[str] = []

    # count: several hundred occurring patterns per length, each checked against the suffix-array oracle.
    res["count"] = {}
    with phase("count / count_many (+ baseline)"):
        warm = np.frombuffer(b"warm", dtype=np.uint8)
        base.count(warm)  # compile (or load) the baseline kernels before timing them
        base.count_many(warm, np.array([0, 4], dtype=np.int64))
        for length in PATTERN_LENGTHS:
            pats = sample_substrings(corpus.docs, length, args.patterns, rng)
            if not pats:
                continue
            arrs = [np.frombuffer(p, dtype=np.uint8) for p in pats]
            ours = [idx.count(p) for p in pats]
            theirs = [base.count(a) for a in arrs]
            if ours != theirs:
                bad = [i for i in range(len(pats)) if ours[i] != theirs[i]]
                mismatches.append(f"count {length} B: {len(bad)} of {len(pats)} differ, e.g. {pats[bad[0]]!r}")
            t_ours = time_each(idx.count, pats)
            t_base = time_each(base.count, arrs)
            bounds = np.zeros(len(arrs) + 1, dtype=np.int64)
            bounds[1:] = np.cumsum([len(a) for a in arrs])
            flat = np.concatenate(arrs)
            tm_ours, many = time_call(lambda pats=pats: idx.count_many(pats))
            tm_base, _ = time_call(lambda flat=flat, bounds=bounds: base.count_many(flat, bounds))
            if many.tolist() != theirs:
                mismatches.append(f"count_many {length} B differs from the suffix-array oracle")
            res["count"][length] = {
                "patterns": len(pats),
                "median_hits": float(np.median(theirs)),
                "us": fig(t_ours, lambda t: us(median(t))),
                "baseline_us": fig(t_base, lambda t: us(median(t))),
                "many_us": fig(tm_ours, per_item, len(pats)),
                "baseline_many_us": fig(tm_base, per_item, len(pats)),
            }

    # find: patterns with 1..1000 occurrences, one page of limit=100; then a snippet around the first hit.
    with phase("find / snippet (+ baseline)"):
        # Equal numbers of patterns with 1, 2-9, 10-99 and 100-1000 hits, so that pages of one hit (where the
        # backward search dominates) and full pages of 100 (where locating dominates) both weigh in.
        buckets = [(1, 1), (2, 9), (10, 99), (100, 1000)]
        want = max(1, args.patterns // len(buckets))
        chosen: list[list[bytes]] = [[] for _ in buckets]
        tries = 0
        while any(len(c) < want for c in chosen) and tries < 100 * args.patterns:
            tries += 1
            length = int(rng.choice([4, 5, 6, 8, 10, 12, 16, 20, 24, 32]))
            cand = sample_substrings(corpus.docs, length, 1, rng)
            if not cand:
                continue
            total = idx.count(cand[0])
            for k, (lo, hi) in enumerate(buckets):
                if lo <= total <= hi and len(chosen[k]) < want:
                    chosen[k].append(cand[0])
        pats = [p for c in chosen for p in c]
        arrs = [np.frombuffer(p, dtype=np.uint8) for p in pats]
        results = [idx.find(p, limit=FIND_LIMIT) for p in pats]
        for p, a, r in zip(pats, arrs, results, strict=True):
            total, hits = base.find(a, FIND_LIMIT)
            if r.total != total or [(h.doc_id, h.offset) for h in r.hits] != hits:
                mismatches.append(f"find {p!r}: fmsearch total {r.total}, suffix array {total} (or hits differ)")
                break
        nhits = [len(r.hits) for r in results]
        t_find = time_each(lambda p: idx.find(p, limit=FIND_LIMIT), pats)
        t_bfind = time_each(lambda a: base.find(a, FIND_LIMIT), arrs)
        snippet_args = [(r.hits[0].doc_id, r.hits[0].offset, len(p)) for p, r in zip(pats, results, strict=True)]
        for d, o, n in snippet_args[:50]:
            s = idx.snippet(d, o, n, context=SNIPPET_CONTEXT)
            if s.match.encode() != corpus.docs[d][o : o + n] and "\ufffd" not in s.match:
                mismatches.append(f"snippet of doc {d} at {o}: match text differs from the document")
                break
        t_snip = time_each(lambda a: idx.snippet(*a, context=SNIPPET_CONTEXT), snippet_args)
        res["find"] = {
            "patterns": len(pats),
            "hits": int(sum(nhits)),
            "median_total": float(np.median([r.total for r in results])) if results else None,
            "us_per_hit": fig(t_find, lambda t: us(sum(t) / max(1, sum(nhits)))),
            "median_us_per_hit": fig(t_find, lambda t: us(median([x / h for x, h in zip(t, nhits, strict=True)]))),
            "baseline_us_per_hit": fig(t_bfind, lambda t: us(sum(t) / max(1, sum(nhits)))),
            "snippet_us": fig(t_snip, lambda t: us(median(t))),
            "us_per_hit_by_hits": {},
        }
        k0 = 0
        for (lo, hi), c in zip(buckets, chosen, strict=True):
            k1 = k0 + len(c)
            if k1 > k0:
                per_hit = us(sum(t_find.wall[k0:k1]) / max(1, sum(nhits[k0:k1])))
                res["find"]["us_per_hit_by_hits"][f"{lo}-{hi}"] = per_hit
            k0 = k1

    # extract: whole random documents until enough bytes (or time) have gone by; each compared with the original.
    with phase("extract"):
        order = rng.permutation(len(corpus.docs))
        done = 0
        spent = Timings([0.0], [0.0])
        per_doc = []
        for d in order.tolist():
            if done >= args.extract_mb * 1e6 or spent.wall[0] >= args.extract_seconds:
                break
            c0, t0 = time.thread_time(), time.perf_counter()
            data = idx.extract(d)
            t1, c1 = time.perf_counter(), time.thread_time()
            if data != corpus.docs[d]:
                mismatches.append(f"extract({d}) differs from the document")
            done += len(data)
            spent.wall[0] += t1 - t0
            spent.cpu[0] += c1 - c0
            if len(data) >= 1000:
                per_doc.append(len(data) / (t1 - t0) / 1e6)
        res["extract"] = {
            "bytes": done,
            "documents": len(per_doc),
            "mb_s": fig(spent, lambda t: done / t[0] / 1e6 if t[0] else None),
            "median_doc_mb_s": median(per_doc),
        }

    with phase("matching statistics"):
        res["ms"] = {}
        copied = [b for b in sample_substrings(corpus.docs, args.ms_bytes, args.ms_texts, rng)]
        english = [english_like(args.ms_bytes, rng).encode() for _ in range(args.ms_texts)]
        # The contamination case: a copy with small edits (one byte changed every NEAR_COPY_EVERY bytes).
        near = [mutate_every(x, NEAR_COPY_EVERY) for x in copied]
        for name, texts in (("copied", copied), ("english", english), ("near-copy", near)):
            if not texts:
                continue
            t = time_each(idx.matching_statistics, texts, repeat=1)
            mean_ms = float(np.mean([idx.matching_statistics(x).mean() for x in texts[:5]]))
            res["ms"][name] = {
                "texts": len(texts),
                "bytes": sum(map(len, texts)),
                "us_per_byte": fig(t, per_item, sum(map(len, texts))),
                "mean_match_length": mean_ms,
            }

    res["mismatches"] = mismatches
    return res


# -- the report ----------------------------------------------------------------------------------------------------


def verdict(key: str, value: float | None) -> str:
    if key not in TARGETS or value is None or value != value:
        return "-"
    op, bound = TARGETS[key]
    ok = {"<=": value <= bound, "<": value < bound, ">=": value >= bound}[op]
    return "[green]yes[/green]" if ok else "[red]NO[/red]"


def target(key: str, unit: str = "") -> str:
    if key not in TARGETS:
        return "-"
    op, bound = TARGETS[key]
    return f"{op} {bound:g}{unit}"


def with_ratio(base: float | None, ours: float | None, digits: int = 1, unit: str = "") -> str:
    if base is None or ours is None or base != base:
        return "-"
    return f"{fmt(base, digits, unit)} (ours {ours / base:.2f}x)"


def report(res: dict[str, Any], clock: str = "wall") -> None:
    nbytes = res["corpus"]["bytes"]
    mb = nbytes / 1e6
    b = res["build"]
    mf = b["manifest"]
    ds = res["divsufsort"]
    peak_ratio = mf["peak_rss_bytes"] / nbytes
    index_ratio = res["size"]["index_bytes"] / nbytes
    mb_per_cpu = mb / b["cpu_seconds"]
    ds_mb_per_cpu = mb / ds["cpu_seconds"]
    rows: list[list[str]] = []

    def row(metric, ours, base, sdsl, key, unit=""):
        met = verdict(key, res_value[key]) if key else "-"
        rows.append([metric, ours, base, sdsl, target(key, unit) if key else "-", met])

    res_value: dict[str, float | None] = {
        "build_mb_per_cpu_s": mb_per_cpu,
        "peak_rss_ratio": peak_ratio,
        "index_ratio": index_ratio,
        "open_ms": res["open"]["ms"],
        "open_rss_mb": res["open"]["rss_mb"],
        "count_us_50": res["count"][50]["us"][clock] if 50 in res["count"] else None,
        "find_us_per_hit": res["find"]["us_per_hit"][clock],
        "snippet_us": res["find"]["snippet_us"][clock],
        "extract_mb_s": res["extract"]["mb_s"][clock],
    }
    row(
        "build, wall (s)",
        fmt(b["seconds"], 1),
        f"divsufsort {with_ratio(ds['seconds'], b['seconds'])}",
        fmt(SDSL["build_seconds"], 0),
        None,
    )
    row(
        "build, MB/s wall",
        fmt(mb / b["seconds"], 2),
        fmt(mb / ds["seconds"], 2),
        fmt(200 / SDSL["build_seconds"], 2),
        None,
    )
    row("build, MB per CPU-second", fmt(mb_per_cpu, 2), fmt(ds_mb_per_cpu, 2), "-", "build_mb_per_cpu_s")
    row(
        "build, peak RSS / corpus",
        fmt(peak_ratio, 2, "x"),
        with_ratio(ds["peak_rss"] / nbytes, peak_ratio, 2, "x"),
        fmt(SDSL["peak_rss_ratio"], 1, "x"),
        "peak_rss_ratio",
        "x",
    )
    row(
        "index / corpus (no metadata)",
        fmt(index_ratio, 3, "x"),
        "SA int32 + text 5.000x",
        fmt(SDSL["index_ratio"], 2, "x"),
        "index_ratio",
        "x",
    )
    row("open, fresh process (ms)", fmt(res["open"]["ms"], 1), "-", "-", "open_ms", " ms")
    row("open, RSS increase (MB)", fmt(res["open"]["rss_mb"], 1), "-", "-", "open_rss_mb", " MB")
    for length, c in res["count"].items():
        row(
            f"count {length} B (us)",
            fmt(c["us"][clock], 1),
            with_ratio(c["baseline_us"][clock], c["us"][clock]),
            fmt(SDSL["count_us"][length], 0),
            "count_us_50" if length == 50 else None,
            " us",
        )
    for length, c in res["count"].items():
        many, base_many = c["many_us"][clock], c["baseline_many_us"][clock]
        row(f"count_many {length} B (us/pattern)", fmt(many, 1), with_ratio(base_many, many), "-", None)
    f = res["find"]
    row(
        f"find, limit={FIND_LIMIT} (us/hit)",
        fmt(f["us_per_hit"][clock], 2),
        with_ratio(f["baseline_us_per_hit"][clock], f["us_per_hit"][clock], 2),
        fmt(SDSL["find_us_per_hit"], 0),
        "find_us_per_hit",
        " us",
    )
    row(f"snippet, context={SNIPPET_CONTEXT} (us)", fmt(f["snippet_us"][clock], 1), "-", "-", "snippet_us", " us")
    mb_s = res["extract"]["mb_s"][clock]
    row("extract (MB/s)", fmt(mb_s, 2), "-", fmt(SDSL["extract_mb_s"], 2), "extract_mb_s", " MB/s")
    for name, label in (
        ("copied", "copied from corpus"),
        ("english", "English-like, not in it"),
        ("near-copy", f"copy, 1 byte in {NEAR_COPY_EVERY} changed"),
    ):
        if name in res["ms"]:
            row(f"matching stats, {label} (us/byte)", fmt(res["ms"][name]["us_per_byte"][clock], 2), "-", "-", None)

    console.print()
    clock_name = "wall clock" if clock == "wall" else "thread CPU time"
    print_table(
        f"fmsearch core, preset {res['preset']}, on {mb:,.1f} MB ({res['corpus']['documents']:,} docs; "
        f"{res['corpus']['source']}); "
        f"query times by {clock_name}",
        ["metric", "fmsearch", "baseline (same run)", "sdsl reference", "target", "met?"],
        rows,
    )
    if mb < 150:
        console.print(
            f"[yellow]note: the sdsl reference was measured on 200 MB; at {mb:,.0f} MB it is not "
            "comparable (and fixed costs weigh more in peak RSS).[/yellow]"
        )

    timed = [(f"count {k} B (us)", v["us"]) for k, v in res["count"].items()]
    timed += [(f"count_many {k} B (us/pattern)", v["many_us"]) for k, v in res["count"].items()]
    timed += [("find (us/hit)", f["us_per_hit"]), ("snippet (us)", f["snippet_us"])]
    timed += [("extract (MB/s)", res["extract"]["mb_s"])]
    timed += [(f"matching stats, {k} (us/byte)", v["us_per_byte"]) for k, v in res["ms"].items()]
    print_table(
        "query figures by wall clock and by thread CPU time (they differ when other processes take the CPU)",
        ["figure", "wall", "thread CPU", "wall / CPU"],
        [
            [name, fmt(v["wall"], 2), fmt(v["cpu"], 2), fmt(v["wall"] / v["cpu"] if v["cpu"] else None, 2)]
            for name, v in timed
        ],
    )

    stages = mf["stage_seconds"]
    order = ["read", "suffix array", "bwt + samples", "wavelet tree", "write"]
    names = sorted(stages, key=lambda s: order.index(s) if s in order else len(order))
    before = median([r["rss_before_build"] for r in b["runs"]])
    print_table(
        "build stages (from the shard manifest)",
        ["stage", "seconds", "peak RSS after stage / corpus", "same, less RSS before build_index"],
        [
            [
                s,
                fmt(stages[s], 2),
                fmt(mf["stage_peak_rss_bytes"][s] / nbytes, 2, "x"),
                fmt((mf["stage_peak_rss_bytes"][s] - before) / nbytes, 2, "x"),
            ]
            for s in names
        ]
        + [
            [
                "total (manifest)",
                fmt(mf["seconds"], 2),
                fmt(mf["peak_rss_bytes"] / nbytes, 2, "x"),
                fmt((mf["peak_rss_bytes"] - before) / nbytes, 2, "x"),
            ]
        ],
    )
    console.print(f"RSS of the build process before build_index (interpreter, numpy, numba): {before / 2**20:.0f} MB")
    sz = res["size"]
    print_table(
        "index size by component (bits per corpus byte)",
        ["component", "bits/byte", "x corpus"],
        [[g, fmt(v, 3), fmt(v / 8, 3, "x")] for g, v in sz["groups_bits_per_byte"].items()],
    )
    c = res["count"]
    counts = ", ".join(f"{k} B: {v['patterns']} (median {v['median_hits']:.0f} hits)" for k, v in c.items())
    console.print(
        f"patterns: {counts}; find: {f['patterns']} patterns with 1..1000 hits (median {f['median_total']}), "
        f"{f['hits']} hits reported, median per pattern {f['median_us_per_hit']['wall']:.2f} us/hit; us/hit by total "
        "hits (wall): " + ", ".join(f"{k}: {v:.1f}" for k, v in f["us_per_hit_by_hits"].items())
    )
    console.print(
        f"fresh process: importing the query side (numba) {res['open']['import_ms']:.0f} ms, RSS "
        f"+{res['open']['import_rss_mb']:.0f} MB, before open; open + warm() {res['open']['warm_ms']:.0f} ms more, RSS "
        f"+{res['open']['warm_rss_mb']:.0f} MB; extract: {res['extract']['documents']} docs, "
        f"{res['extract']['bytes'] / 1e6:.1f} MB, median per doc {res['extract']['median_doc_mb_s']:.2f} MB/s"
    )
    for name, v in res["ms"].items():
        console.print(
            f"matching statistics, {name}: {v['texts']} texts of {v['bytes'] // v['texts']} bytes, mean "
            f"match length {v['mean_match_length']:.1f} bytes"
        )
    if res["mismatches"]:
        console.print("[bold red]fmsearch disagreed with the suffix-array oracle:[/bold red]")
        for mm in res["mismatches"]:
            console.print(f"  {mm}")
    else:
        console.print(
            "[green]every count, find page, snippet match and extracted document equals the suffix-array "
            "oracle / the corpus[/green]"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--corpus", type=Path, help="JSON-lines file with a 'text' field (default: Python stdlib sources)")
    ap.add_argument("--mb", type=float, help="use only the first N MB of text (default: all)")
    ap.add_argument("--out", type=Path, help="work directory, kept afterwards (default: a temporary one, removed)")
    ap.add_argument("--json", type=Path, help="write every figure to this JSON file")
    ap.add_argument("--patterns", type=int, default=400, help="patterns per length for count and find (default 400)")
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--preset", help="fmsearch build preset (see fmsearch.presets; default: build_index's default)")
    ap.add_argument("--build-repeats", type=int, default=1, help="builds to take the median of (default 1)")
    ap.add_argument("--open-repeats", type=int, default=5)
    ap.add_argument("--extract-mb", type=float, default=8.0, help="stop extracting after this many MB")
    ap.add_argument("--extract-seconds", type=float, default=10.0, help="... or after this many seconds")
    ap.add_argument("--ms-texts", type=int, default=40, help="texts per kind for matching statistics")
    ap.add_argument("--ms-bytes", type=int, default=2000, help="bytes per matching-statistics text")
    ap.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="clock of the query figures in the main table: wall (default) or the thread's CPU time, which leaves\n"
        "out time that other processes held the CPU (both are always in the JSON and the check table)",
    )
    args = ap.parse_args(argv)
    if args.mb is not None and args.mb <= 0:
        ap.error(f"--mb must be positive, not {args.mb}")
    if args.patterns < 1 or args.build_repeats < 1 or args.open_repeats < 1:
        ap.error("--patterns, --build-repeats and --open-repeats must be at least 1")

    if args.out is not None:
        work = args.out
        if (work / "shard").exists():
            ap.error(f"{work / 'shard'} already exists; pass a fresh --out directory or remove it")
        work.mkdir(parents=True, exist_ok=True)
        cleanup = False
    else:
        work = Path(tempfile.mkdtemp(prefix="fmsearch-bench-core-"))
        cleanup = True
    t0 = time.perf_counter()
    try:
        res = measure(args, work)
    finally:
        if cleanup:
            shutil.rmtree(work, ignore_errors=True)
    res["bench_seconds"] = time.perf_counter() - t0
    report(res, args.clock)
    load_end = os.getloadavg() if hasattr(os, "getloadavg") else None
    res["machine"]["loadavg_end"] = load_end
    load, load_end = ("/".join(f"{x:.1f}" for x in v) if v else "?" for v in (res["machine"].get("loadavg"), load_end))
    console.print(
        f"bench wall time {res['bench_seconds']:.0f} s; load average (1/5/15 min) at start {load}, at end {load_end} "
        f"on {res['machine'].get('cpus')} CPUs ({res['machine'].get('cpu', '?')}): other work on the machine slows "
        "every figure"
    )
    write_json(args.json, res)
    return 1 if res["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
