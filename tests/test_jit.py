"""The index walks are compiled without reference counting (`fmsearch.jit.walker`): no atomic increments inside
their loops. A regression here would not change any answer, only make every query up to 1.8x slower."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from test_format import FROZEN

import fmsearch
from contamination import kernels as scoring_kernels
from fmsearch import jit, kernels, wavelet


def _refcount_calls(function, *args, **options) -> int:
    """NRT increments and decrements in the LLVM IR of `function` compiled afresh (uncached) with `options`."""
    compiled = njit(**options)(function.py_func)
    compiled(*args)
    ir = "".join(compiled.inspect_llvm().values())
    return ir.count("NRT_incref") + ir.count("NRT_decref")


@pytest.mark.parametrize("preset", sorted(FROZEN))
def test_walkers_compile_without_reference_counting(preset):
    idx = fmsearch.open_index(FROZEN[preset])
    fm = idx._fm
    pattern = np.frombuffer(b"ab", dtype=np.uint8)
    rows = np.arange(3, dtype=np.int64)
    out = np.zeros(3, dtype=np.int64)
    cases = [
        (kernels.backward_search, (fm, pattern, 0, 2)),
        (wavelet.rank_pair, (fm[0], 0, 0, 2, 0, 1)),
        (wavelet.access_rank_many, (fm[0], rows, out.copy(), out.copy(), wavelet.workspace(3))),
        (scoring_kernels.left_end, (fm, pattern, np.arange(3, dtype=np.int64), 2, 0)),
    ]
    uncached = {**jit.WALKER_OPTIONS, "cache": False}  # numba shows no IR for code loaded from its cache
    for function, args in cases:
        assert _refcount_calls(function, *args, **uncached) == 0, function.__name__
    # The check can fail: the same kernel compiled with numba's defaults counts references.
    assert _refcount_calls(kernels.backward_search, fm, pattern, 0, 2, nogil=True) > 0
