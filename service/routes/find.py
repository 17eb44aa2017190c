"""POST /v1/find (where a string occurs) and POST /v1/search (the same, with snippets and metadata)."""

from __future__ import annotations

import time

from fastapi import APIRouter

from service.deps import RouterDep, Settings, check_cap, query_bytes
from service.schemas import FindRequest, FindResponse, HitOut, SearchHit, SearchRequest, SearchResponse

router = APIRouter(prefix="/v1", tags=["find"])

ERRORS = {
    404: {"description": "unknown index"},
    413: {"description": "query over the limit"},
    422: {"description": "invalid query or parameter over a limit"},
    503: {"description": "shards did not answer"},
}


DEFAULT_LIMIT = 10


def _page_limit(req: FindRequest, settings) -> int:
    """The page size to use; checks limit and offset against their caps."""
    limit = min(DEFAULT_LIMIT, settings.max_hits_per_page) if req.limit is None else req.limit
    check_cap("limit", limit, settings.max_hits_per_page, "max_hits_per_page")
    check_cap("offset", req.offset, settings.max_find_offset, "max_find_offset")
    return limit


@router.post("/find", response_model=FindResponse, responses=ERRORS)
async def find(req: FindRequest, r: RouterDep, settings: Settings) -> FindResponse:
    """Total occurrences of `query` and one page of them as (global doc id, byte offset). Pages follow shard order,
    and suffix order within a shard."""
    t0 = time.perf_counter()
    q = query_bytes(req.query, settings.max_query_bytes)
    limit = _page_limit(req, settings)
    total, hits, partial = await r.find(req.index, q, limit, req.offset, req.allow_partial)
    return FindResponse(
        index=req.index,
        total=total,
        offset=req.offset,
        limit=limit,
        hits=[HitOut(doc_id=h.doc_id, shard=h.shard, offset=h.offset) for h in hits],
        complete=partial.complete,
        missing_shards=partial.missing,
        latency_ms=(time.perf_counter() - t0) * 1000,
    )


@router.post("/search", response_model=SearchResponse, responses=ERRORS)
async def search(req: SearchRequest, r: RouterDep, settings: Settings) -> SearchResponse:
    """Like /v1/find, with each hit's text around the match (`before`, `match`, `after`, whole UTF-8 characters),
    the match span in document bytes (for highlighting) and the document's metadata."""
    t0 = time.perf_counter()
    q = query_bytes(req.query, settings.max_query_bytes)
    limit = _page_limit(req, settings)
    check_cap("context", req.context, settings.max_context_bytes, "max_context_bytes")
    total, hits, partial = await r.find(req.index, q, limit, req.offset, req.allow_partial)
    snippets, partial_2 = await r.snippets(req.index, hits, len(q), req.context, req.allow_partial)
    missing = {m["shard"]: m for m in [*partial.missing, *partial_2.missing]}
    out = []
    for h, s in zip(hits, snippets, strict=True):
        if s is None:
            continue
        out.append(
            SearchHit(
                doc_id=h.doc_id,
                shard=h.shard,
                offset=h.offset,
                length=len(q),
                start=s.start,
                end=s.end,
                match_start=s.match_start,
                match_end=s.match_end,
                before=s.before,
                match=s.match,
                after=s.after,
                metadata=s.metadata,
            )
        )
    return SearchResponse(
        index=req.index,
        total=total,
        offset=req.offset,
        limit=limit,
        hits=out,
        complete=not missing,
        missing_shards=[missing[k] for k in sorted(missing)],
        latency_ms=(time.perf_counter() - t0) * 1000,
    )
