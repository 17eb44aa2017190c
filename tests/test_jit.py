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


@pytest.mark.parametrize("preset", sorted(FROZEN))
def test_index_calls_its_kernels_past_the_dispatcher(preset):
    """After a first call, an index calls each kernel's compiled code straight (`jit.Direct`), with the answers
    the dispatcher gives; without it every query pays numba's argument typing again (0.8 us)."""
    idx = fmsearch.open_index(FROZEN[preset])
    fm = idx._fm
    for query in (b"a", b"ab", b"e", b"the", b"\x00"):
        pattern = np.frombuffer(query, dtype=np.uint8)
        assert idx.count(query) == np.subtract(*kernels.backward_search(fm, pattern, 0, len(query))[::-1])
    assert idx.extract(0) == kernels.extract(fm, 1, 1 + idx.document_length(0)).tobytes()
    ms = idx.matching_statistics(b"the cat")
    assert ms.tolist() == kernels.matching_statistics(fm, np.frombuffer(b"the cat", dtype=np.uint8)).tolist()
    for direct, kernel in ((idx._backward_search, kernels.backward_search), (idx._extract_range, kernels.extract)):
        assert direct._entry is not None and direct._entry is not kernel


def test_direct_falls_back_to_the_kernel_without_compiled_code():
    calls = []

    def kernel(a: int, b: int) -> int:
        calls.append((a, b))
        return a - b

    direct = jit.Direct(kernel)
    assert [direct(5, 3), direct(2, 7)] == [2, -5]
    assert calls == [(5, 3), (2, 7)]


def test_udivmod_matches_python_divmod():
    rng = np.random.default_rng(5)
    values = [0, 1, 14, 15, 16, 116, 117, 118, 2**31, 2**40 + 3, 2**62 + 11, 2**63 - 1]
    values += rng.integers(0, 2**63 - 1, 500, dtype=np.int64).tolist()
    for b in (1, 3, 12, 15, 16, 117, 496, 2**20 + 7):
        for a in values:
            assert jit.udivmod(a, b) == divmod(a, b), (a, b)
