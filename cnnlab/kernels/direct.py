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
def conv_stride1(xp, w, b, dil_h, dil_w, out, t0, t1):
    """Stride-1 convolution of work items ``t0 <= t < t1`` (see Notes).

    Parameters
    ----------
    xp : ndarray, shape (N, C, Hp, Wp)
        Zero-padded input.
    w : ndarray, shape (F, C/groups, KH, KW)
    b : ndarray, shape (F,)
        Bias (zeros when the layer has none).
    dil_h, dil_w : int
        Dilation.
    out : ndarray, shape (N, F, H_out, W_out)
        Written in place; ``H_out = Hp - dil_h*(KH - 1)``, likewise ``W_out``.
    t0, t1 : int
        Work items: item ``t`` is image ``t // items`` and block ``t % items`` of its
        filters, with ``items = groups * (F/groups // 4 + F/groups % 4)``: per group,
        the blocks of four filters, then the remaining filters one by one.

    Notes
    -----
    ``out[n, f, i, j] = b[f] + sum_{c, kh, kw} w[f, c, kh, kw]
    * xp[n, g*C/groups + c, i + kh*dil_h, j + kw*dil_w]`` with ``g`` the group of
    ``f``; accumulated on the wide grid (module docstring).
    """
    C, Hp, Wp = xp.shape[1], xp.shape[2], xp.shape[3]
    F, Cg, KH, KW = w.shape
    H_out, W_out = out.shape[2], out.shape[3]
    Fg = F // (C // Cg)
    fours, ones = Fg // 4, Fg % 4
    items = (C // Cg) * (fours + ones)
    n = (H_out - 1) * Wp + W_out
    acc = np.empty((4, n), dtype=out.dtype)
    for t in range(t0, t1):
        image, item = t // items, t % items
        group, k = item // (fours + ones), item % (fours + ones)
        if k < fours:
            f, width = group * Fg + 4 * k, 4
        else:
            f, width = group * Fg + 4 * fours + (k - fours), 1
        for r in range(width):
            acc[r, :] = b[f + r]
        for c in range(Cg):
            flat = xp[image, group * Cg + c].reshape(Hp * Wp)
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
            for i in range(H_out):
                out[image, f + r, i, :] = acc[r, i * Wp : i * Wp + W_out]


def work_items(N: int, F: int, groups: int) -> int:
    """How many work items :func:`conv_stride1` splits a batch into."""
    Fg = F // groups
    return N * groups * (Fg // 4 + Fg % 4)


@njit(cache=True, parallel=True)
def conv_stride1_parallel(xp, w, b, dil_h, dil_w, out, items, chunks):
    """:func:`conv_stride1` on ``items`` work items, in ``chunks`` ranges in parallel."""
    for k in prange(chunks):
        conv_stride1(xp, w, b, dil_h, dil_w, out, k * items // chunks, (k + 1) * items // chunks)
