"""Memory intrinsics for numba kernels: a software prefetch, and an unaligned 8-byte load.

Walks over a wavelet tree are chains of dependent cache misses; advancing many independent walks in lockstep and
prefetching each one's next lines before touching any of them lets those misses overlap. The load reads a packed
record (5 bytes per node row) in one instruction.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


def _element_pointer(context, builder, signature, args):
    """The address of array[index] for an intrinsic called as (array, index); for an array of more dimensions
    (C order), of its index-th element in memory order."""
    arytype = signature.args[0]
    ary = context.make_array(arytype)(context, builder, args[0])
    index = context.cast(builder, args[1], signature.args[1], types.intp)
    if arytype.ndim > 1:
        return builder.gep(ary.data, [index])
    return cgutils.get_item_pointer(context, builder, arytype, ary, [index], wraparound=False)


@intrinsic
def prefetch(typingctx, array, index):
    """prefetch(array, i): a hint to load the cache line of array[i] (1-D), or of the i-th element of a C-ordered
    array (without the call `array.reshape(-1)` costs in a loop); never faults, returns nothing."""
    if not isinstance(array, types.Array) or not isinstance(index, types.Integer):
        return None
    if array.ndim != 1 and array.layout != "C":
        return None
    sig = types.void(array, index)

    def codegen(context, builder, signature, args):
        pointer = _element_pointer(context, builder, signature, args)
        byte_pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]), "llvm.prefetch.p0"
        )
        # read access, high temporal locality, data cache
        builder.call(function, [builder.bitcast(pointer, byte_pointer), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def load_u64(typingctx, array, index):
    """load_u64(array, i): the 8 bytes array[i:i + 8] of a 1-D uint8 array as a little-endian uint64, in one
    unaligned load (5-byte records cost five byte loads otherwise). Precondition: i + 8 <= len(array)."""
    if not isinstance(array, types.Array) or array.ndim != 1 or array.dtype != types.uint8:
        return None
    if not isinstance(index, types.Integer):
        return None
    sig = types.uint64(array, index)

    def codegen(context, builder, signature, args):
        word = builder.bitcast(_element_pointer(context, builder, signature, args), ir.IntType(64).as_pointer())
        return builder.load(word, align=1)

    return sig, codegen
