"""The `fmsearch` command: build a shard, query it, inspect and verify it.

Every query command prints for people by default and, with `--json`, one JSON document on stdout for programs.
Exit codes, for every command including those of other packages (the group below maps them in one place):
  0  success
  1  `verify` found damage
  2  bad input: an `FmsearchError` (typed errors of the core and of packages deriving from it), an OSError naming a
     path, or a usage error; shown as one red `error: ...` line on stderr, never a traceback
  70 any other exception: a bug; one `error: unexpected ...` line (FMSEARCH_DEBUG=1 shows the traceback)
Other packages add their commands through `register(app)` (bottom of file); for expected failures they raise an
`FmsearchError` subclass (or typer.BadParameter / typer.Exit), so the user sees exit 2 and not a bug report.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from fmsearch.errors import FmsearchError, IndexExists, InvalidQuery

EXIT_ERROR = 2  # bad input, missing or unreadable index
EXIT_DAMAGED = 1  # `verify` found problems
EXIT_BUG = 70  # an unexpected exception (EX_SOFTWARE), kept apart from bad input so tests cannot confuse them
MAX_LIMIT = 100_000  # hits per `find` page: each costs a locate and a snippet extraction
PLUGIN_MODULES = ("indexing.cli", "service.cli", "contamination.cli")


def _stdout() -> Console:
    # Created per call: CliRunner and pipes swap sys.stdout, and rich decides on colour from the current stream.
    return Console(highlight=False)


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


def fail(message: str, code: int = EXIT_ERROR) -> typer.Exit:
    """Print one red `error:` line on stderr and return the Exit to raise (`raise fail(...)`)."""
    _stderr().print(Text("error: ", style="bold red") + Text(message, style="red"), soft_wrap=True)
    return typer.Exit(code)


class _Group(TyperGroup):
    """Turns the expected failures of every subcommand (ours and plugged-in ones) into one error line."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # exit codes and usage errors: typer reports them
        except IndexExists as e:
            raise fail(f"{e}; or pass --force to replace it") from None
        except FmsearchError as e:
            raise fail(str(e)) from None
        except OSError as e:  # bad paths, permissions, full disk: the message names the file
            raise fail(str(e)) from None
        except MemoryError:
            raise fail("out of memory; use a machine with more RAM or split the input into smaller shards") from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
        except Exception as e:  # a bug, not bad input: say so, with a distinct exit code, and how to see more
            if os.environ.get("FMSEARCH_DEBUG"):
                raise
            raise fail(
                f"unexpected {type(e).__name__}: {e} (a bug in fmsearch; rerun with FMSEARCH_DEBUG=1 for the "
                "traceback and report it)",
                EXIT_BUG,
            ) from None


