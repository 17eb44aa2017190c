"""POST /v1/contamination: score benchmark entries against an index (package `contamination`).

Included by the app only when `contamination.scoring` is importable.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter

from contamination.scoring import score_texts
from service.deps import RouterDep, Settings
from service.errors import LimitExceeded, ShardsUnavailable
from service.schemas import ContaminationRequest, ContaminationResponse, ContaminationScore

router = APIRouter(prefix="/v1", tags=["contamination"])


@router.post(
    "/contamination",
    response_model=ContaminationResponse,
    responses={
        404: {"description": "unknown index"},
        413: {"description": "too many or too long entries"},
        422: {"description": "invalid entry"},
        503: {"description": "scoring timed out"},
    },
)
async def contamination(req: ContaminationRequest, r: RouterDep, settings: Settings) -> ContaminationResponse:
    """For each entry: eta (share of its windows found in the index), verdict (clean / suspicious / dirty), the
    longest match (characters) and, when not clean, evidence (the rarest found window and one document holding it)."""
    t0 = time.perf_counter()
    idx = r.index(req.index)
    if len(req.entries) > settings.max_contamination_entries:
        raise LimitExceeded(
            f"{len(req.entries)} entries, over the limit of {settings.max_contamination_entries} per request "
            "(FMSEARCH_MAX_CONTAMINATION_ENTRIES); split the benchmark or use `fmsearch contamination` offline"
        )
    cap = settings.max_contamination_text_bytes
    for i, entry in enumerate(req.entries):
        size = len(entry.text.encode("utf-8", errors="surrogatepass"))
        if size > cap:
            raise LimitExceeded(
                f"entries[{i}].text is {size} bytes, over the limit of {cap} bytes "
                "(FMSEARCH_MAX_CONTAMINATION_TEXT_BYTES)"
            )
    texts = [e.text for e in req.entries]
    try:
        scores = await asyncio.wait_for(
            asyncio.to_thread(score_texts, idx, texts, max_text_bytes=cap), timeout=settings.request_timeout_s
        )
    except TimeoutError:
        raise ShardsUnavailable(
            f"scoring took longer than {settings.request_timeout_s:g} s; send fewer or shorter entries"
        ) from None
    out = []
    for entry, score in zip(req.entries, scores, strict=True):
        d = score.to_dict()
        out.append(
            ContaminationScore(
                id=entry.id,
                eta=d["eta"],
                verdict=d["verdict"],
                windows_found=d["windows_found"],
                windows_total=d["windows_total"],
                longest_match=d["longest_match"],
                short=d["short"],
                evidence=d["evidence"],
            )
        )
    return ContaminationResponse(index=req.index, scores=out, latency_ms=(time.perf_counter() - t0) * 1000)
