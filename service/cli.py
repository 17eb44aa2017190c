"""`fmsearch serve`: serve indexes over HTTP (added to the fmsearch command by `register`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def parse_targets(targets: list[str]) -> dict[str, list[str]]:
    """`PATH` (named after its directory) or `NAME=PATH[,PATH...]` -> {name: [paths]}; paths must exist."""
    indexes: dict[str, list[str]] = {}
    for target in targets:
        name, sep, rest = target.partition("=")
        if sep and name and "/" not in name:
            paths = [p for p in rest.split(",") if p]
        else:
            name, paths = Path(target).resolve().name, [target]
        for p in paths:
            if "://" in p:
                raise typer.BadParameter(
                    f"{p} is a URL; the service serves indexes on local disk: run `fmsearch fetch {p} DIR` (it checks "
                    "every file), then serve DIR"
                )
            if not Path(p).is_dir():
                raise typer.BadParameter(f"{p} is not a directory (give a shard or catalog directory)")
        if name in indexes:
            raise typer.BadParameter(f"two indexes are named {name!r}; name them with NAME=PATH")
        indexes[name] = [str(Path(p).resolve()) for p in paths]
    return indexes


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        targets: Annotated[
            list[str],
            typer.Argument(
                metavar="CATALOG_OR_SHARD",
                help="shard or catalog directories; NAME=PATH[,PATH...] names an index (several paths: one index)",
            ),
        ],
        host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
        ray_address: Annotated[
            str | None,
            typer.Option(
                help="Ray cluster address: shards are held by Ray actors there ('local': a Ray on 127.0.0.1 only)"
            ),
        ] = None,
        timeout: Annotated[float, typer.Option(help="seconds a request waits for its shards")] = 10.0,
    ) -> None:
        """Serve indexes over HTTP: JSON API under /v1, a search page at /ui, infini-gram mini's API at POST /."""
        import uvicorn

        from service.main import create_app
        from service.settings import ServiceSettings

        settings = ServiceSettings(indexes=parse_targets(targets), ray_address=ray_address, request_timeout_s=timeout)
        typer.echo(f"serving {', '.join(settings.indexes)} on http://{host}:{port} (page: /ui, API docs: /docs)")
        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
