"""RRR-15 bitvectors whose rank directory shares a cache line with the chunk classes (`compact`, format 3 on).

`rrr.py` (formats 1 and 2) keeps the directory, the classes and the offsets in three arrays, so a rank is a chain of
three dependent cache misses, paid at every level of a wavelet-tree walk. Here a rank reads one 64-byte line, then
one offset: two. Measured against format 2 on 200 MB (bench/core.py, same hour): extract +16%, batched counts -15%,
snippet -7%, a single count about -10%. From format 5 the line and the offset are fetched together, so a single
rank waits for one miss: counts 14-24% faster than format 4 (paired), batched counts 2-3% slower.

All node bitvectors of one wavelet-tree block form one stream of 15-bit chunks (rrr.py's classes and offsets); each
node starts at a chunk boundary and its last chunk is padded with zeros. Three arrays hold all blocks' streams:
- `lines`: uint64, 8 words per line. Line j of a block covers the block's chunks [117 j, 117 j + 117): words 1..7
  hold the class nibbles of its first 112 chunks, 16 per word, low nibble first. Word 0 holds the ones before the
  line relative to the block (21 bits: a block of 2^17 symbols has Huffman codes of at most 8 bits on average, so
  its stream holds at most 2^20 bits and padding), then the ones and offset bits of the line's first 64 chunks
  (10 bits each), so that a rank scans at most 64 classes, and in its top 20 bits the classes of chunks 112..116.
  A block has one line more than its chunks fill, so that rank at the very end of its last node still finds a line.
- `line_ptrs` (the wavelet tree's `directory`): for every line, the offset-stream position of its first chunk
  relative to the block's first offset bit, 21 bits each, packed into uint32 words. Apart from the lines (a
  megabyte per 200 MB of text, so it stays in the processor's cache), a rank reads it together with its line and
  prefetches the chunk's offset at once: the line and the offset, two dependent misses before, overlap (format 5).
- `offsets`: the chunk offsets as one little-endian bit stream (as in rrr.py).
A node is (its first chunk, the ones before it) in its block's stream; rank within the node subtracts the latter.
A single walk (backward search) need not wait for a rank to know where it goes next: a line's head alone bounds the
child's position to a line or two (`child_range`), which `prefetch_range` fetches while the rank is worked out.
Batched walks do not: they overlap their misses already, and the extra prefetches made extracts 38% slower.
Formats 3 and 4 kept the offset position in word 0 (112 chunks per line, no `line_ptrs`); their shards are read
with that layout, told apart by an empty `line_ptrs`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from fmsearch import intvector
from fmsearch.jit import udivmod, walker
from fmsearch.prefetch import prefetch
from fmsearch.rrr import CHUNK_BITS, OFFSET_OF, POPCOUNT, WIDTH, decode_chunk

LINE_CHUNKS = 117
LEGACY_LINE_CHUNKS = 112  # formats 3 and 4
LINE_WORDS = 8
MID_CHUNK = 64
_NIBBLES = 16  # class nibbles per word
_FIELD = 21  # bits of the line's ones, and of its offset position in line_ptrs
_MID_FIELD = 10
_HEAD_CLASSES = 44  # word 0's bit where the classes of chunks 112..116 start
_HEAD_CHUNK = (LINE_WORDS - 1) * _NIBBLES  # 112, the first of them
_GUESS_WIDTH = 5  # offset bits per chunk to expect when prefetching an offset (5.1 on the 200 MB corpus)

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


def pack_line_ptrs(line_starts: np.ndarray) -> np.ndarray:
    """`line_ptrs` from each line's offset position (as `encode_bits` noted them in line_starts)."""
    return intvector.pack(line_starts, _FIELD).view(np.uint32)  # little-endian: the same bit stream


@njit(nogil=True, cache=True, inline="always")
def _line_ptr(line_ptrs: np.ndarray, line: int) -> int:
    """The offset position of a line (relative to its block) from `line_ptrs`."""
    pos = line * _FIELD
    w = np.uint64(pos >> 5)  # unsigned indices: see fmsearch.jit
    pair = np.uint64(line_ptrs[w]) | (np.uint64(line_ptrs[w + np.uint64(1)]) << np.uint64(32))
    return np.int64((pair >> np.uint64(pos & 31)) & np.uint64((1 << _FIELD) - 1))


