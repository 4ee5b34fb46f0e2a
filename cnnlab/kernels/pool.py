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

Loop order. The lecture's order is "for each output (i, j), for each tap (kh, kw)".
These kernels keep the output *row* ``i`` outermost but swap the rest: "for each tap
(h, kw), for every output column j at once". Each window still sees its taps in
row-major order (so the tie rule is unchanged), and the innermost loop now runs along
an output row and an input row, which the compiler turns into vector instructions:
2 to 4 times faster than the lecture's order on the course's shapes. For tap ``kw``
the output columns whose window holds that tap inside the row are ``j0 <= j < j1``::

    0 <= j*stride_w - pad_left + kw <= W - 1
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True)
def _columns(kw, stride_w, pad_left, W, W_out):
    """``(j0, j1, first)``: output columns whose tap ``kw`` is a real pixel, and the
    input column of the first of them (``j0*stride_w - pad_left + kw``)."""
    j0 = max(0, (pad_left - kw + stride_w - 1) // stride_w)
    j1 = min(W_out, (W - 1 + pad_left - kw) // stride_w + 1)
    return j0, j1, j0 * stride_w - pad_left + kw


@njit(cache=True)
def _split_phases(row, stride_w, phases):
    """De-interleave an input row by stride: ``phases[k, t] = row[t*stride_w + k]``.

    The taps of consecutive windows are ``stride_w`` apart in the row but adjacent in
    one phase, so the loops below read contiguous memory (and vectorize) at any stride.
    Nothing to do for stride 1, where the row itself is read.
    """
    if stride_w > 1:
        for w in range(row.shape[0]):
            phases[w % stride_w, w // stride_w] = row[w]


@njit(cache=True)
def _tap_values(row, phases, first, count, stride_w):
    """The ``count`` input values at columns ``first, first + stride_w, ...``."""
    if stride_w == 1:
        return row[first : first + count]
    start = first // stride_w
    return phases[first % stride_w, start : start + count]


@njit(cache=True)
def _max_tap(values, best, where, first_index, stride_w):
    """One tap of many windows: ``values[q]`` challenges window ``q``'s best so far.

    Strictly greater wins (ties keep the earlier tap); a NaN always wins.
    """
    for q in range(values.shape[0]):
        v = values[q]
        wins = (v > best[q]) | (v != v)  # v != v: v is NaN
        best[q] = v if wins else best[q]
        where[q] = first_index + q * stride_w if wins else where[q]


@njit(cache=True)
def _add_tap(values, total):
    for q in range(values.shape[0]):
        total[q] += values[q]


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
    Tie rule (PyTorch's): each window's taps are visited in row-major order and a value
    wins only if it is strictly greater than the best so far, so the *first* maximum
    wins. The best starts at ``-inf`` on the window's first real pixel: padding never
    wins, and a window of ``-inf`` values picks its first real pixel. A NaN always
    wins (NaN propagates, as in PyTorch).
    """
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    H_out, W_out = out.shape[2], out.shape[3]
    phases = np.empty((stride_w, W // stride_w + 1), dtype=x.dtype)
    for nc in range(p0, p1):
        n, c = nc // C, nc % C
        for i in range(H_out):
            best = out[n, c, i]
            where = argmax[n, c, i]
            h0 = i * stride_h - pad_top
            h1 = min(h0 + KH, H)
            h0 = max(h0, 0)
            for j in range(W_out):
                best[j] = -np.inf
                where[j] = h0 * W + max(j * stride_w - pad_left, 0)
            for h in range(h0, h1):
                _split_phases(x[n, c, h], stride_w, phases)
                for kw in range(KW):
                    j0, j1, first = _columns(kw, stride_w, pad_left, W, W_out)
                    values = _tap_values(x[n, c, h], phases, first, j1 - j0, stride_w)
                    _max_tap(values, best[j0:j1], where[j0:j1], h * W + first, stride_w)


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
        Zero-filled by the caller; accumulated in place.
    p0, p1 : int
        The planes: ``p0 <= n*C + c < p1``.

    Notes
    -----
    ``dx[n, c, argmax[n, c, i, j]] += dout[n, c, i, j]``: a pixel that wins several
    overlapping windows collects the *sum* of their gradients (the ``+=`` is the
    lesson of the CS109B 3x3 stride-1 walk-through).
    """
    C, W = dx.shape[1], dx.shape[3]
    H_out, W_out = dout.shape[2], dout.shape[3]
    for nc in range(p0, p1):
        n, c = nc // C, nc % C
        for i in range(H_out):
            for j in range(W_out):
                k = argmax[n, c, i, j]
                dx[n, c, k // W, k % W] += dout[n, c, i, j]


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
    phases = np.empty((stride_w, W // stride_w + 1), dtype=x.dtype)
    for nc in range(p0, p1):
        n, c = nc // C, nc % C
        for i in range(H_out):
            total = out[n, c, i]
            total[:] = 0
            h0 = i * stride_h - pad_top
            h1 = min(h0 + KH, H + pad_bottom)
            for h in range(max(h0, 0), min(h1, H)):
                _split_phases(x[n, c, h], stride_w, phases)
                for kw in range(KW):
                    j0, j1, first = _columns(kw, stride_w, pad_left, W, W_out)
                    _add_tap(_tap_values(x[n, c, h], phases, first, j1 - j0, stride_w),
                             total[j0:j1])
            for j in range(W_out):
                total[j] /= _divisor(
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
        Zero-filled by the caller; accumulated in place.
    p0, p1 : int
        The planes: ``p0 <= n*C + c < p1``.

    Notes
    -----
    ``dx[n, c, window] += dout[n, c, i, j] / divisor`` with the divisor of
    :func:`avg_pool_forward`; the share that fell on padding is dropped.
    """
    C, H, W = dx.shape[1], dx.shape[2], dx.shape[3]
    H_out, W_out = dout.shape[2], dout.shape[3]
    for nc in range(p0, p1):
        n, c = nc // C, nc % C
        share = np.empty(W_out, dtype=dx.dtype)
        for i in range(H_out):
            h0 = i * stride_h - pad_top
            h1 = min(h0 + KH, H + pad_bottom)
            for j in range(W_out):
                share[j] = dout[n, c, i, j] / _divisor(
                    h0, h1, j, KW, stride_w, pad_left, pad_right, H, W, count_include_pad
                )
            for h in range(max(h0, 0), min(h1, H)):
                for kw in range(KW):
                    j0, j1, first = _columns(kw, stride_w, pad_left, W, W_out)
                    target = dx[n, c, h, first : first + (j1 - j0 - 1) * stride_w + 1 : stride_w]
                    s = share[j0:j1]
                    for q in range(j1 - j0):
                        target[q] += s[q]


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
