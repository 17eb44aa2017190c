"""Prometheus metrics of one app (its own registry, so several apps in one process do not collide)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "fmsearch_requests", "HTTP requests answered", ["route", "method", "status"], registry=r
        )
        self.errors = Counter("fmsearch_errors", "HTTP answers with status >= 400", ["route", "status"], registry=r)
        self.latency = Histogram(
            "fmsearch_request_seconds", "time to answer a request", ["route"], buckets=LATENCY_BUCKETS, registry=r
        )
        self.shard_latency = Histogram(
            "fmsearch_shard_seconds",
            "time one shard took for one operation",
            ["index", "shard"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge("fmsearch_requests_in_flight", "requests being answered", registry=r)
        self.rejected = Counter("fmsearch_rejected", "requests refused at the door", ["reason"], registry=r)

    def observe_shard(self, index: str, shard: int, seconds: float) -> None:
        self.shard_latency.labels(index, str(shard)).observe(seconds)


class MetricsMiddleware:
    """Counts every HTTP request by route template (not raw path: ids would explode the label set) and status."""

    def __init__(self, app, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 500}

        async def send_wrapper(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        t0 = time.perf_counter()
        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.in_flight.dec()
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            code = status["code"]
            m = self.metrics
            m.requests.labels(label, scope.get("method", ""), str(code)).inc()
            m.latency.labels(label).observe(time.perf_counter() - t0)
            if code >= 400:
                m.errors.labels(label, str(code)).inc()
