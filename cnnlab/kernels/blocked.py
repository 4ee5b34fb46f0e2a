"""Convolution forward with its sums in registers, on a channel-last copy of the input.

The lecture's loop computes one output number at a time. Here the unit of work is a
*block* of 8 output pixels x ``2*lanes`` filters (32 filters in float32 with AVX-512,
16 with AVX): 16 :class:`~cnnlab.kernels.simd.Vector` sums that stay in CPU registers
while the kernel runs through the taps. Per tap it loads two vectors of weights (the
tap's weight for each of the block's filters) and eight input numbers (the tap's pixel
under each of the 8 windows), and does 16 vector multiply-adds::

    sums[p, f] += w[f, c, kh, kw] * xp[n, c, i*sh + kh*dh, j*sw + kw*dw]
                  for the block's 8 pixels p = (n, i, j) and its filters f

so each weight loaded serves 8 multiply-adds and each input number 2, and nothing is
stored until the block is done. The 8 pixels are consecutive in the order
``(n, i, j)``: a block may run on from one output row into the next, so no pixel is
computed for nothing but in the very last block (it repeats the last pixel). For the
weights of a tap to sit next to each other, and the pixels of one window to follow
each other, both are copied once per call into the layouts

    xh[n, y, x, c]          the zero-padded input, channel last (NHWC)
    wt[fb, kh, kw, c, f]    the filters in blocks of 2*lanes, filter last, padded with
                            zero filters to whole blocks (per group)

With dilation 1 in width and one group, a window row's taps ``(kw, c)`` are then one
contiguous run of ``KW*C`` numbers in both arrays. From
:data:`cnnlab.layers.dispatch.PLANES_MIN_CHANNELS` channels a group on, that run buys
nothing (the kernel runs through a window's channels either way) and the input is
copied instead into padded planes, ``xh[n, c, y, x]`` with each plane an odd number of
cache lines long (:func:`plane_stride`): a copy a row at a time rather than a
transpose; the blocks of pixels then read a row of each channel's plane in turn.

A grouped layer reads each group's channels of the same copy, with each group's
filters in blocks of their own.
A block's sums go to a scratch array and from there, transposed, into the NCHW
output, one cache line of a filter's plane at a time.

Rows go in tiles (:data:`TILE_BYTES`), each block of filters through the whole tile,
and the parallel kernel shares out ranges of rows and of blocks of filters
(:func:`work_split`).

The layer wrapper (:func:`cnnlab.layers.conv.conv2d_forward`) uses this kernel when
there are enough input channels and filters per group (``C/groups >= 8`` at stride 1,
:mod:`cnnlab.layers.dispatch`) for the copies to pay off.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, uint64

from cnnlab.kernels.simd import broadcast, lanes, load, muladd, store

#: Output pixels per block.
PIXELS = 8
#: Input bytes of the rows a tile of output rows reads anew (``sh*Wp*C`` numbers per
#: row): about a quarter of a core's L2 cache, so that the tile's input and a block
#: of filters' weights stay there while the block runs through the tile.
TILE_BYTES = 1 << 19
#: Channels that :func:`to_channel_last` copies side by side: one cache line of float32.
COPY_CHANNELS = 16
#: Pixels of one image that :func:`_to_planes` copies out of the sums together.
COPY_PIXELS = 16


@njit(cache=True, inline="always")
def _block(xh, x0, x1, x2, x3, x4, x5, x6, x7, wt, w0, row_step, outer, outer_step, inner,
           inner_step, tap_step, KH, KW, bias, f, sums, s0, Fp):
    """The sums of one block: 8 pixels x filters ``f`` to ``f + 2*lanes``.

    Pixel ``p``'s window starts at ``xh[xp]`` (``xp`` = ``x0`` ... ``x7``); its tap
    ``(kh, k, u)`` reads ``xh[xp + kh*row_step + k*outer_step + u*inner_step]`` and the block's
    weights for it ``wt[w0 + (kh*KW + k)*tap_step + u*2*lanes :]``. The sums (plus
    bias) of pixel ``p`` go to ``sums[s0 + p*Fp :]``.
    """
    V = lanes(xh)
    s00, s01 = load(bias, f), load(bias, f + V)
    s10, s11, s20, s21, s30, s31 = s00, s01, s00, s01, s00, s01
    s40, s41, s50, s51, s60, s61, s70, s71 = s00, s01, s00, s01, s00, s01, s00, s01
    for kh in range(KH):
        for k in range(outer):
            d = kh * row_step + k * outer_step
            wi = w0 + (kh * KW + k) * tap_step
            for _ in range(inner):
                wa = load(wt, wi)
                wb = load(wt, wi + V)
                v = broadcast(xh, x0 + d)
                s00 = muladd(v, wa, s00)
                s01 = muladd(v, wb, s01)
                v = broadcast(xh, x1 + d)
                s10 = muladd(v, wa, s10)
                s11 = muladd(v, wb, s11)
                v = broadcast(xh, x2 + d)
                s20 = muladd(v, wa, s20)
                s21 = muladd(v, wb, s21)
                v = broadcast(xh, x3 + d)
                s30 = muladd(v, wa, s30)
                s31 = muladd(v, wb, s31)
                v = broadcast(xh, x4 + d)
                s40 = muladd(v, wa, s40)
                s41 = muladd(v, wb, s41)
                v = broadcast(xh, x5 + d)
                s50 = muladd(v, wa, s50)
                s51 = muladd(v, wb, s51)
                v = broadcast(xh, x6 + d)
                s60 = muladd(v, wa, s60)
                s61 = muladd(v, wb, s61)
                v = broadcast(xh, x7 + d)
                s70 = muladd(v, wa, s70)
                s71 = muladd(v, wb, s71)
                d += inner_step
                wi += 2 * V
    store(sums, s0, s00)
    store(sums, s0 + V, s01)
    store(sums, s0 + Fp, s10)
    store(sums, s0 + Fp + V, s11)
    store(sums, s0 + 2 * Fp, s20)
    store(sums, s0 + 2 * Fp + V, s21)
    store(sums, s0 + 3 * Fp, s30)
    store(sums, s0 + 3 * Fp + V, s31)
    store(sums, s0 + 4 * Fp, s40)
    store(sums, s0 + 4 * Fp + V, s41)
    store(sums, s0 + 5 * Fp, s50)
    store(sums, s0 + 5 * Fp + V, s51)
    store(sums, s0 + 6 * Fp, s60)
    store(sums, s0 + 6 * Fp + V, s61)
    store(sums, s0 + 7 * Fp, s70)
    store(sums, s0 + 7 * Fp + V, s71)


@njit(cache=True)
def _aligned_scratch(size, a):
    """An uninitialised array of ``size`` numbers of ``a``'s dtype whose first number
    starts on a vector boundary (see :func:`cnnlab.kernels.simd.aligned_empty`)."""
    V = lanes(a)
    raw = np.empty(size + V, dtype=a.dtype)
    start = (V - (raw.ctypes.data // a.itemsize) % V) % V
    return raw[start : start + size]


@njit(cache=True)
def conv_rows(xh, wt, bias, C, G, Hp, Wp, KH, KW, sh, sw, dh, dw, pixel_step, channel_step,
              image_step, out, tile, t0, t1, b0, b1):
    """Output rows ``t0 <= t < t1`` (``t = n*H_out + i``) of the filter blocks
    ``b0 <= b < b1`` of a convolution in ``G`` groups (block ``b`` holds filters
    ``(b % K)*B`` to ``(b % K + 1)*B`` of group ``b // K``, ``K`` blocks a group, ``B =
    2*lanes``).

    Parameters
    ----------
    xh : ndarray, 1-D
        The zero-padded input, ``xp[n, c, y, x]`` at ``n*image_step + (y*Wp +
        x)*pixel_step + c*channel_step``: channel last (``pixel_step = C``,
        ``channel_step = 1``, ``image_step = Hp*Wp*C``) or in planes (``pixel_step = 1``,
        ``channel_step`` a plane of at least ``Hp*Wp`` numbers, ``image_step =
        C*channel_step``).
    wt : ndarray, shape (G*Fp*KH*KW*Cg,)
        Blocks of ``B`` filters one after the other, each group's padded with zero
        filters to ``Fp`` (``K = Fp/B`` blocks; ``Cg = C/G`` channels): ``w[g*Fg + f,
        c, kh, kw]`` (``Fg = F/G``) at ``((((g*K + f // B)*KH + kh)*KW + kw)*Cg + c)*B
        + f % B``, zero for ``f >= Fg`` (:func:`filter_blocks`). A block's weights are
        one contiguous run, which a block of outputs reads from start to end.
    bias : ndarray, shape (G*Fp,)
        ``b[g*Fg + f]`` at ``g*Fp + f``, zero for ``f >= Fg``.
    C, G, Hp, Wp, KH, KW, sh, sw, dh, dw : int
        Channels, groups, padded size, kernel size, stride and dilation.
    pixel_step, channel_step, image_step : int
        The layout of ``xh`` (above).
    out : ndarray, shape (N, F, H_out, W_out)
        Written in place.
    tile : int
        Rows per tile (:func:`tile_rows`).
    t0, t1 : int
        The range of rows.
    b0, b1 : int
        The range of filter blocks.
    """
    _, F, H_out, W_out = out.shape
    B = 2 * lanes(xh)
    Cg, Fg = C // G, F // G
    K = bias.size // (G * B)  # blocks per group
    Fq = (b1 - b0) * B  # the sums of one pixel, side by side
    # Rows are done a tile at a time, each block of filters through the whole tile:
    # the block's weights are then loaded from memory once per tile rather than once
    # per row, which is what limits layers with many channels on small images
    # (512->512 on 7x7: 9 MB of weights for 7 pixels a row).
    sums = _aligned_scratch((min(tile, t1 - t0) * W_out + PIXELS) * Fq, xh)
    windows = np.empty(min(tile, t1 - t0) * W_out + PIXELS, dtype=np.int64)
    if dw == 1 and G == 1 and channel_step == 1 and pixel_step == C:
        outer, inner, inner_step = 1, KW * C, 1  # a window row's taps (kw, c): one run
    else:
        outer, inner, inner_step = KW, Cg, channel_step
    row_step = Wp * pixel_step
    for first in range(t0, t1, tile):
        last = min(t1, first + tile)
        q0, q1 = first * W_out, last * W_out
        # Where each pixel's window starts in xh; the last block repeats the last one.
        n, i, j = first // H_out, first % H_out, 0
        for p in range(q1 - q0):
            windows[p] = n * image_step + (i * sh * Wp + j * sw) * pixel_step
            j += 1
            if j == W_out:
                i, j = i + 1, 0
                if i == H_out:
                    n, i = n + 1, 0
        windows[q1 - q0 :] = windows[q1 - q0 - 1]
        for b in range(b0, b1):
            c0 = (b // K) * Cg * channel_step  # the group's first channel
            for q in range(q0, q1, PIXELS):
                _block(
                    xh,
                    windows[q - q0] + c0,
                    windows[q - q0 + 1] + c0,
                    windows[q - q0 + 2] + c0,
                    windows[q - q0 + 3] + c0,
                    windows[q - q0 + 4] + c0,
                    windows[q - q0 + 5] + c0,
                    windows[q - q0 + 6] + c0,
                    windows[q - q0 + 7] + c0,
                    wt,
                    b * KH * KW * Cg * B,
                    dh * row_step,
                    outer,
                    dw * pixel_step,
                    inner,
                    inner_step,
                    Cg * B,
                    KH,
                    KW,
                    bias,
                    b * B,
                    sums,
                    (q - q0) * Fq + (b - b0) * B,
                    Fq,
                )
            f0 = (b // K) * Fg + (b % K) * B  # the block's first filter in out
            count = min(B, Fg - (b % K) * B)
            _to_planes(sums, Fq, (b - b0) * B, q0, q1, f0, f0 + count, out)


@njit(cache=True)
def _to_planes(sums, Fq, column, q0, q1, f0, f1, out):
    """``out[n, f].flat[p] = sums[(q - q0)*Fq + column + f - f0]`` for the pixels ``q0 <= q < q1``
    (``q = n*P + p``, ``P = H_out*W_out``) and the filters ``f0 <= f < f1``.

    A run of :data:`COPY_PIXELS` pixels of one image goes out filter after filter: each
    filter's plane gets one cache line written at once, while the run's sums (a few KB)
    stay in the L1 cache. (Writing a few filters per pixel instead, pixel after pixel,
    had kept 16 lines of ``out`` open at once, a plane apart: with planes of a multiple
    of 4 KB, 32x32 or 224x224 float32, they all fell into one set of the L1 cache and
    evicted each other, 3 ns per number against 0.5.) The indices are unsigned, which
    spares Numba its test for negative ones on every number.
    """
    N, F, H_out, W_out = out.shape
    P = H_out * W_out
    flat = out.reshape(N * F * P)
    q = q0
    while q < q1:
        n = q // P
        a = q - n * P
        b = min(q1 - n * P, P)
        for p0 in range(a, b, COPY_PIXELS):
            count = uint64(min(b, p0 + COPY_PIXELS) - p0)
            for f in range(f0, f1):
                source = uint64((n * P + p0 - q0) * Fq + column + f - f0)
                target = uint64((n * F + f) * P + p0)
                for k in range(count):
                    flat[target + k] = sums[source + k * uint64(Fq)]
        q = n * P + b


def tile_rows(C: int, Wp: int, sh: int, itemsize: int) -> int:
    """Output rows per tile of :func:`conv_rows`: those whose input rows, read anew
    (``sh`` rows of ``Wp*C`` numbers each), take :data:`TILE_BYTES`."""
    return max(1, TILE_BYTES // (sh * Wp * C * itemsize))


def work_split(rows: int, blocks: int, tile: int, items: int) -> tuple[int, int]:
    """``(tiles, groups)``: :func:`conv_rows_parallel` splits ``rows`` output rows into
    ``tiles`` ranges and ``blocks`` blocks of filters into ``groups`` ranges, aiming for
    ``items`` work items of at most ``tile`` rows.

    Rows go first (each range of rows reads every block's weights once); blocks of
    filters are split too when there are fewer tiles than items, as for many channels
    on a small image. More tiles than items are rounded up to a multiple of ``items``
    (a few per thread), so that the threads, which take equal shares of the ranges,
    finish together.

    Examples
    --------
    >>> work_split(56, 16, 28, 16)  # 512->512 on 7x7, N=8: 2 tiles of 28 rows
    (2, 8)
    >>> work_split(224, 2, 9, 16)  # VGG's 224x224, one image: 25 tiles of 9 rows
    (32, 1)
    """
    tiles = -(-rows // tile)
    groups = min(blocks, max(1, items // tiles))
    tiles = min(rows, max(tiles, -(-items // groups)))
    if tiles > items:
        tiles = min(rows, -(-tiles // items) * items)
    return tiles, groups


@njit(cache=True, parallel=True)
def conv_rows_parallel(xh, wt, bias, C, G, Hp, Wp, KH, KW, sh, sw, dh, dw, pixel_step,
                       channel_step, image_step, out, tile, tiles, groups):
    """:func:`conv_rows` on every output row and filter, in ``tiles`` ranges of rows x
    ``groups`` ranges of filter blocks, in parallel (see :func:`work_split`)."""
    rows = out.shape[0] * out.shape[2]
    blocks = bias.size // (2 * lanes(xh))
    for k in prange(tiles * groups):
        r, g = k // groups, k % groups
        conv_rows(
            xh, wt, bias, C, G, Hp, Wp, KH, KW, sh, sw, dh, dw, pixel_step, channel_step,
            image_step, out, tile,
            r * rows // tiles,
            (r + 1) * rows // tiles,
            g * blocks // groups,
            (g + 1) * blocks // groups,
        )


@njit(cache=True, inline="always")
def _filter_block(w, G, Fp, k, c0, c1, wt):
    """Channels ``c0 <= c < c1`` of filter block ``k`` (group ``k // K``, its filters
    ``(k % K)*B`` on, ``K = Fp/B``) into ``wt``, as :func:`conv_rows` reads them.

    Tap after tap, each channel's ``B`` filters are one contiguous run of ``wt``, read
    from ``w`` a filter apart; a run of :data:`COPY_CHANNELS` channels of ``B`` filters
    (``B*COPY_CHANNELS*KH*KW`` numbers, a few KB) stays in the L1 cache meanwhile. The
    indices are unsigned (no test for negative ones), and ``w`` may be any view (the
    flipped and swapped filters of ``dx``'s convolution).
    """
    F, Cg, KH, KW = w.shape
    B = 2 * lanes(wt)
    Fg, K = F // G, Fp // B
    first = (k % K) * B
    count = uint64(min(B, Fg - first))
    f0 = uint64((k // K) * Fg + first)
    base = uint64(k * KH * KW * Cg * B)
    UB, UKW, UCg = uint64(B), uint64(KW), uint64(Cg)
    for kh in range(uint64(KH)):
        for kw in range(UKW):
            for c in range(uint64(c0), uint64(c1)):
                t = base + ((kh * UKW + kw) * UCg + c) * UB
                for f in range(count):
                    wt[t + f] = w[f0 + f, c, kh, kw]
                for f in range(count, UB):
                    wt[t + f] = 0


@njit(cache=True)
def filter_blocks(w, G, Fp, wt):
    """``wt[((((g*K + f // B)*KH + kh)*KW + kw)*Cg + c)*B + f % B] = w[g*Fg + f, c, kh,
    kw]``, zero for ``Fg <= f < Fp``: the filters of ``G`` groups in blocks of ``B =
    2*lanes``, as :func:`conv_rows` reads them (``K = Fp/B`` blocks a group).

    Parameters
    ----------
    w : ndarray, shape (F, Cg, KH, KW)
        The filters, any strides.
    G, Fp : int
        Groups, and filters per group padded to whole blocks.
    wt : ndarray, shape (G*Fp*Cg*KH*KW,)
        Written in place.
    """
    Cg = w.shape[1]
    for k in range(G * Fp // (2 * lanes(wt))):
        for c0 in range(0, Cg, COPY_CHANNELS):
            _filter_block(w, G, Fp, k, c0, min(Cg, c0 + COPY_CHANNELS), wt)


@njit(cache=True, parallel=True)
def filter_blocks_parallel(w, G, Fp, wt):
    """:func:`filter_blocks`, a block's run of :data:`COPY_CHANNELS` channels per
    iteration in parallel (512x512x3x3 float32: 9.4 MB each way, 1.7 ms on one thread)."""
    Cg = w.shape[1]
    runs = -(-Cg // COPY_CHANNELS)
    for r in prange(G * Fp // (2 * lanes(wt)) * runs):
        c0 = (r % runs) * COPY_CHANNELS
        _filter_block(w, G, Fp, r // runs, c0, min(Cg, c0 + COPY_CHANNELS), wt)


@njit(cache=True, inline="always")
def _row_to_channel_last(x, n, y, top, left, Hp, Wp, stride, xh):
    """Row ``y`` of image ``n`` of :func:`to_channel_last` (``x`` C-contiguous). The
    indices are unsigned, which spares Numba its test for negative ones on every number
    (a third of the copy's time)."""
    _, C, H, W = x.shape
    flat = x.reshape(x.size)
    start = ((n * Hp + top + y) * Wp + left) * stride
    first = (n * C * H + y) * W  # x[n, 0, y, 0]; x[n, c, y, j] is first + c*H*W + j
    for c0 in range(0, C, COPY_CHANNELS):
        c1 = min(C, c0 + COPY_CHANNELS)
        for j in range(W):
            target = uint64(start + j * stride)
            source = uint64(first + j)
            for c in range(c0, c1):
                xh[target + uint64(c)] = flat[source + uint64(c * H * W)]


@njit(cache=True)
def to_channel_last(x, top, left, Hp, Wp, stride, xh, n0, n1):
    """``xh[((n*Hp + top + y)*Wp + left + x)*stride + c] = x[n, c, y, x]`` for images
    ``n0 <= n < n1`` of a C-contiguous ``x`` (``stride >= C``); the rest of ``xh``
    (padding, channels past C) is left as it is (zeros).

    A row is copied :data:`COPY_CHANNELS` channels at a time, pixel after pixel: the
    writes then fill whole cache lines of ``xh`` while that many rows of ``x`` are
    read side by side (writing one channel at a time, a number every ``stride``, had
    taken 4 ms for the 256 channels of a 2x56x56 image pair).
    """
    for n in range(n0, n1):
        for y in range(x.shape[2]):
            _row_to_channel_last(x, n, y, top, left, Hp, Wp, stride, xh)


@njit(cache=True, parallel=True)
def to_channel_last_parallel(x, top, left, Hp, Wp, stride, xh):
    """:func:`to_channel_last` of every image, a row per iteration in parallel (a
    batch of one image, VGG's 224x224, is shared out too)."""
    H = x.shape[2]
    for r in prange(x.shape[0] * H):
        _row_to_channel_last(x, r // H, r % H, top, left, Hp, Wp, stride, xh)


def plane_stride(pixels: int, itemsize: int) -> int:
    """Numbers from one channel's plane to the next in :func:`to_padded_planes`'s copy:
    ``pixels`` rounded up to whole cache lines, and to an odd number of them. The
    kernel reads a line of each channel's plane in turn; a plane of an even number of
    lines would put them into half the sets of the L1 cache or fewer (64x64 planes, 16
    KB, all into one)."""
    line = 64 // itemsize
    lines = -(-pixels // line)
    return (lines + 1 - lines % 2) * line


@njit(cache=True, inline="always")
def _planes_of(x, n, top, left, Wp, plane, xp):
    """Every channel of image ``n`` of :func:`to_padded_planes`."""
    _, C, H, W = x.shape
    flat = x.reshape(x.size)
    width = uint64(W)
    for c in range(C):
        source = uint64((n * C + c) * H * W)
        target = uint64((n * C + c) * plane + top * Wp + left)
        for _ in range(H):
            for j in range(width):
                xp[target + j] = flat[source + j]
            source += width
            target += uint64(Wp)


@njit(cache=True)
def to_padded_planes(x, top, left, Wp, plane, xp):
    """``xp[(n*C + c)*plane + (top + y)*Wp + left + j] = x[n, c, y, j]`` for a
    C-contiguous ``x``; the rest of ``xp`` (padding, the end of each plane) is left as
    it is (zeros). A row at a time, with unsigned indices."""
    for n in range(x.shape[0]):
        _planes_of(x, n, top, left, Wp, plane, xp)


@njit(cache=True, parallel=True)
def to_padded_planes_parallel(x, top, left, Wp, plane, xp):
    """:func:`to_padded_planes`, an image per iteration in parallel."""
    for n in prange(x.shape[0]):
        _planes_of(x, n, top, left, Wp, plane, xp)


@njit(cache=True)
def compiled_lanes(a):
    """``lanes(a)`` as compiled (and cached) with this module's kernels: the wrappers
    compare it with :data:`cnnlab.kernels.simd.VECTOR_BYTES` before they size arrays."""
    return lanes(a)
