"""Bit-packed vectors of unsigned integers of a fixed width (the sampled suffix array and its inverse).

Value i occupies bits [i*width, (i+1)*width) of a little-endian stream of uint64 words, plus one spare word so
that a read never runs past the end.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from fmsearch.rrr import read_bits


def width_for(max_value: int) -> int:
    return max(1, int(max_value).bit_length())


@njit(nogil=True, cache=True)
def _pack(values: np.ndarray, width: int, words: np.ndarray) -> None:
    for i in range(values.shape[0]):
        pos = i * width
        v = np.uint64(values[i])
        words[pos >> 6] |= v << np.uint64(pos & 63)
        if (pos & 63) + width > 64:
            words[(pos >> 6) + 1] |= v >> np.uint64(64 - (pos & 63))


def pack(values: np.ndarray, width: int) -> np.ndarray:
    """Pack non-negative integers (each < 2**width, width <= 32) into uint64 words."""
    if width > 32:
        raise ValueError(f"packed width {width} > 32 bits is not supported")
    words = np.zeros(values.shape[0] * width // 64 + 2, dtype=np.uint64)
    _pack(np.ascontiguousarray(values), width, words)
    return words


@njit(nogil=True, cache=True, inline="always")
def get(words: np.ndarray, width: int, i: int) -> int:
    """Value i of a packed vector. Precondition: i < number of packed values."""
    return read_bits(words, i * width, width)
