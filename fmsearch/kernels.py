"""FM-index kernels: backward search, LF walks (locate, extract) and matching statistics.

Pure functions on arrays, compiled with numba and releasing the GIL. The index object (`index.py`) checks every
argument before calling them; here every precondition is assumed. The loops are `jit.walker`s (no reference
counting, so no allocation): an entry point that returns an array is a thin `njit` wrapper that allocates it and the
walker's scratch space.

Conventions. The text T (n bytes) is every document preceded by 0xFF. The BWT has n + 1 rows: row 0 is the empty
suffix, and the row `primary` whose suffix is all of T has no preceding byte; it is stored as 0xFF, so rank of 0xFF is
one too high after it (`lf` corrects this; backward search never asks, as patterns cannot hold 0xFF).
`fm` is the tuple (wt, first_row, symbol_of_byte, byte_of_symbol, primary, sa_rate, sa_width, sa_samples,
isa_rate, isa_width, isa_samples, n, sampled_row_heads, sampled_row_bits, sample_low_bits, isa_holders, isa_counts,
isa_holder_heads, isa_holder_bits, isa_holder_low_bits, isa_back, group_bits), where first_row[c] is the first row
whose suffix starts with dense symbol c; fm[15:22] are the shortcuts of `permutation`; group_bits is the Elias-Fano
codes' group size (of the sampled rows and the holders).

Samples. Format 2 samples the suffix array in text order: the rows of the positions divisible by sa_rate, found
through `eliasfano`, hold position / sa_rate; the row of such a position comes from the inverse of that permutation
(`permutation`), so it doubles as the inverse-SA sample (isa_rate == sa_rate, isa_samples empty). Format 1 sampled
every sa_rate-th row and stored inverse-SA samples every isa_rate positions; its shards say so with
sample_low_bits == -1 and empty text-order arrays.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from fmsearch import eliasfano, intvector, permutation, wavelet
from fmsearch.jit import walker


@njit(nogil=True, cache=True, inline="always")
def symbol_rows(fm, c: int) -> tuple[int, int]:
    """Row interval [sp, ep) of the suffixes starting with dense symbol c: the first step of a backward search,
    read from the C array instead of ranked."""
    first_row = fm[1]
    return first_row[c], first_row[c + 1] if c + 1 < first_row.shape[0] else fm[11] + 1


@walker
def backward_search(fm, pattern: np.ndarray, start: int, stop: int) -> tuple[int, int]:
    """Row interval [sp, ep) of the suffixes starting with pattern[start:stop] (uint8); sp == ep when absent."""
    wt, first_row, symbol_of_byte = fm[0], fm[1], fm[2]
    if stop <= start:
        return 0, fm[11] + 1
    c = symbol_of_byte[pattern[stop - 1]]
    if c < 0:
        return 0, 0
    sp, ep = symbol_rows(fm, c)
    for j in range(stop - 2, start - 1, -1):
        c = symbol_of_byte[pattern[j]]
        if c < 0:
            return 0, 0
        next_c = symbol_of_byte[pattern[j - 1]] if j > start else -1
        rs, re = wavelet.rank_pair(wt, c, sp, ep, first_row[c], next_c)
        sp = first_row[c] + rs
        ep = first_row[c] + re
        if sp >= ep:
            return 0, 0
    return sp, ep


@njit(nogil=True, cache=True)
def count_many(fm, patterns: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Occurrences of each pattern patterns[bounds[i]:bounds[i+1]] (int64, one per pattern).

    The backward searches of all patterns advance together, one byte per round, their 2 ranks per pattern batched
    into one `wavelet.rank_many` call so that the cache misses of different patterns overlap.
    """
    count = bounds.shape[0] - 1
    out = np.zeros(count, dtype=np.int64)
    _count_many(fm, patterns, bounds, out, np.empty((7, 2 * count), dtype=np.int64), wavelet.workspace(2 * count))
    return out


