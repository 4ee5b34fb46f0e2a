"""Max and average pooling, forward and backward, one channel plane per iteration.

The kernels take the *unpadded* input and the padding per side: a window is clipped
to the input, which is exactly padding with ``-inf`` for max pooling (padding never
wins) and padding with zeros for average pooling (the padded zeros add nothing to the
sum; whether they count in the divisor is ``count_include_pad``).

Window ``(i, j)`` covers rows ``i*stride_h - pad_top ... + KH - 1`` and columns
``j*stride_w - pad_left ... + KW - 1``.

Each kernel works on the (n, c) planes ``p0 <= n*C + c < p1``, serially; the
``parallel`` function below it runs it with one ``prange`` iteration per plane. An
iteration owns its plane of the output and of ``dx``, so the ``+=`` of overlapping
windows never races. The public wrappers call the serial kernel on small inputs,
where starting threads would cost more than the work (a gradient check calls a layer
thousands of times on a few hundred numbers).

Loop order. Max pooling keeps the lecture's order: "for each output (i, j), for each
tap (kh, kw)", scanning the window in row-major order. Average pooling is separable
(a window's sum is the sum of its rows' sums), so for each output row ``i`` it first
adds up the window's input rows for every column at once (a long loop the compiler
vectorizes), then adds ``KW`` of those column sums per output. Its backward pass does
the same in reverse.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True)
def _has_nan(plane):
    """True if a 2-D plane holds a NaN (one cheap pass, no early exit to vectorize)."""
    found = False
    for h in range(plane.shape[0]):
        for w in range(plane.shape[1]):
            found |= plane[h, w] != plane[h, w]
    return found


@njit(cache=True)
def max_pool_forward(x, KH, KW, stride_h, stride_w, pad_top, pad_left, out, argmax, p0, p1):
    """Max of every window and where it was (the slide's forward pass).

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    KH, KW, stride_h, stride_w, pad_top, pad_left : int
    out : ndarray, shape (N, C, H_out, W_out)
        Written in place.
    argmax : ndarray of int32, shape (N, C, H_out, W_out)
        Written in place: the winner's flat index ``h*W + w`` in its (H, W) plane.
    p0, p1 : int
        The planes to pool: ``p0 <= n*C + c < p1``.

    Notes
    -----
    Tie rule (PyTorch's): each window is scanned in row-major order and a value wins
    only if it is strictly greater than the best so far, so the *first* maximum wins.
    The scan starts on the window's first real pixel: padding never wins, and a window
    of ``-inf`` values picks its first real pixel. A NaN always wins (NaN propagates,
    as in PyTorch); the NaN test runs only on planes that hold one, since it halves
    the speed of the loop.
    """
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    H_out, W_out = out.shape[2], out.shape[3]
    for nc in range(p0, p1):
        n, c = nc // C, nc % C
        plane = x[n, c]
        nan = _has_nan(plane)
        for i in range(H_out):
            h0 = i * stride_h - pad_top
            h1 = min(h0 + KH, H)
            h0 = max(h0, 0)
            for j in range(W_out):
                w0 = j * stride_w - pad_left
                w1 = min(w0 + KW, W)
                w0 = max(w0, 0)
                best = plane[h0, w0]
                where = h0 * W + w0
                for h in range(h0, h1):
                    for w in range(w0, w1):
                        v = plane[h, w]
                        wins = v > best
                        if nan:
                            wins = wins | (v != v)  # v != v: v is NaN
                        best = v if wins else best
                        where = h * W + w if wins else where
                out[n, c, i, j] = best
                argmax[n, c, i, j] = where


@njit(cache=True, parallel=True)
def max_pool_forward_parallel(x, KH, KW, stride_h, stride_w, pad_top, pad_left, out, argmax):
    """:func:`max_pool_forward` on every plane, one ``prange`` iteration per plane."""
    for p in prange(x.shape[0] * x.shape[1]):
        max_pool_forward(
            x, KH, KW, stride_h, stride_w, pad_top, pad_left, out, argmax, p, p + 1
        )


@njit(cache=True)
def max_pool_backward(dout, argmax, dx, p0, p1):
    """Route each upstream gradient to its window's winner, adding up on overlaps.

    Parameters
    ----------
    dout : ndarray, shape (N, C, H_out, W_out)
    argmax : ndarray of int32, shape (N, C, H_out, W_out)
        From :func:`max_pool_forward`.
    dx : ndarray, shape (N, C, H, W)
        Written in place: each plane is zeroed, then accumulated (``+=``). Zeroing
        here rather than with ``np.zeros`` saves a pass over memory.
    p0, p1 : int
        The planes: ``p0 <= n*C + c < p1``.

    Notes
    -----
    ``dx[n, c, argmax[n, c, i, j]] += dout[n, c, i, j]``: a pixel that wins several
    overlapping windows collects the *sum* of their gradients (the ``+=`` is the
    lesson of the CS109B 3x3 stride-1 walk-through).
    """
    C, H, W = dx.shape[1], dx.shape[2], dx.shape[3]
    H_out, W_out = dout.shape[2], dout.shape[3]
    for nc in range(p0, p1):
        n, c = nc // C, nc % C
        plane = dx[n, c].reshape(H * W)  # a view: argmax holds flat indices
        plane[:] = 0
        for i in range(H_out):
            for j in range(W_out):
                plane[argmax[n, c, i, j]] += dout[n, c, i, j]


@njit(cache=True, parallel=True)
def max_pool_backward_parallel(dout, argmax, dx):
    """:func:`max_pool_backward` on every plane, one ``prange`` iteration per plane."""
    for p in prange(dx.shape[0] * dx.shape[1]):
        max_pool_backward(dout, argmax, dx, p, p + 1)


@njit(cache=True)
def _divisor(h0, h1, j, KW, stride_w, pad_left, pad_right, H, W, count_include_pad):
    """PyTorch's average-pool divisor for window ``(i, j)``; ``h0..h1`` are its rows
    before clipping, limited to the padded input."""
    w0 = j * stride_w - pad_left
    w1 = min(w0 + KW, W + pad_right)
    if count_include_pad:
        return (h1 - h0) * (w1 - w0)
    return (min(h1, H) - max(h0, 0)) * (min(w1, W) - max(w0, 0))


@njit(cache=True)
def avg_pool_forward(
    x, KH, KW, stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right,
    count_include_pad, out, p0, p1,
):
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
    p0, p1 : int
        The planes: ``p0 <= n*C + c < p1``.

    Notes
    -----
    ``out[n, c, i, j] = sum(x[n, c, window]) / divisor`` with PyTorch's divisor: the
    window clipped to the padded input (``ceil_mode`` windows that hang past the
    padding are smaller), or clipped to the real input when padding is not counted.
    """
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    H_out, W_out = out.shape[2], out.shape[3]
    column_sums = np.empty(W, dtype=x.dtype)
    for nc in range(p0, p1):
        n, c = nc // C, nc % C
        plane = x[n, c]
        for i in range(H_out):
            h0 = i * stride_h - pad_top
            h1 = min(h0 + KH, H + pad_bottom)
            # 1. add up the window's rows, for every column of the input at once
            column_sums[:] = 0
            for h in range(max(h0, 0), min(h1, H)):
                for w in range(W):
                    column_sums[w] += plane[h, w]
            # 2. add up each window's columns of those sums
            for j in range(W_out):
                w0 = j * stride_w - pad_left
                total = 0.0
                for w in range(max(w0, 0), min(w0 + KW, W)):
                    total += column_sums[w]
                out[n, c, i, j] = total / _divisor(
                    h0, h1, j, KW, stride_w, pad_left, pad_right, H, W, count_include_pad
                )


@njit(cache=True, parallel=True)
def avg_pool_forward_parallel(
    x, KH, KW, stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right,
    count_include_pad, out
):
    """:func:`avg_pool_forward` on every plane, one ``prange`` iteration per plane."""
    for p in prange(x.shape[0] * x.shape[1]):
        avg_pool_forward(
            x, KH, KW, stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right,
            count_include_pad, out, p, p + 1,
        )


@njit(cache=True)
def avg_pool_backward(
    dout, KH, KW, stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right,
    count_include_pad, dx, p0, p1,
):
    """Spread each upstream gradient evenly over its window, adding up on overlaps.

    Parameters
    ----------
    dout : ndarray, shape (N, C, H_out, W_out)
    KH, KW, stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right : int
    count_include_pad : bool
    dx : ndarray, shape (N, C, H, W)
        Written in place: each plane is zeroed, then accumulated (``+=``). Zeroing
        here rather than with ``np.zeros`` saves a pass over memory.
    p0, p1 : int
        The planes: ``p0 <= n*C + c < p1``.

    Notes
    -----
    ``dx[n, c, window] += dout[n, c, i, j] / divisor`` with the divisor of
    :func:`avg_pool_forward`; the share that fell on padding is dropped.
    """
    C, H, W = dx.shape[1], dx.shape[2], dx.shape[3]
    H_out, W_out = dout.shape[2], dout.shape[3]
    row_grad = np.empty(W, dtype=dx.dtype)
    for nc in range(p0, p1):
        n, c = nc // C, nc % C
        plane = dx[n, c]
        plane[:, :] = 0
        for i in range(H_out):
            h0 = i * stride_h - pad_top
            h1 = min(h0 + KH, H + pad_bottom)
            # 1. spread each window's share over its columns (windows overlap: +=)
            row_grad[:] = 0
            for j in range(W_out):
                w0 = j * stride_w - pad_left
                share = dout[n, c, i, j] / _divisor(
                    h0, h1, j, KW, stride_w, pad_left, pad_right, H, W, count_include_pad
                )
                for w in range(max(w0, 0), min(w0 + KW, W)):
                    row_grad[w] += share
            # 2. every row of the windows receives that row of gradients
            for h in range(max(h0, 0), min(h1, H)):
                for w in range(W):
                    plane[h, w] += row_grad[w]


@njit(cache=True, parallel=True)
def avg_pool_backward_parallel(
    dout, KH, KW, stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right,
    count_include_pad, dx
):
    """:func:`avg_pool_backward` on every plane, one ``prange`` iteration per plane."""
    for p in prange(dx.shape[0] * dx.shape[1]):
        avg_pool_backward(
            dout, KH, KW, stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right,
            count_include_pad, dx, p, p + 1,
        )
