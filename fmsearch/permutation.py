"""Inverse of a stored permutation by cycle walking with back pointers (Munro, Raman, Raman & Rao, ICALP 2003).

The suffix-array samples of format 2 on are a permutation pi: sample j (in row order) holds text position
pi(j) * rate. Its inverse gives the sampled row of a text position, which is what the inverse suffix array samples gave
format 1, without storing them: pi^-1(q) is the element before q on q's cycle. On every cycle longer than `step`,
every step-th element keeps a pointer `step` elements back (the first one to the last one); a walk from q forward to
the next element with a pointer, a jump back and a walk forward again reaches the predecessor of q in at most
2 * step + 1 reads of pi. Cost: about log2(n / rate) / step bits per sample for the pointers, plus the set of their
holders: from format 4 an Elias-Fano code (`eliasfano`, about (2 + log2 step) / step bits per sample), before it a
bitvector with a rank directory (1.06 bits per sample).

`shortcuts`, the tuple the walks take: (holders, counts, holder_heads, holder_bits, holder_low_bits, back,
group_bits)
    holders       uint64 (samples / 64 + 1)   formats 2-3: bit y: element y keeps a back pointer
    counts        uint32 (samples / 512 + 1)  formats 2-3: holders before each run of 8 words (rank directory)
    holder_heads  uint64                      format 4: the holders as an Elias-Fano code (`eliasfano.encode`)
    holder_bits   uint64                      format 4: (the arrays the other layout uses are empty and its
    holder_low_bits                           low bits -1)
    back          packed                      the back pointers in element order (intvector, the samples' width)
    group_bits                                the Elias-Fano code's group size
"""

from __future__ import annotations

import numpy as np
from numba import njit

from fmsearch import eliasfano, intvector
from fmsearch.jit import walker
from fmsearch.plainbits import _popcount
from fmsearch.prefetch import prefetch


@njit(nogil=True, cache=True)
def _shortcuts(values: np.ndarray, step: int, holders: np.ndarray, target: np.ndarray) -> int:
    """Mark the holders in `holders` and their targets in `target` (by element); returns the number of holders."""
    m = values.shape[0]
    seen = np.zeros(m, dtype=np.bool_)
    cycle = np.empty(m, dtype=np.int64)
    total = 0
    for start in range(m):
        if seen[start]:
            continue
        length = 0
        y = start
        while not seen[y]:
            seen[y] = True
            cycle[length] = y
            length += 1
            y = values[y]
        if length <= step:
            continue
        last = (length - 1) // step * step
        for o in range(0, length, step):
            y = cycle[o]
            holders[y >> 6] |= np.uint64(1) << np.uint64(y & 63)
            target[y] = cycle[o - step] if o >= step else cycle[last]
            total += 1
    return total


def build(values: np.ndarray, step: int, width: int) -> dict[str, np.ndarray]:
    """The arrays of the inverse of the permutation `values` (a permutation of 0..m-1) with back pointers every
    `step` elements of a cycle: holder_heads, holder_bits and back."""
    m = values.shape[0]
    holders = np.zeros(m // 64 + 1, dtype=np.uint64)
    target = np.zeros(m, dtype=np.int64)
    count = _shortcuts(values, step, holders, target)
    marked = np.unpackbits(holders.view(np.uint8), bitorder="little", count=m).astype(bool)
    low_bits = eliasfano.low_bits_for(m, count, eliasfano.GROUP_BITS)
    heads, bits = eliasfano.encode(holders.view(np.uint8), m, low_bits, eliasfano.GROUP_BITS)
    return {"holder_heads": heads, "holder_bits": bits, "back": intvector.pack(target[marked], width)}


@njit(nogil=True, cache=True, inline="always")
def _rank(holders: np.ndarray, counts: np.ndarray, y: int) -> int:
    """Holders before element y."""
    ones = np.int64(counts[y >> 9])
    for w in range((y >> 9) << 3, y >> 6):
        ones += _popcount(holders[w])
    return ones + _popcount(holders[y >> 6] & ((np.uint64(1) << np.uint64(y & 63)) - np.uint64(1)))


@njit(nogil=True, cache=True, inline="always")
def _holder(shortcuts, y: int) -> int:
    """Rank of element y among the holders of a back pointer, or -1 when it holds none."""
    holders, counts, heads, bits, low_bits = shortcuts[0], shortcuts[1], shortcuts[2], shortcuts[3], shortcuts[4]
    if low_bits >= 0:
        return eliasfano.find(heads, bits, low_bits, shortcuts[6], y)
    if (holders[y >> 6] >> np.uint64(y & 63)) & np.uint64(1):
        return _rank(holders, counts, y)
    return -1


@njit(nogil=True, cache=True, inline="always")
def _step(values, width: int, shortcuts, q: int, y: int, jumped: bool) -> tuple[bool, int, bool]:
    """One step of the walk from q to its predecessor, at element y: (found, the element to go on from, jumped).
    Found when values[y] == q (y is the answer); else the walk jumps back once, at the first element with a back
    pointer, and otherwise moves on to values[y]."""
    z = intvector.get(values, width, y)
    if z == q:
        return True, y, jumped
    if not jumped:
        j = _holder(shortcuts, y)
        if j >= 0:
            return False, intvector.get(shortcuts[5], width, j), True
    return False, z, jumped


@njit(nogil=True, cache=True, inline="always")
def inverse(values: np.ndarray, width: int, shortcuts, q: int) -> int:
    """The element y with values[y] == q (values packed `width` bits each, as are the back pointers)."""
    found, y, jumped = False, q, False
    while not found:
        found, y, jumped = _step(values, width, shortcuts, q, y, jumped)
    return y


@walker
def inverse_many(
    values: np.ndarray,
    width: int,
    shortcuts,
    qs: np.ndarray,
    out: np.ndarray,
    work: np.ndarray,
) -> None:
    """out[i] = inverse(qs[i]) for all i at once: the walks advance one step per round, all walks in turn, each
    prefetching its next read, so their cache misses overlap (7-9% faster snippets and extracts than without the
    prefetch). `work`: int64 scratch of shape (3, len(qs))."""
    at, jumped, live = work[0], work[1], work[2]
    remaining = qs.shape[0]
    for i in range(remaining):
        at[i] = qs[i]
        jumped[i] = 0
        live[i] = i
        prefetch(values, (at[i] * width) >> 6)
    while remaining > 0:
        kept = 0
        for t in range(remaining):
            i = np.uint64(live[t])  # unsigned indices: see fmsearch.jit
            found, at[i], jump = _step(values, width, shortcuts, qs[i], at[i], jumped[i] == 1)
            if found:
                out[i] = at[i]
                continue
            prefetch(values, (at[i] * width) >> 6)
            jumped[i] = jump
            live[kept] = i
            kept += 1
        remaining = kept
