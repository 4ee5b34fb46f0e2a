"""Run small-batch work on a limited number of threads.

The layers' Numba kernels and NumPy's BLAS both start thread pools. On the tiny
arrays of course-sized networks (a 32-image batch of 8x8 digits) the cost of waking
and joining the threads dwarfs the arithmetic, and on a shared 2-core machine it
becomes catastrophic: one training epoch measured 9.4 s with two threads and 0.11 s
with one. Training, evaluation and saliency therefore run single-threaded by default.

A whole network's pass mixes Numba's parallel kernels with BLAS products (im2col
layers, dense layers). Each pool's idle threads keep spinning for a while after their
work, on the cores the other pool then needs: ResNet-18 at 3x64x64 (N=8, forward, 2
cores) took 87 ms of wall time and 172 ms of CPU time with both pools at 2 threads,
48 ms and 80 ms with BLAS on one. :func:`one_blas_thread` is what
:class:`cnnlab.net.Sequential` runs its passes in; Numba's kernels keep every thread.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def limited_threads(n: int | None) -> Iterator[None]:
    """Limit Numba's and BLAS's thread pools to ``n`` threads inside the block.

    ``None`` changes nothing. Both limits are restored on exit.
    """
    if n is None:
        yield
        return
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"threads must be a positive int or None, found {n!r}")
    with contextlib.ExitStack() as stack:
        try:
            from threadpoolctl import threadpool_limits  # installed with scikit-learn
        except ImportError:  # pragma: no cover - BLAS keeps its default
            pass
        else:
            stack.enter_context(threadpool_limits(limits=n, user_api="blas"))
        import numba

        previous = numba.get_num_threads()
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
        stack.callback(numba.set_num_threads, previous)
        yield


@functools.cache
def _blas_controller() -> Any:
    """threadpoolctl's view of the loaded BLAS libraries (None without threadpoolctl),
    found once: looking them up costs more than a small network's forward pass."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - BLAS keeps its threads
        return None
    return ThreadpoolController().select(user_api="blas")


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS on one thread inside the block (see the module docstring); Numba unchanged."""
    controller = _blas_controller()
    if controller is None or all(lib.num_threads == 1 for lib in controller.lib_controllers):
        yield
        return
    with controller.limit(limits=1):
        yield
