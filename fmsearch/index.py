"""The public index object: one shard opened from disk, queried through the kernels.

Every public method checks its arguments once and raises a typed error; the kernels below assume valid input.
The arrays are read-only memory maps and the kernels release the GIL, so one object serves many threads.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fmsearch import eliasfano, kernels, storage, wavelet
from fmsearch.build import METADATA_ARRAYS, SEPARATOR, TABLE_ARRAYS, TABLE_ARRAYS_V1, TABLE_ARRAYS_V3
from fmsearch.errors import InvalidDocument, InvalidQuery, QueryTooLong
from fmsearch.jit import Direct
from fmsearch.results import Document, FindResult, Hit, Snippet

DEFAULT_MAX_QUERY_BYTES = 65536
INDEX_ARRAYS = {
    5: (*wavelet.ARRAY_NAMES, *TABLE_ARRAYS),
    4: (*wavelet.ARRAY_NAMES, *TABLE_ARRAYS),
    3: (*wavelet.ARRAY_NAMES_V3, *TABLE_ARRAYS_V3),
    2: (*wavelet.ARRAY_NAMES_V3, *TABLE_ARRAYS_V3),
    1: (*wavelet.ARRAY_NAMES_V3, *TABLE_ARRAYS_V1),
}
Query = str | bytes | bytearray | memoryview


# The arrays a format lacks stand in empty (and sample low bits -1), read-only as the memory maps are: the kernels
# then compile once for every format.
_EMPTY_WHEN_MISSING = {
    "isa_samples": ((0,), np.uint64),
    "sampled_row_heads": ((0,), np.uint64),
    "sampled_row_bits": ((0,), np.uint64),
    "isa_holders": ((0,), np.uint64),
    "isa_counts": ((0,), np.uint32),
    "isa_holder_heads": ((0,), np.uint64),
    "isa_holder_bits": ((0,), np.uint64),
    "isa_back": ((0,), np.uint64),
    **wavelet.EMPTY_BEFORE_V4,
}


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def encode_query(query: Query, max_bytes: int) -> np.ndarray:
    """The query's bytes as uint8, or a typed error naming what is wrong with it."""
    if isinstance(query, str):
        try:
            data = query.encode("utf-8")
        except UnicodeEncodeError as e:
            raise InvalidQuery(f"query is not encodable as UTF-8 ({e.reason} at character {e.start})") from e
    elif isinstance(query, bytes | bytearray | memoryview):
        data = bytes(query)
    else:
        raise InvalidQuery(f"query must be str or bytes, not {type(query).__name__}")
    if not data:
        raise InvalidQuery("query is empty")
    if len(data) > max_bytes:
        raise QueryTooLong(f"query is {len(data)} bytes, over the limit of {max_bytes} bytes")
    if SEPARATOR in data:
        raise InvalidQuery("query contains byte 0xFF, which never occurs in UTF-8 text (it separates documents)")
    return np.frombuffer(data, dtype=np.uint8)


