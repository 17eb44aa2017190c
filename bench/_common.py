"""Shared helpers for the bench scripts: corpus loading, timing with medians, fresh-process probes, tables, JSON.

Every bench script answers one question; these helpers keep the measuring the same across scripts so their numbers
can be read side by side. Nothing here imports fmsearch at module level: the fresh-process probes must pay the
import themselves.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

# Wide enough for the result tables when the output is a file or a pipe (rich would fall back to 80 columns).
console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
SEPARATOR = 0xFF  # fmsearch's document separator; the baselines build the same concatenated text


# -- corpus ------------------------------------------------------------------------------------------------------------


@dataclass
class Corpus:
    """The documents a bench indexes, as written to `path` (JSON lines with a `text` field)."""

    path: Path
    docs: list[bytes]  # UTF-8 text of each document, in file order
    source: str  # where it came from, for the report

    @property
    def num_bytes(self) -> int:
        return sum(len(d) for d in self.docs)

    def concatenated(self) -> tuple[bytes, list[int]]:
        """The text fmsearch indexes (0xFF before every document) and the start of each document's 0xFF in it."""
        starts = []
        parts = []
        pos = 0
        for d in self.docs:
            starts.append(pos)
            parts.append(b"\xff")
            parts.append(d)
            pos += 1 + len(d)
        return b"".join(parts), starts


def _cut_utf8(data: bytes, limit: int) -> bytes:
    """The longest prefix of `data` of at most `limit` bytes that ends on a UTF-8 character boundary."""
    if len(data) <= limit:
        return data
    i = limit
    while i > 0 and (data[i] & 0xC0) == 0x80:
        i -= 1
    return data[:i]


def _stdlib_texts() -> Iterator[tuple[str, str]]:
    """(relative path, source text) of the Python standard library's .py files, in a fixed order."""
    root = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(root.rglob("*.py")):
        if "site-packages" in path.parts:
            continue
        try:
            yield str(path.relative_to(root)), path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue


def load_corpus(corpus: Path | None, mb: float | None, out_jsonl: Path) -> Corpus:
    """Write the first `mb` MB of text (whole documents, the last one cut on a character boundary) of `corpus` to
    `out_jsonl`; without a corpus, use the Python standard library's sources so the bench runs anywhere."""
    limit = int(mb * 1e6) if mb is not None else None
    docs: list[bytes] = []
    total = 0
    if corpus is not None:
        if not corpus.is_file():
            raise SystemExit(
                f"error: corpus file {corpus} does not exist; make one with make_corpus.py or omit --corpus"
            )
        source = str(corpus)

        def records() -> Iterator[str]:
            with open(corpus, encoding="utf-8") as f:
                for line_no, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        text = json.loads(line)["text"]
                    except (json.JSONDecodeError, KeyError, TypeError) as e:
                        raise SystemExit(
                            f"error: {corpus} line {line_no} is not a JSON object with a 'text' field: {e}"
                        ) from None
                    yield text

        texts = records()
    else:
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        source = f"Python {version} standard library sources (no --corpus given)"
        texts = (text for _, text in _stdlib_texts())
    with open(out_jsonl, "w", encoding="utf-8") as out:
        for text in texts:
            if limit is not None and total >= limit:
                break
            raw = text.encode("utf-8", errors="surrogatepass")
            data = raw if limit is None else _cut_utf8(raw, limit - total)
            cut = len(data) < len(raw)
            if cut and not data:
                break  # not even one character of it fits
            # Empty documents stay: fmsearch indexes them too, so the document counts match the corpus.
            docs.append(data)
            total += len(data)
            out.write(json.dumps({"text": data.decode("utf-8", errors="surrogatepass")}) + "\n")
            if cut:
                break
    if not docs:
        raise SystemExit("error: the corpus holds no documents")
    return Corpus(path=out_jsonl, docs=docs, source=source)


def warm_files(*paths: Path) -> int:
    """Read files (or every file under directories) once so they sit in the page cache; returns bytes read."""
    total = 0
    for p in paths:
        files = sorted(p.rglob("*")) if p.is_dir() else [p]
        for f in files:
            if f.is_file():
                with open(f, "rb") as fh:
                    while chunk := fh.read(1 << 24):
                        total += len(chunk)
    return total


# -- timing ------------------------------------------------------------------------------------------------------------


@dataclass
class Timings:
    """Seconds per item, by the wall clock and by the calling thread's CPU clock.

    On a shared machine the wall clock also counts the time other processes held the CPU; the thread CPU time does
    not, so the two side by side show how much of a figure is contention. Both are medians over rounds.
    """

    wall: list[float]
    cpu: list[float]


def time_each(fn: Callable[[Any], Any], items: Sequence[Any], repeat: int = 3) -> Timings:
    """Seconds per item: the median over `repeat` rounds of fn(item), one figure per item.

    Each round calls every item once, in order, so an item is never timed right after itself: calling the same query
    twice in a row would find its index blocks in the CPU cache and flatter the figure.
    """
    wall: list[list[float]] = [[] for _ in items]
    cpu: list[list[float]] = [[] for _ in items]
    clock, cpu_clock = time.perf_counter, time.thread_time
    for _ in range(repeat):
        for i, item in enumerate(items):
            c0 = cpu_clock()
            t0 = clock()
            fn(item)
            t1 = clock()
            c1 = cpu_clock()
            wall[i].append(t1 - t0)
            cpu[i].append(c1 - c0)
    return Timings([statistics.median(r) for r in wall], [statistics.median(r) for r in cpu])


