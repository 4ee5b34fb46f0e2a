"""Compile (or load from Numba's cache) every kernel before a notebook needs it.

Put ``cnnlab.warmup()`` in a notebook's set-up cell: the first call of each Numba
kernel compiles it for the dtype it sees (seconds) or loads it from the on-disk cache
(milliseconds). nbgrader counts that time against a cell's timeout, so it is better
spent once, up front, than in a graded cell.

The warm-up runs one tiny example of every path of
:data:`cnnlab.layers.dispatch.PATHS`, with that path forced, so every kernel a layer
can pick is ready, except the rarely used ones of :data:`cnnlab.layers.dispatch.LAZY`
(float64 on several threads), which compile on first use and say so. When the cache
is cold (a fresh install without ``make``, or an update of cnnlab) it says so and shows
its progress, in a notebook and on the command line; when the cache is warm it prints
nothing.
"""

from __future__ import annotations

import functools
import sys
import time
from dataclasses import dataclass
from typing import IO

import numpy as np

__all__ = ["CompileTime", "cache_is_cold", "compile_times", "warmup"]

COLD_MESSAGE = (
    "Compiling cnnlab's kernels once, about a minute "
    "(later runs load them from the cache in about a second)."
)


@dataclass(frozen=True)
class CompileTime:
    """Seconds one path of :data:`cnnlab.layers.dispatch.PATHS` took for one dtype."""

    label: str
    dtype: str
    seconds: float


def _dispatchers() -> list:
    """The Numba dispatchers that the layers call in :mod:`cnnlab.kernels`.

    Private helpers (``_block``, ``_tile``, ...) are compiled into their callers and
    have no cache entries of their own, so they are left out."""
    import numba

    from cnnlab.kernels import blocked, conv, direct, pool, weight_grad

    found = []
    for module in (blocked, conv, direct, pool, weight_grad):
        for name, value in vars(module).items():
            if not name.startswith("_") and isinstance(value, numba.core.dispatcher.Dispatcher):
                found.append(value)
    return found


def cache_is_cold() -> bool:
    """True if some kernel has no usable entry in Numba's on-disk cache.

    An entry is unusable when it is missing or was written for another version of the
    kernel's source (Numba checks the file's time stamp and size). Always False with
    ``NUMBA_DISABLE_JIT=1``, where nothing compiles.
    """
    import numba

    if numba.config.DISABLE_JIT:
        return False
    for dispatcher in _dispatchers():
        try:
            index = dispatcher._cache._cache_file._load_index()
        except Exception:  # an unreadable index is a cold one
            return True
        if not index:
            return True
    return False


def _run_path(path, dtype: str) -> None:
    from cnnlab import layers
    from cnnlab.layers import dispatch

    x = np.ones(path.x_shape, dtype=dtype)
    if path.op == "conv2d":
        forward, backward = path.path.split("/")
        w = np.ones(path.w_shape, dtype=dtype)
        with dispatch.force(conv_forward=forward, conv_backward=backward, parallel=path.parallel):
            out, cache = layers.conv2d_forward(x, w, None, **path.params)
            layers.conv2d_backward(np.ones_like(out), cache)
        return
    forward = getattr(layers, f"{path.op}_forward")
    backward = getattr(layers, f"{path.op}_backward")
    if path.op == "batchnorm2d":  # gamma and beta, one per channel
        channels = np.ones(path.x_shape[1], dtype=dtype)
        forward = functools.partial(forward, gamma=channels, beta=channels)
    with dispatch.force(parallel=path.parallel):
        out, cache = forward(x, **path.params)
        backward(np.ones_like(out), cache)


def compile_times(
    dtypes: tuple[str, ...] = ("float32", "float64"),
    *,
    progress: bool | None = None,
    stream: IO[str] | None = None,
    everything: bool = False,
) -> list[CompileTime]:
    """Run every path once per dtype and time each (compiling, or loading the cache).

    Parameters
    ----------
    dtypes : tuple of str, default ("float32", "float64")
    progress : bool, optional
        Print what is happening and a progress line. Default: only when
        :func:`cache_is_cold`.
    stream : file, optional
        Where to print (default ``sys.stdout``, which a notebook shows under the cell).
    everything : bool, default False
        Also the paths of :data:`cnnlab.layers.dispatch.LAZY`, which otherwise compile
        on first use (with a message).

    Returns
    -------
    list of CompileTime
        One per path and dtype, in the order of :data:`cnnlab.layers.dispatch.PATHS`.
    """
    from cnnlab.layers import dispatch
    from cnnlab.layers.dispatch import LAZY, PATHS

    for dtype in dtypes:
        if np.dtype(dtype) not in (np.float32, np.float64):
            raise ValueError(f"warmup: dtypes must be 'float32' or 'float64', got {dtype!r}.")
    stream = sys.stdout if stream is None else stream
    if progress is None:
        progress = cache_is_cold()
    work = [
        (path, dtype)
        for dtype in dtypes
        for path in PATHS
        if everything or (path.parallel, dtype) not in LAZY
    ]
    start = time.perf_counter()
    if progress:
        print(COLD_MESSAGE, file=stream, flush=True)
    times = []
    for done, (path, dtype) in enumerate(work, start=1):
        if progress:
            elapsed = time.perf_counter() - start
            line = f"  [{done:2d}/{len(work)}] {elapsed:4.0f} s  {path.label}, {dtype}"
            print(f"\r{line:<72}", end="", file=stream, flush=True)
        began = time.perf_counter()
        with dispatch.silent_compiles():
            _run_path(path, dtype)
        times.append(CompileTime(path.label, dtype, time.perf_counter() - began))
    if progress:
        total = time.perf_counter() - start
        print(f"\r{f'  all {len(work)} kernel paths ready in {total:.0f} s':<72}", file=stream)
    return times


def warmup(
    dtypes: tuple[str, ...] = ("float32", "float64"),
    *,
    progress: bool | None = None,
    everything: bool = False,
) -> float:
    """Run every layer path once on a tiny input per dtype, so all kernels are ready.

    Parameters
    ----------
    dtypes : tuple of str, default ("float32", "float64")
    progress : bool, optional
        Say what is happening and show progress; by default only when the kernel cache
        is cold (the first run after installing or updating cnnlab).
    everything : bool, default False
        Also the rarely used paths of :data:`cnnlab.layers.dispatch.LAZY` (float64 on
        several threads), which otherwise compile on first use and say so.

    Returns
    -------
    float
        Seconds taken (compiling the first time, loading the cache afterwards).

    Examples
    --------
    >>> seconds = warmup()
    >>> seconds >= 0
    True
    """
    start = time.perf_counter()
    compile_times(tuple(dtypes), progress=progress, everything=everything)
    return time.perf_counter() - start
