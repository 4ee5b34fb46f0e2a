"""Run small-batch work on a limited number of threads.

The layers' Numba kernels and NumPy's BLAS both start thread pools. On the tiny
arrays of course-sized networks (a 32-image batch of 8x8 digits) the cost of waking
and joining the threads dwarfs the arithmetic, and on a shared 2-core machine it
becomes catastrophic: one training epoch measured 9.4 s with two threads and 0.11 s
with one. Training, evaluation and saliency therefore run single-threaded by default.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


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
