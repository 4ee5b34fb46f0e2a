"""Large output arrays whose memory is used again once nobody refers to them any more.

A backward pass returns a new ``dx`` at every call, and a training loop drops each one
a moment later (the layer below reads it and lets it go). A large NumPy array comes
fresh from the operating system, which zeroes each of its pages on first touch: for a
pooling layer's ``dx`` that costs as much as the layer's own work. On a virtual machine
that hands idle free memory back to its host (free page reporting), the first touch
can cost ten to twenty times more, whenever that memory had lain unused for a couple of
seconds (a 51 MB array: 6-7 ms of system time recycled, 40-120 ms after a pause).

:func:`empty` keeps the buffers of the last few large arrays it handed out and hands a
buffer out again only when no array refers to it any more: every view of an array
(a slice, a reshape, a ``torch.from_numpy`` tensor) holds a reference to the buffer,
so CPython's reference count of the buffer says whether any of them is still alive.
Arrays below :data:`MIN_BYTES` come from ``np.empty``: the C allocator keeps their
memory itself.

Examples
--------
>>> a = empty((2048, 4096), np.float32)
>>> address = a.ctypes.data
>>> del a                                    # nobody refers to it any more
>>> empty((2048, 4096), np.float32).ctypes.data == address
True
"""

from __future__ import annotations

import math
import sys
import threading

import numpy as np

__all__ = ["KEEP", "MIN_BYTES", "empty"]

#: Arrays of at least this many bytes are recycled. Below it glibc's ``malloc`` reuses
#: freed memory by itself (its threshold for giving memory back to the system grows to
#: 32 MB); above it every array is a fresh mapping.
MIN_BYTES = 1 << 25

#: Buffers kept, free or in use; the least recently handed out is dropped first.
KEEP = 4

_buffers: list[np.ndarray] = []  # one-byte buffers, least recently handed out first
_lock = threading.Lock()


def empty(shape: tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
    """An uninitialised C-contiguous array, like ``np.empty(shape, dtype)``.

    Parameters
    ----------
    shape : tuple of int
    dtype : numpy dtype

    Returns
    -------
    ndarray, shape ``shape``
        A view of a recycled buffer when it takes at least :data:`MIN_BYTES`, else a
        new array. Its values are whatever the memory held: the caller writes every
        element.
    """
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < MIN_BYTES:
        return np.empty(shape, dtype=dtype)
    with _lock:
        buffer = _free_buffer(nbytes)
        if buffer is None:
            buffer = np.empty(nbytes, dtype=np.uint8)
            if len(_buffers) >= KEEP:
                _buffers.pop(0)
        _buffers.append(buffer)
    return buffer.view(dtype).reshape(shape)


def _free_buffer(nbytes: int) -> np.ndarray | None:
    """Take a kept buffer of ``nbytes`` that no array refers to out of the list."""
    for k in range(len(_buffers)):
        # Two references when free: the list's and getrefcount's own argument.
        if _buffers[k].nbytes == nbytes and sys.getrefcount(_buffers[k]) == 2:
            return _buffers.pop(k)
    return None
