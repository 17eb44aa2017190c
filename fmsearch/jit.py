"""How the query kernels are compiled.

`walker` compiles a kernel that walks the index without numba's reference counting. With it, every array taken out
of the index tuple inside a loop costs an atomic increment and decrement, and each atomic is a full memory barrier
that stops the processor from overlapping the cache misses of a walk: measured, a 50-byte count took 1.8x longer.
Such a kernel cannot allocate; an allocating caller (plain `njit`) passes it scratch arrays. Helpers inlined into it
(`inline="always"`) are compiled under its flags.
"""

from __future__ import annotations

from numba import njit

# `_nrt` is numba's own switch for its runtime (used by numba's tests); should a numba release drop it, decorating
# fails at import, not silently.
WALKER_OPTIONS = {"nogil": True, "cache": True, "_nrt": False}
walker = njit(**WALKER_OPTIONS)
