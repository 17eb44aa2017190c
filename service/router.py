"""The fan-out: one request -> every shard of the named index, in parallel, under one deadline -> one merged answer.

Shards are reached through a backend: threads of this process by default (the kernels release the GIL), or Ray
actors holding groups of shards (see `ray_backend`). A shard that fails or misses the deadline is never silently
dropped: the router raises `ShardsUnavailable` naming it, unless the request allowed a partial answer, in which case
the answer says `complete: false` and lists the missing shards.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from fmsearch import FMIndex, open_index
from fmsearch.errors import FmsearchError, IndexFormatError
from fmsearch.results import Hit, Snippet
from service import shard_ops
from service.errors import DocumentNotFound, ShardsUnavailable, UnknownIndex

ShardObserver = Callable[[str, int, float], None]


@dataclass
class ServedIndex:
    """One public name: its shards in global doc-id order and where each shard's ids start."""

    name: str
    paths: list[str]
    shards: list[FMIndex]
    opened: list[Any] = field(default_factory=list)  # the objects open_index returned (a shard or a catalog)
    bases: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.bases = []
        total = 0
        for shard in self.shards:
            self.bases.append(total)
            total += shard.num_documents
        self.num_documents = total
        self.num_bytes = sum(s.num_bytes for s in self.shards)

    def shard_label(self, i: int) -> str:
        return f"{i}:{self.shards[i].name}"

    def locate_document(self, doc_id: int) -> tuple[int, int]:
        """(shard, local id) of a global document id, or DocumentNotFound naming the valid range."""
        if not 0 <= doc_id < self.num_documents:
            raise DocumentNotFound(
                f"document id {doc_id} is out of range: index {self.name!r} has {self.num_documents} documents "
                f"(ids 0..{self.num_documents - 1})"
            )
        shard = bisect.bisect_right(self.bases, doc_id) - 1
        return shard, doc_id - self.bases[shard]


def open_served(name: str, paths: list[str], max_query_bytes: int) -> ServedIndex:
    """Open every path (a shard or a catalog) and join their shards, in order, under one name."""
    if not paths:
        raise IndexFormatError(f"index {name!r} has no paths to open")
    opened = [open_index(p, max_query_bytes=max_query_bytes) for p in paths]
    shards = [s for idx in opened for s in idx.shards]
    return ServedIndex(name=name, paths=list(paths), shards=shards, opened=opened)


class Backend(Protocol):
    """Runs one shard operation (a function of `shard_ops`) somewhere and hands back an awaitable future."""

    def submit(self, index: str, shard: int, op: str, args: tuple) -> asyncio.Future: ...

    def close(self) -> None: ...


class ThreadBackend:
    """Shard operations on a thread pool of this process; the shards' memory maps are shared by all threads."""

    def __init__(self, indexes: dict[str, ServedIndex], threads: int, observe: ShardObserver | None = None) -> None:
        self._indexes = indexes
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="shard")
        self._observe = observe

    def _run(self, index: str, shard: int, op: str, args: tuple) -> Any:
        t0 = time.perf_counter()
        try:
            return shard_ops.run(self._indexes[index].shards[shard], op, args)
        finally:
            if self._observe is not None:
                self._observe(index, shard, time.perf_counter() - t0)

    def submit(self, index: str, shard: int, op: str, args: tuple) -> asyncio.Future:
        return asyncio.wrap_future(self._pool.submit(self._run, index, shard, op, args))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class Partial:
    """Which shards an answer lacks (empty when complete), as shown to clients."""

    missing: list[dict[str, Any]]

    @property
    def complete(self) -> bool:
        return not self.missing


@dataclass
class FoundHit:
    doc_id: int  # global
    shard: int
    local_doc_id: int
    offset: int


