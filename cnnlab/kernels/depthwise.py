"""Depthwise convolution (``groups == C``), forward and backward, a channel plane at a time.

In a depthwise layer filter ``f = c*M + m`` (``M`` filters per channel, the
multiplier) sees channel ``c`` alone, so an output plane is a weighted sum of
``KH*KW`` shifted copies of one input plane, nine multiply-adds per output for a 3x3
kernel: far too little work per number for a matrix product (im2col, or one batched
product per tap) to pay for its copies. The kernels here loop **for each output row,
for each tap, along the whole row**, which the compiler turns into vector
instructions, on the padded plane kept in the core's cache:

1. *Padding.* Each input plane is first copied into a scratch plane with a zero
   border, so no window needs clipping.
2. *Column phases.* With column stride ``sw > 1`` the scratch plane is stored as ``sw``
   phases, ``phases[X % sw, Y, X // sw] = xp[Y, X]``; then tap ``(kh, kw)`` of output
   row ``i`` is the contiguous run ``phases[o % sw, i*sh + kh*dh, o // sw + j]``
   (``j = 0 .. W_out - 1``, ``o = kw*dw``) instead of a strided one.
3. *Backward in one pass.* The backward kernel reads each ``dout`` row once for both
   gradients: ``dx`` by adding ``w * dout`` into the runs that the forward pass read
   (the ``+=`` of overlapping windows, into a zeroed scratch plane in phases), ``dw``
   by multiplying ``dout`` with those runs into one row of partial sums per tap (a row
   of independent sums vectorizes; one running sum would not, without reordering the
   additions), summed once per plane.

A work item is one ``(n, c)`` input plane with its ``M`` output planes, so a
``prange`` iteration owns its planes of ``out`` and ``dx`` and its rows of the partial
``dw``: no two threads ever write the same number.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from cnnlab.kernels.simd import broadcast, lanes, load, muladd, store

#: Output rows the forward kernel computes at once: four independent sums per vector
#: of columns, so that each multiply-add need not wait for the one before (a single
#: chain of 9 dependent multiply-adds per vector ran at a third of the speed).
ROWS = 4


@njit(cache=True)
def _scratch(Hp, Wp, sh, sw, V, like):
    """A zeroed scratch plane in ``sw`` column phases, with ``V`` spare zero columns
    (a vector that starts in a row stays in it) and ``(ROWS - 1)*sh`` spare zero rows
    (the rows past ``H_out`` of the last block of rows):
    ``(sw, Hp + (ROWS - 1)*sh, ceil(Wp / sw) + V)``."""
    return np.zeros((sw, Hp + (ROWS - 1) * sh, -(-Wp // sw) + V), dtype=like.dtype)


@njit(cache=True)
def _load_plane(plane, top, left, phases):
    """``phases[X % sw, top + y, X // sw] = plane[y, x]`` with ``X = left + x``; the
    border of ``phases`` is left as it is (zero)."""
    H, W = plane.shape
    sw = phases.shape[0]
    if sw == 1:  # spelled out, so that it vectorizes
        for y in range(H):
            for x in range(W):
                phases[0, top + y, left + x] = plane[y, x]
        return
    for r in range(sw):
        x0 = (r - left) % sw  # the first column x with (left + x) % sw == r
        u0 = (left + x0) // sw
        for y in range(H):
            for k in range(-(-(W - x0) // sw)):
                phases[r, top + y, u0 + k] = plane[y, x0 + k * sw]


@njit(cache=True)
def _store_plane(phases, top, left, plane):
    """The inverse of :func:`_load_plane`: ``plane[y, x] = phases[X % sw, top + y,
    X // sw]`` with ``X = left + x`` (the padding is dropped)."""
    H, W = plane.shape
    sw = phases.shape[0]
    if sw == 1:
        for y in range(H):
            for x in range(W):
                plane[y, x] = phases[0, top + y, left + x]
        return
    for r in range(sw):
        x0 = (r - left) % sw
        u0 = (left + x0) // sw
        for y in range(H):
            for k in range(-(-(W - x0) // sw)):
                plane[y, x0 + k * sw] = phases[r, top + y, u0 + k]


@njit(cache=True)
def _tap_columns(KW, dw, sw):
    """``(phase, start)`` of each tap column ``kw``: its run begins at column
    ``start = kw*dw // sw`` of phase ``kw*dw % sw`` (no division in the inner loops)."""
    phase = np.empty(KW, dtype=np.int64)
    start = np.empty(KW, dtype=np.int64)
    for kw in range(KW):
        phase[kw], start[kw] = (kw * dw) % sw, (kw * dw) // sw
    return phase, start


@njit(cache=True)
def forward(x, w, b, sh, sw, dh, dw, top, left, Hp, Wp, out, p0, p1):
    """Depthwise forward pass of the input planes ``p0 <= n*C + c < p1``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (C*M, 1, KH, KW)
    b : ndarray, shape (C*M,)
        Bias (zeros when the layer has none).
    sh, sw, dh, dw : int
        Stride and dilation.
    top, left : int
        Padding on the top and on the left.
    Hp, Wp : int
        The padded plane's size (``top + H + bottom``, ``left + W + right``).
    out : ndarray, shape (N, C*M, H_out, W_out)
        Written in place.
    p0, p1 : int
        The input planes.

    Notes
    -----
    ``out[n, f, i, j] = b[f] + sum_{kh, kw} w[f, 0, kh, kw]
    * xp[n, f // M, i*sh + kh*dh, j*sw + kw*dw]``, the taps added in row-major order
    after the bias. Outputs go :data:`ROWS` rows by one vector of columns at a time,
    their sums kept in registers through all the taps; the lanes past ``W_out`` and
    the rows past ``H_out`` are thrown away.
    """
    C = x.shape[1]
    F, _, KH, KW = w.shape
    M = F // C
    H_out, W_out = out.shape[2], out.shape[3]
    V = lanes(b)
    phases = _scratch(Hp, Wp, sh, sw, V, x)
    rows = np.empty((ROWS, -(-W_out // V) * V), dtype=out.dtype)
    flat_w = np.ascontiguousarray(w).reshape(F * KH * KW)
    phase, start = _tap_columns(KW, dw, sw)
    for p in range(p0, p1):
        n, c = p // C, p % C
        _load_plane(x[n, c], top, left, phases)
        for f in range(c * M, (c + 1) * M):
            for i in range(0, H_out, ROWS):
                for j in range(0, W_out, V):
                    acc0 = broadcast(b, f)
                    acc1, acc2, acc3 = acc0, acc0, acc0
                    for kh in range(KH):
                        y = i * sh + kh * dh
                        for kw in range(KW):
                            tap = broadcast(flat_w, (f * KH + kh) * KW + kw)
                            u, r = start[kw] + j, phase[kw]
                            acc0 = muladd(tap, load(phases[r, y], u), acc0)
                            acc1 = muladd(tap, load(phases[r, y + sh], u), acc1)
                            acc2 = muladd(tap, load(phases[r, y + 2 * sh], u), acc2)
                            acc3 = muladd(tap, load(phases[r, y + 3 * sh], u), acc3)
                    store(rows[0], j, acc0)
                    store(rows[1], j, acc1)
                    store(rows[2], j, acc2)
                    store(rows[3], j, acc3)
                for k in range(min(ROWS, H_out - i)):
                    for j in range(W_out):
                        out[n, f, i + k, j] = rows[k, j]


@njit(cache=True, parallel=True)
def forward_parallel(x, w, b, sh, sw, dh, dw, top, left, Hp, Wp, out, chunks):
    """:func:`forward` on every input plane, in ``chunks`` ranges run in parallel."""
    P = x.shape[0] * x.shape[1]
    for k in prange(chunks):
        forward(x, w, b, sh, sw, dh, dw, top, left, Hp, Wp, out,
                k * P // chunks, (k + 1) * P // chunks)


@njit(cache=True)
def backward(x, w, dout, sh, sw, dh, dw, top, left, Hp, Wp, dx, dw_parts, p0, p1):
    """``dx`` and per-image ``dw`` of the input planes ``p0 <= n*C + c < p1``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (C*M, 1, KH, KW)
    dout : ndarray, shape (N, C*M, H_out, W_out)
    sh, sw, dh, dw, top, left, Hp, Wp : int
        As in :func:`forward`.
    dx : ndarray, shape (N, C, H, W)
        Written in place.
    dw_parts : ndarray, shape (N, C*M, KH*KW)
        Written in place: image ``n``'s share of ``dw``; ``dw = dw_parts.sum(0)``.
    p0, p1 : int
        The input planes.

    Notes
    -----
    ::

        dw_parts[n, f, kh*KW + kw] = sum_{i, j} dout[n, f, i, j]
                                     * xp[n, f // M, i*sh + kh*dh, j*sw + kw*dw]
        dxp[n, c, i*sh + kh*dh, j*sw + kw*dw] += w[f, 0, kh, kw] * dout[n, f, i, j]

    summed over the ``M`` filters ``f`` of channel ``c`` and every output ``(i, j)``;
    ``dx`` is ``dxp`` without its padding. A row of ``dout`` goes a vector at a time
    (copied into a row padded with zeros, so the lanes past ``W_out`` add nothing);
    each tap's partial sums of ``dw`` are one vector, added across its lanes at the end.
    """
    C = x.shape[1]
    F, _, KH, KW = w.shape
    M = F // C
    H_out, W_out = dout.shape[2], dout.shape[3]
    V = lanes(dw_parts.reshape(dw_parts.size))
    phases = _scratch(Hp, Wp, sh, sw, V, x)
    dphases = _scratch(Hp, Wp, sh, sw, V, x)
    grad = np.zeros(-(-W_out // V) * V, dtype=x.dtype)  # the lanes past W_out stay 0
    sums = np.empty((KH * KW, V), dtype=x.dtype)
    flat_w = np.ascontiguousarray(w).reshape(F * KH * KW)
    phase, start = _tap_columns(KW, dw, sw)
    for p in range(p0, p1):
        n, c = p // C, p % C
        _load_plane(x[n, c], top, left, phases)
        dphases[:, :, :] = 0
        for f in range(c * M, (c + 1) * M):
            sums[:, :] = 0
            for i in range(H_out):
                for j in range(W_out):
                    grad[j] = dout[n, f, i, j]
                for kh in range(KH):
                    y = i * sh + kh * dh
                    for kw in range(KW):
                        t = kh * KW + kw
                        run, drun = phases[phase[kw], y], dphases[phase[kw], y]
                        tap = broadcast(flat_w, f * KH * KW + t)
                        total = load(sums[t], 0)
                        for j in range(0, W_out, V):
                            g = load(grad, j)
                            u = start[kw] + j
                            total = muladd(g, load(run, u), total)
                            store(drun, u, muladd(tap, g, load(drun, u)))
                        store(sums[t], 0, total)
            for t in range(KH * KW):
                acc = sums[t, 0]
                for lane in range(1, V):
                    acc += sums[t, lane]
                dw_parts[n, f, t] = acc
        _store_plane(dphases, top, left, dx[n, c])


@njit(cache=True, parallel=True)
def backward_parallel(x, w, dout, sh, sw, dh, dw, top, left, Hp, Wp, dx, dw_parts, chunks):
    """:func:`backward` on every input plane, in ``chunks`` ranges run in parallel."""
    P = x.shape[0] * x.shape[1]
    for k in prange(chunks):
        backward(x, w, dout, sh, sw, dh, dw, top, left, Hp, Wp, dx, dw_parts,
                 k * P // chunks, (k + 1) * P // chunks)
