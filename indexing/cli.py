"""`fmsearch index` and `fmsearch catalog`: added to the `fmsearch` app by `register(app)`.

Heavy imports (ray, datasets) happen inside the commands, so `fmsearch --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def index(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="Files (.jsonl, .jsonl.gz, .jsonl.zst, .parquet, .txt), globs, directories, datasets saved with "
            "save_to_disk (DIR or DIR?split=S&field=F) or Hugging Face datasets: hf://ORG/NAME?split=train&field=text "
            "(a config as hf://ORG/NAME/CONFIG or ?config=C)",
            show_default=False,
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Catalog directory to create, resume or extend")],
    shard_size: Annotated[str, typer.Option(help="Target text bytes per shard, e.g. 2GB, 500MB")] = "2GB",
    workers: Annotated[int | None, typer.Option(help="CPUs of the embedded Ray (default: all)")] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(envvar="RAY_ADDRESS", help="Join this Ray cluster instead of starting Ray locally"),
    ] = None,
    text_field: Annotated[str, typer.Option(help="Field holding the text in JSON / parquet / datasets")] = "text",
    skip_bad_records: Annotated[bool, typer.Option(help="Skip (and count) malformed records")] = False,
    preset: Annotated[str, typer.Option(help="Index layout: compact (smallest) or fast (larger, faster)")] = "compact",
    append: Annotated[bool, typer.Option(help="Add these sources as new shards to an existing catalog")] = False,
    max_retries: Annotated[int, typer.Option(help="Retries of a shard whose Ray worker died")] = 3,
    no_ray: Annotated[bool, typer.Option("--no-ray", help="Build shards one by one in this process")] = False,
    name: Annotated[str | None, typer.Option(help="Catalog name (default: the directory's name)")] = None,
) -> None:
    """Index a corpus into a catalog of shards, built in parallel on Ray; rerun the same command to resume."""
    from fmsearch.errors import FmsearchError
    from indexing.job import run_job

    try:
        run_job(
            sources,
            out,
            shard_size=shard_size,
            text_field=text_field,
            skip_bad_records=skip_bad_records,
            preset=preset,
            workers=workers,
            ray_address=ray_address,
            append=append,
            max_retries=max_retries,
            use_ray=not no_ray,
            progress=True,
            name=name,
        )
    except FmsearchError as e:
        typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        typer.secho(
            "interrupted: published shards are kept; rerun the same command to resume", fg=typer.colors.YELLOW, err=True
        )
        raise typer.Exit(130) from None


def catalog(path: Annotated[Path, typer.Argument(help="Catalog directory")]) -> None:
    """List a catalog's shards: documents, text and index sizes, global doc ids."""
    from rich.console import Console
    from rich.table import Table

    from fmsearch.catalog import read_catalog
    from fmsearch.errors import FmsearchError

    try:
        cat = read_catalog(path)
    except FmsearchError as e:
        typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    table = Table(title=f"{cat['name']}: {len(cat['shards'])} shards, created {cat['created']}")
    for column in ("shard", "doc ids", "documents", "text MB", "index MB", "ratio", "sources"):
        table.add_column(column, justify="left" if column in ("shard", "doc ids", "sources") else "right")
    for s in cat["shards"]:
        names = sorted({span["unit"]["name"] for span in s.get("source_plan", [])})
        shown = ", ".join(names[:2]) + (f" +{len(names) - 2}" if len(names) > 2 else "")
        table.add_row(
            s["name"],
            f"{s['first_doc_id']}..{s['first_doc_id'] + s['num_documents'] - 1}",
            f"{s['num_documents']:,}",
            f"{s['num_bytes'] / 1e6:,.2f}",
            f"{s['index_bytes'] / 1e6:,.2f}",
            f"{s['index_bytes'] / max(s['num_bytes'], 1):.3f}",
            shown,
        )
    table.add_section()
    num_bytes = sum(s["num_bytes"] for s in cat["shards"])
    index_bytes = sum(s["index_bytes"] for s in cat["shards"])
    table.add_row(
        "total",
        "",
        f"{sum(s['num_documents'] for s in cat['shards']):,}",
        f"{num_bytes / 1e6:,.2f}",
        f"{index_bytes / 1e6:,.2f}",
        f"{index_bytes / max(num_bytes, 1):.3f}",
        "",
    )
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add `index` and `catalog` to the fmsearch app."""
    app.command("index")(index)
    app.command("catalog")(catalog)


def main() -> None:
    """Run these commands alone (`python -m indexing.cli index ...`), e.g. where the full CLI is not installed."""
    app = typer.Typer(no_args_is_help=True, add_completion=False)
    register(app)
    app()


if __name__ == "__main__":
    main()
