"""Stride-1 convolution computed directly, without a column matrix.

For stride 1 the "wide" layout of :mod:`cnnlab.kernels.conv` has a second use: with
the output stored at ``q = i*Wp + j`` on a grid as wide as the padded input, tap
``(c, kh, kw)`` of *every* output position reads the single contiguous run
``xp[n, c].ravel()[kh*dh*Wp + kw*dw + q]``. So each filter's output is a sum of
``C*KH*KW`` scaled runs::

    acc[q] = b[f] + sum_{c, kh, kw} w[f, c, kh, kw] * flat_c[kh*dh*Wp + kw*dw + q]
    out[n, f, i, j] = acc[i*Wp + j]        for j < W_out (the rest is thrown away)

one long loop over ``q`` per tap, which the compiler vectorizes, with no im2col
matrix to write and read back. To use each loaded pixel more than once, the inner
loop updates four filters from three taps of a kernel row at a time (twelve
multiply-adds per pixel loaded); a group's last ``F/groups % 4`` filters go one at a
time.

This beats im2col + BLAS on the course's layer sizes (few channels, small images),
where the matrix product is too thin for BLAS to run at full speed and writing the
columns costs as much as the product. The kernel runs in parallel over (image, block
of filters); no BLAS call happens in between, so Numba's threads and BLAS's threads
never compete here.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, inline="always")
def _four_filters_three_taps(acc, w, f, c, kh, kw, run0, run1, run2, n):
    """``acc[k, q] += sum_t w[f + k, c, kh, kw + t] * run_t[q]`` for k < 4, t < 3."""
    acc0, acc1, acc2, acc3 = acc[0], acc[1], acc[2], acc[3]
    a0, a1, a2 = w[f, c, kh, kw], w[f, c, kh, kw + 1], w[f, c, kh, kw + 2]
    b0, b1, b2 = w[f + 1, c, kh, kw], w[f + 1, c, kh, kw + 1], w[f + 1, c, kh, kw + 2]
    c0, c1, c2 = w[f + 2, c, kh, kw], w[f + 2, c, kh, kw + 1], w[f + 2, c, kh, kw + 2]
    d0, d1, d2 = w[f + 3, c, kh, kw], w[f + 3, c, kh, kw + 1], w[f + 3, c, kh, kw + 2]
    for q in range(n):
        x0, x1, x2 = run0[q], run1[q], run2[q]
        acc0[q] += a0 * x0 + a1 * x1 + a2 * x2
        acc1[q] += b0 * x0 + b1 * x1 + b2 * x2
        acc2[q] += c0 * x0 + c1 * x1 + c2 * x2
        acc3[q] += d0 * x0 + d1 * x1 + d2 * x2


@njit(cache=True, inline="always")
def _four_filters_one_tap(acc, w, f, c, kh, kw, run0, n):
    """``acc[k, q] += w[f + k, c, kh, kw] * run0[q]`` for k < 4."""
    acc0, acc1, acc2, acc3 = acc[0], acc[1], acc[2], acc[3]
    a0, b0, c0, d0 = w[f, c, kh, kw], w[f + 1, c, kh, kw], w[f + 2, c, kh, kw], w[f + 3, c, kh, kw]
    for q in range(n):
        x0 = run0[q]
        acc0[q] += a0 * x0
        acc1[q] += b0 * x0
        acc2[q] += c0 * x0
        acc3[q] += d0 * x0


@njit(cache=True, inline="always")
def _one_filter_one_tap(acc, w, f, c, kh, kw, run0, n):
    """``acc[0, q] += w[f, c, kh, kw] * run0[q]``."""
    acc0 = acc[0]
    a0 = w[f, c, kh, kw]
    for q in range(n):
        acc0[q] += a0 * run0[q]


@njit(cache=True)
def conv_stride1(xc, w, b, dil_h, dil_w, images, out, t0, t1):
    """Stride-1 convolution of work items ``t0 <= t < t1`` (see Notes).

    Parameters
    ----------
    xc : ndarray, shape (C, N, Hp, Wp)
        Zero-padded input, *channel-major*: the planes of one channel for every image
        follow each other, so that one run can cover several images.
    w : ndarray, shape (F, C/groups, KH, KW)
    b : ndarray, shape (F,)
        Bias (zeros when the layer has none).
    dil_h, dil_w : int
        Dilation.
    images : int
        Images per work item.
    out : ndarray, shape (N, F, H_out, W_out)
        Written in place; ``H_out = Hp - dil_h*(KH - 1)``, likewise ``W_out``.
    t0, t1 : int
        Work items, ``t = block*items + item``: ``block`` is a range of ``images``
        images, ``item`` one of the ``items = groups*(F/groups // 4 + F/groups % 4)``
        blocks of filters (per group, the blocks of four filters, then the remaining
        filters one by one).

    Notes
    -----
    ``out[n, f, i, j] = b[f] + sum_{c, kh, kw} w[f, c, kh, kw]
    * xp[n, g*C/groups + c, i + kh*dil_h, j + kw*dil_w]`` with ``g`` the group of
    ``f``, accumulated on the wide grid (module docstring): in a work item that starts
    at image ``n0``, output ``(n, i, j)`` sits at ``q = (n - n0)*Hp*Wp + i*Wp + j``, and
    the positions between two images are thrown away like the extra columns.
    """
    C, N, Hp, Wp = xc.shape
    F, Cg, KH, KW = w.shape
    H_out, W_out = out.shape[2], out.shape[3]
    plane = Hp * Wp
    Fg = F // (C // Cg)
    fours, ones = Fg // 4, Fg % 4
    items = (C // Cg) * (fours + ones)
    acc = np.empty((4, images * plane), dtype=out.dtype)
    for t in range(t0, t1):
        n0 = (t // items) * images
        count = min(N, n0 + images) - n0
        n = (count - 1) * plane + (H_out - 1) * Wp + W_out
        group, k = (t % items) // (fours + ones), (t % items) % (fours + ones)
        if k < fours:
            f, width = group * Fg + 4 * k, 4
        else:
            f, width = group * Fg + 4 * fours + (k - fours), 1
        for r in range(width):
            acc[r, :n] = b[f + r]
        for c in range(Cg):
            flat = xc[group * Cg + c].reshape(N * plane)[n0 * plane :]
            for kh in range(KH):
                row = kh * dil_h * Wp
                triples = KW // 3 if width == 4 else 0  # taps kw < 3*triples go 3 at a time
                for kw in range(0, 3 * triples, 3):
                    _four_filters_three_taps(
                        acc, w, f, c, kh, kw, flat[row + kw * dil_w :],
                        flat[row + (kw + 1) * dil_w :], flat[row + (kw + 2) * dil_w :], n,
                    )
                for kw in range(3 * triples, KW):
                    run = flat[row + kw * dil_w :]
                    if width == 4:
                        _four_filters_one_tap(acc, w, f, c, kh, kw, run, n)
                    else:
                        _one_filter_one_tap(acc, w, f, c, kh, kw, run, n)
        for r in range(width):
            for image in range(count):
                for i in range(H_out):
                    q = image * plane + i * Wp
                    out[n0 + image, f + r, i, :] = acc[r, q : q + W_out]


#: Wide-grid positions a work item aims for (whole images): long loops even for small
#: images, while its four rows of sums stay in the core's cache.
RUN_LENGTH = 2048


def work_split(N: int, F: int, groups: int, plane: int) -> tuple[int, int]:
    """``(images, items)``: images per work item, and how many work items in all,
    for ``N`` images of ``plane = Hp*Wp`` pixels and ``F`` filters in ``groups``."""
    images = max(1, min(N, RUN_LENGTH // plane))
    Fg = F // groups
    return images, -(-N // images) * groups * (Fg // 4 + Fg % 4)


@njit(cache=True, parallel=True)
def conv_stride1_parallel(xc, w, b, dil_h, dil_w, images, out, items, chunks):
    """:func:`conv_stride1` on ``items`` work items, in ``chunks`` ranges in parallel."""
    for k in prange(chunks):
        conv_stride1(
            xc, w, b, dil_h, dil_w, images, out, k * items // chunks, (k + 1) * items // chunks
        )
