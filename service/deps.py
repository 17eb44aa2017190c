"""Typed dependencies of the routes, and checks every route does at the door."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from fmsearch.index import encode_query
from service.errors import InvalidRequest, LimitExceeded, NotReady
from service.router import Router
from service.settings import ServiceSettings


def _settings(request: Request) -> ServiceSettings:
    return request.app.state.settings


def _router(request: Request) -> Router:
    router = getattr(request.app.state, "router", None)
    if router is None:
        raise NotReady("the service is still opening its indexes; retry in a moment (GET /readyz)")
    return router


Settings = Annotated[ServiceSettings, Depends(_settings)]
RouterDep = Annotated[Router, Depends(_router)]


def query_bytes(query: str, limit: int, what: str = "query") -> bytes:
    """The query as UTF-8 bytes, or an error naming what is wrong (empty, 0xFF, lone surrogate, over the limit)."""
    try:
        data = query.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InvalidRequest(f"{what} is not valid Unicode text ({e.reason} at character {e.start})") from None
    if len(data) > limit:
        raise LimitExceeded(f"{what} is {len(data)} bytes, over the limit of {limit} bytes (FMSEARCH_MAX_QUERY_BYTES)")
    encode_query(data, limit)  # empty and 0xFF: the core's own check and message
    return data


def check_cap(name: str, value: int, cap: int, setting: str) -> None:
    if value > cap:
        raise InvalidRequest(f"{name} is {value}, over the limit of {cap} (FMSEARCH_{setting.upper()})")
