"""POST /v1/admin/reload: reopen indexes from their paths. Off unless FMSEARCH_ADMIN_TOKEN is set; needs that token."""

from __future__ import annotations

import asyncio
import hmac
from typing import Annotated

from fastapi import APIRouter, Header, Request

from service.deps import RouterDep, Settings
from service.errors import AdminDisabled, InvalidRequest, Unauthorized
from service.router import ThreadBackend, open_served
from service.schemas import ReloadRequest, ReloadResponse

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post(
    "/reload",
    response_model=ReloadResponse,
    responses={401: {"description": "missing or wrong token"}, 404: {"description": "admin is disabled"}},
)
async def reload(
    req: ReloadRequest,
    request: Request,
    r: RouterDep,
    settings: Settings,
    authorization: Annotated[str | None, Header()] = None,
) -> ReloadResponse:
    """Reopen one index (or all) from its paths, e.g. after its catalog gained shards; queries in flight finish on
    the old shards."""
    if not settings.admin_token:
        raise AdminDisabled("admin operations are disabled; set FMSEARCH_ADMIN_TOKEN to enable them")
    expected = f"Bearer {settings.admin_token}".encode()
    if not authorization or not hmac.compare_digest(authorization.encode("utf-8", "replace"), expected):
        raise Unauthorized("send the admin token as 'Authorization: Bearer TOKEN'")
    if not isinstance(r.backend, ThreadBackend):
        raise InvalidRequest(
            "reload is only supported with in-process shards; restart the service to reload Ray actors"
        )
    names = [req.index] if req.index is not None else sorted(r.indexes)
    for name in names:
        old = r.index(name)
        new = await asyncio.to_thread(open_served, name, old.paths, settings.shard_query_limit)
        if settings.warm:
            await asyncio.to_thread(lambda n=new: [s.warm() for s in n.shards])
        r.indexes[name] = new
    return ReloadResponse(reloaded=names)
