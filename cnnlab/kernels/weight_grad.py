"""The filters' gradient of a convolution, with its sums in registers.

``dw[f, c, kh, kw] = sum_{n, i, j} dout[n, f, i, j] * xp[n, c, i*sh + kh*dh, j*sw + kw*dw]``
is a sum over every output pixel of an outer product: the pixel's upstream gradient
(one number per filter) times the input number each tap saw (one per channel). Both
factors are read from channel-last copies,

    xh[n, y, x, c]      the zero-padded input (as in :mod:`cnnlab.kernels.blocked`)
    douth[n, i, j, f]   the upstream gradient, with zero filters up to Fp

so that the unit of work, a block of 8 channels x ``2*lanes`` filters (16 float32 with
AVX, 32 with AVX-512) of one tap
``(kh, kw)``, keeps 16 :class:`~cnnlab.kernels.simd.Vector` sums in registers while it
runs over a range of output rows: per pixel, two vector loads of ``douth``, eight
numbers of ``xh`` and 16 vector multiply-adds. Each block then adds its sums into
``dwt[kh, kw, c, f]`` (channels padded to a multiple of 8, filters to Fp).

In parallel, each thread sums its own range of rows into its own copy of ``dwt``,
and the copies are added up at the end: no two threads ever add into the same number.
No BLAS call is involved, so in the backward pass of a stride-1 convolution Numba's
threads never wait on the BLAS library's.
"""

from __future__ import annotations

from numba import njit, prange

from cnnlab.kernels.simd import broadcast, lanes, load, muladd, store

#: Bytes of one block of filters' ``douth`` over the output rows of a *pass* (the rows
#: every block goes over before the next taps and channels): these stay in the core's
#: L1 cache while every tap and channel of that block of filters reads them; at least
#: one row. Each block loads and stores its sums once per pass.
PASS_BYTES = 1 << 14

#: Channels per block (``dwt`` and the input copy are padded for the last block).
CHANNELS = 8


@njit(cache=True, inline="always")
def _block(xh, douth, dwt, o, tap, f, C, Hp, Wp, H_out, W_out, sh, sw, Fp, t0, t1):
    """One block: 8 channels from ``tap`` on x ``2*lanes`` filters from ``f`` on.

    ``dwt[o + c*Fp + k] += sum_{t0 <= t < t1, j} xh[x(t, j) + tap + c]
    * douth[(t*W_out + j)*Fp + f + k]`` for ``c < 8``, ``k < 2*lanes``, with ``x(t, j)``
    the top-left corner of output pixel ``(t, j)``'s window and ``tap`` the offset of
    the block's tap and first channel in that window.
    """
    V = lanes(xh)
    s00, s01 = load(dwt, o), load(dwt, o + V)
    s10, s11 = load(dwt, o + Fp), load(dwt, o + Fp + V)
    s20, s21 = load(dwt, o + 2 * Fp), load(dwt, o + 2 * Fp + V)
    s30, s31 = load(dwt, o + 3 * Fp), load(dwt, o + 3 * Fp + V)
    s40, s41 = load(dwt, o + 4 * Fp), load(dwt, o + 4 * Fp + V)
    s50, s51 = load(dwt, o + 5 * Fp), load(dwt, o + 5 * Fp + V)
    s60, s61 = load(dwt, o + 6 * Fp), load(dwt, o + 6 * Fp + V)
    s70, s71 = load(dwt, o + 7 * Fp), load(dwt, o + 7 * Fp + V)
    n, i = t0 // H_out, t0 % H_out
    di = t0 * W_out * Fp + f
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
            di += Fp
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
def weight_grad(xh, douth, C, Hp, Wp, KH, KW, sh, sw, dh, dw, H_out, W_out, Cp, dwt, r0, r1):
    """Add the output rows ``r0 <= t < r1`` (``t = n*H_out + i``) into ``dwt``.

    Parameters
    ----------
    xh : ndarray, shape (N*Hp*Wp*C + slack,)
        The zero-padded input, channel last, then ``CHANNELS - 1`` more numbers (read
        by the last block of channels; what it computes from them is thrown away).
    douth : ndarray, shape (N*H_out*W_out*Fp,)
        ``dout[n, f, i, j]`` at ``((n*H_out + i)*W_out + j)*Fp + f``, zero for f >= F.
    C, Hp, Wp, KH, KW, sh, sw, dh, dw, H_out, W_out : int
        Channels, padded input size, kernel size, stride, dilation, output size.
    Cp : int
        C rounded up to a multiple of ``CHANNELS``.
    dwt : ndarray, shape (KH*KW*Cp*Fp,)
        ``dw[f, c, kh, kw]`` accumulates at ``((kh*KW + kw)*Cp + c)*Fp + f``.
    r0, r1 : int
        The range of output rows.
    """
    Fp = dwt.size // (KH * KW * Cp)
    B = 2 * lanes(xh)
    rows = max(1, PASS_BYTES // (W_out * B * xh.itemsize))
    for t0 in range(r0, r1, rows):
        t1 = min(r1, t0 + rows)
        for f in range(0, Fp, B):
            for kh in range(KH):
                for kw in range(KW):
                    tap = (kh * dh * Wp + kw * dw) * C
                    for c in range(0, Cp, CHANNELS):
                        o = ((kh * KW + kw) * Cp + c) * Fp + f
                        _block(
                            xh, douth, dwt, o, tap + c, f, C, Hp, Wp, H_out, W_out, sh, sw,
                            Fp, t0, t1,
                        )


@njit(cache=True, parallel=True)
def weight_grad_parallel(
    xh, douth, C, Hp, Wp, KH, KW, sh, sw, dh, dw, H_out, W_out, Cp, parts, rows
):
    """:func:`weight_grad` of output rows ``0 <= t < rows`` split in ``len(parts)``
    ranges run in parallel, range ``k`` into ``parts[k]`` (zeros before; the caller
    adds them up)."""
    chunks = parts.shape[0]
    for k in prange(chunks):
        weight_grad(
            xh, douth, C, Hp, Wp, KH, KW, sh, sw, dh, dw, H_out, W_out, Cp, parts[k],
            k * rows // chunks, (k + 1) * rows // chunks,
        )


@njit(cache=True)
def compiled_lanes(a):
    """``lanes(a)`` as compiled (and cached) with this module's kernels: the wrappers
    compare it with :data:`cnnlab.kernels.simd.VECTOR_BYTES` before they size arrays."""
    return lanes(a)
