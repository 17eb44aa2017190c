"""Hybrid bitvectors (after Karkkainen, Kempa & Puglisi, "Hybrid compression of bitvectors for the FM-index", DCC
2014): each block of 1024 bits is coded the cheapest of four ways. The `small` preset's node bitvectors.

Measured over the wavelet-tree nodes of a 200 MB BWT (mixed prose and C), blocks are mostly runs of equal bits:
four in five are cheapest as run lengths, and the rest plain, constant or as a short list of minority positions.
Payload 1.56 bits per corpus byte against 1.92 for RRR-15's classes and offsets, for about the same directory.
A run-length block holds about 160 runs: a rank skips them through a table, several runs per lookup, which makes
this the slowest kind to query (bench/core.py: 1.4-3x RRR's times). A full block's runs are therefore coded from
both ends, and a rank decodes the half nearer to its position: about a quarter of the block instead of half
(count 13-16% and extract 15% faster than one-sided, for 2 flag bits and one split run per block).

A block's code starts with 3 header bits (type, then one flag bit):
- CONSTANT: every bit equals the flag.
- RUNS: run lengths in Elias gamma, alternating bit values, the first run's value being the flag.
- MINORITY: the number k of minority bits (those equal to the flag) in gamma, then their k positions, sorted,
  10 bits each.
- PLAIN: the bits as they are.
- TWO_SIDED (PLAIN's header with the flag set; full blocks only): the first and the last bit, then the runs of the
  first 512 bits as in RUNS; the runs of the last 512 bits, from the block's end backward, are coded the same way
  and stored bit-reversed so that they end where the next block's code starts (which the next directory entry
  gives). Rank in the second half counts the ones after the position and subtracts them from the block's ones.

Many bitvectors (all nodes of all wavelet trees of a shard) share two flat arrays:
- `directory`: uint32 per block, plus one after the last: ones before the block (low 16 bits) and the position of
  its code relative to the bitvector's first payload bit (high 16 bits). A bitvector holds at most 2^16 bits.
- `payload`: uint64 words, the codes as one little-endian bit stream (plus a spare word).
A rank reads the block's directory entry and the next (where the block's code ends, and its ones), then decodes
on average a quarter of a run-length block's code, half of another's: one or two cache lines.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

from fmsearch.jit import walker
from fmsearch.plainbits import _popcount
from fmsearch.rrr import read64, read_bits

BLOCK_BITS = 10
BLOCK = 1 << BLOCK_BITS
CONSTANT, RUNS, MINORITY, PLAIN = 0, 1, 2, 3
TWO_SIDED = PLAIN | 4  # a full block's runs, coded from both ends: the header of PLAIN with its unused flag set
HEADER = 3
TABLE_BITS = 12  # the run-skipping table covers 12 bits of code: 16 KB (16 bits: 256 KB, slower)


@njit(nogil=True, cache=True, inline="always")
def _gamma_bits(value: int) -> int:
    n = 0
    while (value >> (n + 1)) > 0:
        n += 1
    return 2 * n + 1


@njit(nogil=True, cache=True, inline="always")
def _write(words: np.ndarray, pos: int, value: int, width: int) -> int:
    """Write the `width` (<= 57) low bits of value at bit `pos` of zeroed words; returns pos + width."""
    v = np.uint64(value)
    words[pos >> 6] |= v << np.uint64(pos & 63)
    if (pos & 63) + width > 64:
        words[(pos >> 6) + 1] |= v >> np.uint64(64 - (pos & 63))
    return pos + width


@njit(nogil=True, cache=True, inline="always")
def _write_gamma(words: np.ndarray, pos: int, value: int) -> int:
    """Elias gamma, least significant bit first: n zeros, a one, then the n bits of value below its top bit."""
    n = (_gamma_bits(value) - 1) // 2
    pos += n
    pos = _write(words, pos, 1, 1)
    return _write(words, pos, value & ((1 << n) - 1), n)


@njit(nogil=True, cache=True, inline="always")
def _read_gamma(words: np.ndarray, pos: int) -> tuple[int, int]:
    """(value, position after its code). Values are at most 2^10, so a code fits one 64-bit read."""
    word = read64(words, pos)
    n = np.int64(trailing_zeros(word))
    value = np.int64((word >> np.uint64(n + 1)) & np.uint64((1 << n) - 1)) | (1 << n)
    return value, pos + 2 * n + 1


@njit(nogil=True, cache=True)
def _runs_table() -> np.ndarray:
    """For every TABLE_BITS-bit window of a run-length code: the complete gamma codes in it, as (count | bits << 5 |
    sum of the lengths of runs 0, 2, 4... << 10 | of runs 1, 3, 5... << 19), so that a rank skips several runs per
    lookup."""
    table = np.zeros(1 << TABLE_BITS, dtype=np.uint32)
    for window in range(1 << TABLE_BITS):
        count = 0
        used = 0
        sums = np.zeros(2, dtype=np.int64)
        while used < TABLE_BITS:
            rest = window >> used
            if rest == 0:
                break
            n = 0
            while (rest >> n) & 1 == 0:
                n += 1
            if used + 2 * n + 1 > TABLE_BITS:
                break
            sums[count & 1] += ((rest >> (n + 1)) & ((1 << n) - 1)) | (1 << n)
            used += 2 * n + 1
            count += 1
        table[window] = count | (used << 5) | (sums[0] << 10) | (sums[1] << 19)
    return table


RUNS_TABLE = _runs_table()


@njit(nogil=True, cache=True)
def _run_codes(bits: np.ndarray, lo: int, hi: int, payload: np.ndarray, ptr: int, write: bool) -> int:
    """The gamma codes of the runs of bits[lo:hi]: written from `ptr` if `write`; returns ptr + their length."""
    run = 1
    for j in range(lo, hi):
        if j + 1 < hi and bits[j + 1] == bits[j]:
            run += 1
        elif write:
            ptr = _write_gamma(payload, ptr, run)
            run = 1
        else:
            ptr += _gamma_bits(run)
            run = 1
    return ptr


@njit(nogil=True, cache=True)
def _two_sided_cost(bits: np.ndarray, i: int, half: np.ndarray, payload: np.ndarray) -> int:
    """Bits of the two-sided run-length code of the full block bits[i:i + BLOCK], header included; leaves its
    second half, reversed, in `half`."""
    half[:] = bits[i + BLOCK - 1 : i + BLOCK // 2 - 1 : -1]
    first = _run_codes(bits, i, i + BLOCK // 2, payload, 0, False)
    return HEADER + 2 + first + _run_codes(half, 0, BLOCK // 2, payload, 0, False)


@njit(nogil=True, cache=True)
def encode_bits(
    bits: np.ndarray, start: int, stop: int, directory: np.ndarray, payload: np.ndarray, entry: int, ptr: int
) -> tuple[int, int]:
    """Append bits[start:stop] (uint8 0/1, at most 2^16 bits) as one bitvector: directory entries from `entry`,
    codes from payload bit `ptr` (words zeroed). Returns the next (entry, ptr)."""
    base = ptr
    ones = 0
    i = start
    half = np.empty(BLOCK // 2, dtype=np.uint8)
    backward = np.empty(BLOCK // 32 + 2, dtype=np.uint64)  # a half's codes: at most 2 bits per bit
    while True:
        directory[entry] = ones | (((ptr - base) & 0xFFFF) << 16)
        entry += 1
        if i >= stop:
            return entry, ptr
        end = min(i + BLOCK, stop)
        length = end - i
        count = 0
        for j in range(i, end):
            count += bits[j]
        # A full block's runs are split at its middle: the first half's codes run forward from the header, the second
        # half's run backward from the block's end (the next block's code), so a rank decodes the nearer half only.
        two_sided_cost = _two_sided_cost(bits, i, half, payload) if length == BLOCK else 0
        # The block's end must fit the directory's 16-bit position, which the next block's entry holds.
        two_sided = length == BLOCK and ptr + two_sided_cost - base < 0x10000
        runs_cost = two_sided_cost if two_sided else HEADER + _run_codes(bits, i, end, payload, 0, False)
        minority_bit = 1 if 2 * count <= length else 0
        k = count if minority_bit else length - count
        if k == 0:
            ptr = _write(payload, ptr, CONSTANT | ((1 - minority_bit) << 2), HEADER)
        else:
            minority_cost = _gamma_bits(k) + k * BLOCK_BITS
            if runs_cost <= minority_cost + HEADER and runs_cost < length + HEADER and two_sided:
                ptr = _write(payload, ptr, TWO_SIDED, HEADER)
                ptr = _write(payload, ptr, np.int64(bits[i]) | (np.int64(bits[end - 1]) << 1), 2)
                ptr = _run_codes(bits, i, i + BLOCK // 2, payload, ptr, True)
                backward[:] = 0
                size = _run_codes(half, 0, BLOCK // 2, backward, 0, True)  # `half`: the second half, reversed
                for t in range(size):  # stored bit-reversed, so that reading back from the end gives them in order
                    if (backward[t >> 6] >> np.uint64(t & 63)) & np.uint64(1):
                        payload[(ptr + size - 1 - t) >> 6] |= np.uint64(1) << np.uint64((ptr + size - 1 - t) & 63)
                ptr += size
            elif runs_cost <= minority_cost + HEADER and runs_cost < length + HEADER:
                ptr = _write(payload, ptr, RUNS | (np.int64(bits[i]) << 2), HEADER)
                ptr = _run_codes(bits, i, end, payload, ptr, True)
            elif minority_cost < length:
                ptr = _write(payload, ptr, MINORITY | (minority_bit << 2), HEADER)
                ptr = _write_gamma(payload, ptr, k)
                for j in range(i, end):
                    if bits[j] == minority_bit:
                        ptr = _write(payload, ptr, j - i, BLOCK_BITS)
            else:
                ptr = _write(payload, ptr, PLAIN, HEADER)
                for j in range(i, end):
                    if bits[j]:
                        payload[ptr >> 6] |= np.uint64(1) << np.uint64(ptr & 63)
                    ptr += 1
        ones += count
        i = end


@njit(nogil=True, cache=True, inline="always")
def _reverse64(x: np.uint64) -> np.uint64:
    x = ((x >> np.uint64(1)) & np.uint64(0x5555555555555555)) | ((x & np.uint64(0x5555555555555555)) << np.uint64(1))
    x = ((x >> np.uint64(2)) & np.uint64(0x3333333333333333)) | ((x & np.uint64(0x3333333333333333)) << np.uint64(2))
    x = ((x >> np.uint64(4)) & np.uint64(0x0F0F0F0F0F0F0F0F)) | ((x & np.uint64(0x0F0F0F0F0F0F0F0F)) << np.uint64(4))
    x = ((x >> np.uint64(8)) & np.uint64(0x00FF00FF00FF00FF)) | ((x & np.uint64(0x00FF00FF00FF00FF)) << np.uint64(8))
    x = ((x >> np.uint64(16)) & np.uint64(0x0000FFFF0000FFFF)) | ((x & np.uint64(0x0000FFFF0000FFFF)) << np.uint64(16))
    return (x >> np.uint64(32)) | (x << np.uint64(32))


@njit(nogil=True, cache=True, inline="always")
def _window(payload: np.ndarray, pos: int, end: int) -> np.uint64:
    """64 bits of run codes from their bit `pos`: forward from payload bit `pos`, or, when end >= 0, backward from
    payload bit `end` (codes stored bit-reversed just before it)."""
    if end < 0:
        return read64(payload, pos)
    p = end - 64 - pos
    if p >= 0:
        return _reverse64(read64(payload, p))
    if p <= -64:
        return np.uint64(0)
    return _reverse64(read64(payload, 0) << np.uint64(-p))  # below bit 0 lies nothing of this block


@njit(nogil=True, cache=True, inline="always")
def _runs(payload: np.ndarray, pos: int, end: int, value: int, r: int) -> tuple[int, int]:
    """(bit r, ones before it) of bits coded as run lengths in Elias gamma from `pos` (see `_window`), the first run
    of value `value`. Precondition: the runs cover bit r."""
    # Codes are read from a 64-bit window, refilled when fewer bits than the longest code (21) are left.
    done = 0
    ones = 0
    window = _window(payload, pos, end)
    left = 64
    while True:
        if left < 2 * BLOCK_BITS + 1:
            pos += 64 - left
            window = _window(payload, pos, end)
            left = 64
        group = np.int64(RUNS_TABLE[np.int64(window & np.uint64((1 << TABLE_BITS) - 1))])
        if group & 31:
            even = (group >> 10) & 511
            odd = (group >> 19) & 511
            if done + even + odd <= r:  # every run of the group ends before r
                done += even + odd
                ones += even if value else odd
                value ^= group & 1
                window >>= np.uint64((group >> 5) & 31)
                left -= (group >> 5) & 31
                continue
        n = np.int64(trailing_zeros(window))
        length = np.int64((window >> np.uint64(n + 1)) & np.uint64((1 << n) - 1)) | (1 << n)
        window >>= np.uint64(2 * n + 1)
        left -= 2 * n + 1
        if done + length > r:
            return value, ones + value * (r - done)
        done += length
        ones += value * length
        value ^= 1


@walker
def decode_block(payload: np.ndarray, ptr: int, end: int, total: int, r: int) -> tuple[int, int]:
    """(bit r, ones before bit r) of the block whose code starts at payload bit `ptr` and ends at `end`, holding
    `total` ones. Precondition: r < the block's length."""
    header = read_bits(payload, ptr, HEADER)
    kind = header & 3
    flag = header >> 2
    ptr += HEADER
    if kind == CONSTANT:
        return flag, r * flag
    if kind == RUNS:
        return _runs(payload, ptr, -1, flag, r)
    if header == TWO_SIDED:
        first = read_bits(payload, ptr, 2)
        if r < BLOCK // 2:
            return _runs(payload, ptr + 2, -1, first & 1, r)
        bit, after = _runs(payload, 0, end, first >> 1, BLOCK - 1 - r)
        return bit, total - after - bit
    if kind == MINORITY:
        k, ptr = _read_gamma(payload, ptr)
        lo = 0  # minority positions before r: binary search over the sorted fixed-width list
        hi = k
        while lo < hi:
            mid = (lo + hi) >> 1
            if read_bits(payload, ptr + mid * BLOCK_BITS, BLOCK_BITS) < r:
                lo = mid + 1
            else:
                hi = mid
        hit = lo < k and read_bits(payload, ptr + lo * BLOCK_BITS, BLOCK_BITS) == r
        bit = flag if hit else 1 - flag
        return bit, lo if flag else r - lo
    ones = 0
    while r >= 64:
        ones += _popcount(read64(payload, ptr))
        ptr += 64
        r -= 64
    word = read64(payload, ptr)
    return np.int64((word >> np.uint64(r)) & np.uint64(1)), ones + _popcount(
        word & ((np.uint64(1) << np.uint64(r)) - np.uint64(1))
    )


