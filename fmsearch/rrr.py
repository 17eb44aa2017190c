"""RRR-coded bitvectors with 15-bit chunks (Raman, Raman & Rao 2002; the sdsl `rrr_vector<15>` idea): the coding
tables, and the reader of the layout that formats 1 and 2 wrote (format 3 writes `rrrlines.py`'s).

A bitvector is cut into 15-bit chunks. Each chunk is stored as its class (popcount, one nibble) and its offset
(index among the 15-bit values of that class, ceil(log2 C(15, k)) bits). Runs of equal bits, which the wavelet tree
of a BWT is full of, cost 4 bits per chunk; a chunk of 7 ones costs 17 bits. Tables turn (class, offset) back into
the chunk in one lookup, so decoding needs no loop over bits.

Many bitvectors (the nodes of all wavelet trees of a shard) share three flat arrays:
- `classes`: uint8, two chunk classes per byte (low nibble first); every bitvector starts at an even chunk,
- `offsets`: uint64 words holding the offsets as a little-endian bit stream,
- `directory`: uint32 per 64 chunks of a bitvector: ones before that chunk (low 16 bits) and the stream position
  of its offset relative to the bitvector's first offset bit (high 16 bits). Both fit because a bitvector holds at
  most 2^16 bits (a wavelet-tree node of a 2^16-symbol block), whose offsets take at most 13/15 of that.
A rank query scans at most 63 class nibbles (two per table lookup) and decodes one chunk.
"""

from __future__ import annotations

from math import comb

import numpy as np
from numba import njit

CHUNK_BITS = 15
CHUNKS_PER_SAMPLE = 64


def _tables() -> tuple[np.ndarray, ...]:
    values = np.arange(1 << CHUNK_BITS, dtype=np.int64)
    popcount = np.zeros(1 << CHUNK_BITS, dtype=np.uint8)
    for bit in range(CHUNK_BITS):
        popcount += ((values >> bit) & 1).astype(np.uint8)
    # Values sorted by (class, value): the position inside a class is the offset.
    order = np.lexsort((values, popcount))
    class_base = np.zeros(CHUNK_BITS + 2, dtype=np.int64)
    class_base[1:] = np.cumsum([comb(CHUNK_BITS, k) for k in range(CHUNK_BITS + 1)])
    decode = order.astype(np.uint16)
    offset_of = np.empty(1 << CHUNK_BITS, dtype=np.uint16)
    offset_of[order] = (np.arange(1 << CHUNK_BITS) - class_base[popcount[order]]).astype(np.uint16)
    width = np.array([(comb(CHUNK_BITS, k) - 1).bit_length() for k in range(CHUNK_BITS + 1)], dtype=np.int64)
    pair = np.arange(256)
    pair_ones = ((pair & 15) + (pair >> 4)).astype(np.int64)
    pair_width = (width[pair & 15] + width[pair >> 4]).astype(np.int64)
    return popcount, class_base, decode, offset_of, width, pair_ones, pair_width


POPCOUNT, CLASS_BASE, DECODE, OFFSET_OF, WIDTH, PAIR_ONES, PAIR_WIDTH = _tables()


@njit(nogil=True, cache=True, inline="always")
def read_bits(words: np.ndarray, pos: int, width: int) -> int:
    """`width` (<= 32) bits of the little-endian bit stream `words` (uint64) starting at bit `pos`."""
    if width == 0:
        return 0
    w = np.uint64(pos >> 6)
    shift = pos & 63
    value = words[w] >> np.uint64(shift)
    if shift + width > 64:
        value |= words[w + np.uint64(1)] << np.uint64(64 - shift)
    return np.int64(value & np.uint64((1 << width) - 1))


@njit(nogil=True, cache=True, inline="always")
def read64(words: np.ndarray, pos: int) -> np.uint64:
    """64 bits of the little-endian bit stream `words` starting at bit `pos` (the next word must exist)."""
    w = np.uint64(pos >> 6)
    shift = pos & 63
    if shift == 0:
        return words[w]
    return (words[w] >> np.uint64(shift)) | (words[w + np.uint64(1)] << np.uint64(64 - shift))


@njit(nogil=True, cache=True, inline="always")
def _scan(classes: np.ndarray, first: int, stop: int, ones: int, ptr: int) -> tuple[int, int]:
    """Add the ones and offset widths of chunks [first, stop); `first` is even."""
    j = first
    while j + 2 <= stop:
        byte = classes[j >> 1]
        ones += PAIR_ONES[byte]
        ptr += PAIR_WIDTH[byte]
        j += 2
    if j < stop:
        k = classes[j >> 1] & 15
        ones += k
        ptr += WIDTH[k]
    return ones, ptr


@njit(nogil=True, cache=True, inline="always")
def find_chunk(classes, directory, chunk0: int, dir0: int, ptr_base: int, pos: int) -> tuple[int, int, int, int]:
    """(ones before the chunk holding `pos`, that chunk's index, its offset's stream position, pos within it)."""
    q = pos // CHUNK_BITS
    sample = q // CHUNKS_PER_SAMPLE
    entry = directory[dir0 + sample]
    target = chunk0 + q
    ones, ptr = _scan(
        classes, chunk0 + sample * CHUNKS_PER_SAMPLE, target, np.int64(entry & 0xFFFF), ptr_base + np.int64(entry >> 16)
    )
    return ones, target, ptr, pos - q * CHUNK_BITS


@njit(nogil=True, cache=True, inline="always")
def decode_chunk(offsets: np.ndarray, k: int, ptr: int) -> int:
    """The 15 bits of a chunk of class k whose offset starts at bit `ptr` of the stream `offsets`."""
    u = np.uint64(k)  # unsigned indices: see fmsearch.jit
    return np.int64(DECODE[np.uint64(CLASS_BASE[u] + read_bits(offsets, ptr, WIDTH[u]))])


@njit(nogil=True, cache=True, inline="always")
def decode(classes, offsets, target: int, ptr: int) -> int:
    return decode_chunk(offsets, (classes[target >> 1] >> ((target & 1) * 4)) & 15, ptr)


@njit(nogil=True, cache=True, inline="always")
def rank1(
    classes: np.ndarray, offsets: np.ndarray, directory: np.ndarray, chunk0: int, dir0: int, ptr_base: int, pos: int
) -> int:
    """Ones in bits [0, pos) of the bitvector whose first chunk is `chunk0`, first sample `directory[dir0]` and
    first offset bit `ptr_base`.

    Precondition: 0 <= pos <= length of that bitvector.
    """
    ones, target, ptr, r = find_chunk(classes, directory, chunk0, dir0, ptr_base, pos)
    if r == 0:  # nothing of the chunk counts; it may even lie past the end
        return ones
    return ones + POPCOUNT[decode(classes, offsets, target, ptr) & ((1 << r) - 1)]


@njit(nogil=True, cache=True, inline="always")
def access_rank1(
    classes: np.ndarray, offsets: np.ndarray, directory: np.ndarray, chunk0: int, dir0: int, ptr_base: int, pos: int
) -> tuple[int, int]:
    """(bit at `pos`, ones in bits [0, pos)). Precondition: 0 <= pos < length of the bitvector."""
    ones, target, ptr, r = find_chunk(classes, directory, chunk0, dir0, ptr_base, pos)
    value = decode(classes, offsets, target, ptr)
    return (value >> r) & 1, ones + POPCOUNT[value & ((1 << r) - 1)]
