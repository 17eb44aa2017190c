"""What a person watching `fmsearch index` sees: a live progress line (rich), then one summary table."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from indexing.job import JobResult


class JobView:
    """Live progress (rich): the planning pass, then shards done / running / failed, MB/s and ETA.

    A shard's bytes count when it is published, so the rate is that of finished shards since building started.
    """

    def __init__(self, show: bool) -> None:
        self.progress = None
        self.task = None
        self.sizes: dict[str, int] = {}
        self.running: set[str] = set()
        self.done = self.failed = self.total = 0
        self.bytes_done = self.bytes_total = 0
        self.started_at = time.perf_counter()
        if show:
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn("{task.description:<9}"),
                BarColumn(),
                DownloadColumn(),
                TextColumn("{task.fields[note]}"),
                TimeElapsedColumn(),
            )
            self.progress.start()
            self.task = self.progress.add_task("planning", total=None, note="")

    def _rate(self, num_bytes: int) -> float:
        return num_bytes / max(time.perf_counter() - self.started_at, 1e-9)

    def planning(self, documents: int, num_bytes: int) -> None:
        if self.progress is not None:
            note = f"{documents:,} documents read, {self._rate(num_bytes) / 1e6:,.1f} MB/s"
            self.progress.update(self.task, completed=num_bytes, note=note)

    def _update(self, advance: int = 0) -> None:
        if self.progress is None:
            return
        rate = self._rate(self.bytes_done)
        if self.bytes_done:
            eta = f"eta {max(self.bytes_total - self.bytes_done, 0) / rate:,.0f} s"
        else:
            eta = "eta -"
        note = (
            f"shards {self.done}/{self.total} done, {len(self.running)} running, {self.failed} failed, "
            f"{rate / 1e6:,.1f} MB/s, {eta}"
        )
        self.progress.update(self.task, advance=advance, note=note)

    def building(self, shards: list[dict[str, Any]], todo: list[dict[str, Any]]) -> None:
        self.sizes = {s["name"]: s["num_bytes"] for s in todo}
        self.total = len(shards)
        self.done = len(shards) - len(todo)
        self.bytes_total = sum(self.sizes.values())
        self.started_at = time.perf_counter()
        if self.progress is not None:
            self.progress.update(self.task, visible=False)
            self.task = self.progress.add_task("building", total=max(self.bytes_total, 1), completed=0, note="")
            self._update()

    def started(self, name: str) -> None:
        self.running.add(name)
        self._update()

    def finished(self, name: str, result: dict[str, Any] | str) -> None:
        self.running.discard(name)
        if isinstance(result, str):
            self.failed += 1
        else:
            self.done += 1
            self.bytes_done += self.sizes.get(name, 0)
        self._update(advance=self.sizes.get(name, 0))

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def print_summary(result: JobResult) -> None:
    """The final table: one row per shard, then the totals."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"catalog {result.path}")
    for column in ("shard", "status", "documents", "text MB", "index MB", "ratio", "build s", "node"):
        table.add_column(column, justify="left" if column in ("shard", "status", "node") else "right")
    for s in result.shards:
        table.add_row(
            s.name,
            s.status,
            f"{s.num_documents:,}",
            f"{s.num_bytes / 1e6:,.1f}",
            f"{s.index_bytes / 1e6:,.1f}",
            f"{s.index_bytes / max(s.num_bytes, 1):.3f}",
            f"{s.seconds:.1f}" if s.status != "skipped" else "-",
            s.node,
        )
    table.add_section()
    table.add_row(
        "total",
        f"{len(result.built)} built, {len(result.skipped)} skipped",
        f"{result.num_documents:,}",
        f"{result.num_bytes / 1e6:,.1f}",
        f"{result.index_bytes / 1e6:,.1f}",
        f"{result.index_bytes / max(result.num_bytes, 1):.3f}",
        f"{result.seconds:.1f} wall",
        "",
    )
    console = Console()
    console.print(table)
    if result.num_bytes and result.build_seconds:
        console.print(
            f"{result.num_bytes / 1e6 / max(result.seconds, 1e-9):,.1f} MB/s end to end "
            f"(planning {result.plan_seconds:.1f} s, Ray start {result.ray_start_seconds:.1f} s, building "
            f"{result.build_seconds - result.ray_start_seconds - result.ray_stop_seconds:.1f} s, Ray stop "
            f"{result.ray_stop_seconds:.1f} s)"
        )