@njit(nogil=True, cache=True, inline="always")
def locate_block(directory: np.ndarray, dir0: int, ptr_base: int, pos: int) -> tuple[int, int, int, int]:
    """(ones before the block holding `pos`, payload positions where its code starts and ends, its ones)."""
    q = dir0 + (pos >> BLOCK_BITS)
    entry = np.int64(directory[q])
    after = np.int64(directory[q + 1]) if q + 1 < directory.shape[0] else entry  # a bitvector's last entry: unused
    ones = entry & 0xFFFF
    return ones, ptr_base + (entry >> 16), ptr_base + (after >> 16), (after & 0xFFFF) - ones


@njit(nogil=True, cache=True, inline="always")
def rank1(directory: np.ndarray, payload: np.ndarray, dir0: int, ptr_base: int, pos: int) -> int:
    """Ones in bits [0, pos) of the bitvector with first entry `dir0` and first payload bit `ptr_base`.
    Precondition: 0 <= pos <= its length."""
    ones, ptr, end, total = locate_block(directory, dir0, ptr_base, pos)
    r = pos & (BLOCK - 1)
    if r == 0:
        return ones
    return ones + decode_block(payload, ptr, end, total, r)[1]


@njit(nogil=True, cache=True, inline="always")
def access_rank1(directory: np.ndarray, payload: np.ndarray, dir0: int, ptr_base: int, pos: int) -> tuple[int, int]:
    """(bit at `pos`, ones in bits [0, pos)). Precondition: 0 <= pos < length of the bitvector."""
    ones, ptr, end, total = locate_block(directory, dir0, ptr_base, pos)
    bit, below = decode_block(payload, ptr, end, total, pos & (BLOCK - 1))
    return bit, ones + below
