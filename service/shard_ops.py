"""The operations a router sends to one shard: plain functions of (shard, arguments) with picklable results.

They run in a worker thread of this process or inside a Ray actor, so they take bytes and ints and return plain
values, never numpy arrays bigger than needed or objects holding memory maps.
"""

from __future__ import annotations

from typing import Any

from fmsearch import FMIndex
from fmsearch.results import FindResult, Snippet


def count(shard: FMIndex, query: bytes) -> int:
    return shard.count(query)


def count_many(shard: FMIndex, queries: list[bytes]) -> list[int]:
    return shard.count_many(queries).tolist()


def find(shard: FMIndex, query: bytes, limit: int, offset: int) -> FindResult:
    return shard.find(query, limit=limit, offset=offset)


def snippets(shard: FMIndex, hits: list[tuple[int, int]], length: int, context: int) -> list[Snippet]:
    """The snippet around each (local doc id, byte offset) match of `length` bytes."""
    return [shard.snippet(doc_id, offset, length, context=context) for doc_id, offset in hits]


def document(shard: FMIndex, doc_id: int, start: int, end: int | None, max_bytes: int) -> dict[str, Any]:
    """A document's length, metadata and bytes [start, end); the caller checked the range against `max_bytes`."""
    length = shard.document_length(doc_id)
    stop = length if end is None else end
    if 0 <= start <= stop <= length and stop - start > max_bytes:
        return {"length": length, "metadata": shard.metadata(doc_id), "data": None}
    return {"length": length, "metadata": shard.metadata(doc_id), "data": shard.extract(doc_id, start, stop)}


def document_length(shard: FMIndex, doc_id: int) -> int:
    return shard.document_length(doc_id)


OPS = {f.__name__: f for f in (count, count_many, find, snippets, document, document_length)}


def run(shard: FMIndex, op: str, args: tuple) -> Any:
    return OPS[op](shard, *args)