app = typer.Typer(
    cls=_Group,
    name="fmsearch",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from fmsearch import __version__

        typer.echo(f"fmsearch {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Exact substring search over large text corpora with compressed FM-indexes.

    Queries are taken literally (no regex, no escapes); --hex takes bytes; -- goes before a query starting with '-'.
    """


# -- shared helpers (the demo and other packages' commands use them too) --------------------------------------------

IndexDir = Annotated[
    Path, typer.Argument(help="Index directory (a shard, or a catalog of shards).", show_default=False)
]
QueryArg = Annotated[str, typer.Argument(help="Text to search for, taken literally.", show_default=False)]
HexOpt = Annotated[bool, typer.Option("--hex", help="QUERY is hex bytes, e.g. 'e282ac' for the euro sign.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout instead of a table.")]


def query_bytes(query: str, hex_query: bool) -> bytes:
    """The bytes to search for: the argument's UTF-8 bytes as typed, or its hex decoding with --hex."""
    if hex_query:
        cleaned = "".join(query.split())
        try:
            return bytes.fromhex(cleaned)
        except ValueError:
            raise InvalidQuery(
                f"--hex query {query!r} is not hex bytes (pairs of 0-9a-f digits, e.g. 'e282ac')"
            ) from None
    # surrogateescape gives back the exact bytes of an argument that is not valid UTF-8.
    return query.encode("utf-8", errors="surrogateescape")


def missing_index(path: Path) -> FileNotFoundError:
    """The error for an index path that does not exist; a URL (which Path has turned into scheme:/...) is named as
    one, with how to get it onto local disk."""
    text = str(path)
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]+:/", text):
        url = text.replace(":/", "://", 1)
        return FileNotFoundError(
            f"{url} is a URL; queries need the index on local disk: run `fmsearch fetch {url} DIR` (it checks every "
            "file), then give DIR"
        )
    return FileNotFoundError(f"{path}: no such index directory")


def open_existing(path: Path, max_query_bytes: int | None = None):
    """Open an index, with a clear error for a path that does not exist or is not a directory."""
    import fmsearch

    if not path.exists():
        raise missing_index(path)
    if not path.is_dir():
        raise NotADirectoryError(f"{path}: not a directory; give the directory `fmsearch build --out` created")
    if max_query_bytes is None:
        return fmsearch.open_index(path)
    return fmsearch.open_index(path, max_query_bytes=max_query_bytes)


def print_json(payload: Any) -> None:
    typer.echo(json.dumps(payload, ensure_ascii=False, indent=1))


def human_bytes(n: float) -> str:
    """1234567 -> '1.2 MB' (decimal units)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def _query_label(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "0x" + data.hex()


def query_json(data: bytes) -> dict[str, Any]:
    """The query in a JSON answer: as text (null when its bytes are not UTF-8), as hex, and its length in bytes."""
    try:
        text: str | None = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return {"query": text, "query_hex": data.hex(), "query_bytes": len(data)}


def _visible(text: str) -> str:
    """Control characters shown as symbols, so a snippet stays on one line."""
    return text.replace("\r", "").replace("\n", "⏎").replace("\t", "→")


def build_summary_table(summary: Any, title: str = "build") -> Table:
    """A table of a BuildSummary: sizes, ratio, speed, memory, skipped records."""
    table = Table(title=title, show_header=False, title_justify="left", box=None, padding=(0, 2, 0, 0))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    seconds = max(summary.seconds, 1e-9)
    rows = [
        ("index", str(summary.path)),
        ("documents", f"{summary.num_documents:,}"),
        ("text", f"{human_bytes(summary.num_bytes)}  ({summary.num_bytes:,} bytes)"),
        ("index size", f"{human_bytes(summary.index_bytes)}  ({summary.index_bytes:,} bytes)"),
        ("ratio", f"{summary.ratio:.3f}x the text  ({8 * summary.ratio:.2f} bits per byte)"),
        ("metadata", human_bytes(summary.metadata_bytes)),
        ("seconds", f"{summary.seconds:,.1f}"),
        ("speed", f"{summary.num_bytes / 1e6 / seconds:,.2f} MB/s"),
        ("peak RSS", human_bytes(summary.peak_rss_bytes)),
        ("skipped records", f"{summary.skipped_records:,}"),
    ]
    if summary.stage_seconds:
        stages = sorted(summary.stage_seconds.items(), key=lambda kv: _stage_rank(kv[0]))
        rows.append(("stages", ", ".join(f"{k} {v:.1f}s" for k, v in stages)))
    for label, value in rows:
        table.add_row(label, value)
    for bad in list(summary.bad_records)[:5]:
        table.add_row("", Text(str(bad), style="yellow"))
    return table


_STAGE_ORDER = ("read", "suffix array", "bwt + samples", "wavelet tree", "samples", "write")


def _stage_rank(stage: str) -> int:
    return _STAGE_ORDER.index(stage) if stage in _STAGE_ORDER else len(_STAGE_ORDER)


def summary_json(summary: Any) -> dict[str, Any]:
    return {
        "path": str(summary.path),
        "num_documents": summary.num_documents,
        "num_bytes": summary.num_bytes,
        "index_bytes": summary.index_bytes,
        "metadata_bytes": summary.metadata_bytes,
        "ratio": summary.ratio,
        "seconds": summary.seconds,
        "mb_per_second": summary.num_bytes / 1e6 / max(summary.seconds, 1e-9),
        "peak_rss_bytes": summary.peak_rss_bytes,
        "stage_seconds": dict(summary.stage_seconds),
        "skipped_records": summary.skipped_records,
        "bad_records": [str(b) for b in summary.bad_records],
    }


def hit_rows(idx: Any, pattern: bytes, hits: list, context: int) -> list[dict[str, Any]]:
    """Hits with their snippet and metadata, as plain dicts."""
    rows = []
    for hit in hits:
        snip = idx.snippet(hit.doc_id, hit.offset, len(pattern), context=context)
        rows.append(
            {
                "doc_id": hit.doc_id,
                "offset": hit.offset,
                "before": snip.before,
                "match": snip.match,
                "after": snip.after,
                "start": snip.start,
                "end": snip.end,
                "metadata": snip.metadata,
            }
        )
    return rows


def hits_table(rows: list[dict[str, Any]], title: str | None = None) -> Table:
    """Hits as a table: doc id, byte offset, where (metadata `path`/`id`/`url`), snippet with the match in colour."""
    table = Table(title=title, title_justify="left", expand=False)
    table.add_column("doc", justify="right", style="cyan", no_wrap=True)
    table.add_column("offset", justify="right", no_wrap=True)
    if any(_where(r["metadata"]) for r in rows):
        table.add_column("where", style="dim", overflow="fold")
    table.add_column("snippet", overflow="fold")
    for r in rows:
        snippet = Text(_visible(r["before"]), style="dim") + Text(_visible(r["match"]), style="bold black on yellow")
        snippet += Text(_visible(r["after"]), style="dim")
        cells = [str(r["doc_id"]), f"{r['offset']:,}"]
        if len(table.columns) == 4:
            cells.append(_where(r["metadata"]))
        table.add_row(*cells, snippet)
    return table


def _where(metadata: dict[str, Any]) -> str:
    for key in ("path", "url", "id", "name", "title", "source"):
        if key in metadata:
            return str(metadata[key])
    return ""


def _manifest_facts(manifest: dict[str, Any]) -> dict[str, Any]:
    keys = ("format_version", "fmsearch_version", "created", "num_documents", "num_bytes", "text_bytes")
    facts = {k: manifest.get(k) for k in keys}
    facts.update(
        params=manifest.get("params"),
        index_bytes=manifest.get("index_bytes"),
        metadata_bytes=manifest.get("metadata_bytes"),
        skipped_records=manifest.get("skipped_records"),
        build_seconds=(manifest.get("build") or {}).get("seconds"),
        peak_rss_bytes=(manifest.get("build") or {}).get("peak_rss_bytes"),
    )
    return facts


def index_report(idx: Any) -> dict[str, Any]:
    """Facts and the size of every component and group of an index (summed over the shards of a catalog)."""
    shards = list(idx.shards)
    groups: dict[str, dict[str, Any]] = {}
    for shard in shards:
        for group, entry in shard.sizes().items():
            g = groups.setdefault(group, {"bytes": 0, "parts": {}})
            g["bytes"] += entry["bytes"]
            for part, size in entry["parts"].items():
                g["parts"][part] = g["parts"].get(part, 0) + size
    num_bytes = int(idx.num_bytes)
    index_bytes = sum(g["bytes"] for name, g in groups.items() if name != "metadata")
    for g in groups.values():
        g["bits_per_byte"] = 8 * g["bytes"] / max(num_bytes, 1)
    report: dict[str, Any] = {
        "path": str(idx.path),
        "name": idx.name,
        "kind": "catalog" if len(shards) != 1 or shards[0] is not idx else "shard",
        "num_documents": int(idx.num_documents),
        "num_bytes": num_bytes,
        "num_shards": len(shards),
        "index_bytes": index_bytes,
        "metadata_bytes": groups.get("metadata", {}).get("bytes", 0),
        "ratio": index_bytes / max(num_bytes, 1),
        "bits_per_byte": 8 * index_bytes / max(num_bytes, 1),
        "sizes": groups,
    }
    if report["kind"] == "shard":
        report["manifest"] = _manifest_facts(idx.manifest)
    else:
        report["shards"] = [
            {"name": s.name, "num_documents": s.num_documents, "num_bytes": s.num_bytes} for s in shards
        ]
    return report


def sizes_table(report: dict[str, Any], title: str = "index size") -> Table:
    """The size report as a table: each group, then its components, with bits per corpus byte."""
    table = Table(title=title, title_justify="left")
    table.add_column("component")
    table.add_column("bytes", justify="right")
    table.add_column("bits/byte", justify="right")
    table.add_column("share", justify="right")
    total = max(report["index_bytes"], 1)
    n = max(report["num_bytes"], 1)
    for group, entry in report["sizes"].items():
        share = "" if group == "metadata" else f"{100 * entry['bytes'] / total:.1f}%"
        table.add_row(Text(group, style="bold"), f"{entry['bytes']:,}", f"{entry['bits_per_byte']:.3f}", share)
        if len(entry["parts"]) > 1:
            for part, size in entry["parts"].items():
                table.add_row(Text(f"  {part}", style="dim"), f"{size:,}", f"{8 * size / n:.3f}", "", style="dim")
    table.add_section()
    table.add_row(
        Text("index (without metadata)", style="bold"),
        f"{report['index_bytes']:,}",
        f"{report['bits_per_byte']:.3f}",
        f"{report['ratio']:.3f}x",
    )
    return table


# -- commands ---------------------------------------------------------------------------------------------------------


def check_replaceable(out: Path) -> None:
    """--force replaces `out` wholesale: refuse unless it is an index (or empty), so a typo cannot delete a folder."""
    if not out.exists():
        return
    if not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a directory; --force only replaces an fmsearch index")
    if (out / "manifest.json").is_file() or (out / "catalog.json").is_file() or not any(out.iterdir()):
        return
    raise FileExistsError(
        f"{out} exists and is not an fmsearch index (no manifest.json); --force only replaces an index: "
        "choose another --out"
    )


@app.command()
def build(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="Input files or directories (.jsonl, .jsonl.gz, .jsonl.zst, .parquet, .txt).", show_default=False
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to create for the index.", show_default=False)],
    text_field: Annotated[str, typer.Option("--text-field", help="JSON / parquet field holding the text.")] = "text",
    skip_bad_records: Annotated[
        bool, typer.Option("--skip-bad-records", help="Skip and count malformed records instead of stopping.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing index at --out.")] = False,
    preset: Annotated[
        str,
        typer.Option(
            "--preset",
            help="Layout: 'compact' (RRR bitvectors), 'small' (about 9% smaller, slower queries) or 'fast' "
            "(about 1.5x larger, faster queries).",
        ),
    ] = "compact",
    as_json: JsonOpt = False,
) -> None:
    """Build a shard from files; it appears under --out only when complete."""
    import fmsearch

    if force:
        check_replaceable(out)
    elif out.exists():  # checked here too, before any input is read or progress drawn
        raise fail(f"{out} already exists; pass --force to replace the index there, or choose another --out")
    # Progress goes to stderr, so stdout holds only the summary (or the JSON document).
    with contextlib.redirect_stdout(sys.stderr):
        summary = fmsearch.build_index(
            [Path(p) for p in inputs],
            out,
            text_field=text_field,
            skip_bad_records=skip_bad_records,
            progress=True,
            overwrite=force,
            preset=preset,
        )
    if as_json:
        print_json(summary_json(summary))
        return
    console = _stdout()
    console.print(build_summary_table(summary, title=f"built {summary.path}"))
    if summary.skipped_records > len(summary.bad_records[:5]):
        console.print(f"[yellow]{summary.skipped_records:,} records skipped; first examples listed above[/]")


@app.command()
def count(index: IndexDir, query: QueryArg, hex_query: HexOpt = False, as_json: JsonOpt = False) -> None:
    """Count the occurrences of QUERY (overlapping ones too; never across two documents)."""
    pattern = query_bytes(query, hex_query)
    idx = open_existing(index)
    n = idx.count(pattern)
    if as_json:
        print_json({"index": str(index), **query_json(pattern), "count": n})
    else:
        typer.echo(f"{n}")


@app.command()
def find(
    index: IndexDir,
    query: QueryArg,
    limit: Annotated[int, typer.Option("--limit", "-n", min=0, max=MAX_LIMIT, help="Hits to show.")] = 10,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Skip this many hits first (paging).")] = 0,
    context: Annotated[int, typer.Option("--context", "-C", min=0, max=100_000, help="Bytes of context.")] = 60,
    hex_query: HexOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Show where QUERY occurs: document id, byte offset in the document, and a snippet around it."""
    pattern = query_bytes(query, hex_query)
    idx = open_existing(index)
    result = idx.find(pattern, limit=limit, offset=offset)
    rows = hit_rows(idx, pattern, result.hits, context)
    if as_json:
        print_json(
            {
                "index": str(index),
                **query_json(pattern),
                "total": result.total,
                "offset": offset,
                "limit": limit,
                "hits": rows,
            }
        )
        return
    console = _stdout()
    shown = f"{offset + 1:,}-{offset + len(rows):,}" if rows else "none"
    console.print(
        Text.assemble(
            (f"{result.total:,}", "bold"),
            f" occurrence{'' if result.total == 1 else 's'} of {_query_label(pattern)!r}; showing {shown}",
        ),
        soft_wrap=True,
    )
    if rows:
        console.print(hits_table(rows))
    if offset + len(rows) < result.total:
        console.print(f"[dim]next page: --offset {offset + len(rows)}[/]")


@app.command()
def doc(
    index: IndexDir,
    doc_id: Annotated[int, typer.Argument(help="Document id (0-based).", show_default=False)],
    start: Annotated[int, typer.Option("--start", help="First byte of the range.")] = 0,
    end: Annotated[int | None, typer.Option("--end", help="Byte after the range (default: the end).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Print a document (or bytes [--start, --end) of it) rebuilt from the index; its metadata goes to stderr."""
    idx = open_existing(index)
    data = idx.extract(doc_id, start, end)
    metadata = idx.metadata(doc_id)
    length = idx.document_length(doc_id)
    if as_json:
        print_json(
            {
                "index": str(index),
                "doc_id": doc_id,
                "length": length,
                "start": start,
                "end": start + len(data),
                "text": data.decode("utf-8", errors="replace"),
                "metadata": metadata,
            }
        )
        return
    _stderr().print(
        f"[cyan]doc {doc_id}[/]  bytes {start:,}-{start + len(data):,} of {length:,}  {escape(json.dumps(metadata))}",
        soft_wrap=True,
    )
    # The exact bytes, so `fmsearch doc ... > file` reproduces the document.
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    if data and not data.endswith(b"\n") and sys.stdout.isatty():
        sys.stdout.buffer.write(b"\n")
    sys.stdout.buffer.flush()


@app.command()
def info(index: IndexDir, as_json: JsonOpt = False) -> None:
    """Facts about an index and the size of each component, in bytes and bits per corpus byte."""
    idx = open_existing(index)
    report = index_report(idx)
    if as_json:
        print_json(report)
        return
    console = _stdout()
    facts = Table(show_header=False, box=None, title=f"{report['kind']} {report['path']}", title_justify="left")
    facts.add_column(style="bold")
    facts.add_column()
    facts.add_row("documents", f"{report['num_documents']:,}")
    facts.add_row("text", f"{human_bytes(report['num_bytes'])} ({report['num_bytes']:,} bytes)")
    facts.add_row("index", f"{human_bytes(report['index_bytes'])}, {report['ratio']:.3f}x the text")
    facts.add_row("metadata", human_bytes(report["metadata_bytes"]))
    if report["kind"] == "shard":
        m = report["manifest"]
        facts.add_row("format version", str(m["format_version"]))
        facts.add_row("built by", f"fmsearch {m['fmsearch_version']} at {m['created']}")
        if m["build_seconds"] is not None:
            facts.add_row("build", f"{m['build_seconds']:,.1f} s, peak RSS {human_bytes(m['peak_rss_bytes'] or 0)}")
        facts.add_row("parameters", ", ".join(f"{k}={v}" for k, v in (m["params"] or {}).items()))
        facts.add_row("skipped records", f"{m['skipped_records'] or 0:,}")
    else:
        facts.add_row("shards", f"{report['num_shards']:,}")
    console.print(facts)
    console.print(sizes_table(report))


@app.command()
def verify(index: IndexDir, as_json: JsonOpt = False) -> None:
    """Re-check every file's checksum (every shard of a catalog). Exit 0 when intact, 1 when damaged."""
    from fmsearch import storage

    if not index.exists():
        raise missing_index(index)
    if not index.is_dir():
        raise NotADirectoryError(f"{index}: not a directory")
    with _stderr().status(f"hashing {index} ..."):
        if (index / "catalog.json").is_file():
            from fmsearch.multi import verify_catalog

            problems = list(verify_catalog(index))
        else:
            problems = list(storage.verify(index))
    if as_json:
        print_json({"index": str(index), "ok": not problems, "problems": problems})
    elif problems:
        err = _stderr()
        err.print(f"[bold red]{escape(str(index))}: {len(problems)} problem(s) found; rebuild the damaged index[/]")
        for problem in problems:
            err.print(Text(f"  {problem}", style="red"), soft_wrap=True)
    else:
        _stdout().print(f"[green]ok[/]: {escape(str(index))} is intact (every checksum matches)", soft_wrap=True)
    if problems:
        raise typer.Exit(EXIT_DAMAGED)


# -- commands of the other packages -----------------------------------------------------------------------------------


def register_plugins(target: typer.Typer, modules: tuple[str, ...] = PLUGIN_MODULES) -> list[str]:
    """Let each installed package among `modules` add its commands (`register(app)`); returns those loaded."""
    loaded = []
    for name in modules:
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:  # the parent package is not installed
            spec = None
        if spec is None:
            continue
        try:
            importlib.import_module(name).register(target)
        except Exception as e:  # one broken package must not take the other commands down
            print(f"warning: the commands of {name} are unavailable: {type(e).__name__}: {e}", file=sys.stderr)
            continue
        loaded.append(name)
    return loaded


register_plugins(app)


def main() -> None:
    """Entry point of the `fmsearch` script."""
    app()
