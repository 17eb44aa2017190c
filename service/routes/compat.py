"""POST /: infini-gram mini's API, so its existing clients work unchanged.

Request bodies carry `index`, `query_type` (count, find, get_doc_by_rank), `query`, and for get_doc_by_rank `s`,
`rank` and `max_ctx_len`; answers carry their documented fields plus `latency` (ms), and errors `{"error": ...}`.
Differences, on purpose: lengths and offsets are UTF-8 bytes, not characters; `segment_by_shard[s]` is
`[0, count in shard s]` (ranks are positions among the shard's matches, which is all a client does with them); a
shard that does not answer is an error (503), never a smaller count.
"""

from __future__ import annotations

import json
import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.deps import RouterDep, Settings, check_cap, query_bytes
from service.errors import InvalidRequest
from service.router import FoundHit
from service.schemas import CompatRequest

router = APIRouter(tags=["infini-gram mini compatibility"])

QUERY_TYPES = ("count", "find", "get_doc_by_rank")


def _spans(text: str, needle: str) -> list[list[str | None]]:
    """The displayed text cut into [piece, label] pairs, label "0" on every occurrence of the needle."""
    spans: list[list[str | None]] = []
    pos = 0
    while needle:
        hit = text.find(needle, pos)
        if hit < 0:
            break
        if hit > pos:
            spans.append([text[pos:hit], None])
        spans.append([text[hit : hit + len(needle)], "0"])
        pos = hit + len(needle)
    if pos < len(text):
        spans.append([text[pos:], None])
    return spans


@router.post(
    "/",
    responses={
        200: {
            "description": "count: {count, latency}; find: {cnt, segment_by_shard, latency}; get_doc_by_rank: "
            "{doc_ix, doc_len, disp_len, needle_offset, metadata, text, spans, latency}"
        },
        404: {"description": "unknown index"},
        422: {"description": "invalid request, as {error}"},
        503: {"description": "shards did not answer"},
    },
)
async def compat(req: CompatRequest, r: RouterDep, settings: Settings) -> JSONResponse:
    t0 = time.perf_counter()
    idx = r.index(req.index)
    if req.query_type not in QUERY_TYPES:
        raise InvalidRequest(f"query_type must be one of {', '.join(QUERY_TYPES)}, not {req.query_type!r}")
    result: dict
    if req.query_type == "count":
        if req.query == "":
            result = {"count": idx.num_bytes}  # as documented: an empty query counts the whole corpus (bytes here)
        else:
            total, _, _ = await r.count(req.index, query_bytes(req.query, settings.max_query_bytes))
            result = {"count": total}
    elif req.query_type == "find":
        q = query_bytes(req.query, settings.max_query_bytes)
        _, per_shard, _ = await r.count(req.index, q)
        result = {"cnt": sum(per_shard), "segment_by_shard": [[0, c] for c in per_shard]}
    else:
        result = await _doc_by_rank(req, r, settings)
    result["latency"] = (time.perf_counter() - t0) * 1000
    return JSONResponse(result)


async def _doc_by_rank(req: CompatRequest, r: RouterDep, settings: Settings) -> dict:
    idx = r.index(req.index)
    if req.s is None or req.rank is None:
        raise InvalidRequest("get_doc_by_rank needs s (shard) and rank, from the segment_by_shard of a find query")
    if req.s >= len(idx.shards):
        raise InvalidRequest(
            f"s is {req.s}, but index {idx.name!r} has {len(idx.shards)} shards (0..{len(idx.shards) - 1})"
        )
    check_cap("max_ctx_len", req.max_ctx_len, settings.max_context_bytes, "max_context_bytes")
    q = query_bytes(req.query, settings.max_query_bytes)
    hit = await r.find_one(req.index, req.s, q, req.rank)
    if hit is None:
        _, per_shard, _ = await r.count(req.index, q)
        raise InvalidRequest(
            f"rank {req.rank} is outside segment_by_shard[{req.s}] = [0, {per_shard[req.s]}) of this query"
        )
    found = FoundHit(idx.bases[req.s] + hit.doc_id, req.s, hit.doc_id, hit.offset)
    (snip,), _ = await r.snippets(req.index, [found], len(q), req.max_ctx_len)
    doc_len = await r.document_length(req.index, req.s, hit.doc_id)
    text = snip.before + snip.match + snip.after
    return {
        "doc_ix": found.doc_id,
        "doc_len": doc_len,
        "disp_len": len(text.encode("utf-8")),
        "needle_offset": len(snip.before.encode("utf-8")),
        "metadata": json.dumps(snip.metadata, ensure_ascii=False),
        "text": text,
        "spans": _spans(text, req.query),
    }