@njit(nogil=True, cache=True, inline="always")
def prefetch_line(lines: np.ndarray, line_ptrs: np.ndarray, line0: int, first_chunk: int, pos: int) -> None:
    """Prefetch the line holding bit `pos` of the node starting at chunk `first_chunk` of the block whose lines
    start at `line0`, and its offset position."""
    if line_ptrs.shape[0] == 0:
        prefetch(lines, (line0 + (first_chunk + pos // CHUNK_BITS) // LEGACY_LINE_CHUNKS) * LINE_WORDS)
        return
    line = line0 + _chunk_of(first_chunk, pos)[0]
    prefetch(lines, line * LINE_WORDS)
    prefetch(line_ptrs, (line * _FIELD) >> 5)


@njit(nogil=True, cache=True, inline="always")
def _prefetch_offset(offsets: np.ndarray, ptr: int, t: int) -> None:
    """Prefetch where the offset of chunk t of a line whose offsets start at stream position `ptr` probably is:
    an average width per chunk before it, and the next cache line (83% of offsets are in the first, 99% in both)."""
    guess = (ptr + t * _GUESS_WIDTH) >> 6
    prefetch(offsets, guess)
    prefetch(offsets, guess + 8)


@njit(nogil=True, cache=True, inline="always")
def _chunk_of(first_chunk: int, pos: int) -> tuple[int, int]:
    """(line in the block, chunk in that line) of bit `pos` of the node starting at chunk `first_chunk`."""
    return udivmod(first_chunk + udivmod(pos, CHUNK_BITS)[0], LINE_CHUNKS)


@njit(nogil=True, cache=True, inline="always")
def _head(lines: np.ndarray, line0: int, first_chunk: int, pos: int) -> tuple[int, int, int, int]:
    """Where bit `pos` of the node starting at chunk `first_chunk` lies, in a block whose lines start at `line0`:
    (its line in the block, its chunk in that line, the line's first word, the line's head)."""
    j, t = _chunk_of(first_chunk, pos)
    w = (line0 + j) * LINE_WORDS
    return j, t, w, np.int64(lines[np.uint64(w)])


@njit(nogil=True, cache=True, inline="always")
def child_range(lines, line0: int, first_chunk: int, ones_before: int, pos: int, bit: int) -> tuple[int, int]:
    """Where a wavelet-tree walk at bit `pos` of this node lands in its `bit`-child: within [lo, hi], from the head
    of the line holding `pos` alone, before its class scan and offset decode. The ones before the line (or its
    middle) put the child's position (the ones before `pos` in the 1-child, the zeros in the 0-child) in a range no
    wider than the bits from there to `pos` (at most 64 chunks). Format 5 lines only."""
    j, t, _, head = _head(lines, line0, first_chunk, pos)
    start = j * LINE_CHUNKS
    ones = head & ((1 << _FIELD) - 1)
    if t >= MID_CHUNK:
        ones += (head >> _FIELD) & ((1 << _MID_FIELD) - 1)
        start += MID_CHUNK
    start_pos = (start - first_chunk) * CHUNK_BITS
    if start_pos <= 0:  # the node starts after that point
        start_pos = ones = 0
    else:
        ones -= ones_before
    lo = ones if bit else start_pos - ones
    return lo, lo + pos - start_pos


@njit(nogil=True, cache=True, inline="always")
def prefetch_range(lines, line_ptrs, offsets, line0: int, ptr0: int, first_chunk: int, lo: int, hi: int) -> None:
    """Prefetch the lines holding bits lo and hi (lo <= hi, at most a line apart; hi may run past the node's end)
    of the node starting at chunk `first_chunk`, and their chunks' probable offsets. Format 5 lines only."""
    last_line = lines.shape[0] // LINE_WORDS - 1
    c, t = _chunk_of(first_chunk, lo)
    line = min(line0 + c, last_line)
    prefetch(lines, line * LINE_WORDS)
    ptr = ptr0 + _line_ptr(line_ptrs, line)
    _prefetch_offset(offsets, ptr, t)
    c, t = _chunk_of(first_chunk, hi)
    if line0 + c == line or line == last_line:
        prefetch(offsets, (ptr + t * _GUESS_WIDTH) >> 6)
    else:
        prefetch(lines, (line + 1) * LINE_WORDS)
        _prefetch_offset(offsets, ptr0 + _line_ptr(line_ptrs, line + 1), t)


@njit(nogil=True, cache=True, inline="always")
def find_chunk(
    lines: np.ndarray, line_ptrs: np.ndarray, offsets: np.ndarray, line0: int, ptr0: int, first_chunk: int, pos: int
) -> tuple[int, int, int]:
    """(ones in the block stream before the chunk holding bit `pos` of the node, that chunk's class, the stream
    position of its offset). The node starts at chunk `first_chunk`; the block at line `line0`, offset bit `ptr0`.
    From the line's offset position (in `line_ptrs`, cached) it prefetches where the chunk's offset probably is
    before the line itself arrives."""
    if line_ptrs.shape[0] == 0:
        return _legacy_find_chunk(lines, line0, ptr0, first_chunk, pos)
    j, t, w, head = _head(lines, line0, first_chunk, pos)
    ones = head & ((1 << _FIELD) - 1)
    ptr = ptr0 + _line_ptr(line_ptrs, line0 + j)
    _prefetch_offset(offsets, ptr, t)
    first = 1
    if t >= MID_CHUNK:
        ones += (head >> _FIELD) & ((1 << _MID_FIELD) - 1)
        ptr += (head >> (_FIELD + _MID_FIELD)) & ((1 << _MID_FIELD) - 1)
        first += MID_CHUNK // _NIBBLES
        t -= MID_CHUNK
    full, t = udivmod(t, _NIBBLES)
    for i in range(first, first + full):  # whole class words
        o, p = _sums(lines[np.uint64(w + i)])
        ones += o
        ptr += p
    k = first + full  # then the chunk's word; chunks 112..116 wrap around to word 0's top
    word = lines[np.uint64(w + k)] if k < LINE_WORDS else lines[np.uint64(w)] >> np.uint64(_HEAD_CLASSES)
    if t:
        o, p = _sums(word & np.uint64((1 << (4 * t)) - 1))
        ones += o
        ptr += p
    return ones, np.int64((word >> np.uint64(4 * t)) & np.uint64(15)), ptr


@walker
def _legacy_find_chunk(lines: np.ndarray, line0: int, ptr0: int, first_chunk: int, pos: int) -> tuple[int, int, int]:
    """find_chunk for formats 3 and 4: 112 chunks per line, the line's offset position in word 0 (21 bits after the
    ones) and the middle's fields above it (10 and 12 bits). Compiled once rather than into every kernel, for shards
    that only older fmsearch versions write."""
    q = first_chunk + pos // CHUNK_BITS
    j = q // LEGACY_LINE_CHUNKS
    w = (line0 + j) * LINE_WORDS
    head = np.int64(lines[w])
    ones = head & ((1 << _FIELD) - 1)
    ptr = ptr0 + ((head >> _FIELD) & ((1 << _FIELD) - 1))
    t = q - j * LEGACY_LINE_CHUNKS
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
def rank1(lines, line_ptrs, offsets, line0: int, ptr0: int, first_chunk: int, ones_before: int, pos: int) -> int:
    """Ones in bits [0, pos) of the node (first chunk `first_chunk`, `ones_before` ones before it in its block's
    stream). Precondition: 0 <= pos <= the node's length."""
    ones, cls, ptr = find_chunk(lines, line_ptrs, offsets, line0, ptr0, first_chunk, pos)
    r = udivmod(pos, CHUNK_BITS)[1]
    if r:
        ones += POPCOUNT[np.uint64(decode_chunk(offsets, cls, ptr) & ((1 << r) - 1))]
    return ones - ones_before


@njit(nogil=True, cache=True, inline="always")
def rank1_pair(
    lines, line_ptrs, offsets, line0: int, ptr0: int, first_chunk: int, ones_before: int, i: int, j: int
) -> tuple[int, int]:
    """(rank1(i), rank1(j)) for i <= j; one class scan and one decode when both fall in one chunk, as the ends of a
    narrow backward-search interval mostly do (a warm count 9% faster)."""
    ri = udivmod(i, CHUNK_BITS)[1]
    same = ri + j - i < CHUNK_BITS
    ones_i = ones_j = 0
    for t in range(1 if same else 2):  # one inlined chunk search for both ends: a smaller kernel, as fast
        ones, cls, ptr = find_chunk(lines, line_ptrs, offsets, line0, ptr0, first_chunk, j if t else i)
        end = ri + j - i if same else udivmod(j if t else i, CHUNK_BITS)[1]
        value = decode_chunk(offsets, cls, ptr) if end else 0
        ones -= ones_before
        ones_j = ones + POPCOUNT[np.uint64(value & ((1 << end) - 1))]
        if t == 0:
            ones_i = ones + POPCOUNT[np.uint64(value & ((1 << ri) - 1))]
    return ones_i, ones_j


@njit(nogil=True, cache=True, inline="always")
def access_rank1(lines, line_ptrs, offsets, line0: int, ptr0: int, first_chunk: int, ones_before: int, pos: int):
    """(bit at `pos`, ones in bits [0, pos)) of the node. Precondition: 0 <= pos < the node's length."""
    ones, cls, ptr = find_chunk(lines, line_ptrs, offsets, line0, ptr0, first_chunk, pos)
    r = udivmod(pos, CHUNK_BITS)[1]
    value = decode_chunk(offsets, cls, ptr)
    return (value >> r) & 1, ones + POPCOUNT[np.uint64(value & ((1 << r) - 1))] - ones_before


@njit(nogil=True, cache=True)
def encode_bits(
    bits: np.ndarray,
    width: int,
    lines: np.ndarray,
    line_starts: np.ndarray,
    offsets: np.ndarray,
    line0: int,
    ptr0: int,
    chunk: int,
    ptr: int,
    ones: int,
) -> tuple[int, int, int]:
    """Append bits[:width] (uint8 0/1) as the next node of the block stream at line `line0`, offset bit `ptr0`
    (arrays zeroed), from its chunk `chunk`, offset bit `ptr` and `ones` ones so far. Returns them after the node.
    line_starts (int64, one per line) gets each line's offset position, for `pack_line_ptrs`. After a block's
    last node, `close` writes the spare line's head."""
    for i in range(0, width, CHUNK_BITS):
        _mark(lines, line_starts, line0, ptr0, chunk, ptr, ones)
        value = 0
        for j in range(i, min(i + CHUNK_BITS, width)):
            value |= int(bits[j]) << (j - i)
        k = POPCOUNT[value]
        t = chunk % LINE_CHUNKS
        w = (line0 + chunk // LINE_CHUNKS) * LINE_WORDS
        if t < _HEAD_CHUNK:
            lines[w + 1 + t // _NIBBLES] |= np.uint64(k) << np.uint64(4 * (t % _NIBBLES))
        else:
            lines[w] |= np.uint64(k) << np.uint64(_HEAD_CLASSES + 4 * (t - _HEAD_CHUNK))
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
def _mark(lines, line_starts, line0: int, ptr0: int, chunk: int, ptr: int, ones: int) -> None:
    """Before chunk `chunk` of the block stream: at a line's first chunk, start its head and note its offset
    position; at its MID_CHUNK-th, add the ones and offset bits since."""
    line = line0 + chunk // LINE_CHUNKS
    t = chunk % LINE_CHUNKS
    if t == 0:
        lines[line * LINE_WORDS] = np.uint64(ones)
        line_starts[line] = ptr - ptr0
    elif t == MID_CHUNK:
        head = np.int64(lines[line * LINE_WORDS])
        mid_ones = ones - (head & ((1 << _FIELD) - 1))
        mid_ptr = ptr - ptr0 - line_starts[line]
        lines[line * LINE_WORDS] = np.uint64(head | (mid_ones << _FIELD) | (mid_ptr << (_FIELD + _MID_FIELD)))


@njit(nogil=True, cache=True)
def close(lines: np.ndarray, line_starts: np.ndarray, line0: int, ptr0: int, chunk: int, ptr: int, ones: int) -> None:
    """Finish a block stream of `chunk` chunks: rank at its end reads the head (or middle) of the line it ends in."""
    _mark(lines, line_starts, line0, ptr0, chunk, ptr, ones)
