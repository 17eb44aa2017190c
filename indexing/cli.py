"""`fmsearch index`, `fmsearch catalog` and `fmsearch fetch`: added to the `fmsearch` app by `register(app)`.

Heavy imports (ray, datasets, pyarrow) happen inside the commands, so `fmsearch --help` stays fast. A catalog may
live on a store (--out s3://BUCKET/PREFIX, gs://..., file:///...; see indexing/remote.py). Errors are one red line
and exit with 2, as in the rest of `fmsearch`; a job whose shards partly failed exits with 1 (rerun to resume).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fmsearch.cli import EXIT_DAMAGED, EXIT_ERROR, fail


def _fail(e: Exception) -> typer.Exit:
    from indexing.job import ShardBuildFailed

    return fail(str(e), EXIT_DAMAGED if isinstance(e, ShardBuildFailed) else EXIT_ERROR)


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
    out: Annotated[
        str,
        typer.Option(
            "--out",
            "-o",
            help="Catalog directory to create, resume or extend; or a URL on shared storage: s3://BUCKET/PREFIX "
            "(?endpoint_override=HOST:PORT&scheme=http for S3-compatible stores), gs://..., file:///... "
            "(credentials from the environment, e.g. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)",
        ),
    ],
    shard_size: Annotated[str, typer.Option(help="Target text bytes per shard, e.g. 2GB, 500MB")] = "2GB",
    workers: Annotated[int | None, typer.Option(help="CPUs of the embedded Ray (default: all)")] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(envvar="RAY_ADDRESS", help="Join this Ray cluster instead of starting Ray locally"),
    ] = None,
    text_field: Annotated[str, typer.Option(help="Field holding the text in JSON / parquet / datasets")] = "text",
    skip_bad_records: Annotated[bool, typer.Option(help="Skip (and count) malformed records")] = False,
    preset: Annotated[str, typer.Option(help="Layout: compact, small or fast (fmsearch build --help)")] = "compact",
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
        raise _fail(e) from None
    except KeyboardInterrupt:
        typer.secho(
            "interrupted: published shards are kept; rerun the same command to resume", fg=typer.colors.YELLOW, err=True
        )
        raise typer.Exit(130) from None


def catalog(path: Annotated[str, typer.Argument(help="Catalog directory, or its URL (s3://..., gs://...)")]) -> None:
    """List a catalog's shards: documents, text and index sizes, global doc ids."""
    from rich.console import Console
    from rich.table import Table

    from fmsearch.catalog import read_catalog
    from fmsearch.errors import FmsearchError
    from indexing.remote import is_url, open_store

    try:
        cat = open_store(path).read_catalog() if is_url(path) else read_catalog(Path(path))
    except FmsearchError as e:
        raise _fail(e) from None
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


def fetch(
    url: Annotated[str, typer.Argument(help="URL of a catalog (or of one shard): s3://..., gs://..., file:///...")],
    dest: Annotated[Path, typer.Argument(help="Local directory to create (it must not exist yet)")],
) -> None:
    """Download a catalog from shared storage into a local directory, checking every file, to query or serve it."""
    from fmsearch.errors import FmsearchError
    from indexing.remote import fetch as fetch_catalog

    try:
        result = fetch_catalog(url, dest, progress=True)
    except FmsearchError as e:
        raise _fail(e) from None
    except KeyboardInterrupt:
        typer.secho(f"interrupted: nothing was written to {dest}", fg=typer.colors.YELLOW, err=True)
        raise typer.Exit(130) from None
    typer.echo(
        f"fetched {result.kind} into {result.path}: {result.num_shards} shard(s), {result.num_files} files, "
        f"{result.num_bytes / 1e6:,.1f} MB in {result.seconds:.1f} s, every file checked; query it with "
        f"`fmsearch count {result.path} QUERY` or serve it"
    )


def register(app: typer.Typer) -> None:
    """Add `index`, `catalog` and `fetch` to the fmsearch app."""
    app.command("index")(index)
    app.command("catalog")(catalog)
    app.command("fetch")(fetch)


def main() -> None:
    """Run these commands alone (`python -m indexing.cli index ...`), e.g. where the full CLI is not installed."""
    app = typer.Typer(no_args_is_help=True, add_completion=False)
    register(app)
    app()


if __name__ == "__main__":
    main()
