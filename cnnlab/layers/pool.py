"""Max and average pooling, fast path (Numba kernels over the channel planes).

Conventions, all PyTorch's:

- ``stride`` defaults to the kernel size (non-overlapping windows).
- Padding is per side; max pooling pads with ``-inf`` (padding never wins), average
  pooling with zeros. Explicit padding may be at most half the window per side.
- Tie rule of max pooling: the *first* maximum in row-major window order wins and
  alone receives the gradient.
- Average pooling counts the padded zeros in the divisor (``count_include_pad=True``,
  PyTorch's default); pass ``count_include_pad=False`` to divide by the real pixels.
- ``ceil_mode=True`` keeps a last, partial window if it starts inside the input or
  the left/top padding.

In the backward pass overlapping windows ADD their gradients into ``dx`` (``+=``):
with a 3x3 window and stride 1 a pixel can win several windows and then collects the
sum of their upstream gradients (:data:`cnnlab.examples.MAXPOOL_DX`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cnnlab.kernels import parallel_chunks
from cnnlab.kernels import pool as kernels
from cnnlab.layers import _recycled, dispatch
from cnnlab.layers._validate import (
    PoolGeometry,
    as_float_array,
    check_dout,
    check_flag,
    pool2d_geometry,
)

__all__ = [
    "AvgPool2dCache",
    "MaxPool2dCache",
    "avg_pool2d_backward",
    "avg_pool2d_forward",
    "max_pool2d_backward",
    "max_pool2d_forward",
]


@dataclass(frozen=True)
class MaxPool2dCache:
    """What :func:`max_pool2d_backward` needs from the forward pass.

    Attributes
    ----------
    x : ndarray, shape (N, C, H, W)
        The input.
    geometry : PoolGeometry
        Window, stride, per-side padding, ceil_mode and the output shape.
    argmax : ndarray of uint8 or int32, shape (N, C, H_out, W_out), or None
        Each window's winning tap ``kh*KW + kw`` (uint8 when the window has at most 256
        taps, else int32); None from :func:`cnnlab.naive.max_pool2d_forward` (then the
        winners are found again).
    """

    x: np.ndarray = field(repr=False)
    geometry: PoolGeometry
    argmax: np.ndarray | None = field(default=None, repr=False)

    def winners(self) -> tuple[np.ndarray, np.ndarray]:
        """Input row and column of each window's winner, each of shape (N, C, H_out, W_out).

        Notes
        -----
        With the winning tap ``kh*KW + kw`` of window ``(i, j)``:
        ``row = i*stride_h + kh - pad_top`` and ``col = j*stride_w + kw - pad_left``.
        """
        if self.argmax is None:
            raise ValueError(
                "this cache keeps no winners (cnnlab.naive.max_pool2d_forward finds them "
                "again in backward); use cnnlab.layers.max_pool2d_forward"
            )
        (top, _), (left, _) = self.geometry.padding
        (stride_h, stride_w), kernel_w = self.geometry.stride, self.geometry.kernel[1]
        _, _, h_out, w_out = self.geometry.out_shape
        kh, kw = np.divmod(self.argmax.astype(np.intp), kernel_w)
        rows = np.arange(h_out)[:, None] * stride_h + kh - top
        cols = np.arange(w_out)[None, :] * stride_w + kw - left
        return rows, cols


@dataclass(frozen=True)
class AvgPool2dCache:
    """What :func:`avg_pool2d_backward` needs: only shapes, never the input itself.

    Attributes
    ----------
    x_shape : (N, C, H, W)
    dtype : numpy.dtype
    geometry : PoolGeometry
    count_include_pad : bool
    """

    x_shape: tuple[int, int, int, int]
    dtype: np.dtype
    geometry: PoolGeometry
    count_include_pad: bool


def _parallel(op: str, size: int, dtype: np.dtype) -> bool:
    """Whether ``op`` runs its parallel kernel (:func:`cnnlab.layers.dispatch.pool_parallel`)."""
    parallel = dispatch.pool_parallel(size)
    dispatch.record(op, "pool", parallel)
    if parallel:
        kernel = getattr(kernels, op.replace("2d", "") + "_parallel")
        dispatch.announce_compile(kernel, dtype)
    return parallel


def validate_pool2d(
    x: Any, kernel: Any, stride: Any, padding: Any, ceil_mode: Any, where: str
) -> tuple[np.ndarray, PoolGeometry]:
    """``x`` as a contiguous float array plus the checked window geometry."""
    x = as_float_array(x, "x", 4, where)
    return x, pool2d_geometry(x, kernel, stride, padding, ceil_mode, where)


def _check_cache(cache: Any, kind: type, where: str) -> None:
    if not isinstance(cache, kind):
        forward = where.replace("backward", "forward")
        raise TypeError(
            f"{where}: cache must be the {kind.__name__} returned by {forward}, got "
            f"{type(cache).__name__}."
        )


def max_pool2d_forward(
    x: np.ndarray,
    *,
    kernel: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] | str = 0,
    ceil_mode: bool = False,
) -> tuple[np.ndarray, MaxPool2dCache]:
    """Keep the largest value of every window.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
        float32 or float64.
    kernel : int or (KH, KW)
        Window size.
    stride : int or (sh, sw), optional
        Defaults to ``kernel``.
    padding : int, (ph, pw), ((top, bottom), (left, right)), 'valid' or 'same'
        ``-inf`` padding per side, at most half the window.
    ceil_mode : bool, default False
        Keep a last partial window (PyTorch's rule).

    Returns
    -------
    out : ndarray, shape (N, C, H_out, W_out)
        Same dtype as ``x``.
    cache : MaxPool2dCache

    Raises
    ------
    TypeError, ValueError
        Bad dtype or number of axes, padding over half the window, a window larger
        than the padded input.

    Notes
    -----
    ``out[n, c, i, j] = max_{kh, kw} xp[n, c, i*sh + kh, j*sw + kw]`` with ``xp``
    padded with ``-inf``. Ties go to the first maximum in row-major window order
    (PyTorch's rule); a NaN in a window wins (it propagates). Values are not checked
    for NaN or infinity.

    References
    ----------
    .. [1] CS231n, "Convolutional Neural Networks" notes, section "Pooling layer".

    Examples
    --------
    >>> import numpy as np
    >>> from cnnlab.examples import MAXPOOL_INPUT, MAXPOOL_OUTPUT
    >>> out, cache = max_pool2d_forward(MAXPOOL_INPUT[None, None], kernel=3, stride=1)
    >>> out[0, 0]
    array([[9., 8., 8.],
           [9., 6., 6.],
           [7., 7., 7.]])
    """
    where = "max_pool2d_forward"
    x, g = validate_pool2d(x, kernel, stride, padding, ceil_mode, where)
    out = np.empty(g.out_shape, dtype=x.dtype)
    argmax = np.empty(g.out_shape, dtype=np.uint8 if math.prod(g.kernel) <= 256 else np.int32)
    (top, _), (left, _) = g.padding
    args = (x, *g.kernel, *g.stride, top, left, out, argmax)
    if _parallel("max_pool2d_forward", x.size, x.dtype):
        kernels.max_pool_forward_parallel(*args, parallel_chunks(x.shape[0] * x.shape[1]))
    else:
        kernels.max_pool_forward(*args, 0, x.shape[0] * x.shape[1])
    return out, MaxPool2dCache(x=x, geometry=g, argmax=argmax)


def max_pool2d_backward(dout: np.ndarray, cache: MaxPool2dCache) -> np.ndarray:
    """Send each upstream gradient to the winner of its window, adding on overlaps.

    Parameters
    ----------
    dout : ndarray, shape (N, C, H_out, W_out)
    cache : MaxPool2dCache
        From :func:`max_pool2d_forward` (or :func:`cnnlab.naive.max_pool2d_forward`).

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)

    Notes
    -----
    ``dx[n, c, h, w] = sum over windows (i, j) won by (h, w) of dout[n, c, i, j]``:
    a gradient goes only to the first maximum of its window, and a pixel that wins
    several overlapping windows collects all their gradients (``+=``).

    References
    ----------
    .. [1] CS109B lecture 11, max-pool backward walk-through (3x3, stride 1).

    Examples
    --------
    >>> from cnnlab.examples import MAXPOOL_INPUT, MAXPOOL_DOUT
    >>> out, cache = max_pool2d_forward(MAXPOOL_INPUT[None, None], kernel=3, stride=1)
    >>> max_pool2d_backward(MAXPOOL_DOUT[None, None], cache)[0, 0]
    array([[0., 0., 4., 0., 0.],
           [2., 0., 0., 0., 0.],
           [0., 0., 6., 0., 0.],
           [0., 0., 0., 0., 0.],
           [0., 8., 0., 0., 1.]])
    """
    where = "max_pool2d_backward"
    _check_cache(cache, MaxPool2dCache, where)
    x, g = cache.x, cache.geometry
    dout = check_dout(dout, g.out_shape, x.dtype, where)
    argmax = cache.argmax
    if argmax is None:  # a cache from the naive forward: find the winners again
        _, fresh = max_pool2d_forward(
            x, kernel=g.kernel, stride=g.stride, padding=g.padding, ceil_mode=g.ceil_mode
        )
        argmax = fresh.argmax
    dx = _recycled.empty(x.shape, x.dtype)  # the kernel zeroes each plane
    (top, _), (left, _) = g.padding
    args = (dout, argmax, *g.kernel, *g.stride, top, left, dx)
    if _parallel("max_pool2d_backward", dx.size, x.dtype):
        kernels.max_pool_backward_parallel(*args, parallel_chunks(x.shape[0] * x.shape[1]))
    else:
        kernels.max_pool_backward(*args, 0, x.shape[0] * x.shape[1])
    return dx


def avg_pool2d_forward(
    x: np.ndarray,
    *,
    kernel: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] | str = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> tuple[np.ndarray, AvgPool2dCache]:
    """Average every window.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
        float32 or float64.
    kernel : int or (KH, KW)
    stride : int or (sh, sw), optional
        Defaults to ``kernel``.
    padding : int, (ph, pw), ((top, bottom), (left, right)), 'valid' or 'same'
        Zero padding per side, at most half the window.
    ceil_mode : bool, default False
    count_include_pad : bool, default True
        Count padded zeros in the divisor (PyTorch's default). False divides by the
        number of real pixels in the window (TensorFlow's 'same' behaviour).

    Returns
    -------
    out : ndarray, shape (N, C, H_out, W_out)
    cache : AvgPool2dCache

    Notes
    -----
    ``out[n, c, i, j] = sum(window) / divisor``. The divisor is PyTorch's: the window
    clipped to the padded input (so a ``ceil_mode`` window hanging past the padding
    counts fewer pixels), or clipped to the real input when ``count_include_pad`` is
    False.

    References
    ----------
    .. [1] PyTorch, ``torch.nn.AvgPool2d`` documentation.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> avg_pool2d_forward(x, kernel=2)[0]
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]])
    """
    where = "avg_pool2d_forward"
    x, g = validate_pool2d(x, kernel, stride, padding, ceil_mode, where)
    include = check_flag(count_include_pad, "count_include_pad", where)
    out = np.empty(g.out_shape, dtype=x.dtype)
    (top, bottom), (left, right) = g.padding
    args = (x, *g.kernel, *g.stride, top, left, bottom, right, include, out)
    if _parallel("avg_pool2d_forward", x.size, x.dtype):
        kernels.avg_pool_forward_parallel(*args, parallel_chunks(x.shape[0] * x.shape[1]))
    else:
        kernels.avg_pool_forward(*args, 0, x.shape[0] * x.shape[1])
    cache = AvgPool2dCache(
        x_shape=x.shape, dtype=x.dtype, geometry=g, count_include_pad=include
    )
    return out, cache


def avg_pool2d_backward(dout: np.ndarray, cache: AvgPool2dCache) -> np.ndarray:
    """Share each upstream gradient equally over its window, adding on overlaps.

    Parameters
    ----------
    dout : ndarray, shape (N, C, H_out, W_out)
    cache : AvgPool2dCache

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)

    Notes
    -----
    ``dx[n, c, window(i, j)] += dout[n, c, i, j] / divisor``; the share of a window
    that falls on padding is dropped.

    Examples
    --------
    >>> import numpy as np
    >>> out, cache = avg_pool2d_forward(np.zeros((1, 1, 3, 3)), kernel=2, stride=1)
    >>> avg_pool2d_backward(np.ones_like(out), cache)[0, 0]
    array([[0.25, 0.5 , 0.25],
           [0.5 , 1.  , 0.5 ],
           [0.25, 0.5 , 0.25]])
    """
    where = "avg_pool2d_backward"
    _check_cache(cache, AvgPool2dCache, where)
    g = cache.geometry
    dout = check_dout(dout, g.out_shape, cache.dtype, where)
    dx = _recycled.empty(cache.x_shape, cache.dtype)  # the kernel writes every element
    (top, bottom), (left, right) = g.padding
    args = (dout, *g.kernel, *g.stride, top, left, bottom, right, cache.count_include_pad, dx)
    if _parallel("avg_pool2d_backward", dx.size, cache.dtype):
        kernels.avg_pool_backward_parallel(*args, parallel_chunks(dx.shape[0] * dx.shape[1]))
    else:
        kernels.avg_pool_backward(*args, 0, dx.shape[0] * dx.shape[1])
    return dx
