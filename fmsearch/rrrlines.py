"""RRR-15 bitvectors whose rank directory shares a cache line with the chunk classes (`compact`, format 3 on).

`rrr.py` (formats 1 and 2) keeps the directory, the classes and the offsets in three arrays, so a rank is a chain of
three dependent cache misses, paid at every level of a wavelet-tree walk. Here a rank reads one 64-byte line, then
one offset: two. Measured against format 2 on 200 MB (bench/core.py, same hour): extract +16%, batched counts -15%,
snippet -7%, a single count about -10%.

All node bitvectors of one wavelet-tree block form one stream of 15-bit chunks (rrr.py's classes and offsets); each
node starts at a chunk boundary and its last chunk is padded with zeros. Two arrays hold all blocks' streams:
- `lines`: uint64, 8 words per line. Line j of a block covers the block's chunks [112 j, 112 j + 112): words 1..7
  hold their 112 class nibbles, 16 per word, low nibble first; word 0 holds the ones before the line and the
  offset-stream position of its first chunk relative to the block's first offset bit (21 bits each: a block of
  2^17 symbols has Huffman codes of at most 8 bits on average, so its stream holds at most 2^20 bits and padding),
  then the ones and offset bits of the line's first 64 chunks (10 bits each), so that a rank scans at most 63
  classes. A block has one line more than its chunks fill, so that
  rank at the very end of its last node still finds a line.
- `offsets`: the chunk offsets as one little-endian bit stream (as in rrr.py).
A node is (its first chunk, the ones before it) in its block's stream; rank within the node subtracts the latter.
Per corpus byte this costs what rrr.py's classes and directory cost together (8 header bytes per 112 chunks against
4 per 64, but no padding of every node to an even chunk and no extra directory entry per node).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from fmsearch.rrr import CHUNK_BITS, OFFSET_OF, POPCOUNT, WIDTH, decode_chunk

LINE_CHUNKS = 112
LINE_WORDS = 8
MID_CHUNK = 64
_NIBBLES = 16  # class nibbles per word
_FIELD = 21  # bits of the line's ones and offset position
_MID_FIELD = 10

_QUADS = np.arange(1 << 16)
# Offset bits of 4 chunks from their 4 class nibbles: one lookup (64 KB) instead of two (measured 1-3% faster count).
QUAD_WIDTH = sum(WIDTH[(_QUADS >> s) & 15] for s in (0, 4, 8, 12)).astype(np.uint8)
_LOW_NIBBLES = np.uint64(0x0F0F0F0F0F0F0F0F)
_BYTE_SUM = np.uint64(0x0101010101010101)


@njit(nogil=True, cache=True, inline="always")
def lines_for(chunks: int) -> int:
    """Lines of a block stream of `chunks` chunks."""
    return chunks // LINE_CHUNKS + 1


@njit(nogil=True, cache=True, inline="always")
def _sums(word: np.uint64) -> tuple[int, int]:
    """(ones, offset bits) of the 16 chunks whose classes are the nibbles of `word`."""
    pairs = (word & _LOW_NIBBLES) + ((word >> np.uint64(4)) & _LOW_NIBBLES)  # bytes of at most 30
    ones = np.int64((pairs * _BYTE_SUM) >> np.uint64(56))
    width = 0
    for s in range(0, 64, 16):
        width += QUAD_WIDTH[(word >> np.uint64(s)) & np.uint64(0xFFFF)]
    return ones, width


@njit(nogil=True, cache=True, inline="always")
def line_of(line0: int, first_chunk: int, pos: int) -> int:
    """The line holding bit `pos` of the node starting at chunk `first_chunk` of the block whose lines start at
    `line0` (for prefetching)."""
    return line0 + (first_chunk + pos // CHUNK_BITS) // LINE_CHUNKS


@njit(nogil=True, cache=True, inline="always")
def find_chunk(lines: np.ndarray, line0: int, ptr0: int, first_chunk: int, pos: int) -> tuple[int, int, int]:
    """(ones in the block stream before the chunk holding bit `pos` of the node, that chunk's class, the stream
    position of its offset). The node starts at chunk `first_chunk`; the block at line `line0`, offset bit `ptr0`."""
    q = first_chunk + pos // CHUNK_BITS
    j = q // LINE_CHUNKS
    w = (line0 + j) * LINE_WORDS
    head = np.int64(lines[w])
    ones = head & ((1 << _FIELD) - 1)
    ptr = ptr0 + ((head >> _FIELD) & ((1 << _FIELD) - 1))
    t = q - j * LINE_CHUNKS
    w += 1
    if t >= MID_CHUNK:
        ones += (head >> (2 * _FIELD)) & ((1 << _MID_FIELD) - 1)
        ptr += head >> (2 * _FIELD + _MID_FIELD)
        w += MID_CHUNK // _NIBBLES
        t -= MID_CHUNK
    full = t // _NIBBLES
    t -= full * _NIBBLES
    for i in range(full + (t > 0)):  # whole class words, then the one of the chunk up to it
        word = lines[w + i]
        if i == full:
            word &= np.uint64((1 << (4 * t)) - 1)
        o, p = _sums(word)
        ones += o
        ptr += p
    return ones, np.int64((lines[w + full] >> np.uint64(4 * t)) & np.uint64(15)), ptr


@njit(nogil=True, cache=True, inline="always")
def rank1(lines, offsets, line0: int, ptr0: int, first_chunk: int, ones_before: int, pos: int) -> int:
    """Ones in bits [0, pos) of the node (first chunk `first_chunk`, `ones_before` ones before it in its block's
    stream). Precondition: 0 <= pos <= the node's length."""
    ones, cls, ptr = find_chunk(lines, line0, ptr0, first_chunk, pos)
    r = pos % CHUNK_BITS
    if r:
        ones += POPCOUNT[decode_chunk(offsets, cls, ptr) & ((1 << r) - 1)]
    return ones - ones_before


