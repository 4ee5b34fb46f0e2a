"""The filters' gradient of a convolution, with its sums in registers.

``dw[f, c, kh, kw] = sum_{n, i, j} dout[n, f, i, j] * xp[n, c, i*sh + kh*dh, j*sw + kw*dw]``
is a sum over every output pixel of an outer product: the pixel's upstream gradient
(one number per filter) times the input number each tap saw (one per channel). Both
factors are read from channel-last copies,

    xh[n, y, x, c]      the zero-padded input (as in :mod:`cnnlab.kernels.blocked`)
    douth[n, i, j, f]   the upstream gradient, with zero filters up to Fp

so that the unit of work, a block of 4 channels x ``2*lanes`` filters (16 float32 with
AVX, 32 with AVX-512) of one tap
``(kh, kw)``, keeps 8 :class:`~cnnlab.kernels.simd.Vector` sums in registers while it
runs over a range of output rows: per pixel, two vector loads of ``douth``, four
numbers of ``xh`` and 8 vector multiply-adds. Each block then adds its sums into
``dwt[kh, kw, c, f]`` (channels padded to a multiple of 4, filters to Fp).

In parallel, each thread sums its own range of rows into its own copy of ``dwt``,
and the copies are added up at the end: no two threads ever add into the same number.
No BLAS call is involved, so in the backward pass of a stride-1 convolution Numba's
threads never wait on the BLAS library's.
"""

from __future__ import annotations

from numba import njit, prange

from cnnlab.kernels.simd import broadcast, lanes, load, muladd, store

#: Output rows that every block goes over before the next taps and channels: enough
#: to make each block's final loads and stores negligible, few enough that these rows
#: of ``douth`` stay in the core's cache meanwhile.
ROWS_PER_PASS = 16

#: Channels per block (``dwt`` and the input copy are padded for the last block).
CHANNELS = 4


@njit(cache=True, inline="always")
def _block(xh, douth, dwt, o, tap, f, C, Hp, Wp, H_out, W_out, sh, sw, Fp, t0, t1):
    """One block: 4 channels from ``tap`` on x ``2*lanes`` filters from ``f`` on.

    ``dwt[o + c*Fp + k] += sum_{t0 <= t < t1, j} xh[x(t, j) + tap + c]
    * douth[(t*W_out + j)*Fp + f + k]`` for ``c < 4``, ``k < 2*lanes``, with ``x(t, j)``
    the top-left corner of output pixel ``(t, j)``'s window and ``tap`` the offset of
    the block's tap and first channel in that window.
    """
    V = lanes(xh)
    s00, s01 = load(dwt, o), load(dwt, o + V)
    s10, s11 = load(dwt, o + Fp), load(dwt, o + Fp + V)
    s20, s21 = load(dwt, o + 2 * Fp), load(dwt, o + 2 * Fp + V)
    s30, s31 = load(dwt, o + 3 * Fp), load(dwt, o + 3 * Fp + V)
    for t in range(t0, t1):
        n, i = t // H_out, t % H_out
        xi = (n * Hp + i * sh) * Wp * C + tap
        di = t * W_out * Fp + f
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
    for t0 in range(r0, r1, ROWS_PER_PASS):
        t1 = min(r1, t0 + ROWS_PER_PASS)
        for kh in range(KH):
            for kw in range(KW):
                tap = (kh * dh * Wp + kw * dw) * C
                for c in range(0, Cp, CHANNELS):
                    for f in range(0, Fp, 2 * lanes(xh)):
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