def time_call(fn: Callable[[], Any], repeat: int = 3) -> tuple[Timings, Any]:
    """(median wall and thread-CPU seconds over `repeat` calls of fn() as one-item Timings, the last result)."""
    result = None

    def call(_: Any) -> None:
        nonlocal result
        result = fn()

    return time_each(call, [None], repeat), result


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def rss_bytes() -> int:
    """Resident set size of this process now (Linux /proc; falls back to the peak elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return peak_rss_bytes()


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far, all threads."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


@contextmanager
def phase(name: str) -> Iterator[None]:
    """One progress line per phase: a spinner while it runs, then its name and wall time."""
    t0 = time.perf_counter()
    with console.status(f"[bold]{name}[/bold] ..."):
        yield
    console.print(f"[green]done[/green] {name:<34} {time.perf_counter() - t0:7.1f} s")


# -- fresh-process probes ----------------------------------------------------------------------------------------------
# Some figures need a process that has done nothing else: the build's peak RSS, the cost of opening an index. The
# probes below run in a child `python -c` and answer one JSON object on stdout.


def run_probe(name: str, *args: str, timeout: float = 3600) -> dict[str, Any]:
    """Run probe `name` (a function `probe_<name>` of this module) in a fresh interpreter; return its JSON answer."""
    # bench/ (and the current directory) leave the import path once _common is in: scripts there are named like
    # the project's packages.
    code = (
        "import sys, json; sys.path.insert(0, sys.argv[1]); import _common; "
        "sys.path[:] = [p for p in sys.path if p not in ('', sys.argv[1])]; "
        "print('\\n' + json.dumps(getattr(_common, 'probe_' + sys.argv[2])(*sys.argv[3:])))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent), name, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"probe {name} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def probe_build(corpus_jsonl: str, out_dir: str, preset: str = "") -> dict[str, Any]:
    """Build a shard from a JSON-lines file (with fmsearch's default preset unless one is named); wall and CPU
    seconds of build_index alone (imports excluded)."""
    from pathlib import Path

    import fmsearch

    options = {"preset": preset} if preset else {}
    rss_before = rss_bytes()
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    summary = fmsearch.build_index([Path(corpus_jsonl)], out_dir, **options)
    return {
        "seconds": time.perf_counter() - t0,
        "cpu_seconds": cpu_seconds() - cpu0,
        "rss_before_build": rss_before,
        "peak_rss": peak_rss_bytes(),
        "num_bytes": summary.num_bytes,
        "index_bytes": summary.index_bytes,
    }


def probe_open(shard: str) -> dict[str, Any]:
    """Time and RSS growth of open_index in a process that has only imported fmsearch's query side (numpy, numba:
    reported apart, it does not grow with the index); then of warm()."""
    rss_bare = rss_bytes()
    t_import = time.perf_counter()
    from fmsearch import open_index

    import_seconds = time.perf_counter() - t_import
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    idx = open_index(shard)
    t1 = time.perf_counter()
    rss1 = rss_bytes()
    idx.warm()
    t2 = time.perf_counter()
    rss2 = rss_bytes()
    return {
        "open_seconds": t1 - t0,
        "open_rss": rss1 - rss0,
        "warm_seconds": t2 - t1,
        "warm_rss": rss2 - rss1,
        "rss_after_import": rss0,
        "import_seconds": import_seconds,
        "import_rss": rss0 - rss_bare,
    }


def probe_divsufsort(text_file: str, sa_file: str) -> dict[str, Any]:
    """libdivsufsort on a raw text file (the floor of any suffix-array build); saves the suffix array as .npy."""
    import numpy as np
    import pydivsufsort

    text = np.fromfile(text_file, dtype=np.uint8)  # writable: divsufsort refuses read-only arrays
    rss_before = rss_bytes()
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    sa = pydivsufsort.divsufsort(text)
    seconds = time.perf_counter() - t0
    cpu = cpu_seconds() - cpu0
    np.save(sa_file, sa)
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_rss": peak_rss_bytes(), "rss_before": rss_before}


# -- output ------------------------------------------------------------------------------------------------------------


def fmt(x: float | None, digits: int = 1, unit: str = "") -> str:
    """A number for a table cell ('-' when absent), with thousands separators and an optional unit."""
    if x is None or (isinstance(x, float) and x != x):
        return "-"
    s = f"{x:,.{digits}f}"
    return f"{s} {unit}".rstrip()


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], right_from: int = 1) -> None:
    """A rich table; columns from index `right_from` on are right-aligned (numbers)."""
    table = Table(title=title, title_justify="left", show_lines=False)
    for i, c in enumerate(columns):
        table.add_column(c, justify="right" if i >= right_from else "left", no_wrap=i > 0)
    for r in rows:
        table.add_row(*r)
    console.print(table)


def write_json(path: Path | None, data: dict[str, Any]) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=float) + "\n")
    console.print(f"results written to {path}")


def measured_package() -> str:
    """Where the fmsearch that this run measures lives (found without importing it), with a warning when that is
    not this checkout: an editable install of another clone would be measured instead of the code beside us."""
    import importlib.util

    spec = importlib.util.find_spec("fmsearch")
    origin = Path(spec.origin).resolve().parent if spec and spec.origin else None
    checkout = Path(__file__).resolve().parent.parent
    if origin is None or checkout not in origin.parents:
        console.print(
            f"[bold red]measuring fmsearch from {origin}, not from this checkout {checkout}[/]: run "
            "`pip install -e .` here first"
        )
    return str(origin)


def machine() -> dict[str, Any]:
    """What the numbers were measured on, and which fmsearch was measured."""
    import platform

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "fmsearch": measured_package(),
    }
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        info["loadavg"] = os.getloadavg()
    except OSError:
        pass
    return info
