"""Numba kernels behind :mod:`cnnlab.layers` (internal: call the layers, not these).

Every kernel here is a private loop nest compiled with ``@njit(cache=True)``. Kernels
trust their inputs: they take C-contiguous float32 or float64 arrays and plain ints,
never check a shape (Numba does not bounds-check), and are only ever called by the
public wrappers in :mod:`cnnlab.layers`, which validate, pad and allocate first.

Modules
-------
conv         im2col / col2im and the reshuffles that turn convolution into one GEMM
direct       stride-1 convolution forward on the wide grid (few channels, groups)
blocked      convolution forward on a channel-last copy (8 or more channels)
weight_grad  the filters' gradient, without BLAS
depthwise    depthwise convolution (groups == C), forward and backward, a plane at a time
simd         the Vector type (one AVX-512 or AVX register) in which the three above keep their sums
pool         max and average pooling, forward and backward
norm         batch normalisation's per-channel sums and scale-and-shift passes

``parallel=True`` is used only where each ``prange`` iteration writes its own slice of
the output (its own row, image or channel plane), so no two threads ever add into the
same element. No kernel uses ``fastmath``: the gradient checks compare them to finite
differences. Every kernel also runs as plain Python under ``NUMBA_DISABLE_JIT=1``.
"""

import numba


def parallel_chunks(items: int) -> int:
    """How many ranges a ``*_parallel`` kernel splits ``items`` work items into: a few
    per thread, so that a thread that finishes early takes another range."""
    return min(items, 8 * numba.get_num_threads())
