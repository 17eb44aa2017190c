"""Grouped Elias-Fano code of a set of rows: which BWT rows hold a suffix-array sample (format 2).

Rows are cut into groups of 2^group_bits rows. A group codes its members the Elias-Fano way (Elias 1974, Fano 1971): the
high part of each member's row within the group (row >> low_bits), in unary, one 1 per member and a 0 closing each
bucket of 2^low_bits rows; then the members' low_bits low bits. With low_bits = floor(log2(rows / members)) this
takes about 2 + low_bits bits per member: 7 bits for one sampled row in 32. A uint64 head per group holds the members
before it (low 32 bits) and the stream position of its code (high 32 bits), so a query reads two adjacent heads
(a table of 8 bytes per group, mostly cached) and the group's code. Format 4 writes groups of 2^13 rows (GROUP_BITS:
the heads take 0.008 bits per row, against 0.031 with formats 2-3's groups of 2^11, for a longer scan of the group's
unary part: about 512 bits for one sampled row in 32).

    heads  uint64 (groups + 1)   members before the group | stream position of its code << 32
    bits   uint64                the groups' codes as one little-endian bit stream, plus two spare words
"""

from __future__ import annotations

import numpy as np
from numba import njit

from fmsearch.errors import InputError
from fmsearch.plainbits import _popcount
from fmsearch.rrr import read64, read_bits

GROUP_BITS = 13
LEGACY_GROUP_BITS = 11  # formats 2-3
MAX_STREAM_BITS = 2**32 - 1


