"""One query API over a catalog's shards: a thin merge layer over FMIndex, with global document ids.

A catalog (see fmsearch/catalog.py) lists shards in global order; shard k's documents have the ids
first_doc_id[k] .. first_doc_id[k] + num_documents[k] - 1. Counts add up over shards; `find` pages through the hits
in shard order, and inside a shard in that shard's suffix order; matching statistics take the element-wise maximum.
Every answer equals the one a single shard built over the whole corpus gives (as a set for `find`: only the order of
hits differs). Shards are queried in parallel threads: the kernels release the GIL.
"""

from __future__ import annotations

import os
from bisect import bisect_right
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from fmsearch import storage
from fmsearch.catalog import read_catalog
from fmsearch.errors import IndexFormatError, InvalidDocument, InvalidQuery
from fmsearch.index import DEFAULT_MAX_QUERY_BYTES, FMIndex, Query, check_doc_id, check_page, encode_query
from fmsearch.results import Document, FindResult, Hit, Snippet

T = TypeVar("T")


class CatalogIndex:
    """Several shards behind the FMIndex query API, numbering documents globally in catalog order."""

    def __init__(self, path: str | os.PathLike, *, max_query_bytes: int = DEFAULT_MAX_QUERY_BYTES) -> None:
        self.path = Path(path)
        self.catalog = read_catalog(self.path)
        self.max_query_bytes = max_query_bytes
        shards, firsts = [], []
        expected = 0
        for entry in self.catalog["shards"]:
            shard = FMIndex(self.path / entry["path"], max_query_bytes=max_query_bytes)
            problem = _entry_mismatch(entry, shard.manifest, expected)
            if problem:
                raise IndexFormatError(f"{self.path}: shard {entry['name']}: {problem}")
            shards.append(shard)
            firsts.append(expected)
            expected += shard.num_documents
        self._shards = shards
        self._firsts = firsts
        self.num_documents: int = expected
        self.num_bytes: int = sum(shard.num_bytes for shard in shards)
        self._pool = ThreadPoolExecutor(max_workers=min(len(shards), os.cpu_count() or 1), thread_name_prefix="shard")

    # -- fan-out ---------------------------------------------------------------------------------------------------

    def _map(self, fn: Callable[[Any], T], items: Sequence[Any] | None = None) -> list[T]:
        """fn over items (all shards by default) in parallel threads, results in order."""
        items = self._shards if items is None else items
        if len(items) <= 1:
            return [fn(item) for item in items]
        return list(self._pool.map(fn, items))

    def _locate_doc(self, doc_id: int) -> tuple[FMIndex, int]:
        check_doc_id(doc_id, self.num_documents, "catalog")
        k = bisect_right(self._firsts, int(doc_id)) - 1
        return self._shards[k], int(doc_id) - self._firsts[k]

    def _check(self, query: Query) -> None:
        # Validate once, before fanning out, so a bad query raises the core's error exactly as one shard would.
        encode_query(query, self.max_query_bytes)

    # -- queries ---------------------------------------------------------------------------------------------------

    def count(self, query: Query) -> int:
        """Occurrences of `query` in all shards (overlapping, never across documents)."""
        self._check(query)
        return sum(self._map(lambda shard: shard.count(query)))

    def count_many(self, queries: Sequence[Query]) -> np.ndarray:
        """Occurrences of each query over all shards (int64 array)."""
        queries = list(queries)
        for i, query in enumerate(queries):
            try:
                self._check(query)
            except InvalidQuery as e:
                raise type(e)(f"query {i}: {e}") from e
        per_shard = self._map(lambda shard: shard.count_many(queries))
        return np.sum(per_shard, axis=0, dtype=np.int64) if per_shard else np.zeros(len(queries), dtype=np.int64)

    def find(self, query: Query, limit: int = 10, offset: int = 0) -> FindResult:
        """Total occurrences and hits offset..offset+limit with global doc ids. Order: shard by shard in catalog
        order, and inside a shard in suffix order; pages are cut from that sequence, so they cross shard borders."""
        check_page(limit, offset)
        self._check(query)
        counts = self._map(lambda shard: shard.count(query))
        total = sum(counts)
        # Which slice of each shard's hits falls in the requested window of the concatenated sequence.
        wanted = []
        start = 0
        for k, n in enumerate(counts):
            lo, hi = max(offset, start), min(offset + limit, start + n)
            if lo < hi:
                wanted.append((k, lo - start, hi - lo))
            start += n
        pages = self._map(lambda job: self._shards[job[0]].find(query, limit=job[2], offset=job[1]), wanted)
        hits = [
            Hit(self._firsts[k] + hit.doc_id, hit.offset)
            for (k, _, _), page in zip(wanted, pages, strict=True)
            for hit in page.hits
        ]
        return FindResult(total=total, hits=hits, offset=offset)

    def matching_statistics(self, text: Query) -> np.ndarray:
        """Per byte i of `text`, the longest prefix of text[i:] occurring in some document of any shard."""
        per_shard = self._map(lambda shard: shard.matching_statistics(text))
        return np.maximum.reduce(per_shard) if len(per_shard) > 1 else per_shard[0]

    # -- documents -------------------------------------------------------------------------------------------------

    def document_length(self, doc_id: int) -> int:
        shard, local = self._locate_doc(doc_id)
        return shard.document_length(local)

    def metadata(self, doc_id: int) -> dict[str, Any]:
        shard, local = self._locate_doc(doc_id)
        return shard.metadata(local)

    def extract(self, doc_id: int, start: int = 0, end: int | None = None) -> bytes:
        shard, local = self._locate_doc(doc_id)
        try:
            return shard.extract(local, start, end)
        except InvalidDocument as e:
            raise InvalidDocument(str(e).replace(f"document {local} ", f"document {doc_id} ")) from None

    def document(self, doc_id: int) -> Document:
        shard, local = self._locate_doc(doc_id)
        doc = shard.document(local)
        return Document(doc_id=int(doc_id), text=doc.text, metadata=doc.metadata)

    def snippet(self, doc_id: int, offset: int, length: int, context: int = 200) -> Snippet:
        shard, local = self._locate_doc(doc_id)
        try:
            s = shard.snippet(local, offset, length, context)
        except InvalidDocument as e:
            raise InvalidDocument(str(e).replace(f"document {local} ", f"document {doc_id} ")) from None
        return Snippet(int(doc_id), s.start, s.end, s.match_start, s.match_end, s.before, s.match, s.after, s.metadata)

    # -- for other packages ----------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.catalog.get("name") or self.path.name

    @property
    def shards(self) -> list[FMIndex]:
        """The shards, in global doc-id order."""
        return list(self._shards)

    @property
    def first_doc_ids(self) -> list[int]:
        """The global id of each shard's first document."""
        return list(self._firsts)

    def warm(self) -> None:
        """Compile / load the kernels and touch every shard once."""
        self._map(lambda shard: shard.warm())

    def sizes(self) -> dict[str, Any]:
        """Bytes on disk per component, summed over shards (same groups as FMIndex.sizes)."""
        total: dict[str, Any] = {}
        for shard in self._shards:
            for group, entry in shard.sizes().items():
                slot = total.setdefault(group, {"bytes": 0, "parts": {}})
                slot["bytes"] += entry["bytes"]
                for part, size in entry["parts"].items():
                    slot["parts"][part] = slot["parts"].get(part, 0) + size
        return total

    def close(self) -> None:
        self._pool.shutdown(wait=False)

    def __repr__(self) -> str:
        return (
            f"CatalogIndex({str(self.path)!r}, shards={len(self._shards)}, documents={self.num_documents}, "
            f"bytes={self.num_bytes})"
        )


