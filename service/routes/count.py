"""POST /v1/count and /v1/count/batch: occurrences of exact strings."""

from __future__ import annotations

import time

from fastapi import APIRouter

from fmsearch.errors import InvalidQuery
from service.deps import RouterDep, Settings, query_bytes
from service.errors import LimitExceeded
from service.schemas import BatchCountRequest, BatchCountResponse, CountRequest, CountResponse

router = APIRouter(prefix="/v1", tags=["count"])

ERRORS = {
    404: {"description": "unknown index"},
    413: {"description": "query or batch over a limit"},
    422: {"description": "invalid query"},
    503: {"description": "shards did not answer"},
}


@router.post("/count", response_model=CountResponse, responses=ERRORS)
async def count(req: CountRequest, r: RouterDep, settings: Settings) -> CountResponse:
    """Occurrences of `query` in the index (overlapping; never across documents), with each shard's count."""
    t0 = time.perf_counter()
    q = query_bytes(req.query, settings.max_query_bytes)
    total, per_shard, partial = await r.count(req.index, q, req.allow_partial)
    return CountResponse(
        index=req.index,
        query_bytes=len(q),
        count=total,
        per_shard=per_shard,
        complete=partial.complete,
        missing_shards=partial.missing,
        latency_ms=(time.perf_counter() - t0) * 1000,
    )


@router.post("/count/batch", response_model=BatchCountResponse, responses=ERRORS)
async def count_batch(req: BatchCountRequest, r: RouterDep, settings: Settings) -> BatchCountResponse:
    """Occurrences of each of `queries`, in order, in one round over the shards."""
    t0 = time.perf_counter()
    if len(req.queries) > settings.max_batch_queries:
        raise LimitExceeded(
            f"batch has {len(req.queries)} queries, over the limit of {settings.max_batch_queries} "
            "(FMSEARCH_MAX_BATCH_QUERIES); split it"
        )
    queries = []
    for i, q in enumerate(req.queries):
        try:
            queries.append(query_bytes(q, settings.max_query_bytes, what=f"queries[{i}]"))
        except InvalidQuery as e:
            raise type(e)(f"queries[{i}]: {e}") from None
    size = sum(len(q) for q in queries)
    if size > settings.max_batch_bytes:
        raise LimitExceeded(
            f"batch holds {size} query bytes, over the limit of {settings.max_batch_bytes} (FMSEARCH_MAX_BATCH_BYTES)"
        )
    counts, partial = await r.count_batch(req.index, queries, req.allow_partial) if queries else ([], None)
    if partial is None:
        r.index(req.index)  # an empty batch still names a served index
    return BatchCountResponse(
        index=req.index,
        counts=counts,
        complete=partial.complete if partial else True,
        missing_shards=partial.missing if partial else [],
        latency_ms=(time.perf_counter() - t0) * 1000,
    )
