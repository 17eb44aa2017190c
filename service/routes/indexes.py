"""GET /v1/indexes: what is served."""

from __future__ import annotations

from fastapi import APIRouter

from service.deps import RouterDep
from service.router import ServedIndex
from service.schemas import IndexInfo, IndexList, ShardInfo

router = APIRouter(prefix="/v1", tags=["indexes"])


def describe(idx: ServedIndex) -> IndexInfo:
    shards = [ShardInfo(name=s.name, documents=s.num_documents, bytes=s.num_bytes) for s in idx.shards]
    return IndexInfo(name=idx.name, documents=idx.num_documents, bytes=idx.num_bytes, shards=shards)


@router.get("/indexes", response_model=IndexList)
async def list_indexes(r: RouterDep) -> IndexList:
    """Every served index with its shards, documents and bytes of text."""
    return IndexList(indexes=[describe(idx) for _, idx in sorted(r.indexes.items())])


@router.get("/indexes/{index}", response_model=IndexInfo, responses={404: {"description": "unknown index"}})
async def get_index(index: str, r: RouterDep) -> IndexInfo:
    return describe(r.index(index))
