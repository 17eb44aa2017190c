"""The door: request body size and requests in flight per client and in all, checked before any route runs."""

from __future__ import annotations

from collections import defaultdict

from service.errors import error_response
from service.metrics import Metrics
from service.settings import ServiceSettings


def _is_query(scope) -> bool:
    """Requests that cost shard work (and so count against concurrency): the API and the compatibility endpoint."""
    path = scope.get("path", "")
    return path.startswith("/v1/") or (path == "/" and scope.get("method") == "POST")


class LimitsMiddleware:
    def __init__(self, app, settings: ServiceSettings, metrics: Metrics) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self.in_flight: dict[str, int] = defaultdict(int)
        self.total = 0

    async def _refuse(self, scope, receive, send, status: int, reason: str, message: str, **headers) -> None:
        self.metrics.rejected.labels(reason).inc()
        response = error_response(status, reason, message, headers=headers or None)
        await response(scope, receive, send)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.settings.max_body_bytes
        length = None
        for key, value in scope.get("headers", ()):
            if key == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    await self._refuse(
                        scope, receive, send, 400, "bad_content_length", "Content-Length is not a number"
                    )
                    return
        too_big = f"request body is over the limit of {limit} bytes (FMSEARCH_MAX_BODY_BYTES); send less per request"
        if length is not None and length > limit:
            await self._refuse(scope, receive, send, 413, "body_too_large", too_big)
            return
        if scope.get("method") in ("POST", "PUT", "PATCH"):
            # Read the whole body first (it is small by the limit), so a chunked body over the limit is refused
            # before any route sees it; then replay it.
            chunks, size = [], 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    await self._refuse(scope, receive, send, 413, "body_too_large", too_big)
                    return
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
            body = b"".join(chunks)
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as e:
                await self._refuse(
                    scope,
                    receive,
                    send,
                    400,
                    "invalid_utf8",
                    f"the request body is not valid UTF-8 (byte 0x{body[e.start]:02x} at position {e.start}); "
                    "send JSON encoded as UTF-8",
                )
                return
            sent = False

            async def replay():
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            receive = replay
        if not _is_query(scope):
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        if self.in_flight[client] >= self.settings.max_concurrent_per_client:
            await self._refuse(
                scope,
                receive,
                send,
                429,
                "too_many_requests",
                f"this client has {self.in_flight[client]} requests in flight, the limit is "
                f"{self.settings.max_concurrent_per_client} (FMSEARCH_MAX_CONCURRENT_PER_CLIENT); retry after 1 s",
                **{"Retry-After": "1"},
            )
            return
        if self.total >= self.settings.max_concurrent_total:
            await self._refuse(
                scope,
                receive,
                send,
                429,
                "overloaded",
                f"the service has {self.total} requests in flight, the limit is {self.settings.max_concurrent_total} "
                "(FMSEARCH_MAX_CONCURRENT_TOTAL); retry after 1 s",
                **{"Retry-After": "1"},
            )
            return
        self.in_flight[client] += 1
        self.total += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.total -= 1
            self.in_flight[client] -= 1
            if not self.in_flight[client]:
                del self.in_flight[client]