def _entry_mismatch(entry: dict[str, Any], manifest: dict[str, Any], first_doc_id: int) -> str | None:
    """Why a shard's manifest is not the one the catalog lists (None when it is)."""
    if manifest.get("manifest_xxh3_128") != entry.get("manifest_xxh3_128"):
        return "its manifest is not the one the catalog lists (replaced or rebuilt); rerun `fmsearch index`"
    if manifest["num_documents"] != entry.get("num_documents"):
        return f"{manifest['num_documents']} documents, the catalog says {entry.get('num_documents')}"
    if entry.get("first_doc_id") != first_doc_id:
        return f"first_doc_id {entry.get('first_doc_id')}, expected {first_doc_id} from the shards before it"
    return None


def open_catalog(path: str | os.PathLike, *, max_query_bytes: int = DEFAULT_MAX_QUERY_BYTES) -> CatalogIndex:
    """Open a catalog directory (its catalog.json and every shard it lists, memory-mapped)."""
    return CatalogIndex(path, max_query_bytes=max_query_bytes)


def verify_catalog(path: str | os.PathLike) -> list[str]:
    """Re-hash every shard of a catalog. Returns the problems, each naming its shard ([] when intact)."""
    path = Path(path)
    try:
        catalog = read_catalog(path)
    except IndexFormatError as e:
        return [str(e)]
    problems = []
    first = 0
    for entry in catalog["shards"]:
        directory = path / entry["path"]
        found = storage.verify(directory)
        if not found:
            manifest = storage.read_manifest(directory)
            mismatch = _entry_mismatch(entry, manifest, first)
            found = [mismatch] if mismatch else []
            first += manifest["num_documents"]
        else:
            first += entry.get("num_documents", 0)
        problems.extend(f"shard {entry['name']} ({entry['path']}): {p}" for p in found)
    return problems