class Router:
    def __init__(self, indexes: dict[str, ServedIndex], backend: Backend, timeout_s: float) -> None:
        self.indexes = indexes
        self.backend = backend
        self.timeout_s = timeout_s

    def index(self, name: str) -> ServedIndex:
        try:
            return self.indexes[name]
        except KeyError:
            known = ", ".join(sorted(self.indexes)) or "none"
            raise UnknownIndex(f"unknown index {name!r}; served indexes: {known} (GET /v1/indexes)") from None

    # -- the fan-out ---------------------------------------------------------------------------------------------

    async def _fan(
        self, idx: ServedIndex, op: str, args_by_shard: dict[int, tuple], deadline: float
    ) -> tuple[dict[int, Any], dict[int, str]]:
        """Run `op` on the given shards; (results by shard, reason by missing shard). Bad input re-raises."""
        if not args_by_shard:
            return {}, {}
        futures = {i: self.backend.submit(idx.name, i, op, args) for i, args in args_by_shard.items()}
        remaining = max(deadline - time.monotonic(), 0.0)
        _, pending = await asyncio.wait(futures.values(), timeout=remaining)
        results: dict[int, Any] = {}
        missing: dict[int, str] = {}
        for i, fut in futures.items():
            if fut in pending:
                fut.cancel()
                missing[i] = f"timed out after {self.timeout_s:g} s"
                continue
            exc = fut.exception()
            if exc is None:
                results[i] = fut.result()
            elif isinstance(exc, FmsearchError) and not isinstance(exc, IndexFormatError):
                raise exc  # the request is wrong, not the shard: every shard would say the same
            else:
                missing[i] = f"failed: {type(exc).__name__}: {exc}"
        return results, missing

    def _settle(self, idx: ServedIndex, missing: dict[int, str], allow_partial: bool) -> Partial:
        described = [{"shard": i, "name": idx.shard_label(i), "reason": r} for i, r in sorted(missing.items())]
        if described and not allow_partial:
            names = ", ".join(f"{d['name']} ({d['reason']})" for d in described)
            raise ShardsUnavailable(
                f"{len(described)} of {len(idx.shards)} shards of index {idx.name!r} did not answer: {names}; "
                "retry, or send allow_partial: true to accept an answer without them",
                missing_shards=described,
            )
        return Partial(described)

    def _deadline(self) -> float:
        return time.monotonic() + self.timeout_s

    # -- operations ----------------------------------------------------------------------------------------------

    async def count(
        self, name: str, query: bytes, allow_partial: bool = False
    ) -> tuple[int, list[int | None], Partial]:
        idx = self.index(name)
        results, missing = await self._fan(
            idx, "count", {i: (query,) for i in range(len(idx.shards))}, self._deadline()
        )
        partial = self._settle(idx, missing, allow_partial)
        per_shard = [results.get(i) for i in range(len(idx.shards))]
        return sum(c for c in per_shard if c is not None), per_shard, partial

    async def count_batch(
        self, name: str, queries: list[bytes], allow_partial: bool = False
    ) -> tuple[list[int], Partial]:
        idx = self.index(name)
        args = {i: (queries,) for i in range(len(idx.shards))}
        results, missing = await self._fan(idx, "count_many", args, self._deadline())
        partial = self._settle(idx, missing, allow_partial)
        totals = [0] * len(queries)
        for counts in results.values():
            totals = [a + b for a, b in zip(totals, counts, strict=True)]
        return totals, partial

    async def find(
        self, name: str, query: bytes, limit: int, offset: int, allow_partial: bool = False
    ) -> tuple[int, list[FoundHit], Partial]:
        """Total occurrences and the page [offset, offset+limit) of hits, shard after shard (suffix order within a
        shard). Two rounds: counts decide which shards hold the page, then only those shards locate."""
        idx = self.index(name)
        deadline = self._deadline()
        counts, missing = await self._fan(idx, "count", {i: (query,) for i in range(len(idx.shards))}, deadline)
        windows: dict[int, tuple] = {}
        start = 0
        for i in range(len(idx.shards)):
            if i not in counts:
                continue
            lo, hi = max(offset, start), min(offset + limit, start + counts[i])
            if lo < hi:
                windows[i] = (query, hi - lo, lo - start)
            start += counts[i]
        found, missing_2 = await self._fan(idx, "find", windows, deadline)
        missing.update(missing_2)
        partial = self._settle(idx, missing, allow_partial)
        hits: list[FoundHit] = []
        for i in sorted(found):
            hits.extend(FoundHit(idx.bases[i] + h.doc_id, i, h.doc_id, h.offset) for h in found[i].hits)
        return sum(counts.values()), hits, partial

    async def snippets(
        self, name: str, hits: list[FoundHit], length: int, context: int, allow_partial: bool = False
    ) -> tuple[list[Snippet | None], Partial]:
        """The snippet of each hit (None where its shard did not answer and partial answers are allowed)."""
        idx = self.index(name)
        by_shard: dict[int, list[int]] = {}
        for k, h in enumerate(hits):
            by_shard.setdefault(h.shard, []).append(k)
        args = {
            s: ([(hits[k].local_doc_id, hits[k].offset) for k in ks], length, context) for s, ks in by_shard.items()
        }
        results, missing = await self._fan(idx, "snippets", args, self._deadline())
        partial = self._settle(idx, missing, allow_partial)
        out: list[Snippet | None] = [None] * len(hits)
        for s, ks in by_shard.items():
            for k, snip in zip(ks, results.get(s, [None] * len(ks)), strict=True):
                out[k] = snip
        return out, partial

    async def document(
        self, name: str, doc_id: int, start: int, end: int | None, max_bytes: int
    ) -> tuple[int, dict[str, Any]]:
        """(shard, {length, metadata, data}) of a global document id; `data` is None when over `max_bytes`."""
        idx = self.index(name)
        shard, local = idx.locate_document(doc_id)
        results, missing = await self._fan(idx, "document", {shard: (local, start, end, max_bytes)}, self._deadline())
        self._settle(idx, missing, allow_partial=False)
        return shard, results[shard]

    async def find_one(self, name: str, shard: int, query: bytes, rank: int) -> Hit | None:
        """The hit of rank `rank` (0-based, suffix order) of `query` in one shard."""
        idx = self.index(name)
        results, missing = await self._fan(idx, "find", {shard: (query, 1, rank)}, self._deadline())
        self._settle(idx, missing, allow_partial=False)
        hits = results[shard].hits
        return hits[0] if hits else None

    async def document_length(self, name: str, shard: int, local_doc_id: int) -> int:
        idx = self.index(name)
        results, missing = await self._fan(idx, "document_length", {shard: (local_doc_id,)}, self._deadline())
        self._settle(idx, missing, allow_partial=False)
        return results[shard]

    def close(self) -> None:
        self.backend.close()
