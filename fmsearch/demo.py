"""A tour of fmsearch on a corpus every machine has: the Python standard library of the running interpreter.

    python -m fmsearch.demo [--out DIR]        (default DIR: demo-out/)

Builds (or reuses) the shard `<DIR>/stdlib` from every `*.py` file of the standard library, one document per file
with its relative path as metadata, then shows counts checked against a brute-force scan, hits with snippets, a
document rebuilt from the index, and where the bytes of the index go.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

import fmsearch
from fmsearch import cli, storage
from fmsearch.errors import FmsearchError, IndexFormatError
from fmsearch.results import BuildSummary

QUERIES = (
    "def __init__(self",
    "import os",
    "lambda",
    "raise NotImplementedError",
    "Guido",
    "π",  # 2 UTF-8 bytes
    "…",  # 3 UTF-8 bytes
    "fmsearch was here",  # absent
)
FIND_QUERY = "Guido"
FIND_LIMIT = 6
EXCERPT_PATH = "antigravity.py"


def stdlib_files() -> tuple[Path, list[Path]]:
    """The standard library directory and its `*.py` files in sorted order, installed packages left out."""
    paths = sysconfig.get_paths()
    root = Path(paths["stdlib"])
    installed = {Path(paths[k]).resolve() for k in ("purelib", "platlib")}
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        # Pruned, not filtered afterwards: site-packages can be ten times the size of the library itself.
        dirnames[:] = [
            d
            for d in dirnames
            if d not in ("site-packages", "dist-packages", "__pycache__")
            and (Path(dirpath) / d).resolve() not in installed
        ]
        files.extend(Path(dirpath) / name for name in filenames if name.endswith(".py"))
    return root, sorted((f for f in files if f.is_file()), key=lambda p: p.relative_to(root).parts)


def read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def documents(root: Path, files: list[Path]) -> Iterator[dict[str, str]]:
    for path in files:
        yield {"text": read_text(path), "path": path.relative_to(root).as_posix()}


def fingerprint(files: list[Path]) -> dict[str, Any]:
    """What identifies the corpus: a shard built from another interpreter or library is rebuilt, not reused."""
    return {
        "corpus": "python-stdlib",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "files": len(files),
        "bytes": sum(p.stat().st_size for p in files),
    }


def _summary_from_manifest(path: Path, manifest: dict[str, Any]) -> BuildSummary:
    build = manifest.get("build", {})
    return BuildSummary(
        path=str(path),
        num_documents=manifest["num_documents"],
        num_bytes=manifest["num_bytes"],
        index_bytes=manifest["index_bytes"],
        metadata_bytes=manifest["metadata_bytes"],
        seconds=build.get("seconds", 0.0),
        skipped_records=manifest.get("skipped_records", 0),
        stage_seconds=build.get("stage_seconds", {}),
        peak_rss_bytes=build.get("peak_rss_bytes", 0),
    )


def ensure_index(out: Path, root: Path, files: list[Path], console: Console) -> tuple[BuildSummary, bool]:
    """The shard at `out`: reused when it verifies and was built from this very corpus, else (re)built."""
    wanted = fingerprint(files)
    if (out / storage.MANIFEST).is_file():
        with console.status(f"checking the existing index {out} ..."):
            problems = storage.verify(out)
        if not problems:
            try:
                fmsearch.open_index(out)  # intact files of a layout this fmsearch no longer reads are rebuilt too
            except IndexFormatError as e:
                problems = [str(e)]
        if not problems:
            manifest = storage.read_manifest(out)
            if manifest.get("demo_source") == wanted:
                return _summary_from_manifest(out, manifest), True
            console.print(Text(f"{out} was built from another corpus; rebuilding it", style="yellow"), soft_wrap=True)
        else:
            console.print(
                Text(f"{out} cannot be reused ({problems[0]}); rebuilding it", style="yellow"), soft_wrap=True
            )
    cli.check_replaceable(out)  # never replace a folder that is not an index
    summary = fmsearch.build_index(
        documents(root, files), out, progress=True, overwrite=True, extra_manifest={"demo_source": wanted}
    )
    return summary, False


def brute_force_count(texts: list[bytes], query: str) -> int:
    """Overlapping occurrences in each document separately: the answer the index must give."""
    needle = query.encode("utf-8")
    total = 0
    for text in texts:
        pos = text.find(needle)
        while pos != -1:
            total += 1
            pos = text.find(needle, pos + 1)
    return total


def _median_micros(call, repeats: int = 21) -> float:
    """Median wall time of `call` in microseconds (the first call pays page faults, so one timing says little)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e6