def check_page(limit: int, offset: int) -> None:
    """A page of hits is `limit` hits from `offset`: both non-negative integers (bool is not a number here)."""
    for name, value in (("limit", limit), ("offset", offset)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InvalidQuery(f"{name} must be a non-negative integer, not {value!r}")


def check_doc_id(doc_id: int, num_documents: int, what: str) -> None:
    """A document id is an integer in [0, num_documents) of the index or catalog (`what`)."""
    if not isinstance(doc_id, int | np.integer) or isinstance(doc_id, bool):
        raise InvalidDocument(f"document id must be an integer, not {type(doc_id).__name__}")
    if not 0 <= doc_id < num_documents:
        raise InvalidDocument(
            f"document id {doc_id} is out of range: this {what} has {num_documents} documents "
            f"(ids 0..{num_documents - 1})"
        )


def _char_start(data: bytes, i: int) -> int:
    """Move i back to the first byte of the UTF-8 character it falls in."""
    while 0 < i < len(data) and (data[i] & 0xC0) == 0x80:
        i -= 1
    return i


def _char_end(data: bytes, i: int) -> int:
    """Move i forward to the first byte of the next UTF-8 character (or the end)."""
    while 0 < i < len(data) and (data[i] & 0xC0) == 0x80:
        i += 1
    return i


class FMIndex:
    """A compressed, memory-mapped, byte-level FM-index over one shard of documents."""

    def __init__(self, path: str | os.PathLike, *, max_query_bytes: int = DEFAULT_MAX_QUERY_BYTES) -> None:
        self.path = Path(path)
        self.manifest = storage.read_manifest(self.path)
        try:
            self._open(max_query_bytes)
        except (KeyError, TypeError, ValueError) as e:
            raise storage.IndexFormatError(
                f"{self.path}: the manifest is incomplete or malformed ({type(e).__name__}: {e}); rebuild the index"
            ) from e

    def _open(self, max_query_bytes: int) -> None:
        files = self.manifest["files"]
        version = self.manifest["format_version"]
        names = (*INDEX_ARRAYS[version], *METADATA_ARRAYS)
        missing = [name for name in names if name not in files]
        if missing:
            raise storage.IndexFormatError(
                f"{self.path}: the manifest lists no {', '.join(missing)}; the index is damaged or was written by "
                "another build of fmsearch: rebuild it"
            )
        arrays = {name: storage.open_array(self.path, files[name]) for name in names}
        for name, (shape, dtype) in _EMPTY_WHEN_MISSING.items():
            if name not in arrays:
                arrays[name] = _read_only(np.zeros(shape, dtype=dtype))
        params = self.manifest["params"]
        bitvectors = params.get("bitvectors")
        block_bits = wavelet.BLOCK_BITS.get(bitvectors, 0) if version >= 4 else wavelet.LEGACY_BLOCK_BITS
        if (
            bitvectors not in wavelet.BITVECTORS
            or params.get("block") != 1 << block_bits
            or params.get("separator") != SEPARATOR
        ):
            raise storage.IndexFormatError(f"{self.path}: built with parameters this fmsearch does not read: {params}")
        if version >= 5 and bitvectors == "rrr15" and arrays["directory"].shape[0] == 0:
            raise storage.IndexFormatError(f"{self.path}: the RRR lines' directory is empty; rebuild the index")
        self.max_query_bytes = max_query_bytes
        self.num_documents: int = self.manifest["num_documents"]
        self.num_bytes: int = self.manifest["num_bytes"]
        self._n: int = self.manifest["text_bytes"]
        self._doc_starts = arrays["doc_starts"]
        # Memoryviews for single values and slices: Python ints and bytes straight, 2-10x faster than a memmap's.
        self._doc_start = memoryview(self._doc_starts)
        self._meta_offset = memoryview(arrays["meta_offsets"])
        self._meta_blob = memoryview(arrays["meta_blob"])
        width = self.manifest["sample_width"]
        sample_count = self._n // params["sa_rate"] + 1
        low_bits = holder_low_bits = -1
        group_bits = eliasfano.GROUP_BITS if version >= 4 else eliasfano.LEGACY_GROUP_BITS
        if version == 1:  # rows sampled by rank, and stored inverse-SA samples
            isa_rate = params["isa_rate"]
        else:
            low_bits = self.manifest["sample_low_bits"]
            if low_bits != eliasfano.low_bits_for(self._n + 1, sample_count, group_bits):
                raise storage.IndexFormatError(
                    f"{self.path}: sample_low_bits {low_bits} does not fit {self._n} bytes sampled every "
                    f"{params['sa_rate']}; the manifest was edited: rebuild the index"
                )
            isa_rate = params["sa_rate"]  # the row of a sample's position comes from the samples' permutation
        if version >= 4:
            holders = eliasfano.member_count(arrays["isa_holder_heads"])
            holder_low_bits = eliasfano.low_bits_for(sample_count, holders, group_bits)
        self._fm = (
            wavelet.kernel_arrays(arrays, block_bits),
            arrays["first_row"],
            arrays["symbol_of_byte"],
            arrays["byte_of_symbol"],
            self.manifest["primary"],
            params["sa_rate"],
            width,
            arrays["sa_samples"],
            isa_rate,
            width,
            arrays["isa_samples"],
            self._n,
            arrays["sampled_row_heads"],
            arrays["sampled_row_bits"],
            low_bits,
            arrays["isa_holders"],
            arrays["isa_counts"],
            arrays["isa_holder_heads"],
            arrays["isa_holder_bits"],
            holder_low_bits,
            arrays["isa_back"],
            group_bits,
        )
        # The kernels this index calls, each straight into its compiled code after the first call (jit.Direct):
        # the calls below pass the same kinds of arguments every time.
        self._backward_search = Direct(kernels.backward_search)
        self._count_many = Direct(kernels.count_many)
        self._locate_range = Direct(kernels.locate_range)
        self._extract_range = Direct(kernels.extract)
        self._matching_statistics = Direct(kernels.matching_statistics)
        self._file_bytes = {name: files[name]["bytes"] for name in files}

    # -- queries ---------------------------------------------------------------------------------------------------

    def _interval(self, query: Query) -> tuple[int, int]:
        pattern = encode_query(query, self.max_query_bytes)
        return self._backward_search(self._fm, pattern, 0, pattern.shape[0])

    def count(self, query: Query) -> int:
        """Occurrences of `query` (overlapping, never across documents). Cost: one backward search, O(|query|)."""
        sp, ep = self._interval(query)
        return ep - sp

    def count_many(self, queries: Sequence[Query]) -> np.ndarray:
        """Occurrences of each query (int64 array), in one kernel call."""
        encoded = []
        for i, query in enumerate(queries):
            try:
                encoded.append(encode_query(query, self.max_query_bytes))
            except InvalidQuery as e:
                raise type(e)(f"query {i}: {e}") from e
        bounds = np.zeros(len(encoded) + 1, dtype=np.int64)
        bounds[1:] = np.cumsum([len(p) for p in encoded])
        flat = np.concatenate(encoded) if encoded else np.zeros(0, dtype=np.uint8)
        return self._count_many(self._fm, flat, bounds)

    def locate(self, query: Query, limit: int = 10, offset: int = 0) -> tuple[int, np.ndarray]:
        """(total, text positions of occurrences offset..offset+limit in suffix order). Positions are in the
        concatenated text; `find` turns them into (document, offset). Cost: fewer than sa_rate LF steps per hit."""
        check_page(limit, offset)
        sp, ep = self._interval(query)
        total = ep - sp
        lo = min(sp + offset, ep)
        hi = min(lo + limit, ep)
        return total, self._locate_range(self._fm, lo, hi)

    def find(self, query: Query, limit: int = 10, offset: int = 0) -> FindResult:
        """Total occurrences and one page of hits (doc_id, byte offset in the document), in suffix order."""
        total, positions = self.locate(query, limit, offset)
        docs = np.searchsorted(self._doc_starts, positions, side="right") - 1
        offsets = positions - self._doc_starts[docs] - 1
        hits = [Hit(int(d), int(o)) for d, o in zip(docs.tolist(), offsets.tolist(), strict=True)]
        return FindResult(total=total, hits=hits, offset=offset)

    def matching_statistics(self, text: Query) -> np.ndarray:
        """For each byte position i of `text` (UTF-8), the length of the longest prefix of text[i:] occurring in
        some document (int64 array). One right-to-left backward-search pass."""
        if isinstance(text, str):
            data = text.encode("utf-8", errors="surrogatepass")
        elif isinstance(text, bytes | bytearray | memoryview):
            data = bytes(text)
        else:
            raise InvalidQuery(f"text must be str or bytes, not {type(text).__name__}")
        if len(data) > self.max_query_bytes:
            raise QueryTooLong(f"text is {len(data)} bytes, over the limit of {self.max_query_bytes} bytes")
        return self._matching_statistics(self._fm, np.frombuffer(data, dtype=np.uint8))

    # -- documents -------------------------------------------------------------------------------------------------

    def _check_doc(self, doc_id: int) -> None:
        check_doc_id(doc_id, self.num_documents, "index")

    def _span(self, doc_id: int) -> tuple[int, int]:
        """(text position of a document's first byte, its length in bytes); checks the id."""
        self._check_doc(doc_id)
        start = self._doc_start[doc_id] + 1
        return start, self._doc_start[doc_id + 1] - start

    def document_length(self, doc_id: int) -> int:
        """Length in bytes of a document's UTF-8 text."""
        return self._span(doc_id)[1]

    def metadata(self, doc_id: int) -> dict[str, Any]:
        self._check_doc(doc_id)
        return self._metadata(doc_id)

    def _metadata(self, doc_id: int) -> dict[str, Any]:
        lo, hi = self._meta_offset[doc_id], self._meta_offset[doc_id + 1]
        return json.loads(str(self._meta_blob[lo:hi], "utf-8")) if hi > lo else {}  # from str: 25% faster

    def extract(self, doc_id: int, start: int = 0, end: int | None = None) -> bytes:
        """Bytes [start, end) of a document, rebuilt from the index (about one LF step per byte)."""
        base, length = self._span(doc_id)
        end = length if end is None else end
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= length):
            raise InvalidDocument(f"byte range [{start}, {end}) is outside document {doc_id} of {length} bytes")
        return self._extract_range(self._fm, base + start, base + end).tobytes()

    def document(self, doc_id: int) -> Document:
        """A document's text and metadata."""
        text = self.extract(doc_id).decode("utf-8")
        return Document(doc_id=int(doc_id), text=text, metadata=self.metadata(doc_id))

    def snippet(self, doc_id: int, offset: int, length: int, context: int = 200) -> Snippet:
        """The match at bytes [offset, offset+length) of a document with up to `context` bytes on each side,
        widened to whole UTF-8 characters."""
        base, doc_len = self._span(doc_id)
        if not (
            isinstance(offset, int)
            and isinstance(length, int)
            and 0 <= offset
            and 0 <= length
            and offset + length <= doc_len
        ):
            raise InvalidDocument(
                f"match [{offset}, {offset + length}) is outside document {doc_id} of {doc_len} bytes"
            )
        if not isinstance(context, int) or context < 0:
            raise InvalidQuery(f"context must be a non-negative integer, not {context!r}")
        lo = max(0, offset - context - 3)
        hi = min(doc_len, offset + length + context + 3)
        data = self._extract_range(self._fm, base + lo, base + hi).tobytes()
        # A bytes query may cut a character: the shown match is widened to whole characters, so that
        # before + match + after is always the exact, decodable document slice [start, end).
        m0 = _char_start(data, offset - lo)
        m1 = _char_end(data, offset + length - lo)
        s0 = min(_char_start(data, max(0, offset - context - lo)), m0)
        s1 = max(_char_start(data, min(hi, offset + length + context) - lo), m1)
        return Snippet(
            doc_id=int(doc_id),
            start=lo + s0,
            end=lo + s1,
            match_start=offset,
            match_end=offset + length,
            before=data[s0:m0].decode("utf-8"),
            match=data[m0:m1].decode("utf-8"),
            after=data[m1:s1].decode("utf-8"),
            metadata=self._metadata(doc_id),
        )

    # -- for other packages ----------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def shards(self) -> list[FMIndex]:
        """The shards behind this index (one); a catalog returns several. Global doc ids follow this order."""
        return [self]

    @property
    def fm(self) -> tuple:
        """The array tuple the kernels in `fmsearch.kernels` take (read-only), for kernels of other packages."""
        return self._fm

    # -- reporting -------------------------------------------------------------------------------------------------

    def sizes(self) -> dict[str, Any]:
        """Bytes on disk per component, grouped as index (count / locate / extract) and metadata."""
        groups = {
            "bwt wavelet tree": wavelet.ARRAY_NAMES,
            "C array + alphabet": ("first_row", "symbol_of_byte", "byte_of_symbol"),
            "suffix array samples": ("sa_samples", "sampled_row_heads", "sampled_row_bits"),
            "inverse suffix array samples": (
                "isa_samples",
                "isa_holders",
                "isa_counts",
                "isa_holder_heads",
                "isa_holder_bits",
                "isa_back",
            ),
            "document starts": ("doc_starts",),
            "metadata": METADATA_ARRAYS,
        }
        parts = {
            group: {n: self._file_bytes[n] for n in names if n in self._file_bytes} for group, names in groups.items()
        }
        return {group: {"bytes": sum(p.values()), "parts": p} for group, p in parts.items()}

    def warm(self) -> None:
        """Compile / load every kernel once (numba caches them on disk), so the first query is fast."""
        self.count(b"a")
        self.count_many([b"a"])
        self.find(b"e", limit=1)
        self.extract(0, 0, min(1, self.document_length(0)))
        self.matching_statistics(b"ab")

    def __repr__(self) -> str:
        return f"FMIndex({str(self.path)!r}, documents={self.num_documents}, bytes={self.num_bytes})"


def open_index(path: str | os.PathLike, *, max_query_bytes: int = DEFAULT_MAX_QUERY_BYTES):
    """Open a shard directory, or a catalog of shards (a directory with `catalog.json`), memory-mapped.

    Both offer the same queries; a catalog numbers documents globally, shard after shard.
    """
    if (Path(path) / "catalog.json").is_file():
        from fmsearch.multi import open_catalog

        return open_catalog(path, max_query_bytes=max_query_bytes)
    return FMIndex(path, max_query_bytes=max_query_bytes)
