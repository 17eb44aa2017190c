"""Kernels of contamination scoring: which windows of one entry occur, its longest match, window counts.

Pure numba functions on arrays: backward search (Ferragina & Manzini) written with the core's wavelet-tree ranks
(`fmsearch.wavelet.rank_pair`, `access_rank`) over `idx.fm`, so the searches can stop and resume where we need.
Positions are code points; `cb` (int64, chars + 1) maps a code point to its byte offset in `data` (uint8, the
entry's UTF-8), so a match is always extended one whole character at a time. Preconditions (checked by the caller):
windows are sorted by start, non-empty, inside the text, and their ends never decrease.

Two facts make the work per entry small (Ferragina & Manzini backward search; the pruning below is ours):
- If text[a:b] occurs, every substring of it occurs: one search that reaches a proves every window inside [a, b).
- If text[a:b] does not occur, no string containing it does: one search that stops at a disproves every window
  holding [a, b) (all later windows starting at or before a), and every longer candidate match holding it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from fmsearch import wavelet
from fmsearch.jit import walker

OCCURS = 1
UNKNOWN = 0
ABSENT = -1


@walker
def left_end(fm, data: np.ndarray, cb: np.ndarray, right: int, stop: int) -> int:
    """Smallest left >= stop such that text[left:right] occurs (chars): one backward search from `right`, a byte at
    a time, that stops as soon as the interval empties. left == right when character right-1 does not occur.

    Once the interval is a single row (a long match usually occurs once) a step needs one wavelet walk, not two:
    the row's own symbol and rank say whether the byte can be prepended and where that leads.
    """
    wt, first_row, symbol_of_byte = fm[0], fm[1], fm[2]
    sp = np.int64(0)  # typed, not a literal 0: a literal argument makes numba compile the walks once more
    ep = fm[11] + 1
    c = right
    b = cb[right]
    low = cb[stop]
    while b > low:
        s = symbol_of_byte[data[b - 1]]
        if s < 0:
            break
        if ep - sp == 1:
            t, r = wavelet.access_rank(wt, sp)
            if t != s:
                break
            sp = first_row[s] + r
            ep = sp + 1
        else:
            next_s = symbol_of_byte[data[b - 2]] if b - 1 > low else -1
            rs, re = wavelet.rank_pair(wt, s, sp, ep, first_row[s], next_s)
            if rs >= re:
                break
            sp = first_row[s] + rs
            ep = first_row[s] + re
        b -= 1
        if b == cb[c - 1]:
            c -= 1
    return c


@njit(nogil=True, cache=True)
def windows_found(
    fm, data: np.ndarray, cb: np.ndarray, starts: np.ndarray, ends: np.ndarray, found: np.ndarray, absent: np.ndarray
) -> tuple[int, int]:
    """Mark in `found` (uint8 per window, in/out) every window text[starts[k]:ends[k]] that occurs in this index.
    Returns (the length of the longest substring seen occurring on the way, a lower bound for `longest_match`;
    the number m of rows written to `absent`, int64 (windows + 1, 2): spans [a, b) of the text seen absent).

    Windows already marked (found in another shard) are not searched again. First one search from the end of the
    text: a verbatim copy is settled by it alone, and whatever it matches proves the windows inside. Then windows go
    left to right in groups k..j, one backward search from ends[j] toward starts[k]: reaching starts[k] proves the
    whole group, and the group doubles after each success. When the search stops at `left`, text[left-1:ends[j]] is
    absent, which disproves at once every window j' >= j starting before `left`, and the windows of the group
    starting at or after `left` are proven.
    """
    n_win = starts.shape[0]
    n = cb.shape[0] - 1
    state = np.zeros(n_win, dtype=np.int8)
    for k in range(n_win):
        if found[k]:
            state[k] = OCCURS
    n_absent = 0
    left = left_end(fm, data, cb, n, 0)
    longest = n - left
    if left > 0:
        absent[n_absent, 0] = left - 1
        absent[n_absent, 1] = n
        n_absent += 1
    for k in range(n_win):
        if starts[k] >= left:
            state[k] = OCCURS
        elif ends[k] == n and state[k] == UNKNOWN:
            state[k] = ABSENT
    k = 0
    group = 1
    while k < n_win:
        if state[k] != UNKNOWN:
            k += 1
            continue
        j = k
        # A group never spans a window already disproved: the search would be bound to fail on it.
        while j + 1 < n_win and j + 1 - k < group and state[j + 1] != ABSENT:
            j += 1
        left = left_end(fm, data, cb, ends[j], starts[k])
        longest = max(longest, ends[j] - left)
        if left == starts[k]:
            for t in range(k, j + 1):
                state[t] = OCCURS
            k = j + 1
            if group < n_win:
                group *= 2
        else:
            absent[n_absent, 0] = left - 1
            absent[n_absent, 1] = ends[j]
            n_absent += 1
            for t in range(k, j + 1):
                if starts[t] >= left:
                    state[t] = OCCURS
            t = j
            while t < n_win and starts[t] < left:
                if state[t] == UNKNOWN:
                    state[t] = ABSENT
                t += 1
            group = 1
    for k in range(n_win):
        if state[k] == OCCURS:
            found[k] = 1
    return longest, n_absent


@walker
def _occurs(fm, data: np.ndarray, cb: np.ndarray, known: np.ndarray, lo: int, hi: int) -> bool:
    """Does text[lo:hi] occur? No search when a known absent span lies inside it (known[hi] >= lo)."""
    if known[hi] >= lo:
        return False
    return left_end(fm, data, cb, hi, lo) == lo


@walker
def _right_end(fm, data: np.ndarray, cb: np.ndarray, known: np.ndarray, s: int, r: int, n: int) -> int:
    """Largest b in [r, n] with text[s:b] occurring, given that text[s:r] occurs: the whole rest first (a verbatim
    copy), then galloping and binary search; failed tests are cheap, they stop where the interval empties."""
    if r == n or _occurs(fm, data, cb, known, s, n):
        return n
    lo = r
    hi = n
    step = 1
    while lo + step < hi:
        if _occurs(fm, data, cb, known, s, lo + step):
            lo += step
            step *= 2
        else:
            hi = lo + step
            break
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _occurs(fm, data, cb, known, s, mid):
            lo = mid
        else:
            hi = mid
    return lo


@njit(nogil=True, cache=True)
def longest_match(fm, data: np.ndarray, cb: np.ndarray, best: int, absent: np.ndarray, n_absent: int) -> int:
    """Length in characters of the longest substring of the text occurring in this index, or `best` if none is
    longer (pass a length known to occur somewhere, e.g. in another shard, to prune; 0 otherwise). absent[:n_absent]
    are spans [a, b) already known absent in this index (from `windows_found`): they rule right ends out for free.

    Right ends r go left to right, each tested only for a match longer than `best` (a backward search from r that
    must reach r - best - 1). A span [a, r') absent with r' <= r and a >= r - best - 1 rules r out, and so does a
    search from r stopping at `left` (text[left-1:r] absent): skip to the first right end the span cannot rule out.
    A success at r gives the left-maximal start s; then text[s:b] for the largest b is the longest match ending
    anywhere in [r, b] (a longer one would contain the absent text[s-1:r]).
    """
    n = cb.shape[0] - 1
    # known[r] = the largest a of a known absent span [a, b) with b <= r (-1: none)
    known = np.full(n + 1, -1, dtype=np.int64)
    for i in range(n_absent):
        b = absent[i, 1]
        if absent[i, 0] > known[b]:
            known[b] = absent[i, 0]
    for r in range(1, n + 1):
        if known[r - 1] > known[r]:
            known[r] = known[r - 1]
    r = best + 1
    while r <= n:
        if known[r] >= r - best - 1:
            r = known[r] + best + 2
            continue
        left = left_end(fm, data, cb, r, 0)
        if left > r - best - 1:
            r = left + best + 1
        else:
            b = _right_end(fm, data, cb, known, left, r, n)
            best = b - left
            r = b + 1
    return best


@njit(nogil=True, cache=True)
def window_counts(
    fm,
    data: np.ndarray,
    cb: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    which: np.ndarray,
    stop_at_one: bool,
) -> np.ndarray:
    """Occurrences (int64) of the windows `which` (indices), in that order, by backward search.

    With `stop_at_one` the windows are known to occur in this index, so a search whose interval narrows to one row
    has count 1, the least possible: it stops there and leaves -1 for the windows after it.
    """
    out = np.full(which.shape[0], -1, dtype=np.int64)
    _window_counts(fm, data, cb, starts, ends, which, stop_at_one, out)
    return out


@walker
def _window_counts(fm, data, cb, starts, ends, which, stop_at_one, out) -> None:
    wt, first_row, symbol_of_byte = fm[0], fm[1], fm[2]
    for t in range(which.shape[0]):
        k = which[t]
        sp = np.int64(0)
        ep = fm[11] + 1
        first = cb[starts[k]]
        for b in range(cb[ends[k]] - 1, first - 1, -1):
            s = symbol_of_byte[data[b]]
            if s < 0:
                sp = ep = np.int64(0)
                break
            next_s = symbol_of_byte[data[b - 1]] if b > first else -1
            rs, re = wavelet.rank_pair(wt, s, sp, ep, first_row[s], next_s)
            sp = first_row[s] + rs
            ep = first_row[s] + re
            if sp >= ep or (stop_at_one and ep - sp == 1):
                break
        out[t] = max(ep - sp, 0)
        if stop_at_one and out[t] == 1:
            break
