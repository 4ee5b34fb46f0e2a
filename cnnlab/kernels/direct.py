"""Stride-1 convolution computed directly, without a column matrix.

For stride 1 the "wide" layout of :mod:`cnnlab.kernels.conv` has a second use: with
the output stored at ``q = i*Wp + j`` on a grid as wide as the padded input, tap
``(c, kh, kw)`` of *every* output position reads the single contiguous run
``xp[n, c].ravel()[kh*dh*Wp + kw*dw + q]``. So each filter's output is a sum of
``C*KH*KW`` scaled runs::

    acc[q] = b[f] + sum_{c, kh, kw} w[f, c, kh, kw] * flat_c[kh*dh*Wp + kw*dw + q]
    out[n, f, i, j] = acc[i*Wp + j]        for j < W_out (the rest is thrown away)

with no im2col matrix to write and read back. The unit of work is a *tile* of 4
filters x ``2*lanes`` neighbouring positions ``q`` (16 in float32 with AVX, 32 with
AVX-512): 8 :class:`~cnnlab.kernels.simd.Vector` sums that stay in registers through all the
group's taps. Per tap it loads two vectors of the run and the tap's weight for each of
the 4 filters and does 8 vector multiply-adds; the sums are stored once, at the end.
A group whose filter count is not a multiple of 4 gets zero filters added (their
sums are thrown away).

This suits the first layer of a network (few input channels) and grouped
convolutions; with 8 or more channels in one group the channel-last kernel of
:mod:`cnnlab.kernels.blocked` is faster. The kernel runs in parallel over (images,
block of filters); no BLAS call happens in between, so Numba's threads and BLAS's
threads never compete here.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, uint64

from cnnlab.kernels.simd import broadcast, lanes, load, muladd, store, zeros


@njit(cache=True, inline="always")
def _tile(xflat, offsets, wt, f, q, acc, a):
    """Sums of 4 filters ``f..f+3`` at the ``2*lanes`` positions from ``q`` on.

    Tap ``t`` reads ``xflat[q + offsets[t] :]`` and weights ``wt[t, f : f + 4]``; the
    sums go to ``acc[0:4, a : a + 2*lanes]``.
    """
    V = lanes(xflat)
    s00 = zeros(xflat)
    s01, s10, s11, s20, s21, s30, s31 = s00, s00, s00, s00, s00, s00, s00
    for t in range(offsets.size):
        o = q + offsets[t]
        x0 = load(xflat, o)
        x1 = load(xflat, o + V)
        w = broadcast(wt[t], f)
        s00 = muladd(w, x0, s00)
        s01 = muladd(w, x1, s01)
        w = broadcast(wt[t], f + 1)
        s10 = muladd(w, x0, s10)
        s11 = muladd(w, x1, s11)
        w = broadcast(wt[t], f + 2)
        s20 = muladd(w, x0, s20)
        s21 = muladd(w, x1, s21)
        w = broadcast(wt[t], f + 3)
        s30 = muladd(w, x0, s30)
        s31 = muladd(w, x1, s31)
    store(acc[0], a, s00)
    store(acc[0], a + V, s01)
    store(acc[1], a, s10)
    store(acc[1], a + V, s11)
    store(acc[2], a, s20)
    store(acc[2], a + V, s21)
    store(acc[3], a, s30)
    store(acc[3], a + V, s31)


@njit(cache=True)
def conv_stride1(xflat, offsets, wt, b, N, Hp, Wp, images, out, t0, t1):
    """Stride-1 convolution of work items ``t0 <= t < t1`` (see Notes).

    Parameters
    ----------
    xflat : ndarray, shape (C*N*Hp*Wp + slack,)
        Zero-padded input, *channel-major*: ``xp[n, c, y, x]`` at
        ``((c*N + n)*Hp + y)*Wp + x``, so that one run can cover several images;
        followed by ``2*lanes`` more numbers for the last tile's overhang.
    offsets : ndarray of int64, shape (groups, Cg*KH*KW)
        Where each tap's run starts: ``((g*Cg + c)*N*Hp + kh*dh)*Wp + kw*dw``.
    wt : ndarray, shape (groups, Cg*KH*KW, Fg4)
        ``w[g*Fg + f, c, kh, kw]`` at ``[g, (c*KH + kh)*KW + kw, f]``, with ``Fg4`` the
        filters per group rounded up to a multiple of 4 (zero filters).
    b : ndarray, shape (F,)
        Bias (zeros when the layer has none).
    N, Hp, Wp : int
        Images and padded size.
    images : int
        Images per work item.
    out : ndarray, shape (N, F, H_out, W_out)
        Written in place.
    t0, t1 : int
        Work items, ``t = block*items + item``: ``block`` is a range of ``images``
        images, ``item`` one of the ``items = groups*Fg4/4`` blocks of 4 filters.

    Notes
    -----
    ``out[n, f, i, j] = b[f] + sum_{c, kh, kw} w[f, c, kh, kw]
    * xp[n, g*C/groups + c, i + kh*dh, j + kw*dw]`` with ``g`` the group of ``f``,
    accumulated on the wide grid (module docstring): in a work item that starts at
    image ``n0``, output ``(n, i, j)`` sits at ``q = (n - n0)*Hp*Wp + i*Wp + j``, and
    the positions between two images are thrown away like the extra columns.
    """
    F, H_out, W_out = out.shape[1], out.shape[2], out.shape[3]
    groups, _, Fg4 = wt.shape
    Fg = F // groups
    plane = Hp * Wp
    items = groups * (Fg4 // 4)
    tile = 2 * lanes(xflat)
    acc = np.empty((4, -(-images * plane // tile) * tile), dtype=out.dtype)
    for t in range(t0, t1):
        n0 = (t // items) * images
        count = min(N, n0 + images) - n0
        n = (count - 1) * plane + (H_out - 1) * Wp + W_out
        group, f = (t % items) // (Fg4 // 4), 4 * ((t % items) % (Fg4 // 4))
        for a in range(0, n, tile):
            _tile(xflat, offsets[group], wt[group], f, n0 * plane + a, acc, a)
        for r in range(min(4, Fg - f)):
            _to_plane(acc[r], b[group * Fg + f + r], n0, count, group * Fg + f + r, Wp, plane,
                      out)


@njit(cache=True, inline="always")
def _to_plane(sums, bias, n0, count, f, Wp, plane, out):
    """``out[n0 + k, f, i, j] = sums[k*plane + i*Wp + j] + bias`` for the ``count``
    images from ``n0`` on: a row of ``W_out`` numbers at a time, with unsigned flat
    indices (Numba tests signed ones for negative values on every number, which had
    kept this copy from being vectorized: 3->16 on 32x32, N=64, spent 0.45 of its
    0.77 ms here)."""
    N, F, H_out, W_out = out.shape
    flat = out.reshape(N * F * H_out * W_out)
    width = uint64(W_out)
    for k in range(count):
        target = uint64(((n0 + k) * F + f) * H_out * W_out)
        source = uint64(k * plane)
        for _ in range(H_out):
            for j in range(width):
                flat[target + j] = sums[source + j] + bias
            target += width
            source += uint64(Wp)


@njit(cache=True)
def layout(x, w, groups, top, left, Hp, Wp, dh, dw):
    """The arrays :func:`conv_stride1` reads, in one call (for a small layer, the ten or
    so NumPy calls that built them took longer than the kernel itself).

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
        The input, C-contiguous.
    w : ndarray, shape (F, C/groups, KH, KW)
        The filters, C-contiguous.
    groups, top, left, Hp, Wp, dh, dw : int
        Groups, padding on the top and left, padded size and dilation.

    Returns
    -------
    xflat : ndarray, shape (C*N*Hp*Wp + 2*lanes,)
        ``x`` zero-padded and channel-major: ``x[n, c, y, j]`` at ``((c*N + n)*Hp + top
        + y)*Wp + left + j``; zeros elsewhere.
    offsets : ndarray of int64, shape (groups, Cg*KH*KW)
        ``((g*Cg + c)*N*Hp + kh*dh)*Wp + kw*dw`` at ``[g, (c*KH + kh)*KW + kw]``.
    wt : ndarray, shape (groups, Cg*KH*KW, Fg4)
        ``w[g*Fg + f, c, kh, kw]`` at ``[g, (c*KH + kh)*KW + kw, f]``, zero for
        ``f >= Fg`` (``Fg4``: ``Fg`` rounded up to a multiple of 4).
    """
    N, C, H, W = x.shape
    F, Cg, KH, KW = w.shape
    Fg = F // groups
    Fg4 = -(-Fg // 4) * 4
    xflat = np.zeros(C * N * Hp * Wp + 2 * lanes(x), dtype=x.dtype)
    source = x.reshape(x.size)
    width = uint64(W)
    for c in range(C):
        for n in range(N):
            start = uint64(((n * C + c) * H) * W)
            target = uint64(((c * N + n) * Hp + top) * Wp + left)
            for _ in range(H):
                for j in range(width):
                    xflat[target + j] = source[start + j]
                start += width
                target += uint64(Wp)
    offsets = np.empty((groups, Cg * KH * KW), dtype=np.int64)
    wt = np.zeros((groups, Cg * KH * KW, Fg4), dtype=x.dtype)
    for g in range(groups):
        for c in range(Cg):
            for kh in range(KH):
                for kw in range(KW):
                    t = (c * KH + kh) * KW + kw
                    offsets[g, t] = ((g * Cg + c) * N * Hp + kh * dh) * Wp + kw * dw
                    for f in range(Fg):
                        wt[g, t, f] = w[g * Fg + f, c, kh, kw]
    return xflat, offsets, wt


#: Wide-grid positions a work item aims for (whole images): several small images per
#: item, so that the per-item work (bias, copying the sums out) is spread over many
#: tiles, while the item's rows of finished sums stay in the core's cache.
RUN_LENGTH = 2048


def work_split(N: int, F: int, groups: int, plane: int) -> tuple[int, int]:
    """``(images, items)``: images per work item, and how many work items in all,
    for ``N`` images of ``plane = Hp*Wp`` pixels and ``F`` filters in ``groups``."""
    images = max(1, min(N, RUN_LENGTH // plane))
    return images, -(-N // images) * groups * -(-(F // groups) // 4)


@njit(cache=True, parallel=True)
def conv_stride1_parallel(xflat, offsets, wt, b, N, Hp, Wp, images, out, items, chunks):
    """:func:`conv_stride1` on ``items`` work items, in ``chunks`` ranges in parallel."""
    for k in prange(chunks):
        conv_stride1(
            xflat, offsets, wt, b, N, Hp, Wp, images, out,
            k * items // chunks, (k + 1) * items // chunks,
        )


@njit(cache=True)
def compiled_lanes(a):
    """``lanes(a)`` as compiled (and cached) with this module's kernels: the wrappers
    compare it with :data:`cnnlab.kernels.simd.VECTOR_BYTES` before they size arrays."""
    return lanes(a)
