"""Errors of the service, and the one place where every typed error becomes an HTTP answer.

Every error answer is JSON `{"error": message, "code": short_name, ...}`: `error` is a sentence that names the problem
and the limit, which is also the shape infini-gram mini clients check for.
"""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from fmsearch.errors import FmsearchError, IndexFormatError, InvalidDocument, InvalidQuery, QueryTooLong

log = logging.getLogger("service")


class ServiceError(Exception):
    """An error of the service with its HTTP status; `extra` fields are added to the JSON answer."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class UnknownIndex(ServiceError):
    status, code = 404, "unknown_index"


class DocumentNotFound(ServiceError):
    status, code = 404, "document_not_found"


class LimitExceeded(ServiceError):
    status, code = 413, "limit_exceeded"


class InvalidRequest(ServiceError):
    status, code = 422, "invalid_request"


class ShardsUnavailable(ServiceError):
    """Some shards failed or timed out; the answer would be incomplete and the request did not allow that."""

    status, code = 503, "shards_unavailable"


class Overloaded(ServiceError):
    status, code = 429, "overloaded"


class AdminDisabled(ServiceError):
    status, code = 404, "admin_disabled"


class Unauthorized(ServiceError):
    status, code = 401, "unauthorized"


class NotReady(ServiceError):
    status, code = 503, "not_ready"


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra
) -> JSONResponse:
    return JSONResponse({"error": message, "code": code, **extra}, status_code=status, headers=headers)


def _core_status(exc: FmsearchError) -> tuple[int, str]:
    if isinstance(exc, QueryTooLong):
        return 413, "query_too_long"
    if isinstance(exc, InvalidQuery):
        return 422, "invalid_query"
    if isinstance(exc, InvalidDocument):
        return 422, "invalid_document_range"
    if isinstance(exc, IndexFormatError):
        return 503, "index_unreadable"
    if isinstance(exc, ValueError):  # the core's and other packages' input errors (e.g. contamination entries)
        return 422, "invalid_input"
    return 400, "bad_request"


def _describe_validation(exc: RequestValidationError) -> tuple[str, list[dict]]:
    """A sentence per problem, without echoing the input (it may hold unencodable text or be huge)."""
    details = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        where = ".".join(loc) or "body"
        msg = str(err.get("msg", "invalid"))
        if err.get("type") == "json_invalid":
            ctx = err.get("ctx") or {}
            msg = f"the body is not valid JSON ({ctx.get('error', 'parse error')})"
            where = "body"
        details.append({"field": where, "problem": msg})
    message = "; ".join(f"{d['field']}: {d['problem']}" for d in details) or "invalid request"
    return message, details


def install(app: FastAPI) -> None:
    """Register the handlers turning every typed error (core or service) into its HTTP answer."""

    @app.exception_handler(ServiceError)
    async def _service(request: Request, exc: ServiceError) -> JSONResponse:
        headers = {"Retry-After": "1"} if isinstance(exc, Overloaded) else None
        return error_response(exc.status, exc.code, exc.message, headers=headers, **exc.extra)

    @app.exception_handler(FmsearchError)
    async def _core(request: Request, exc: FmsearchError) -> JSONResponse:
        status, code = _core_status(exc)
        return error_response(status, code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, details = _describe_validation(exc)
        return error_response(422, "invalid_request", message, details=details)

    @app.exception_handler(UnicodeDecodeError)
    async def _utf8(request: Request, exc: UnicodeDecodeError) -> JSONResponse:
        return error_response(400, "invalid_utf8", f"the request body is not valid UTF-8 (byte {exc.start})")

    @app.exception_handler(json.JSONDecodeError)
    async def _json(request: Request, exc: json.JSONDecodeError) -> JSONResponse:
        return error_response(400, "invalid_json", f"the request body is not valid JSON ({exc.msg} at byte {exc.pos})")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 400 and "parsing the body" in message:
            message = "the request body could not be parsed: send JSON text encoded as UTF-8"
        elif exc.status_code == 404:
            message = f"no such endpoint: {request.method} {request.url.path} (see /docs)"
        elif exc.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path} (see /docs)"
        return error_response(exc.status_code, "http_error", message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug, not bad input: log it with its traceback, answer without one.
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", f"internal error ({type(exc).__name__}); it was logged")
