"""The filters' gradient of a convolution, with its sums in registers.

``dw[f, c, kh, kw] = sum_{n, i, j} dout[n, f, i, j] * xp[n, c, i*sh + kh*dh, j*sw + kw*dw]``
is a sum over every output pixel of an outer product: the pixel's upstream gradient
(one number per filter) times the input number each tap saw (one per channel). Both
factors are read from channel-last copies,

    xh[n, y, x, c]      the zero-padded input (as in :mod:`cnnlab.kernels.blocked`)
    douth[n, i, j, f]   the upstream gradient, with zero filters up to Fp

so that the unit of work, a block of 8 channels x ``2*lanes`` filters (16 float32 with
AVX, 32 with AVX-512), keeps 16 :class:`~cnnlab.kernels.simd.Vector` sums in registers
while it runs over a range of output rows: per pixel, two vector loads of ``douth``,
eight numbers of ``xh`` and 16 vector multiply-adds. With dilation 1 in width, a window
row's taps and channels ``(kw, c)`` are one run of ``KW*C`` numbers of ``xh``, and a
block's 8 "channels" are 8 entries of that run (3 channels x 3 taps make 2 blocks
rather than 3: the first layer of a network, 3->16 on 32x32 with N=64, took 3.0 ms
rather than 3.5 ms); with dilation, a run per tap. Each block's sums go to ``dwt``
with the block's 8 x ``2*lanes`` numbers one after the other (filter blocks first,
then window rows, runs and entries, see :func:`weight_grad`): with the filters' rows
``Fp`` numbers apart instead, 512->512 3x3 (a 9.4 MB ``dw``) had taken twice as long,
each block's sums spread over four pages. The copies' pixels are a little more than
``C`` (``Fp``) numbers apart, never a multiple of 8 cache lines (see ``_spread`` in
:mod:`cnnlab.layers._conv_paths`).

A *work item* is one run of a window row and one block of filters, through every
block of the run. Rows go in *passes* (:data:`PASS_BYTES`): every item goes over a pass
of rows before the next pass, so that an item's rows of ``douth`` are read from the
core's L1 cache by each of its blocks, and the pass's rows of ``xh`` from its L2 cache
by each item. A block's first pass writes its sums and later passes add to them, so
``dwt`` needs no zeros beforehand.

In parallel, the work is split either way: ranges of rows, each summed into its own
copy of ``dwt`` (added up by the caller), or ranges of work items, each writing its own
blocks of ``dwt``; no two threads ever write the same number. Small layers split their
rows; layers with a large ``dw`` their items, so that no copy of ``dw`` is written and
added up (:data:`cnnlab.layers.dispatch.WEIGHT_GRAD_SPLIT_BYTES`). No BLAS call is
involved, so Numba's threads never wait on the BLAS library's (or its on theirs).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, uint64

from cnnlab.kernels.simd import VECTOR_BYTES, broadcast, lanes, load, muladd, store, zeros

#: Bytes of one block of filters' ``douth`` over the output rows of a *pass* (the rows
#: every work item goes over before the next pass): these stay in the core's L1 cache
#: while every tap and channel of that block of filters reads them; at least one row
#: (:func:`pass_rows`). Each block loads and stores its sums once per pass. One thread,
#: float32, AVX-512: 8 KB took 13.6-17 ms for 512->512 3x3 on 7x7 (N=8), 16 KB
#: 17-19 ms, 2 KB 20 ms; 256->256 on 14x14 was 14-15 ms from 4 to 16 KB.
PASS_BYTES = 1 << 13

#: Channels per block (``dwt`` and the input copy are padded for the last block).
CHANNELS = 8


@njit(cache=True, inline="always")
def _block(xh, douth, dwt, o, tap, f, C, Hp, Wp, H_out, W_out, sh, sw, Fp, Fs, t0, t1,
           first):
    """One block: 8 channels from ``tap`` on x ``2*lanes`` filters from ``f`` on.

    ``dwt[o + c*Fp + k] (+)= sum_{t0 <= t < t1, j} xh[x(t, j) + tap + c]
    * douth[(t*W_out + j)*Fs + f + k]`` for ``c < 8``, ``k < 2*lanes``, with ``x(t, j)``
    the top-left corner of output pixel ``(t, j)``'s window (``C`` numbers a pixel)
    and ``tap`` the offset of the block's first entry in that window; ``=`` if
    ``first``, else ``+=``.
    """
    V = lanes(xh)
    Fp = 2 * V  # the block's rows of dwt follow each other
    if first:
        s00 = zeros(xh)
        s01, s10, s11, s20, s21, s30, s31 = s00, s00, s00, s00, s00, s00, s00
        s40, s41, s50, s51, s60, s61, s70, s71 = s00, s00, s00, s00, s00, s00, s00, s00
    else:
        s00, s01 = load(dwt, o), load(dwt, o + V)
        s10, s11 = load(dwt, o + Fp), load(dwt, o + Fp + V)
        s20, s21 = load(dwt, o + 2 * Fp), load(dwt, o + 2 * Fp + V)
        s30, s31 = load(dwt, o + 3 * Fp), load(dwt, o + 3 * Fp + V)
        s40, s41 = load(dwt, o + 4 * Fp), load(dwt, o + 4 * Fp + V)
        s50, s51 = load(dwt, o + 5 * Fp), load(dwt, o + 5 * Fp + V)
        s60, s61 = load(dwt, o + 6 * Fp), load(dwt, o + 6 * Fp + V)
        s70, s71 = load(dwt, o + 7 * Fp), load(dwt, o + 7 * Fp + V)
    n, i = t0 // H_out, t0 % H_out
    di = t0 * W_out * Fs + f
    for _ in range(t0, t1):
        xi = (n * Hp + i * sh) * Wp * C + tap
        i += 1
        if i == H_out:
            n, i = n + 1, 0
        for _ in range(W_out):
            g0 = load(douth, di)
            g1 = load(douth, di + V)
            v = broadcast(xh, xi)
            s00 = muladd(v, g0, s00)
            s01 = muladd(v, g1, s01)
            v = broadcast(xh, xi + 1)
            s10 = muladd(v, g0, s10)
            s11 = muladd(v, g1, s11)
            v = broadcast(xh, xi + 2)
            s20 = muladd(v, g0, s20)
            s21 = muladd(v, g1, s21)
            v = broadcast(xh, xi + 3)
            s30 = muladd(v, g0, s30)
            s31 = muladd(v, g1, s31)
            v = broadcast(xh, xi + 4)
            s40 = muladd(v, g0, s40)
            s41 = muladd(v, g1, s41)
            v = broadcast(xh, xi + 5)
            s50 = muladd(v, g0, s50)
            s51 = muladd(v, g1, s51)
            v = broadcast(xh, xi + 6)
            s60 = muladd(v, g0, s60)
            s61 = muladd(v, g1, s61)
            v = broadcast(xh, xi + 7)
            s70 = muladd(v, g0, s70)
            s71 = muladd(v, g1, s71)
            xi += sw * C
            di += Fs
    store(dwt, o, s00)
    store(dwt, o + V, s01)
    store(dwt, o + Fp, s10)
    store(dwt, o + Fp + V, s11)
    store(dwt, o + 2 * Fp, s20)
    store(dwt, o + 2 * Fp + V, s21)
    store(dwt, o + 3 * Fp, s30)
    store(dwt, o + 3 * Fp + V, s31)
    store(dwt, o + 4 * Fp, s40)
    store(dwt, o + 4 * Fp + V, s41)
    store(dwt, o + 5 * Fp, s50)
    store(dwt, o + 5 * Fp + V, s51)
    store(dwt, o + 6 * Fp, s60)
    store(dwt, o + 6 * Fp + V, s61)
    store(dwt, o + 7 * Fp, s70)
    store(dwt, o + 7 * Fp + V, s71)


@njit(cache=True)
def weight_grad(xh, douth, S, C, Hp, Wp, KH, KT, sh, sw, dh, tap_step, H_out, W_out, E, Fs,
                rows, dwt, r0, r1, i0, i1):
    """The blocks of work items ``i0 <= i < i1``: the sum over output rows
    ``r0 <= t < r1`` (``t = n*H_out + i``), in passes of ``rows`` rows, into ``dwt``.

    Parameters
    ----------
    xh : ndarray, shape (N*Hp*Wp*S + CHANNELS - 1,)
        The zero-padded input, channel last, a pixel every ``S`` numbers (at least
        ``C``): ``xp[n, c, y, x]`` at ``((n*Hp + y)*Wp + x)*S + c``, then ``CHANNELS - 1``
        more numbers. The last block of a run reads past it, into the next pixel or
        those numbers; what it computes from them is thrown away.
    douth : ndarray, shape (N*H_out*W_out*Fs,)
        ``dout[n, f, i, j]`` at ``((n*H_out + i)*W_out + j)*Fs + f``, zero for the
        filters past the layer's up to a whole block (``Fs`` is at least that).
    S, C, Hp, Wp, KH, sh, sw, dh, H_out, W_out : int
        ``xh``'s pixel stride, channels, padded input size, kernel height, stride,
        dilation in height, output size.
    KT, tap_step, E : int
        A window row is ``KT`` runs of ``E`` numbers each, ``tap_step`` apart in
        ``xh``: with dilation 1 in width (or a kernel one tap wide) one run of
        ``E = KW*C`` (taps ``kw``, channels ``c``: entry ``kw*C + c``, at
        ``kw*S + c``), else ``KT = KW`` runs of ``E = C`` channels each, ``dw*S``
        apart. With one run, either ``S == C`` or ``C`` is a multiple of
        ``CHANNELS``, so that a block's 8 entries are 8 numbers in a row of ``xh``.
    Fs : int
        ``douth``'s pixel stride.
    rows : int
        Output rows per pass (:func:`pass_rows`).
    dwt : ndarray, shape (Fp*KH*KT*Ep,)
        ``Ep`` is ``E`` rounded up to a multiple of ``CHANNELS``, ``B = 2*lanes``:
        the gradient of entry ``e`` of run ``k`` of window row ``kh``, filter ``f``,
        at ``(((f // B)*KH + kh)*KT + k)*Ep + e)*B + f % B``. The items' numbers are
        overwritten (nothing else is touched).
    r0, r1 : int
        The range of output rows.
    i0, i1 : int
        The range of work items, ``i = ((f // B)*KH + kh)*KT + k``.
    """
    B = 2 * lanes(xh)
    Ep = -(-E // CHANNELS) * CHANNELS
    taps = KH * KT
    for t0 in range(r0, r1, rows):
        t1 = min(r1, t0 + rows)
        for item in range(i0, i1):
            f = (item // taps) * B
            kh, k = (item % taps) // KT, item % KT
            tap = kh * dh * Wp * S + k * tap_step
            for e in range(0, Ep, CHANNELS):
                _block(
                    xh, douth, dwt, (item * Ep + e) * B, tap + (e // C) * S + e % C, f, S,
                    Hp, Wp, H_out, W_out, sh, sw, B, Fs, t0, t1, t0 == r0,
                )


@njit(cache=True, parallel=True)
def weight_grad_parallel(xh, douth, S, C, Hp, Wp, KH, KT, sh, sw, dh, tap_step, H_out, W_out,
                         E, Fs, rows, parts, total_rows, item_ranges):
    """:func:`weight_grad` of output rows ``0 <= t < total_rows`` and every work item,
    in parallel: the rows split in ``len(parts)`` ranges, range ``k`` summed into
    ``parts[k]`` (the caller adds them up), and the work items in ``item_ranges``
    ranges."""
    row_ranges = parts.shape[0]
    Ep = -(-E // CHANNELS) * CHANNELS
    items = parts.shape[1] // (Ep * 2 * lanes(xh))
    for k in prange(row_ranges * item_ranges):
        r, i = k // item_ranges, k % item_ranges
        weight_grad(
            xh, douth, S, C, Hp, Wp, KH, KT, sh, sw, dh, tap_step, H_out, W_out, E, Fs, rows,
            parts[r], r * total_rows // row_ranges, (r + 1) * total_rows // row_ranges,
            i * items // item_ranges, (i + 1) * items // item_ranges,
        )


#: Channels of ``dw`` that :func:`to_filters` moves at a time, for a block of filters.
COPY_CHANNELS = 8


@njit(cache=True)
def to_filters(dwt, KH, KW, KT, Ep, out):
    """``dw`` in the layer's layout from :func:`weight_grad`'s blocks.

    ``out[f, c, kh, kw] = dwt[((((f // B)*KH + kh)*KT + k)*Ep + e)*B + f % B]`` with
    ``(k, e) = (0, kw*C + c)`` for one run per window row (``KT == 1``), else ``(kw,
    c)``; ``out`` is (F, C, KH, KW), C-contiguous. A block of ``B = 2*lanes`` filters
    and :data:`COPY_CHANNELS` channels at a time goes through a small ``tile``: read
    from ``dwt`` in runs of ``B``, written to ``out`` a filter's run of
    ``COPY_CHANNELS*KH*KW`` after the other, both from the L1 cache. (NumPy's
    transposing copy reads ``dwt`` a number every ``B`` across all of it; writing the
    block's 32 filters side by side instead put them 18 KB apart with 512 channels,
    in two sets of the L1 cache.) One thread, float32, 3x3: 256->512 2.1 -> 0.9 ms,
    512->512 3.5 -> 2.2 ms, 256->256 0.68 -> 0.45 ms. Unsigned indices: no test for
    negative ones on every number.
    """
    F, C = out.shape[0], out.shape[1]
    B = 2 * lanes(dwt)
    flat = out.reshape(out.size)
    run = COPY_CHANNELS * KH * KW
    tile = np.empty(B * run, dtype=dwt.dtype)  # [j, c - c0, kh, kw]: a filter's run
    for f0 in range(0, F, B):
        count = min(B, F - f0)
        for c0 in range(0, C, COPY_CHANNELS):
            c1 = min(C, c0 + COPY_CHANNELS)
            for c in range(c0, c1):
                for kh in range(KH):
                    for kw in range(KW):
                        k, e = (0, kw * C + c) if KT == 1 else (kw, c)
                        source = uint64(((((f0 // B) * KH + kh) * KT + k) * Ep + e) * B)
                        spot = uint64(((c - c0) * KH + kh) * KW + kw)
                        for j in range(count):
                            tile[spot + uint64(j * run)] = dwt[source + uint64(j)]
            length = (c1 - c0) * KH * KW
            for j in range(count):
                target = uint64(((f0 + j) * C + c0) * KH * KW)
                for q in range(length):
                    flat[target + uint64(q)] = tile[uint64(j * run + q)]


def pass_rows(W_out: int) -> int:
    """Output rows per pass: :data:`PASS_BYTES` of one block of filters' ``douth``
    (``2*lanes`` numbers a pixel, ``2*VECTOR_BYTES`` bytes)."""
    return max(1, PASS_BYTES // (W_out * 2 * VECTOR_BYTES))


@njit(cache=True)
def compiled_lanes(a):
    """``lanes(a)`` as compiled (and cached) with this module's kernels: the wrappers
    compare it with :data:`cnnlab.kernels.simd.VECTOR_BYTES` before they size arrays."""
    return lanes(a)