@walker
def _count_many(fm, patterns, bounds, out, state, work) -> None:
    first_row, symbol_of_byte = fm[1], fm[2]
    count = bounds.shape[0] - 1
    sp, ep, at, live, symbols, positions, ranks = state[0], state[1], state[2], state[3], state[4], state[5], state[6]
    remaining = 0
    for k in range(count):
        sp[k] = 0
        ep[k] = fm[11] + 1
        at[k] = bounds[k + 1] - 1  # next byte to prepend, from the end of each pattern
        if at[k] >= bounds[k]:  # the first byte's rows come from the C array
            c = symbol_of_byte[patterns[at[k]]]
            if c < 0:
                continue
            sp[k], ep[k] = symbol_rows(fm, c)
            at[k] -= 1
        live[remaining] = k
        remaining += 1
    while remaining > 0:
        kept = 0
        for t in range(remaining):
            k = live[t]
            if at[k] < bounds[k]:
                out[k] = ep[k] - sp[k]
                continue
            c = symbol_of_byte[patterns[at[k]]]
            if c < 0:
                continue
            symbols[2 * kept] = c
            symbols[2 * kept + 1] = c
            positions[2 * kept] = sp[k]
            positions[2 * kept + 1] = ep[k]
            live[kept] = k
            kept += 1
        remaining = kept
        wavelet.rank_many(fm[0], symbols[: 2 * remaining], positions[: 2 * remaining], ranks[: 2 * remaining], work)
        kept = 0
        for t in range(remaining):
            k = live[t]
            c = symbols[2 * t]
            sp[k] = first_row[c] + ranks[2 * t]
            ep[k] = first_row[c] + ranks[2 * t + 1]
            at[k] -= 1
            if sp[k] < ep[k]:
                live[kept] = k
                kept += 1
        remaining = kept


@walker
def lf(fm, row: int) -> tuple[int, int]:
    """(dense symbol preceding the suffix of `row`, row of the suffix one position earlier in T)."""
    c, r = wavelet.access_rank(fm[0], row)
    if c == fm[2][255] and row > fm[4]:
        r -= 1
    return c, fm[1][c] + r


@walker
def lf_many(fm, rows: np.ndarray, symbols: np.ndarray, out: np.ndarray, work: np.ndarray) -> None:
    """`lf` of every row at once (prefetching walks, see wavelet.access_rank_many): symbols[k] and out[k]."""
    wavelet.access_rank_many(fm[0], rows, symbols, out, work)
    first_row, separator, primary = fm[1], fm[2][255], fm[4]
    for k in range(rows.shape[0]):
        c = symbols[k]
        out[k] += first_row[c] - (1 if c == separator and rows[k] > primary else 0)


