"""Everything the service can be told, in one place (environment variables prefixed FMSEARCH_, or arguments)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """What to serve, the limits every request is held to, and how shards are reached.

    `indexes` maps a public name to one or more paths; each path is a shard directory or a catalog, and the shards of
    all of a name's paths form one index, numbered in the order given. Example environment:
    FMSEARCH_INDEXES='{"pile": ["/data/pile-catalog"]}'.
    """

    model_config = SettingsConfigDict(env_prefix="FMSEARCH_", extra="ignore")

    indexes: dict[str, list[str]] = Field(default_factory=dict)

    # Limits: every one is named in the error a request gets when it goes over it.
    max_query_bytes: int = Field(4096, ge=1, description="longest query, in UTF-8 bytes")
    max_batch_queries: int = Field(1000, ge=1, description="most queries in one /v1/count/batch request")
    max_batch_bytes: int = Field(1_000_000, ge=1, description="most query bytes in one batch, all queries together")
    max_hits_per_page: int = Field(100, ge=1, description="largest `limit` of /v1/find and /v1/search")
    max_find_offset: int = Field(1_000_000, ge=0, description="largest `offset` of /v1/find and /v1/search")
    max_context_bytes: int = Field(10_000, ge=0, description="largest context on each side of a match")
    max_document_bytes: int = Field(1 << 20, ge=1, description="most bytes of one document returned at once")
    max_body_bytes: int = Field(1 << 20, ge=64, description="largest request body")
    max_concurrent_per_client: int = Field(64, ge=1, description="requests in flight per client address")
    max_concurrent_total: int = Field(256, ge=1, description="requests in flight in all")
    max_contamination_entries: int = Field(100, ge=1, description="most entries in one /v1/contamination request")
    max_contamination_text_bytes: int = Field(20_000, ge=1, description="longest entry text for /v1/contamination")

    request_timeout_s: float = Field(10.0, gt=0, description="time a request waits for its shards")
    worker_threads: int = Field(16, ge=1, description="threads running shard queries (kernels release the GIL)")
    ray_address: str | None = Field(None, description="Ray cluster address: shards are held by Ray actors")
    shards_per_actor: int = Field(4, ge=1, description="shards one Ray actor holds")
    warm: bool = Field(True, description="compile / load kernels at start so the first query is fast")
    admin_token: str | None = Field(
        None, description="enables POST /v1/admin/reload for requests that send it as a bearer token"
    )

    @property
    def shard_query_limit(self) -> int:
        """The limit shards are opened with: queries are held to max_query_bytes at the door, and the shards also
        take contamination texts."""
        return max(self.max_query_bytes, self.max_contamination_text_bytes)