def low_bits_for(rows: int, members: int, group_bits: int) -> int:
    """Low bits per member: floor(log2(rows / members)), within [0, group_bits]."""
    if members <= 0:
        return group_bits
    return max(0, min(group_bits, (rows // members).bit_length() - 1))


@njit(nogil=True, cache=True)
def _encode(marks: np.ndarray, rows: int, low_bits: int, group_bits: int, heads: np.ndarray, bits: np.ndarray) -> int:
    """Code the rows whose bit is set in `marks` (bytes, least significant bit first); returns the stream length."""
    group = 1 << group_bits
    buckets = group >> low_bits
    low_mask = (1 << low_bits) - 1
    members = np.empty(group, dtype=np.int64)
    before = 0
    pos = 0
    groups = heads.shape[0] - 1
    for g in range(groups):
        heads[g] = np.uint64(before) | (np.uint64(pos) << np.uint64(32))
        lo = g * group
        k = 0
        for byte in range(lo >> 3, (min(lo + group, rows) + 7) >> 3):
            value = marks[byte]
            if value == 0:
                continue
            for t in range(8):
                r = byte * 8 + t - lo
                if (value >> t) & 1 and lo + r < rows:
                    members[k] = r
                    k += 1
        e = 0
        for b in range(buckets):
            while e < k and (members[e] >> low_bits) == b:
                bits[pos >> 6] |= np.uint64(1) << np.uint64(pos & 63)
                pos += 1
                e += 1
            pos += 1
        for e in range(k):
            if low_bits:
                v = np.uint64(members[e] & low_mask)
                bits[pos >> 6] |= v << np.uint64(pos & 63)
                if (pos & 63) + low_bits > 64:
                    bits[(pos >> 6) + 1] |= v >> np.uint64(64 - (pos & 63))
                pos += low_bits
        before += k
    heads[groups] = np.uint64(before) | (np.uint64(pos) << np.uint64(32))
    return pos


def member_count(heads: np.ndarray) -> int:
    """Members of the code whose heads are `heads`."""
    return int(heads[-1] & np.uint64(0xFFFFFFFF))


def encode(marks: np.ndarray, rows: int, low_bits: int, group_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(heads, bits) for the rows [0, rows) whose bit is set in `marks` (np.packbits(..., bitorder="little"))."""
    groups = -(-rows // (1 << group_bits))
    members = int(np.unpackbits(marks, bitorder="little", count=rows).sum()) if rows else 0
    capacity = groups * ((1 << group_bits) >> low_bits) + members * (1 + low_bits)
    if capacity > MAX_STREAM_BITS:
        raise InputError(
            f"{members:,} suffix-array samples over {rows:,} rows need {capacity:,} bits of code, over the format's "
            f"limit of {MAX_STREAM_BITS:,}; use a larger sa_rate or smaller shards"
        )
    heads = np.zeros(groups + 1, dtype=np.uint64)
    bits = np.zeros(capacity // 64 + 3, dtype=np.uint64)
    used = _encode(marks, rows, low_bits, group_bits, heads, bits)
    return heads, bits[: used // 64 + 3].copy()  # two spare words: a 64-bit read may start in the last one


# SELECT_IN_BYTE[b * 8 + k]: the position of the k-th set bit (from 0) of byte b (8 when it has no such bit).
SELECT_IN_BYTE = np.array(
    [[([i for i in range(8) if b >> i & 1] + [8] * 8)[k] for k in range(8)] for b in range(256)], dtype=np.uint8
).ravel()
_L8 = np.uint64(0x0101010101010101)
_H8 = np.uint64(0x8080808080808080)


@njit(nogil=True, cache=True)  # a call, not inlined: as fast, and every kernel compiles faster
def _select_in_word(word: np.uint64, rank: int) -> int:
    """Position of the rank-th (from 0) set bit of `word`. Precondition: `word` has more than `rank` set bits.
    Without branches (Vigna's broadword select): the running popcounts of the bytes, compared with the rank all
    at once, give the byte holding the bit and the ones before it; a table gives the bit within that byte. A loop
    over bytes then bits mispredicted its exits."""
    x = np.uint64(word)
    s = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    s = (s & np.uint64(0x3333333333333333)) + ((s >> np.uint64(2)) & np.uint64(0x3333333333333333))
    s = (s + (s >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    sums = s * _L8  # byte i: the ones in bytes 0..i
    at_most = (((np.uint64(rank) * _L8) | _H8) - sums) & _H8  # byte i's top bit: sums[i] <= rank
    place = np.uint64((((at_most >> np.uint64(7)) * _L8) >> np.uint64(56)) * np.uint64(8))
    before = np.int64(((sums << np.uint64(8)) >> place) & np.uint64(0xFF))
    byte = np.int64((x >> place) & np.uint64(0xFF))
    return np.int64(place) + np.int64(SELECT_IN_BYTE[np.uint64(byte * 8 + rank - before)])


@njit(nogil=True, cache=True, inline="always")
def _before(heads: np.ndarray, g: int) -> int:
    """Members before group g."""
    return np.int64(heads[np.uint64(g)] & np.uint64(0xFFFFFFFF))


@njit(nogil=True, cache=True, inline="always")
def _group(heads: np.ndarray, g: int) -> tuple[int, int, int]:
    """(members before group g, its members, the stream position of its code)."""
    head = heads[np.uint64(g)]  # unsigned indices: see fmsearch.jit
    base = np.int64(head & np.uint64(0xFFFFFFFF))
    return base, _before(heads, g + 1) - base, np.int64(head >> np.uint64(32))


@njit(nogil=True, cache=True, inline="always")
def find(heads: np.ndarray, bits: np.ndarray, low_bits: int, group_bits: int, row: int) -> int:
    """Index of `row` among the members (in row order), or -1 when it is not one. Precondition: row < rows."""
    base, count, start = _group(heads, row >> group_bits)
    if count == 0:
        return -1
    bucket = (row & ((1 << group_bits) - 1)) >> low_bits
    # Skip `bucket` zeros of the unary part: the bucket's members are the ones that follow. (The scans test their
    # condition up front: written as `while True: ... break`, this function gave wrong rows once inlined.)
    pos = start
    if bucket > 0:
        skip = bucket
        zeros = ~read64(bits, pos)
        while _popcount(zeros) < skip:
            skip -= _popcount(zeros)
            pos += 64
            zeros = ~read64(bits, pos)
        pos += _select_in_word(zeros, skip - 1) + 1
    e = pos - start - bucket  # members before the bucket
    lows = start + ((1 << group_bits) >> low_bits) + count
    low = row & ((1 << low_bits) - 1)
    while (bits[np.uint64(pos >> 6)] >> np.uint64(pos & 63)) & np.uint64(1):
        v = read_bits(bits, lows + e * low_bits, low_bits)
        if v >= low:
            return base + e if v == low else -1
        e += 1
        pos += 1
    return -1


@njit(nogil=True, cache=True, inline="always")
def _group_of(heads: np.ndarray, j: int) -> int:
    """The group holding member j: the last group with at most j members before it. The search starts where an
    even spread of the members would put j (sampled rows are spread about evenly: 1.7 groups off on average on
    200 MB) and gallops from there, so it reads two or three heads where a binary search read fifteen, and a
    skewed set costs a logarithm of the distance."""
    groups = heads.shape[0] - 1
    lo = min(j * groups // _before(heads, groups), groups - 1)
    hi = lo + 1
    step = 1
    while lo > 0 and _before(heads, lo) > j:
        hi = lo
        lo = max(0, lo - step)
        step *= 2
    while hi < groups and _before(heads, hi) <= j:
        lo = hi
        hi = min(groups, hi + step)
        step *= 2
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if _before(heads, mid) <= j:
            lo = mid
        else:
            hi = mid
    return lo


@njit(nogil=True, cache=True, inline="always")
def _select_in_group(heads: np.ndarray, bits: np.ndarray, low_bits: int, group_bits: int, g: int, j: int) -> int:
    base, count, start = _group(heads, g)
    r = j - base
    pos = start
    need = r
    word = read64(bits, pos)
    while _popcount(word) <= need:
        need -= _popcount(word)
        pos += 64
        word = read64(bits, pos)
    pos += _select_in_word(word, need)
    bucket = pos - start - r
    low = read_bits(bits, start + ((1 << group_bits) >> low_bits) + count + r * low_bits, low_bits)
    return (g << group_bits) + (bucket << low_bits) + low


@njit(nogil=True, cache=True, inline="always")
def select(heads: np.ndarray, bits: np.ndarray, low_bits: int, group_bits: int, j: int) -> int:
    """The row of member j (from 0, in row order). Precondition: j < members."""
    return _select_in_group(heads, bits, low_bits, group_bits, _group_of(heads, j), j)
