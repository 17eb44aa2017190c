"""GET / for a browser (the search page) or for a program (what this service is); GET /ui always the page."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

import fmsearch

STATIC = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(tags=["page"])


@router.get("/ui", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html")


VARY = {"Vary": "Accept"}  # one URL, two representations: caches must key on Accept


@router.get("/", include_in_schema=False)
async def root(request: Request):
    if "text/html" in request.headers.get("accept", ""):
        return FileResponse(STATIC / "index.html", media_type="text/html", headers=VARY)
    return JSONResponse(
        {
            "service": "fmsearch",
            "version": fmsearch.__version__,
            "api": "/docs",
            "indexes": "/v1/indexes",
            "page": "/ui",
            "compat": "POST / with infini-gram mini request bodies",
            "contamination": bool(getattr(request.app.state, "contamination", False)),
        },
        headers=VARY,
    )
