"""The app: `create_app(settings)` builds it; its lifespan opens the indexes, warms kernels, starts the router."""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

import fmsearch
from service import errors
from service.limits import LimitsMiddleware
from service.metrics import Metrics, MetricsMiddleware
from service.router import Router, ServedIndex, ThreadBackend, open_served
from service.routes import admin, compat, count, documents, find, health, indexes, ui
from service.routes.ui import STATIC
from service.settings import ServiceSettings

log = logging.getLogger("service")


WARM_TEXT = "warms the scoring kernels: a sentence of more than fifty characters, split into windows"


def contamination_available() -> bool:
    try:
        return importlib.util.find_spec("contamination.scoring") is not None
    except (ImportError, ValueError):
        return False


def open_all(settings: ServiceSettings) -> dict[str, ServedIndex]:
    served = {}
    for name, paths in settings.indexes.items():
        served[name] = open_served(name, paths, settings.shard_query_limit)
        if settings.warm:
            for shard in served[name].shards:
                shard.warm()
            if contamination_available():
                # The first /v1/contamination request would otherwise compile the scoring kernels within its
                # request timeout.
                from contamination.scoring import score_texts

                score_texts(served[name].shards[0], [WARM_TEXT])
        log.info("opened index %r: %d shards", name, len(served[name].shards))
    return served


def build_router(settings: ServiceSettings, served: dict[str, ServedIndex], metrics: Metrics) -> Router:
    if settings.ray_address:
        from service.ray_backend import RayBackend

        backend = RayBackend(
            served,
            settings.ray_address,
            settings.shards_per_actor,
            settings.shard_query_limit,
            warm=settings.warm,
            observe=metrics.observe_shard,
        )
    else:
        backend = ThreadBackend(served, settings.worker_threads, observe=metrics.observe_shard)
    return Router(served, backend, settings.request_timeout_s)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or ServiceSettings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        served = await asyncio.to_thread(open_all, settings)
        # Ray starts from this thread (it installs signal handlers); threads are fine for the in-process backend.
        if settings.ray_address:
            router = build_router(settings, served, metrics)
        else:
            router = await asyncio.to_thread(build_router, settings, served, metrics)
        previous, app.state.router = app.state.router, router
        # Startup leaves hundreds of thousands of long-lived objects (numba, pydantic, FastAPI); a full collection
        # walking them takes tens of milliseconds, every request then waits behind it. Freezing them keeps the
        # collector to what requests allocate.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            # Test clients may nest lifespans of one app: hand back whatever router was there before this one.
            if app.state.router is router:
                app.state.router = previous
            router.close()

    app = FastAPI(
        title="fmsearch",
        version=fmsearch.__version__,
        summary="Exact substring search over compressed FM-indexes; counts, hits, documents.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.router = None
    errors.install(app)
    for module in (indexes, count, find, documents, health, admin, compat, ui):
        app.include_router(module.router)
    app.state.contamination = contamination_available()
    if app.state.contamination:
        from service.routes import contamination

        app.include_router(contamination.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # Outermost first: metrics see every answer, including refusals at the door.
    app.add_middleware(LimitsMiddleware, settings=settings, metrics=metrics)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
