"""Commands `fmsearch contamination` and `fmsearch bulletin` (added to the main app by `register`).

    fmsearch contamination INDEX --benchmark SPEC_OR_FILE [--field F] [--out results.jsonl] [--server URL]
    fmsearch bulletin CONFIG --out DIR                 (same as `fmsearch bulletin build CONFIG --out DIR`)
    fmsearch bulletin add-benchmark CONFIG --name N (--jsonl FILE | --hf PATH --split S) --field F [--category C]

Heavy imports (datasets, matplotlib, jinja2, httpx) happen inside the commands so `fmsearch --help` stays fast.
Typed errors (bad benchmark, bad config, bad entry) reach the main app's handler and print as one error line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup

from contamination.errors import ContaminationError


class _DefaultBuild(TyperGroup):
    """`fmsearch bulletin CONFIG ...` means `fmsearch bulletin build CONFIG ...`: a first argument that is not a
    subcommand name is taken as the config of `build`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["build", *args]
        return super().parse_args(ctx, args)


bulletin_app = typer.Typer(
    cls=_DefaultBuild,
    name="bulletin",
    no_args_is_help=True,
    help="Build the contamination bulletin (benchmarks x corpora) as a static site; add community benchmarks.",
)


def _progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=False,
    )


def _summary_table(title: str, rows: list[tuple[str, dict[str, Any]]]):
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in ("benchmark / corpus", "entries", "clean", "suspicious", "dirty", "short", "dirty %"):
        table.add_column(col, justify="left" if col.startswith("bench") else "right")
    for label, s in rows:
        table.add_row(
            label,
            str(s["entries"]),
            str(s["clean"]),
            str(s["suspicious"]),
            str(s["dirty"]),
            str(s["short"]),
            f"{s['dirty_pct']:.1f}%",
        )
    return table


def _score_remote(server: str, index: str, texts: list[str], batch: int, advance) -> list[dict[str, Any]]:
    """Score through a running service's POST /v1/contamination, `batch` entries per request."""
    import httpx

    out: list[dict[str, Any]] = []
    with httpx.Client(base_url=server.rstrip("/"), timeout=300) as client:
        for lo in range(0, len(texts), batch):
            chunk = texts[lo : lo + batch]
            body = {"index": index, "entries": [{"id": str(lo + i), "text": t} for i, t in enumerate(chunk)]}
            try:
                resp = client.post("/v1/contamination", json=body)
            except httpx.HTTPError as e:
                raise ContaminationError(f"cannot reach {server}: {e}; is `fmsearch serve` running there?") from e
            if resp.status_code != 200:
                try:
                    body = resp.json()
                    detail = body.get("error") or body.get("detail") or resp.text
                except (ValueError, AttributeError):
                    detail = resp.text
                raise ContaminationError(f"{server} answered {resp.status_code}: {detail}")
            for s in resp.json()["scores"]:
                out.append(s)
                advance()
    return out


