"""A CPU vector of float32 or float64 for kernels that keep their sums in registers.

Numba vectorizes a loop over an array by itself, but every sum it updates is loaded
from and stored back to memory on each pass. A convolution's inner loop does a
multiply-add per load, so those loads and stores, not the arithmetic, set its speed.
Here a :class:`Vector` is a local variable like a float: it lives in a CPU register,
and a kernel can keep a handful of them across thousands of multiply-adds and store
each once at the end (:mod:`cnnlab.kernels.blocked`).

A vector holds ``lanes(a)`` numbers of ``a``'s dtype: one register of the widest kind
the CPU has, 16 float32 or 8 float64 with AVX-512 and 8 float32 or 4 float64
otherwise (AVX2; on a CPU with narrower registers LLVM splits each operation, and the
results are the same). :data:`VECTOR_BYTES` is chosen once, from the CPU that runs
cnnlab; the kernels and the wrappers that size their arrays both read it, and Numba's
cache keys its entries by the CPU, so a cached kernel always matches the width. The
environment variable ``CNNLAB_VECTOR_BYTES=32`` (or ``64``) forces a width, to test
one path on a machine that would pick the other; because the compiled kernels would
not match the default width, it is refused unless ``NUMBA_CACHE_DIR`` points Numba's
cache somewhere of its own.

Functions (callable from ``@njit`` code; ``a`` is a 1-D C-contiguous float array)
----------------------------------------------------------------------------------
lanes(a)             numbers per vector for a's dtype (a compile-time constant)
load(a, i)           the vector a[i : i + lanes] (fastest when a[i] starts a vector's
                     worth of aligned memory: see aligned_empty, for the wrappers)
store(a, i, v)       a[i : i + lanes] = v
broadcast(a, i)      a vector with every lane a[i]
zeros(a)             a vector of zeros of a's dtype
muladd(u, v, acc)    u*v + acc, lane by lane

None of them checks an index: as everywhere in :mod:`cnnlab.kernels`, the caller
sizes its arrays so that every access is inside them. ``muladd`` is LLVM's
``fmuladd``: one fused multiply-add where the CPU has one (as PyTorch's kernels use),
a multiply and an add otherwise. The order of the additions is the one written; no
``fastmath`` reordering.

With ``NUMBA_DISABLE_JIT=1`` the same names are small NumPy functions (a vector is a
1-D array), so the kernels still run, slowly, as plain Python.
"""

from __future__ import annotations

import numba
import numpy as np


def _vector_bytes() -> int:
    """64 on a CPU with AVX-512, else 32; ``CNNLAB_VECTOR_BYTES`` overrides (see above)."""
    import os

    forced = os.environ.get("CNNLAB_VECTOR_BYTES")
    if forced is not None:
        if forced not in ("32", "64"):
            raise ValueError(f"CNNLAB_VECTOR_BYTES must be 32 or 64, found {forced!r}")
        if not os.environ.get("NUMBA_CACHE_DIR") and not numba.config.DISABLE_JIT:
            raise RuntimeError(
                "CNNLAB_VECTOR_BYTES changes the compiled kernels: set NUMBA_CACHE_DIR to "
                "a directory of its own as well, or the default cache would mix widths"
            )
        return int(forced)
    try:
        from llvmlite import binding

        return 64 if binding.get_host_cpu_features().get("avx512f") else 32
    except Exception:  # no feature list: the width every x86-64 CPU of this decade has
        return 32


#: Bytes per vector: one AVX-512 register where the CPU has them, else one AVX register.
VECTOR_BYTES = _vector_bytes()

__all__ = ["VECTOR_BYTES", "aligned_empty", "broadcast", "lanes", "load", "muladd", "store",
           "zeros"]


