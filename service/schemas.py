"""Request and response bodies of the v1 API (pydantic v2). Lengths and offsets are in UTF-8 bytes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Upper bound for integers in requests: JSON numbers above 2**53 are not exact in most clients anyway.
MAX_INT = 2**53


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MissingShard(BaseModel):
    shard: int = Field(description="position of the shard in the index")
    name: str
    reason: str


class Completeness(BaseModel):
    complete: bool = Field(True, description="false only when allow_partial was sent and some shards did not answer")
    missing_shards: list[MissingShard] = Field(default_factory=list)


class ShardInfo(BaseModel):
    name: str
    documents: int
    bytes: int


class IndexInfo(BaseModel):
    name: str
    documents: int
    bytes: int
    shards: list[ShardInfo]


class IndexList(BaseModel):
    indexes: list[IndexInfo]


class CountRequest(Request):
    index: str = Field(description="name of a served index (GET /v1/indexes)")
    query: str = Field(description="the exact string to count (UTF-8, not empty)")
    allow_partial: bool = Field(False, description="answer even when some shards fail, flagged complete: false")


class CountResponse(Completeness):
    index: str
    query_bytes: int
    count: int = Field(description="occurrences, overlapping, never across documents")
    per_shard: list[int | None] = Field(description="count of each shard (null for a missing shard)")
    latency_ms: float


class BatchCountRequest(Request):
    index: str
    queries: list[str] = Field(description="strings to count, each UTF-8 and not empty")
    allow_partial: bool = False


class BatchCountResponse(Completeness):
    index: str
    counts: list[int]
    latency_ms: float


class FindRequest(Request):
    index: str
    query: str
    limit: int | None = Field(
        None, ge=0, le=MAX_INT, description="hits per page; 10 (or the service's maximum, if smaller) when absent"
    )
    offset: int = Field(0, ge=0, le=MAX_INT, description="first hit of the page")
    allow_partial: bool = False


class HitOut(BaseModel):
    doc_id: int = Field(description="global document id")
    shard: int
    offset: int = Field(description="byte offset of the match in the document")


class FindResponse(Completeness):
    index: str
    total: int
    offset: int
    limit: int
    hits: list[HitOut]
    latency_ms: float


class SearchRequest(FindRequest):
    context: int = Field(200, ge=0, le=MAX_INT, description="bytes of context on each side of a match")


class SearchHit(HitOut):
    length: int = Field(description="bytes of the match")
    start: int = Field(description="byte offset in the document where `before` starts")
    end: int = Field(description="byte offset in the document where `after` ends")
    match_start: int
    match_end: int
    before: str
    match: str
    after: str
    metadata: dict[str, Any]


class SearchResponse(Completeness):
    index: str
    total: int
    offset: int
    limit: int
    hits: list[SearchHit]
    latency_ms: float


class DocumentResponse(BaseModel):
    index: str
    doc_id: int
    shard: int
    length: int = Field(description="bytes of the whole document")
    start: int
    end: int
    text: str = Field(description="bytes [start, end) decoded as UTF-8; a range cutting a character shows U+FFFD")
    metadata: dict[str, Any]


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    ready: bool
    indexes: dict[str, int] = Field(description="shards loaded per index")


class ReloadRequest(Request):
    index: str | None = Field(None, description="index to reopen from its paths; all when absent")


class ReloadResponse(BaseModel):
    reloaded: list[str]


class ContaminationEntry(Request):
    id: str | None = None
    text: str


class ContaminationRequest(Request):
    index: str
    entries: list[ContaminationEntry]


class ContaminationScore(BaseModel):
    id: str | None
    eta: float
    verdict: str
    windows_found: int
    windows_total: int
    longest_match: int = Field(description="characters: the longest substring of the entry found in some document")
    short: bool = Field(description="shorter than one window: the whole text was the only window")
    evidence: dict[str, Any] | None = None


class ContaminationResponse(BaseModel):
    index: str
    scores: list[ContaminationScore]
    latency_ms: float


class CompatRequest(BaseModel):
    """A request body of infini-gram mini's API: the fields its documentation lists (others are ignored)."""

    model_config = ConfigDict(extra="ignore")

    index: str
    query_type: str = Field(description="count, find or get_doc_by_rank")
    query: str = ""
    s: int | None = Field(None, ge=0, le=MAX_INT, description="shard, for get_doc_by_rank")
    rank: int | None = Field(None, ge=0, le=MAX_INT, description="rank in segment_by_shard[s], for get_doc_by_rank")
    max_ctx_len: int = Field(1000, ge=1, le=MAX_INT, description="bytes of context on each side of the match")