@walker
def sample_position(fm, row: int) -> int:
    """The text position of `row` when the row holds a suffix-array sample, else -1."""
    if fm[14] < 0:
        if row == fm[4]:
            return 0
        if row % fm[5] == 0:
            return intvector.get(fm[7], fm[6], row // fm[5])
        return -1
    j = eliasfano.find(fm[12], fm[13], fm[14], fm[21], row)
    return -1 if j < 0 else intvector.get(fm[7], fm[6], j) * fm[5]


@walker
def sampled_row(fm, q: int) -> int:
    """The row of text position q * isa_rate (< n)."""
    if fm[14] < 0:
        return intvector.get(fm[10], fm[9], q)
    j = permutation.inverse(fm[7], fm[6], fm[15:22], q)
    return eliasfano.select(fm[12], fm[13], fm[14], fm[21], j)


@njit(nogil=True, cache=True)
def locate_range(fm, sp: int, ep: int) -> np.ndarray:
    """Text positions of rows [sp, ep) (int64, in row order): every row walks LF to a sampled row, all walks
    advancing together through `lf_many` so their cache misses overlap."""
    count = ep - sp
    out = np.empty(count, dtype=np.int64)
    _locate_range(fm, sp, out, np.empty((5, count), dtype=np.int64), wavelet.workspace(count))
    return out


@walker
def _locate_range(fm, sp, out, state, work) -> None:
    count = out.shape[0]
    rows, live, current, symbols, moved = state[0], state[1], state[2], state[3], state[4]
    for k in range(count):
        rows[k] = sp + k
        live[k] = k
    remaining = count
    steps = 0
    while remaining > 0:
        kept = 0
        for t in range(remaining):
            k = live[t]
            position = sample_position(fm, rows[k])
            if position >= 0:
                out[k] = position + steps
            else:
                live[kept] = k
                current[kept] = rows[k]
                kept += 1
        remaining = kept
        lf_many(fm, current[:remaining], symbols[:remaining], moved[:remaining], work)
        for t in range(remaining):
            rows[live[t]] = moved[t]
        steps += 1


@njit(nogil=True, cache=True)
def extract(fm, lo: int, hi: int) -> np.ndarray:
    """T[lo:hi] as uint8. Each stretch between two inverse-SA samples is rebuilt by walking LF back from the sample
    after it; all stretches walk together through `lf_many`, so their cache misses overlap. Long ranges of format 2
    use every `spread`-th sample only (up to 8), as finding a sample's row costs a few cache misses of its own."""
    out = np.empty(hi - lo, dtype=np.uint8)
    if hi > lo:
        spread = 1 if fm[14] < 0 else min(8, max(1, (hi - lo) // (fm[8] * 64)))
        stride = fm[8] * spread
        stretches = (hi + stride - 1) // stride - lo // stride
        _extract(fm, lo, hi, spread, out, np.empty((9, stretches), dtype=np.int64), wavelet.workspace(stretches))
    return out


@walker
def _extract(fm, lo, hi, spread, out, state, work) -> None:
    byte_of_symbol, n = fm[3], fm[11]
    stride = fm[8] * spread
    first = lo // stride + 1  # stretch s covers positions ((first + s - 1) * stride, (first + s) * stride], downwards
    stretches = state.shape[1]
    rows, pos, active, current, symbols, moved = state[0], state[1], state[2], state[3], state[4], state[5]
    inside = 0  # stretches that start at a sample before n: the first ones
    for s in range(stretches):
        k = first + s
        if k * stride >= n:
            pos[s], rows[s] = n, 0
        else:
            pos[s] = k * stride
            current[s] = k * spread
            inside += 1
    if fm[14] < 0:
        for s in range(inside):
            rows[s] = sampled_row(fm, current[s])
    else:
        # The ranks among the samples of all start samples at once, so that the cache misses of their inverse
        # permutation walks overlap; then the rows of those ranks.
        samples = moved[:inside]
        permutation.inverse_many(fm[7], fm[6], fm[15:22], current[:inside], samples, state[6:9, :inside])
        for s in range(inside):
            rows[s] = eliasfano.select(fm[12], fm[13], fm[14], fm[21], samples[s])
    while True:
        live = 0
        for s in range(stretches):
            if pos[s] > lo and pos[s] > (first + s - 1) * stride:
                active[live] = s
                current[live] = rows[s]
                live += 1
        if live == 0:
            return
        lf_many(fm, current[:live], symbols[:live], moved[:live], work)
        for t in range(live):
            s = np.uint64(active[t])  # unsigned indices: see fmsearch.jit
            q = pos[s]
            if q <= hi:
                out[np.uint64(q - 1 - lo)] = byte_of_symbol[np.uint64(symbols[t])]
            rows[s] = moved[t]
            pos[s] = q - 1


@njit(nogil=True, cache=True)
def matching_statistics(fm, text: np.ndarray) -> np.ndarray:
    """ms[i] = length of the longest prefix of text[i:] that occurs in T (int64 per byte of `text`).

    One right-to-left pass of backward search keeps the interval of text[i:j], j = i + ms[i]: one rank pair per
    byte while the match extends. When text[i-1] cannot be prepended, the new right end is the largest j' with
    text[i-1:j'] occurring (occurrence is monotone in j'): found by galloping up from j' = i, then bisecting, so a
    shrink costs O(ms[i-1] log ms[i-1]) steps however long the match it ends (near-copies stay linear).
    """
    ms = np.zeros(text.shape[0], dtype=np.int64)
    _matching_statistics(fm, text, ms)
    return ms


@walker
def _matching_statistics(fm, text, ms) -> None:
    m = text.shape[0]
    wt, first_row, symbol_of_byte = fm[0], fm[1], fm[2]
    full = fm[11] + 1
    i = m
    j = m
    # Typed starts, not literal 0s: a literal argument makes numba compile rank_pair once more (9 s of first compile).
    sp = np.int64(0)
    ep = full
    while i > 0:
        c = symbol_of_byte[text[i - 1]]
        if c < 0:
            i -= 1
            j = i
            sp, ep = np.int64(0), full
            continue
        next_c = symbol_of_byte[text[i - 2]] if i > 1 else -1
        rs, re = wavelet.rank_pair(wt, c, sp, ep, first_row[c], next_c)
        nsp = first_row[c] + rs
        nep = first_row[c] + re
        if nsp < nep:
            i -= 1
            sp, ep = nsp, nep
        else:
            # text[i-1:i] occurs (c does) and text[i-1:j] does not: gallop, then bisect, between them.
            lo, hi = i, j
            sp, ep = backward_search(fm, text, i - 1, i)
            step = 1
            while lo + step < hi:
                psp, pep = backward_search(fm, text, i - 1, lo + step)
                if psp >= pep:
                    hi = lo + step
                    break
                lo, sp, ep = lo + step, psp, pep
                step *= 2
            while hi - lo > 1:
                mid = (lo + hi) // 2
                psp, pep = backward_search(fm, text, i - 1, mid)
                if psp < pep:
                    lo, sp, ep = mid, psp, pep
                else:
                    hi = mid
            j = lo
            i -= 1
        ms[i] = j - i
