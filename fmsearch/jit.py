"""How the query kernels are compiled.

`walker` compiles a kernel that walks the index without numba's reference counting. With it, every array taken out
of the index tuple inside a loop costs an atomic increment and decrement, and each atomic is a full memory barrier
that stops the processor from overlapping the cache misses of a walk: measured, a 50-byte count took 1.8x longer.
Such a kernel cannot allocate; an allocating caller (plain `njit`) passes it scratch arrays. Helpers inlined into it
(`inline="always"`) are compiled under its flags.

The walks' hot loops index arrays with unsigned integers (`array[np.uint64(i)]`) and divide through `udivmod`: with a
signed index numba adds a wrap-around for negative ones, and its signed `//` and `%` follow Python's floor rules,
sign fix-ups at every step of every walk. None of these values is ever negative; unsigned, the batched walks of
`compact` run 20% faster (bulk extract), counts 7% (paired). Never mix signed and unsigned operands in arithmetic:
cast the result back with np.int64.
"""

from __future__ import annotations

import numpy as np
from numba import njit, typeof

# `_nrt` is numba's own switch for its runtime (used by numba's tests); should a numba release drop it, decorating
# fails at import, not silently.
WALKER_OPTIONS = {"nogil": True, "cache": True, "_nrt": False}
walker = njit(**WALKER_OPTIONS)


@njit(nogil=True, cache=True, inline="always")
def udivmod(a: int, b: int) -> tuple[int, int]:
    """(a // b, a % b) for a >= 0, b > 0, by unsigned division (a multiply and a shift for a constant b)."""
    q = np.uint64(a) // np.uint64(b)
    return np.int64(q), np.int64(np.uint64(a) - q * np.uint64(b))


class Direct:
    """A kernel that, after its first call, calls its compiled code straight, past numba's dispatcher.

    The dispatcher types every argument on every call to pick the compiled code; for an index's tuple of about 35
    arrays that is 0.8 us a call: 40% of a 1-byte count, 3% of a 50-byte one. That is sound only if every later
    call passes arguments of the first call's types, so each index holds its own (its arrays' types follow its
    format) and passes each kernel the same kinds of arguments every time: its array tuple, Python ints, and arrays
    it makes itself (uint8 from np.frombuffer, int64). Should numba no longer expose the compiled code, calls keep
    going through the dispatcher.
    """

    __slots__ = ("_kernel", "_entry")

    def __init__(self, kernel) -> None:
        self._kernel = kernel
        self._entry = None

    def __call__(self, *args):
        if self._entry is not None:
            return self._entry(*args)
        result = self._kernel(*args)
        compiled = getattr(self._kernel, "overloads", {}).get(typeof(args).types)
        self._entry = getattr(compiled, "entry_point", None) or self._kernel
        return result
