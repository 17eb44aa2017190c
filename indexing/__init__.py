"""Corpus sources (files, globs, Hugging Face datasets) -> partitions -> shards built on Ray -> a catalog.

`run_job` is the whole pipeline; `fmsearch.open_index(CATALOG)` queries the result as one index. Names are
imported on first use, so that `fmsearch --help` (which loads indexing.cli) stays fast.
"""

from __future__ import annotations

from typing import Any

__all__ = ["JobResult", "ShardBuildFailed", "run_job"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from indexing import job

        return getattr(job, name)
    raise AttributeError(f"module 'indexing' has no attribute {name!r}")
