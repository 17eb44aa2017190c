"""GET /v1/indexes/{index}/documents/{doc_id}: a document's text (or a byte range of it) and metadata."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from service.deps import RouterDep, Settings
from service.errors import LimitExceeded
from service.schemas import MAX_INT, DocumentResponse

router = APIRouter(prefix="/v1", tags=["documents"])


@router.get(
    "/indexes/{index}/documents/{doc_id}",
    response_model=DocumentResponse,
    responses={
        404: {"description": "unknown index or document id out of range"},
        413: {"description": "range over the limit"},
        422: {"description": "invalid byte range"},
    },
)
async def get_document(
    index: str,
    doc_id: Annotated[int, Path(ge=0, le=MAX_INT, description="global document id")],
    r: RouterDep,
    settings: Settings,
    start: Annotated[int, Query(ge=0, le=MAX_INT, description="first byte")] = 0,
    end: Annotated[int | None, Query(ge=0, le=MAX_INT, description="byte after the last; the end when absent")] = None,
) -> DocumentResponse:
    """Bytes [start, end) of a document (global id) as text, with its metadata."""
    shard, doc = await r.document(index, doc_id, start, end, settings.max_document_bytes)
    stop = doc["length"] if end is None else end
    if doc["data"] is None:
        raise LimitExceeded(
            f"range [{start}, {stop}) is {stop - start} bytes, over the limit of {settings.max_document_bytes} bytes "
            "(FMSEARCH_MAX_DOCUMENT_BYTES); ask for a smaller range with start and end",
            length=doc["length"],
        )
    return DocumentResponse(
        index=index,
        doc_id=doc_id,
        shard=shard,
        length=doc["length"],
        start=start,
        end=stop,
        text=doc["data"].decode("utf-8", errors="replace"),
        metadata=doc["metadata"],
    )