def contamination(
    index: Annotated[str, typer.Argument(help="Index directory (shard or catalog), or its name with --server.")],
    benchmark: Annotated[
        str,
        typer.Option(
            "--benchmark",
            "-b",
            help="Registry name (HumanEval, GSM8K, ...), .jsonl/.parquet file, saved dataset, or hf:ORG/NAME[:CFG].",
        ),
    ],
    field: Annotated[
        list[str] | None, typer.Option("--field", "-f", help="Text field to check (repeat to join several).")
    ] = None,
    split: Annotated[str | None, typer.Option("--split", help="Dataset split (hub datasets, saved folders).")] = None,
    sample: Annotated[
        int | None, typer.Option("--sample", min=1, help="Entries to check (default all up to 1000).")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the sample.")] = None,
    window: Annotated[int, typer.Option("--window", min=1, max=10_000, help="Window length, code points.")] = 50,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write one JSON line per entry here.")] = None,
    server: Annotated[
        str | None, typer.Option("--server", help="Score through a running service at this URL instead of locally.")
    ] = None,
) -> None:
    """Score a benchmark against an index: eta, verdict, longest match and evidence per entry; prints the summary."""
    from rich.console import Console

    from contamination.benchmarks import load_benchmark, resolve
    from contamination.scoring import score_texts
    from contamination.windows import WindowParams, summarize

    console = Console(stderr=True, highlight=False)
    params = WindowParams(length=window)
    spec = resolve(benchmark, fields=field, split=split, sample=sample, seed=seed)
    with console.status(f"loading {spec.name} ..."):
        bench = load_benchmark(spec)
    texts = [e.text for e in bench.entries]
    console.print(
        f"{spec.name}: {len(texts):,} entries of {bench.available:,}, field(s) {', '.join(spec.fields)}"
        + (f" joined with {spec.separator!r}" if len(spec.fields) > 1 else "")
        + f"; window {params.length}, suspicious at {params.suspicious_at}, dirty at {params.dirty_at}"
    )
    with _progress() as progress:
        task = progress.add_task(f"scoring against {index}", total=len(texts))
        if server:
            if window != 50:
                raise ContaminationError("--window is fixed by the service; drop --window with --server")
            rows = _score_remote(server, index, texts, 100, lambda: progress.advance(task))
        else:
            from fmsearch.cli import open_existing

            idx = open_existing(Path(index), max_query_bytes=1 << 20)
            workers = min(4, os.cpu_count() or 1)
            scores = score_texts(idx, texts, params, on_entry=lambda i, s: progress.advance(task), workers=workers)
            rows = [s.to_dict() for s in scores]
    summary = summarize(rows)
    if out is not None:
        with out.open("w", encoding="utf-8") as f:
            for entry, row in zip(bench.entries, rows, strict=True):
                row = {**row, "id": entry.id, "benchmark": spec.name, "index": index, "params": params.as_dict()}
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    Console(highlight=False).print(_summary_table(f"{spec.name} in {index}", [(spec.name, summary)]))
    if out is not None:
        console.print(f"per-entry results: {out}")


class _RichReporter:
    """Bulletin progress on the terminal: one bar per (benchmark, corpus) scored; cached pairs say so."""

    def __init__(self, console, progress) -> None:
        self.console = console
        self.progress = progress

    def benchmark_loaded(self, spec, bench, error) -> None:
        if error:
            self.console.print(f"[yellow]warning:[/] {spec.name} not scored: {error}")

    def pair_started(self, spec, corpus, entries):
        task = self.progress.add_task(f"{spec.name} x {corpus}", total=entries)
        self._task = task
        return lambda i, s: self.progress.advance(task)

    def pair_done(self, spec, corpus, cached) -> None:
        if cached:
            self.progress.update(
                self._task, completed=self.progress.tasks[-1].total, description=f"{spec.name} x {corpus} (cached)"
            )


def _print_bulletin(results: dict[str, Any], out: Path) -> None:
    from rich.console import Console

    rows = []
    for b in results["benchmarks"]:
        for corpus, s in b["results"].items():
            rows.append((f"{b['name']} / {corpus}", s))
    console = Console(highlight=False)
    if rows:
        console.print(_summary_table(results["title"], rows))
    console.print(f"bulletin written to {out}/index.html (results.json, results.csv, summary.md beside it)")


@bulletin_app.command("build")
def bulletin_build(
    config: Annotated[Path, typer.Argument(help="Bulletin config (.toml or .json).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder of the static site.")],
    strict: Annotated[bool, typer.Option("--strict", help="Stop when a benchmark cannot be loaded.")] = False,
) -> None:
    """Score every benchmark x corpus of CONFIG (cached per pair) and write the static site to --out."""
    from rich.console import Console

    from contamination.bulletin import build_bulletin

    console = Console(stderr=True, highlight=False)
    with _progress() as progress:
        results = build_bulletin(config, out, _RichReporter(console, progress), strict=strict)
    _print_bulletin(results, out)


@bulletin_app.command("add-benchmark")
def bulletin_add(
    config: Annotated[Path, typer.Argument(help="Bulletin config (.toml or .json) to add the benchmark to.")],
    name: Annotated[str, typer.Option("--name", help="Name of the benchmark (unique in the bulletin).")],
    field: Annotated[list[str], typer.Option("--field", "-f", help="Text field to check (repeat to join several).")],
    jsonl: Annotated[Path | None, typer.Option("--jsonl", help="Local .jsonl (or .parquet) file.")] = None,
    hf: Annotated[str | None, typer.Option("--hf", help="Hugging Face dataset path (needs --split).")] = None,
    hf_config: Annotated[str | None, typer.Option("--hf-config", help="Config of the hub dataset.")] = None,
    split: Annotated[str | None, typer.Option("--split", help="Split (hub dataset or saved folder).")] = None,
    category: Annotated[str, typer.Option("--category", help="Category shown in the bulletin.")] = "community",
    id_field: Annotated[str | None, typer.Option("--id-field", help="Field holding entry ids.")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Bulletin folder to rebuild after adding.")] = None,
) -> None:
    """Validate a community benchmark (fields, non-empty texts, size), score it, add it under `community`."""
    from rich.console import Console

    from contamination.benchmarks import BenchmarkSpec
    from contamination.bulletin import add_benchmark

    if (jsonl is None) == (hf is None):
        raise ContaminationError("give exactly one source: --jsonl FILE, or --hf PATH with --split")
    if hf is not None and not split:
        raise ContaminationError("--hf needs --split (e.g. --split test)")
    spec = BenchmarkSpec(
        name=name,
        fields=tuple(field),
        source="hf" if hf else "file",
        path=hf or str(jsonl),
        config=hf_config,
        split=split,
        category=category,
        id_field=id_field,
        section="community",
    )
    console = Console(stderr=True, highlight=False)
    with _progress() as progress:
        results = add_benchmark(config, spec, out, _RichReporter(console, progress))
    Console(highlight=False).print(f"added {name} to {config} under community")
    if results is not None and out is not None:
        _print_bulletin(results, out)


def register(app: typer.Typer) -> None:
    """Add `contamination` and `bulletin` to the main `fmsearch` app."""
    app.command("contamination")(contamination)
    app.add_typer(bulletin_app, name="bulletin")
