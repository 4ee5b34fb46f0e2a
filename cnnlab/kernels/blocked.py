"""Convolution forward with its sums in registers, on a channel-last copy of the input.

The lecture's loop computes one output number at a time. Here the unit of work is a
*block* of 4 neighbouring output pixels x ``2*lanes`` filters (16 filters in float32,
8 in float64): 8 :class:`~cnnlab.kernels.simd.Vector` sums that stay in CPU registers
while the kernel runs through all ``C*KH*KW`` taps. Per tap it loads two vectors of
weights (the tap's weight for each of the block's filters) and four input numbers
(the tap's pixel under each of the 4 windows), and does 8 vector multiply-adds::

    sums[p, f] += w[f, c, kh, kw] * xp[n, c, i*sh + kh*dh, (j + p)*sw + kw*dw]
                  for p < 4 and the block's filters f

so each number loaded serves 4 or 16 multiply-adds, and nothing is stored until the
block is done. For the weights of a tap to sit next to each other, and the pixels of
one window to follow each other, both are copied once per call into the layouts

    xh[n, y, x, c]          the zero-padded input, channel last (NHWC)
    wt[fb, kh, kw, c, f]    the filters in blocks of 2*lanes, filter last, padded with
                            zero filters to whole blocks

With dilation 1 in width, a window row's taps ``(kw, c)`` are then one contiguous run
of ``KW*C`` numbers in both arrays. A block's sums go to a scratch row and from there,
transposed, into the NCHW output; blocks that stick out past the row's end are
computed and thrown away (the input copy has room for them).

The layer wrapper (:func:`cnnlab.layers.conv.conv2d_forward`) uses this kernel when
there are enough input channels (``C >= 8``, one group) for the copies to pay off.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from cnnlab.kernels.simd import broadcast, lanes, load, muladd, store

#: Output pixels per block.
PIXELS = 4
#: Input bytes of the rows a tile of output rows reads anew (``sh*Wp*C`` numbers per
#: row): about half of a core's L2 cache, so that the tile's input and one block of
#: filters' weights stay there while the block runs through the tile.
TILE_BYTES = 1 << 19


@njit(cache=True, inline="always")
def _block(xh, x0, pixel_step, wt, row_step, outer, outer_step, inner, KH, Fp, bias, f, sums, s0):
    """The sums of one block: 4 pixels from ``xh[x0]`` on, filters ``f`` to ``f + 2*lanes``.

    Tap ``(kh, k, u)`` of pixel ``p`` reads ``xh[x0 + p*pixel_step + kh*row_step +
    k*outer_step + u]`` and its weights ``wt[f*KH*outer*inner + ((kh*outer + k)*inner +
    u)*2*lanes :]`` (the block of filters' weights are one run); the sums (plus bias)
    go to ``sums[s0 + p*Fp + f :]``.
    """
    V = lanes(xh)
    s00 = load(bias, f)
    s01 = load(bias, f + V)
    s10, s11, s20, s21, s30, s31 = s00, s01, s00, s01, s00, s01
    base = f * KH * outer * inner
    for kh in range(KH):
        for k in range(outer):
            xi = x0 + kh * row_step + k * outer_step
            wi = base + (kh * outer + k) * inner * 2 * V
            for _ in range(inner):
                wa = load(wt, wi)
                wb = load(wt, wi + V)
                v = broadcast(xh, xi)
                s00 = muladd(v, wa, s00)
                s01 = muladd(v, wb, s01)
                v = broadcast(xh, xi + pixel_step)
                s10 = muladd(v, wa, s10)
                s11 = muladd(v, wb, s11)
                v = broadcast(xh, xi + 2 * pixel_step)
                s20 = muladd(v, wa, s20)
                s21 = muladd(v, wb, s21)
                v = broadcast(xh, xi + 3 * pixel_step)
                s30 = muladd(v, wa, s30)
                s31 = muladd(v, wb, s31)
                xi += 1
                wi += 2 * V
    store(sums, s0 + f, s00)
    store(sums, s0 + f + V, s01)
    store(sums, s0 + Fp + f, s10)
    store(sums, s0 + Fp + f + V, s11)
    store(sums, s0 + 2 * Fp + f, s20)
    store(sums, s0 + 2 * Fp + f + V, s21)
    store(sums, s0 + 3 * Fp + f, s30)
    store(sums, s0 + 3 * Fp + f + V, s31)


@njit(cache=True)
def conv_rows(xh, wt, bias, C, Hp, Wp, KH, KW, sh, sw, dh, dw, out, t0, t1):
    """Output rows ``t0 <= t < t1`` of a convolution, ``t = n*H_out + i``.

    Parameters
    ----------
    xh : ndarray, shape (N*Hp*Wp*C + slack,)
        The zero-padded input, channel last (``xh[((n*Hp + y)*Wp + x)*C + c]``),
        followed by at least ``(PIXELS - 1)*sw*C`` more numbers for the blocks that
        stick out past a row's end.
    wt : ndarray, shape (KH*KW*C*Fp,)
        Blocks of ``2*lanes`` filters one after the other: ``w[f, c, kh, kw]`` at
        ``(((f // B)*KH + kh)*KW + kw)*C + c)*B + f % B`` with ``B = 2*lanes``, zero for
        ``f >= F``. A block's weights are one contiguous run, which a block of outputs
        reads from start to end.
    bias : ndarray, shape (Fp,)
        Zero for ``f >= F``; ``Fp`` is a multiple of ``2*lanes``.
    C, Hp, Wp, KH, KW, sh, sw, dh, dw : int
        Channels, padded size, kernel size, stride and dilation.
    out : ndarray, shape (N, F, H_out, W_out)
        Written in place.
    t0, t1 : int
        The range of rows.
    """
    _, F, H_out, W_out = out.shape
    Fp = bias.size
    blocks = -(-W_out // PIXELS)
    row_sums = blocks * PIXELS * Fp
    # Rows are done a tile at a time, each block of filters through the whole tile:
    # the block's weights (KH*KW*C*2*lanes numbers) are then loaded from memory once
    # per tile rather than once per row, which is what limits layers with many
    # channels on small images (512->512 on 7x7: 9 MB of weights for 7 pixels a row).
    tile = max(1, TILE_BYTES // (sh * Wp * C * xh.itemsize))
    sums = np.empty(min(tile, t1 - t0) * row_sums, dtype=out.dtype)
    if dw == 1:  # a window row's taps (kw, c) are one run of KW*C numbers
        outer, inner = 1, KW * C
    else:
        outer, inner = KW, C
    for first in range(t0, t1, tile):
        last = min(t1, first + tile)
        for f in range(0, Fp, 2 * lanes(xh)):
            for t in range(first, last):
                n, i = t // H_out, t % H_out
                x_row = (n * Hp + i * sh) * Wp * C
                for block in range(blocks):
                    _block(
                        xh,
                        x_row + block * PIXELS * sw * C,
                        sw * C,
                        wt,
                        dh * Wp * C,
                        outer,
                        dw * C,
                        inner,
                        KH,
                        Fp,
                        bias,
                        f,
                        sums,
                        (t - first) * row_sums + block * PIXELS * Fp,
                    )
        for t in range(first, last):
            n, i = t // H_out, t % H_out
            s0 = (t - first) * row_sums
            for f in range(F):
                for j in range(W_out):
                    out[n, f, i, j] = sums[s0 + j * Fp + f]


@njit(cache=True, parallel=True)
def conv_rows_parallel(xh, wt, bias, C, Hp, Wp, KH, KW, sh, sw, dh, dw, out, chunks):
    """:func:`conv_rows` on every output row, in ``chunks`` ranges in parallel."""
    rows = out.shape[0] * out.shape[2]
    for k in prange(chunks):
        conv_rows(
            xh,
            wt,
            bias,
            C,
            Hp,
            Wp,
            KH,
            KW,
            sh,
            sw,
            dh,
            dw,
            out,
            k * rows // chunks,
            (k + 1) * rows // chunks,
        )


@njit(cache=True)
def to_channel_last(x, top, left, Hp, Wp, stride, xh, n0, n1):
    """``xh[((n*Hp + top + y)*Wp + left + x)*stride + c] = x[n, c, y, x]`` for images
    ``n0 <= n < n1`` (``stride >= C``); the rest of ``xh`` (padding, channels past C)
    is left as it is (zeros)."""
    _, C, H, W = x.shape
    for n in range(n0, n1):
        for y in range(H):
            for c in range(C):
                start = ((n * Hp + top + y) * Wp + left) * stride + c
                for j in range(W):
                    xh[start + j * stride] = x[n, c, y, j]


@njit(cache=True, parallel=True)
def to_channel_last_parallel(x, top, left, Hp, Wp, stride, xh):
    """:func:`to_channel_last` of every image, one image per iteration in parallel."""
    for n in prange(x.shape[0]):
        to_channel_last(x, top, left, Hp, Wp, stride, xh, n, n + 1)


@njit(cache=True)
def compiled_lanes(a):
    """``lanes(a)`` as compiled (and cached) with this module's kernels: the wrappers
    compare it with :data:`cnnlab.kernels.simd.VECTOR_BYTES` before they size arrays."""
    return lanes(a)