def run(out_dir: Path) -> None:
    started = time.perf_counter()
    console = Console(highlight=False)
    root, files = stdlib_files()
    if not files:
        raise FmsearchError(f"no *.py files found under {root}; this Python has no standard library sources")
    size = sum(p.stat().st_size for p in files)
    console.rule("[bold]fmsearch demo")
    console.print(
        f"Corpus: the standard library of Python {platform.python_version()} at {root}: "
        f"{len(files):,} files, {cli.human_bytes(size)}, one document per file (metadata: its path).",
        soft_wrap=True,
    )

    shard = out_dir / "stdlib"
    summary, reused = ensure_index(shard, root, files, console)
    title = f"index {shard} (reused, verified)" if reused else f"index {shard} (built now)"
    console.print(cli.build_summary_table(summary, title=title))

    idx = fmsearch.open_index(shard)
    with console.status("compiling the query kernels (first run only; numba caches them on disk) ..."):
        t = time.perf_counter()
        idx.warm()
        warm_seconds = time.perf_counter() - t
    console.print(f"kernels ready in {warm_seconds:.1f} s")

    # Counts, each checked against a plain scan of the same texts.
    texts = [read_text(p).encode("utf-8") for p in files]
    table = Table(title="count: exact occurrences (overlapping, never across files)", title_justify="left")
    table.add_column("query")
    table.add_column("bytes", justify="right")
    table.add_column("count", justify="right")
    table.add_column("time (median)", justify="right")
    table.add_column("brute force", justify="right")
    mismatches = 0
    for query in QUERIES:
        n = idx.count(query)
        micros = _median_micros(lambda q=query: idx.count(q))
        expected = brute_force_count(texts, query)
        ok = n == expected
        mismatches += not ok
        mark = Text(f"{expected:,} ✓", style="green") if ok else Text(f"{expected:,} ✗ MISMATCH", style="bold red")
        table.add_row(repr(query), str(len(query.encode())), f"{n:,}", f"{micros:,.1f} µs", mark)
    console.print(table)

    # Where a query occurs, with snippets.
    pattern = FIND_QUERY.encode()
    result = idx.find(pattern, limit=FIND_LIMIT)
    rows = cli.hit_rows(idx, pattern, result.hits, context=40)
    console.print(cli.hits_table(rows, title=f"find {FIND_QUERY!r}: first {len(rows)} of {result.total:,} hits"))

    # A whole document, rebuilt from the index alone.
    doc_id = next((i for i in range(idx.num_documents) if idx.metadata(i).get("path") == EXCERPT_PATH), 0)
    document = idx.document(doc_id)
    path = document.metadata.get("path", "?")
    same = document.text == read_text(root / path) if path != "?" else False
    console.print(
        Text.assemble(
            ("doc ", "bold"),
            (f"{doc_id} ", "bold cyan"),
            f"({path}, {document.num_bytes:,} bytes) rebuilt from the index: ",
            ("identical to the file" if same else "DIFFERS from the file", "green" if same else "bold red"),
        )
    )
    lines = document.text.splitlines()
    excerpt = "\n".join(lines[:20]) + ("\n..." if len(lines) > 20 else "")
    console.print(Syntax(excerpt, "python", line_numbers=True, word_wrap=True))

    console.print(cli.sizes_table(cli.index_report(idx), title=f"where the {cli.human_bytes(summary.index_bytes)} go"))
    console.print(
        f"Try it yourself:  fmsearch find {shard} 'def __init__(self' --limit 3   |   fmsearch info {shard}",
        soft_wrap=True,
    )
    console.rule(f"done in {time.perf_counter() - started:.1f} s")
    if mismatches or not same:
        raise SystemExit("error: the index disagreed with the brute-force scan (see above); please report it")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fmsearch.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo-out"), help="output directory (default: demo-out)")
    args = parser.parse_args(argv)
    try:
        run(args.out)
    except (FmsearchError, OSError) as e:
        Console(stderr=True).print(Text(f"error: {e}", style="red"), soft_wrap=True)
        sys.exit(cli.EXIT_ERROR)


if __name__ == "__main__":
    main()
