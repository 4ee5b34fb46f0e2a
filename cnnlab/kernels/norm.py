"""Batch normalisation's sums and its per-channel scale and shift, over NCHW batches.

Batch norm reads the whole activation two or three times (the mean, the variance, the
output; in the backward pass the two sums, then ``dx``). NumPy does each pass, plus a
temporary array or two, on one thread; here every pass is one loop over the channel
planes, in parallel over the channels (the sums) or over the ``(n, c)`` planes (the
elementwise passes), so a ``prange`` iteration owns its channels' sums and its planes.

Sums are taken in float64 whatever the dtype, eight running sums at a time (one chain
of dependent additions would wait on each; eight independent ones keep the adder
busy), so float32 statistics are at least as accurate as NumPy's pairwise sums.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

#: Independent running sums per plane (see the module docstring).
LANES = 8


@njit(cache=True, inline="always")
def _plane_sums(a, b, mean, mode):
    """``sum(a)`` (mode 0), ``sum((a - mean)**2)`` (mode 1) or ``sum(a * (b - mean))``
    (mode 2) over a flat plane, in float64, :data:`LANES` running sums at a time."""
    size = a.shape[0]
    part = np.zeros(LANES, dtype=np.float64)
    end = size - size % LANES
    for i in range(0, end, LANES):
        for k in range(LANES):
            if mode == 0:
                part[k] += a[i + k]
            elif mode == 1:
                d = np.float64(a[i + k]) - mean
                part[k] += d * d
            else:
                part[k] += np.float64(a[i + k]) * (np.float64(b[i + k]) - mean)
    total = 0.0
    for i in range(end, size):
        if mode == 0:
            total += a[i]
        elif mode == 1:
            d = np.float64(a[i]) - mean
            total += d * d
        else:
            total += np.float64(a[i]) * (np.float64(b[i]) - mean)
    for k in range(LANES):
        total += part[k]
    return total


@njit(cache=True)
def channel_stats(x, mean, var, c0, c1):
    """Per channel ``c0 <= c < c1``, the batch mean and the (biased) variance, two passes.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    mean, var : ndarray of float64, shape (C,)
        Written in place: ``mean[c] = sum x[:, c] / m`` and
        ``var[c] = sum (x[:, c] - mean[c])**2 / m`` with ``m = N*H*W``.
    c0, c1 : int
        The channels.
    """
    N, _, H, W = x.shape
    m = N * H * W
    for c in range(c0, c1):
        total = 0.0
        for n in range(N):
            plane = x[n, c].reshape(H * W)
            total += _plane_sums(plane, plane, 0.0, 0)
        mu = total / m
        total = 0.0
        for n in range(N):
            plane = x[n, c].reshape(H * W)
            total += _plane_sums(plane, plane, mu, 1)
        mean[c] = mu
        var[c] = total / m


@njit(cache=True, parallel=True)
def channel_stats_parallel(x, mean, var, chunks):
    """:func:`channel_stats` of every channel, in ``chunks`` ranges run in parallel."""
    C = x.shape[1]
    for k in prange(chunks):
        channel_stats(x, mean, var, k * C // chunks, (k + 1) * C // chunks)


@njit(cache=True)
def gradient_sums(dout, x, mean, dbeta, dout_xmu, c0, c1):
    """Per channel ``c0 <= c < c1``, ``dbeta[c] = sum dout[:, c]`` and
    ``dout_xmu[c] = sum dout[:, c] * (x[:, c] - mean[c])`` (float64, written in place);
    ``dgamma = dout_xmu * inv_std``."""
    N, _, H, W = x.shape
    for c in range(c0, c1):
        total, cross = 0.0, 0.0
        for n in range(N):
            d, v = dout[n, c].reshape(H * W), x[n, c].reshape(H * W)
            total += _plane_sums(d, d, 0.0, 0)
            cross += _plane_sums(d, v, mean[c], 2)
        dbeta[c] = total
        dout_xmu[c] = cross


@njit(cache=True, parallel=True)
def gradient_sums_parallel(dout, x, mean, dbeta, dout_xmu, chunks):
    """:func:`gradient_sums` of every channel, in ``chunks`` ranges run in parallel."""
    C = x.shape[1]
    for k in prange(chunks):
        gradient_sums(dout, x, mean, dbeta, dout_xmu, k * C // chunks, (k + 1) * C // chunks)


@njit(cache=True)
def scale_shift(x, scale, shift, out, p0, p1):
    """``out[n, c] = x[n, c] * scale[c] + shift[c]`` for the planes ``p0 <= n*C + c < p1``."""
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    for p in range(p0, p1):
        n, c = p // C, p % C
        a, b = scale[c], shift[c]
        src, dst = x[n, c].reshape(H * W), out[n, c].reshape(H * W)
        for i in range(H * W):
            dst[i] = src[i] * a + b


@njit(cache=True, parallel=True)
def scale_shift_parallel(x, scale, shift, out, chunks):
    """:func:`scale_shift` on every plane, in ``chunks`` ranges run in parallel."""
    P = x.shape[0] * x.shape[1]
    for k in prange(chunks):
        scale_shift(x, scale, shift, out, k * P // chunks, (k + 1) * P // chunks)


@njit(cache=True)
def input_gradient(dout, x, a, b, mean, d, dx, p0, p1):
    """``dx[n, c] = a[c]*dout[n, c] + b[c]*(x[n, c] - mean[c]) + d[c]`` for the planes
    ``p0 <= n*C + c < p1``: batch norm's ``dx`` with its per-channel constants folded
    (see :func:`cnnlab.layers.norm.batchnorm2d_backward`)."""
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    for p in range(p0, p1):
        n, c = p // C, p % C
        ac, bc, mc, dc = a[c], b[c], mean[c], d[c]
        g, v, dst = dout[n, c].reshape(H * W), x[n, c].reshape(H * W), dx[n, c].reshape(H * W)
        for i in range(H * W):
            dst[i] = ac * g[i] + bc * (v[i] - mc) + dc


@njit(cache=True, parallel=True)
def input_gradient_parallel(dout, x, a, b, mean, d, dx, chunks):
    """:func:`input_gradient` on every plane, in ``chunks`` ranges run in parallel."""
    P = x.shape[0] * x.shape[1]
    for k in prange(chunks):
        input_gradient(dout, x, a, b, mean, d, dx, k * P // chunks, (k + 1) * P // chunks)
