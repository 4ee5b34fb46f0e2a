"""Max and average pooling, forward and backward, one channel plane per iteration.

The kernels take the *unpadded* input and the padding per side: a window is clipped
to the input, which is exactly padding with ``-inf`` for max pooling (padding never
wins) and padding with zeros for average pooling (the padded zeros add nothing to the
sum; whether they count in the divisor is ``count_include_pad``).

Window ``(i, j)`` covers rows ``i*stride_h - pad_top ... + KH - 1`` and columns
``j*stride_w - pad_left ... + KW - 1``. Every ``prange`` iteration owns one (n, c)
plane of the output and of ``dx``, so the ``+=`` of overlapping windows never races.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def max_pool_forward(x, KH, KW, stride_h, stride_w, pad_top, pad_left, out, argmax):
    """Max of every window and where it was (the slide's forward pass).

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    KH, KW, stride_h, stride_w, pad_top, pad_left : int
    out : ndarray, shape (N, C, H_out, W_out)
        Written in place.
    argmax : ndarray of int32, shape (N, C, H_out, W_out)
        Written in place: the winner's flat index ``h*W + w`` in its (H, W) plane.

    Notes
    -----
    Tie rule (PyTorch's): the window is scanned in row-major order and a value wins
    only if it is strictly greater than the best so far, so the *first* maximum wins.
    The scan starts from the first real pixel with best ``-inf``: padding never wins,
    and a window of ``-inf`` values picks its first real pixel. A NaN always wins
    (NaN propagates, as in PyTorch).
    """
    N, C, H, W = x.shape
    H_out, W_out = out.shape[2], out.shape[3]
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        for i in range(H_out):
            h0 = i * stride_h - pad_top
            h1 = min(h0 + KH, H)
            h0 = max(h0, 0)
            for j in range(W_out):
                w0 = j * stride_w - pad_left
                w1 = min(w0 + KW, W)
                w0 = max(w0, 0)
                best = -np.inf
                where = h0 * W + w0
                for h in range(h0, h1):
                    for w in range(w0, w1):
                        v = x[n, c, h, w]
                        if v > best or np.isnan(v):
                            best = v
                            where = h * W + w
                out[n, c, i, j] = best
                argmax[n, c, i, j] = where


@njit(cache=True, parallel=True)
def max_pool_backward(dout, argmax, dx):
    """Route each upstream gradient to its window's winner, adding up on overlaps.

    Parameters
    ----------
    dout : ndarray, shape (N, C, H_out, W_out)
    argmax : ndarray of int32, shape (N, C, H_out, W_out)
        From :func:`max_pool_forward`.
    dx : ndarray, shape (N, C, H, W)
        Zero-filled by the caller; accumulated in place.

    Notes
    -----
    ``dx[n, c, argmax[n, c, i, j]] += dout[n, c, i, j]``: a pixel that wins several
    overlapping windows collects the *sum* of their gradients (the ``+=`` is the
    lesson of the CS109B 3x3 stride-1 walk-through).
    """
    N, C, W = dx.shape[0], dx.shape[1], dx.shape[3]
    H_out, W_out = dout.shape[2], dout.shape[3]
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        for i in range(H_out):
            for j in range(W_out):
                k = argmax[n, c, i, j]
                dx[n, c, k // W, k % W] += dout[n, c, i, j]


@njit(cache=True, parallel=True)
def avg_pool_forward(x, KH, KW, stride_h, stride_w, pad_top, pad_left, pad_bottom,
                     pad_right, count_include_pad, out):
    """Mean of every window.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    KH, KW, stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right : int
    count_include_pad : bool
        Divide by the window size counted inside the padded input (PyTorch's
        default, True) or by the number of real pixels (False).
    out : ndarray, shape (N, C, H_out, W_out)
        Written in place.

    Notes
    -----
    ``out[n, c, i, j] = sum(x[n, c, window]) / divisor`` with PyTorch's divisor: the
    window clipped to the padded input (``ceil_mode`` windows that hang past the
    padding are smaller), or clipped to the real input when padding is not counted.
    """
    N, C, H, W = x.shape
    H_out, W_out = out.shape[2], out.shape[3]
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        for i in range(H_out):
            h0 = i * stride_h - pad_top
            h1 = min(h0 + KH, H + pad_bottom)
            size_h = h1 - h0
            h0 = max(h0, 0)
            h1 = min(h1, H)
            for j in range(W_out):
                w0 = j * stride_w - pad_left
                w1 = min(w0 + KW, W + pad_right)
                size_w = w1 - w0
                w0 = max(w0, 0)
                w1 = min(w1, W)
                divisor = size_h * size_w if count_include_pad else (h1 - h0) * (w1 - w0)
                total = 0.0
                for h in range(h0, h1):
                    for w in range(w0, w1):
                        total += x[n, c, h, w]
                out[n, c, i, j] = total / divisor


@njit(cache=True, parallel=True)
def avg_pool_backward(dout, KH, KW, stride_h, stride_w, pad_top, pad_left, pad_bottom,
                      pad_right, count_include_pad, dx):
    """Spread each upstream gradient evenly over its window, adding up on overlaps.

    Parameters
    ----------
    dout : ndarray, shape (N, C, H_out, W_out)
    KH, KW, stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right : int
    count_include_pad : bool
    dx : ndarray, shape (N, C, H, W)
        Zero-filled by the caller; accumulated in place.

    Notes
    -----
    ``dx[n, c, window] += dout[n, c, i, j] / divisor`` with the divisor of
    :func:`avg_pool_forward`; the share that fell on padding is dropped.
    """
    N, C, H, W = dx.shape
    H_out, W_out = dout.shape[2], dout.shape[3]
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        for i in range(H_out):
            h0 = i * stride_h - pad_top
            h1 = min(h0 + KH, H + pad_bottom)
            size_h = h1 - h0
            h0 = max(h0, 0)
            h1 = min(h1, H)
            for j in range(W_out):
                w0 = j * stride_w - pad_left
                w1 = min(w0 + KW, W + pad_right)
                size_w = w1 - w0
                w0 = max(w0, 0)
                w1 = min(w1, W)
                divisor = size_h * size_w if count_include_pad else (h1 - h0) * (w1 - w0)
                share = dout[n, c, i, j] / divisor
                for h in range(h0, h1):
                    for w in range(w0, w1):
                        dx[n, c, h, w] += share
