"""The filters' gradient of a convolution, with its sums in registers.

``dw[f, c, kh, kw] = sum_{n, i, j} dout[n, f, i, j] * xp[n, c, i*sh + kh*dh, j*sw + kw*dw]``
is a sum over every output pixel of an outer product: the pixel's upstream gradient
(one number per filter) times the input number each tap saw (one per channel). Both
factors are read from channel-last copies,

    xh[n, y, x, c]      the zero-padded input (as in :mod:`cnnlab.kernels.blocked`)
    douth[n, i, j, f]   the upstream gradient, with zero filters up to Fp

so that the unit of work, a block of 8 channels x ``2*lanes`` filters (16 float32 with
AVX, 32 with AVX-512) of one tap ``(kh, kw)``, keeps 16
:class:`~cnnlab.kernels.simd.Vector` sums in registers while it runs over a range of
output rows: per pixel, two vector loads of ``douth``, eight numbers of ``xh`` and 16
vector multiply-adds. Each block's sums go to ``dwt[fb, kh, kw, c, k]`` (filter
``fb*2*lanes + k``; channels padded to a multiple of 8, filters to whole blocks), so
that a block's 8 x ``2*lanes`` numbers are one run of memory: with the filters' rows
``Fp`` numbers apart instead, 512->512 3x3 (a 9.4 MB ``dw``) had taken twice as long,
each block's sums spread over four pages. The copies' pixels are a little more than
``C`` (``Fp``) numbers apart, never a multiple of 8 cache lines (see the ``stride`` of
:func:`cnnlab.layers._conv_paths.weight_gradient`).

A *work item* is one tap and one block of filters, through every block of channels.
Rows go in *passes* (:data:`PASS_BYTES`): every item goes over a pass of rows before
the next pass, so that an item's rows of ``douth`` are read from the core's L1 cache by
each of its blocks of channels, and the pass's rows of ``xh`` from its L2 cache by each
item. A block's first pass writes its sums and later passes add to them, so ``dwt``
needs no zeros beforehand.

In parallel, the work is split either way: ranges of rows, each summed into its own
copy of ``dwt`` (added up by the caller), or ranges of work items, each writing its own
blocks of ``dwt``; no two threads ever write the same number. Small layers split their
rows; layers with a large ``dw`` their items, so that no copy of ``dw`` is written and
added up (:data:`cnnlab.layers.dispatch.WEIGHT_GRAD_SPLIT_BYTES`). No BLAS call is
involved, so Numba's threads never wait on the BLAS library's (or its on theirs).
"""

from __future__ import annotations

from numba import njit, prange

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
    * douth[(t*W_out + j)*Fp + f + k]`` for ``c < 8``, ``k < 2*lanes``, with ``x(t, j)``
    the top-left corner of output pixel ``(t, j)``'s window and ``tap`` the offset of
    the block's tap and first channel in that window; ``=`` if ``first``, else ``+=``.
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
def weight_grad(xh, douth, C, Hp, Wp, KH, KW, sh, sw, dh, dw, H_out, W_out, Cp, Fs, rows,
                dwt, r0, r1, i0, i1):
    """The blocks of work items ``i0 <= i < i1``: the sum over output rows
    ``r0 <= t < r1`` (``t = n*H_out + i``), in passes of ``rows`` rows, into ``dwt``.

    Parameters
    ----------
    xh : ndarray, shape (N*Hp*Wp*C + CHANNELS - 1,)
        The zero-padded input, channel last, a pixel every ``C`` numbers (at least the
        input's channels): ``xp[n, c, y, x]`` at ``((n*Hp + y)*Wp + x)*C + c``, then
        ``CHANNELS - 1`` more numbers. The last block of channels reads past the
        input's channels, into the next pixel or those numbers; what it computes from
        them is thrown away.
    douth : ndarray, shape (N*H_out*W_out*Fs,)
        ``dout[n, f, i, j]`` at ``((n*H_out + i)*W_out + j)*Fs + f``, zero for the
        filters past the layer's up to a whole block (``Fs`` is at least that).
    C, Hp, Wp, KH, KW, sh, sw, dh, dw, H_out, W_out : int
        ``xh``'s pixel stride, padded input size, kernel size, stride, dilation,
        output size.
    Cp : int
        The input's channels rounded up to a multiple of ``CHANNELS``.
    Fs : int
        ``douth``'s pixel stride.
    rows : int
        Output rows per pass (:func:`pass_rows`).
    dwt : ndarray, shape (Fp*KH*KW*Cp,)
        ``dw[f, c, kh, kw]`` at ``(((f // B)*KH + kh)*KW + kw)*Cp + c)*B + f % B``
        with ``B = 2*lanes``; the items' numbers are overwritten (nothing else is
        touched).
    r0, r1 : int
        The range of output rows.
    i0, i1 : int
        The range of work items, ``i = (f // (2*lanes))*KH*KW + kh*KW + kw``.
    """
    B = 2 * lanes(xh)
    taps = KH * KW
    for t0 in range(r0, r1, rows):
        t1 = min(r1, t0 + rows)
        for item in range(i0, i1):
            f = (item // taps) * B
            kh, kw = (item % taps) // KW, item % KW
            tap = (kh * dh * Wp + kw * dw) * C
            for c in range(0, Cp, CHANNELS):
                o = (item * Cp + c) * B
                _block(
                    xh, douth, dwt, o, tap + c, f, C, Hp, Wp, H_out, W_out, sh, sw, B, Fs,
                    t0, t1, t0 == r0,
                )


@njit(cache=True, parallel=True)
def weight_grad_parallel(
    xh, douth, C, Hp, Wp, KH, KW, sh, sw, dh, dw, H_out, W_out, Cp, Fs, rows, parts, item_ranges
):
    """:func:`weight_grad` of every output row and work item, in parallel: the rows
    split in ``len(parts)`` ranges, range ``k`` summed into ``parts[k]`` (the caller
    adds them up), and the work items in ``item_ranges`` ranges."""
    row_ranges = parts.shape[0]
    total_rows = douth.size // Fs // W_out
    items = (parts.shape[1] // (KH * KW * Cp)) // (2 * lanes(xh)) * KH * KW
    for k in prange(row_ranges * item_ranges):
        r, i = k // item_ranges, k % item_ranges
        weight_grad(
            xh, douth, C, Hp, Wp, KH, KW, sh, sw, dh, dw, H_out, W_out, Cp, Fs, rows, parts[r],
            r * total_rows // row_ranges, (r + 1) * total_rows // row_ranges,
            i * items // item_ranges, (i + 1) * items // item_ranges,
        )


def pass_rows(W_out: int) -> int:
    """Output rows per pass: :data:`PASS_BYTES` of one block of filters' ``douth``
    (``2*lanes`` numbers a pixel, ``2*VECTOR_BYTES`` bytes)."""
    return max(1, PASS_BYTES // (W_out * 2 * VECTOR_BYTES))


@njit(cache=True)
def compiled_lanes(a):
    """``lanes(a)`` as compiled (and cached) with this module's kernels: the wrappers
    compare it with :data:`cnnlab.kernels.simd.VECTOR_BYTES` before they size arrays."""
    return lanes(a)
