"""Plain bitvectors with the rank directory inside each cache line (the `fast` preset's node bitvectors).

A bitvector is a run of 64-byte lines. Each line is 8 uint64 words holding the ones before the line (low 16 bits of
word 0; a bitvector holds at most 2^16 bits) and 496 bits of the vector (the rest of word 0, then words 1..7).
Rank and access read exactly one line: one cache miss per wavelet-tree level, against two for RRR (directory, then
offsets). The price is size: 512 bits stored per 496, uncompressed.
"""

from __future__ import annotations

import numpy as np
from numba import njit

LINE_BITS = 496
LINE_WORDS = 8
_HEAD = 48  # data bits in word 0, above the 16-bit count


@njit(nogil=True, cache=True, inline="always")
def lines_for(bits: int) -> int:
    """Lines of a bitvector of `bits` bits (one more than full, so rank(len) always has a line to read)."""
    return bits // LINE_BITS + 1


@njit(nogil=True, cache=True, inline="always")
def _popcount(x: np.uint64) -> int:
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@njit(nogil=True, cache=True, inline="always")
def rank1(words: np.ndarray, line0: int, pos: int) -> int:
    """Ones in bits [0, pos) of the bitvector starting at line `line0`. Precondition: 0 <= pos <= its length."""
    q = pos // LINE_BITS
    r = pos - q * LINE_BITS
    w = (line0 + q) * LINE_WORDS
    head = words[w]
    ones = np.int64(head & np.uint64(0xFFFF))
    if r <= _HEAD:
        return ones + _popcount((head >> np.uint64(16)) & np.uint64((1 << r) - 1))
    ones += _popcount(head >> np.uint64(16))
    r -= _HEAD
    k = 1
    while r >= 64:
        ones += _popcount(words[w + k])
        r -= 64
        k += 1
    if r:
        ones += _popcount(words[w + k] & np.uint64((1 << r) - 1))
    return ones


@njit(nogil=True, cache=True, inline="always")
def access_rank1(words: np.ndarray, line0: int, pos: int) -> tuple[int, int]:
    """(bit at `pos`, ones in bits [0, pos)). Precondition: 0 <= pos < length of the bitvector."""
    q = pos // LINE_BITS
    r = pos - q * LINE_BITS
    w = (line0 + q) * LINE_WORDS
    if r < _HEAD:
        bit = np.int64((words[w] >> np.uint64(16 + r)) & np.uint64(1))
    else:
        k = (r - _HEAD) // 64
        bit = np.int64((words[w + 1 + k] >> np.uint64((r - _HEAD) & 63)) & np.uint64(1))
    return bit, rank1(words, line0, pos)


@njit(nogil=True, cache=True)
def encode_bits(bits: np.ndarray, start: int, stop: int, words: np.ndarray, line: int) -> int:
    """Write bits[start:stop] (uint8 0/1, at most 2^16 bits) as one bitvector from line `line` (words zeroed).
    Returns the next free line."""
    ones = 0
    for i in range(stop - start):
        q = i // LINE_BITS
        r = i - q * LINE_BITS
        w = (line + q) * LINE_WORDS
        if r == 0:
            words[w] |= np.uint64(ones)
        if bits[start + i]:
            if r < _HEAD:
                words[w] |= np.uint64(1) << np.uint64(16 + r)
            else:
                words[w + 1 + (r - _HEAD) // 64] |= np.uint64(1) << np.uint64((r - _HEAD) & 63)
            ones += 1
    count = (stop - start) // LINE_BITS + 1
    if (stop - start) % LINE_BITS == 0:
        # The extra line that rank(length) reads: its count is all the ones.
        words[(line + count - 1) * LINE_WORDS] |= np.uint64(ones)
    return line + count
