"""Shards held by Ray actors: for indexes bigger than one machine (`fmsearch serve --ray-address ADDR`).

Each actor opens a group of shard directories (every node must see the same paths, e.g. shared storage) and runs
the same `shard_ops` functions as the thread backend, several at a time (the kernels release the GIL). The service
process keeps its own read-only view of each shard only for sizes and document counts.

`--ray-address local` starts a Ray instance on this machine bound to 127.0.0.1 only (indexing/ray_local.py; it
cannot join other nodes).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from indexing.ray_local import init_local_ray
from service import shard_ops
from service.router import ServedIndex


class ShardGroup:
    """The actor: a few shards of one index, opened from their directories."""

    def __init__(self, paths: list[str], max_query_bytes: int, warm: bool) -> None:
        from fmsearch import FMIndex

        self.shards = [FMIndex(p, max_query_bytes=max_query_bytes) for p in paths]
        if warm:
            for s in self.shards:
                s.warm()

    def run(self, local: int, op: str, args: tuple) -> Any:
        return shard_ops.run(self.shards[local], op, args)

    def ready(self) -> int:
        return len(self.shards)


class RayBackend:
    def __init__(
        self,
        indexes: dict[str, ServedIndex],
        address: str,
        shards_per_actor: int,
        max_query_bytes: int,
        warm: bool = True,
        actor_concurrency: int = 8,
        observe=None,
    ) -> None:
        import ray

        self._observe = observe
        if not ray.is_initialized():
            if address == "local":
                init_local_ray(log_to_driver=False)
            else:
                ray.init(address=address, log_to_driver=False)
        self._ray = ray
        actor_class = ray.remote(num_cpus=0, max_concurrency=actor_concurrency)(ShardGroup)
        self._where: dict[tuple[str, int], tuple[Any, int]] = {}
        self.actors: list[Any] = []
        for name, idx in indexes.items():
            paths = [str(s.path) for s in idx.shards]
            for lo in range(0, len(paths), shards_per_actor):
                actor = actor_class.remote(paths[lo : lo + shards_per_actor], max_query_bytes, warm)
                self.actors.append(actor)
                for k in range(lo, min(lo + shards_per_actor, len(paths))):
                    self._where[(name, k)] = (actor, k - lo)
        ray.get([a.ready.remote() for a in self.actors])  # fail at start, not at the first query

    def submit(self, index: str, shard: int, op: str, args: tuple) -> asyncio.Future:
        actor, local = self._where[(index, shard)]
        fut = actor.run.remote(local, op, args).future()
        if self._observe is not None:  # round trip to the actor, as seen from the service
            t0 = time.perf_counter()
            fut.add_done_callback(lambda _f: self._observe(index, shard, time.perf_counter() - t0))
        return asyncio.wrap_future(fut)

    def actor_of(self, index: str, shard: int) -> Any:
        return self._where[(index, shard)][0]

    def close(self) -> None:
        for actor in self.actors:
            try:
                self._ray.kill(actor)
            except Exception:  # noqa: BLE001 - already gone: nothing to release
                pass