def aligned_empty(size: int, dtype) -> np.ndarray:
    """An uninitialised 1-D array of ``size`` numbers whose first number starts on a
    :data:`VECTOR_BYTES` boundary (plain Python, for the wrappers).

    NumPy only promises 16 bytes, so a vector loaded from ``a[i]`` with ``i`` a multiple
    of ``lanes(a)`` would often straddle two cache lines, which costs the loads of the
    channel-last kernel's weights about a tenth of its speed (AVX-512, one thread:
    512->512 3x3 on 7x7 at 71-78% of the peak aligned, 65-71% not).
    """
    dtype = np.dtype(dtype)
    buffer = np.empty(size + VECTOR_BYTES // dtype.itemsize, dtype=dtype)
    start = (-buffer.ctypes.data % VECTOR_BYTES) // dtype.itemsize
    return buffer[start : start + size]


if numba.config.DISABLE_JIT:  # plain-Python stand-ins, same semantics

    def lanes(a):
        return VECTOR_BYTES // a.itemsize

    def load(a, i):
        return a[i : i + lanes(a)].copy()

    def store(a, i, v):
        a[i : i + lanes(a)] = v

    def broadcast(a, i):
        return np.full(lanes(a), a[i], dtype=a.dtype)

    def zeros(a):
        return np.zeros(lanes(a), dtype=a.dtype)

    def muladd(u, v, acc):
        return u * v + acc

else:
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic, models, register_model

    class Vector(types.Type):
        """Numba type of ``lanes`` numbers of ``dtype`` held in one register."""

        def __init__(self, dtype, lanes):
            self.dtype, self.lanes = dtype, lanes
            super().__init__(name=f"Vector({dtype}, {lanes})")

    @register_model(Vector)
    class _VectorModel(models.PrimitiveModel):
        def __init__(self, dmm, fe_type):
            element = dmm.lookup(fe_type.dtype).get_value_type()
            super().__init__(dmm, fe_type, ir.VectorType(element, fe_type.lanes))

    def _vector_type(array_type) -> Vector:
        return Vector(array_type.dtype, VECTOR_BYTES * 8 // array_type.dtype.bitwidth)

    def _address(context, builder, array_type, array, index):
        data = context.make_array(array_type)(context, builder, array).data
        return builder.gep(data, [index])

    def _splat(builder, llvm_vector, scalar):
        first = builder.insert_element(
            ir.Constant(llvm_vector, ir.Undefined), scalar, ir.Constant(ir.IntType(32), 0)
        )
        count = llvm_vector.count
        zeros = ir.Constant(ir.VectorType(ir.IntType(32), count), [0] * count)
        return builder.shuffle_vector(first, ir.Constant(llvm_vector, ir.Undefined), zeros)

    @intrinsic
    def lanes(typingctx, a):
        count = _vector_type(a).lanes

        def codegen(context, builder, signature, args):
            return context.get_constant(types.intp, count)

        return types.intp(a), codegen

    @intrinsic
    def load(typingctx, a, i):
        vector = _vector_type(a)

        def codegen(context, builder, signature, args):
            address = _address(context, builder, a, args[0], args[1])
            llvm_vector = context.get_value_type(vector)
            pointer = builder.bitcast(address, llvm_vector.as_pointer())
            return builder.load(pointer, align=a.dtype.bitwidth // 8)

        return vector(a, i), codegen

    @intrinsic
    def store(typingctx, a, i, v):
        def codegen(context, builder, signature, args):
            address = _address(context, builder, a, args[0], args[1])
            pointer = builder.bitcast(address, args[2].type.as_pointer())
            builder.store(args[2], pointer, align=a.dtype.bitwidth // 8)
            return context.get_dummy_value()

        return types.none(a, i, v), codegen

    @intrinsic
    def broadcast(typingctx, a, i):
        vector = _vector_type(a)

        def codegen(context, builder, signature, args):
            scalar = builder.load(_address(context, builder, a, args[0], args[1]))
            return _splat(builder, context.get_value_type(vector), scalar)

        return vector(a, i), codegen

    @intrinsic
    def zeros(typingctx, a):
        vector = _vector_type(a)

        def codegen(context, builder, signature, args):
            return ir.Constant(context.get_value_type(vector), None)

        return vector(a), codegen

    @intrinsic
    def muladd(typingctx, u, v, acc):
        if not (isinstance(u, Vector) and u == v == acc):
            return None

        def codegen(context, builder, signature, args):
            llvm_vector = args[0].type
            bits = 32 if u.dtype == types.float32 else 64
            function = cgutils.get_or_insert_function(
                builder.module,
                ir.FunctionType(llvm_vector, [llvm_vector] * 3),
                f"llvm.fmuladd.v{llvm_vector.count}f{bits}",
            )
            return builder.call(function, args)

        return u(u, v, acc), codegen