@njit(nogil=True, cache=True, inline="always")
def access_rank1(lines, offsets, line0: int, ptr0: int, first_chunk: int, ones_before: int, pos: int):
    """(bit at `pos`, ones in bits [0, pos)) of the node. Precondition: 0 <= pos < the node's length."""
    ones, cls, ptr = find_chunk(lines, line0, ptr0, first_chunk, pos)
    r = pos % CHUNK_BITS
    value = decode_chunk(offsets, cls, ptr)
    return (value >> r) & 1, ones + POPCOUNT[value & ((1 << r) - 1)] - ones_before


@njit(nogil=True, cache=True)
def encode_bits(
    bits: np.ndarray,
    width: int,
    lines: np.ndarray,
    offsets: np.ndarray,
    line0: int,
    ptr0: int,
    chunk: int,
    ptr: int,
    ones: int,
) -> tuple[int, int, int]:
    """Append bits[:width] (uint8 0/1) as the next node of the block stream at line `line0`, offset bit `ptr0`
    (arrays zeroed), from its chunk `chunk`, offset bit `ptr` and `ones` ones so far. Returns them after the node.
    After a block's last node, `close` writes the spare line's head."""
    for i in range(0, width, CHUNK_BITS):
        _mark(lines, line0, ptr0, chunk, ptr, ones)
        value = 0
        for j in range(i, min(i + CHUNK_BITS, width)):
            value |= int(bits[j]) << (j - i)
        k = POPCOUNT[value]
        t = chunk % LINE_CHUNKS
        lines[(line0 + chunk // LINE_CHUNKS) * LINE_WORDS + 1 + t // _NIBBLES] |= np.uint64(k) << np.uint64(
            4 * (t % _NIBBLES)
        )
        size = WIDTH[k]
        if size:
            off = np.uint64(OFFSET_OF[value])
            offsets[ptr >> 6] |= off << np.uint64(ptr & 63)
            if (ptr & 63) + size > 64:
                offsets[(ptr >> 6) + 1] |= off >> np.uint64(64 - (ptr & 63))
            ptr += size
        ones += k
        chunk += 1
    return chunk, ptr, ones


@njit(nogil=True, cache=True, inline="always")
def _mark(lines, line0: int, ptr0: int, chunk: int, ptr: int, ones: int) -> None:
    """Before chunk `chunk` of the block stream: at a line's first chunk, start its head; at its MID_CHUNK-th,
    add the ones and offset bits since."""
    w = (line0 + chunk // LINE_CHUNKS) * LINE_WORDS
    t = chunk % LINE_CHUNKS
    if t == 0:
        lines[w] = np.uint64(ones | ((ptr - ptr0) << _FIELD))
    elif t == MID_CHUNK:
        head = np.int64(lines[w])
        mid_ones = ones - (head & ((1 << _FIELD) - 1))
        mid_ptr = ptr - ptr0 - ((head >> _FIELD) & ((1 << _FIELD) - 1))
        lines[w] = np.uint64(head | (mid_ones << (2 * _FIELD)) | (mid_ptr << (2 * _FIELD + _MID_FIELD)))


@njit(nogil=True, cache=True)
def close(lines: np.ndarray, line0: int, ptr0: int, chunk: int, ptr: int, ones: int) -> None:
    """Finish a block stream of `chunk` chunks: rank at its end reads the head (or middle) of the line it ends in."""
    _mark(lines, line0, ptr0, chunk, ptr, ones)
