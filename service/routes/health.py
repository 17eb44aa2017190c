"""GET /healthz (the process answers), /readyz (every index is open and warm), /metrics (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.schemas import Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(request: Request):
    router_ = getattr(request.app.state, "router", None)
    if router_ is None:
        return JSONResponse(Readiness(ready=False, indexes={}).model_dump(), status_code=503)
    return Readiness(ready=True, indexes={name: len(idx.shards) for name, idx in router_.indexes.items()})


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Requests, latency histograms, errors and per-shard latency, in Prometheus text format."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
