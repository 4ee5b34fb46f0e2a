"""Depthwise convolution (``groups == C``), forward and backward, a channel plane at a time.

In a depthwise layer filter ``f = c*M + m`` (``M`` filters per channel, the
multiplier) sees channel ``c`` alone, so an output plane is a weighted sum of
``KH*KW`` shifted copies of one input plane, nine multiply-adds per output for a 3x3
kernel: far too little work per number for a matrix product (im2col, or one batched
product per tap) to pay for its copies. The kernels here compute **a block of**
:data:`ROWS` **output rows by one vector of columns, for each tap**, the block's sums
kept in registers, on a padded plane kept in the core's cache:

1. *Padding.* Each input plane is first copied into a scratch plane with a zero
   border, so no window needs clipping (the border is zeroed once per call: a plane
   only ever overwrites the interior).
2. *Column phases.* With column stride ``sw > 1`` the scratch plane is stored as ``sw``
   phases, ``phases[X % sw, Y, X // sw] = xp[Y, X]``; then tap ``(kh, kw)`` of output
   row ``i`` is the contiguous run ``phases[o % sw, i*sh + kh*dh, o // sw + j]``
   (``j = 0 .. W_out - 1``, ``o = kw*dw``) instead of a strided one. Every tap is one
   offset into the flat scratch plane, worked out once per call.
3. *Forward.* The sums start at the bias and go straight into ``out``: the last block
   of rows and the last vector of a row are moved back to end at the plane's edge
   (they compute some outputs twice, the same way, rather than write past the row).
4. *Backward, dw.* ``dw[f, kh, kw]`` is the dot product of the ``dout`` plane with the
   run of tap ``(kh, kw)``: ``dout`` is copied into a zero-padded plane (the lanes past
   ``W_out`` read zeros); taps go three at a time over two rows, each tap and row
   with a vector of partial sums (six independent sums: the multiply-adds need not
   wait for each other, and each vector of ``dout`` read serves three taps).
5. *Backward, dx by gathering.* Rather than add ``w * dout`` into overlapping windows
   (a store that the next tap reads back before it has left the core), ``dx`` is
   computed like the forward pass, as sums in registers: for the padded position
   ``(Y, X) = (a*sh + rh, b*sw + rw)``, the taps with ``kh*dh % sh == rh`` and
   ``kw*dw % sw == rw`` reach it from ``dout[a - qh, b - qw]`` with ``qh = (kh*dh -
   rh) // sh`` (and so for columns), so each stride phase ``(rh, rw)`` of ``dx`` is a
   stride-1 correlation of the padded ``dout`` planes of channel ``c`` with its own
   taps of all ``M`` filters (none: the phase is zero). The phases are written into a
   scratch plane in column phases and copied into ``dx`` without the padding.

A work item is one ``(n, c)`` input plane with its ``M`` output planes, so a
``prange`` iteration owns its planes of ``out`` and ``dx`` and its rows of the partial
``dw``: no two threads ever write the same number. The copies use unsigned flat
indices, which spares Numba its test for negative ones on every number (it kept the
copies from vectorizing: they took half of the forward pass).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, uint64

from cnnlab.kernels.simd import broadcast, lanes, load, muladd, store, zeros

#: Output rows a block computes at once: four independent sums per vector of columns,
#: so that each multiply-add need not wait for the one before (a single chain of 9
#: dependent multiply-adds per vector ran at a third of the speed).
ROWS = 4


@njit(cache=True)
def _copy_in(src, s0, H, W, dst, d0, R, U, sw, top, left):
    """``dst[d0 + ((X % sw)*R + top + y)*U + X // sw] = src[s0 + y*W + x]`` with ``X =
    left + x``, for ``y < H``, ``x < W``: a plane into a padded plane in ``sw`` column
    phases of ``R`` rows of ``U`` numbers (the rest of ``dst`` is left as it is)."""
    if sw == 1:
        for y in range(H):
            source = uint64(s0 + y * W)
            target = uint64(d0 + (top + y) * U + left)
            for x in range(W):
                dst[target + uint64(x)] = src[source + uint64(x)]
    elif sw == 2:  # both phases in one loop, which LLVM turns into vector shuffles
        half = W // 2
        for y in range(H):
            source = uint64(s0 + y * W)
            even = uint64(d0 + ((left % 2) * R + top + y) * U + left // 2)
            odd = uint64(d0 + (((left + 1) % 2) * R + top + y) * U + (left + 1) // 2)
            for k in range(half):
                dst[even + uint64(k)] = src[source + uint64(2 * k)]
                dst[odd + uint64(k)] = src[source + uint64(2 * k + 1)]
            if W % 2:
                dst[even + uint64(half)] = src[source + uint64(W - 1)]
    else:
        for r in range(sw):
            x0 = (r - left) % sw  # the first column x with (left + x) % sw == r
            for y in range(H):
                source = uint64(s0 + y * W + x0)
                target = uint64(d0 + (r * R + top + y) * U + (left + x0) // sw)
                for k in range(-(-(W - x0) // sw)):
                    dst[target + uint64(k)] = src[source + uint64(k * sw)]


@njit(cache=True)
def _copy_out(src, R, U, sw, top, left, dst, d0, H, W):
    """The inverse of :func:`_copy_in` (``s0 = 0``): ``dst[d0 + y*W + x] = src[((X %
    sw)*R + top + y)*U + X // sw]`` with ``X = left + x`` (the padding is dropped)."""
    if sw == 1:
        for y in range(H):
            source = uint64((top + y) * U + left)
            target = uint64(d0 + y * W)
            for x in range(W):
                dst[target + uint64(x)] = src[source + uint64(x)]
    elif sw == 2:
        half = W // 2
        for y in range(H):
            target = uint64(d0 + y * W)
            even = uint64(((left % 2) * R + top + y) * U + left // 2)
            odd = uint64((((left + 1) % 2) * R + top + y) * U + (left + 1) // 2)
            for k in range(half):
                dst[target + uint64(2 * k)] = src[even + uint64(k)]
                dst[target + uint64(2 * k + 1)] = src[odd + uint64(k)]
            if W % 2:
                dst[target + uint64(W - 1)] = src[even + uint64(half)]
    else:
        for r in range(sw):
            x0 = (r - left) % sw
            for y in range(H):
                source = uint64((r * R + top + y) * U + (left + x0) // sw)
                target = uint64(d0 + y * W + x0)
                for k in range(-(-(W - x0) // sw)):
                    dst[target + uint64(k * sw)] = src[source + uint64(k)]


@njit(cache=True, inline="always")
def _block(src, base, step, offsets, weights, w0, t0, t1, start):
    """The sums of one block: ``ROWS`` vectors ``start + sum_t weights[w0 + t] *
    src[base + k*step + offsets[t] : ... + lanes]`` (``k < ROWS``, ``t0 <= t < t1``)."""
    a0, a1, a2, a3 = start, start, start, start
    for t in range(t0, t1):
        tap = broadcast(weights, w0 + t)
        at = base + offsets[t]
        a0 = muladd(tap, load(src, at), a0)
        a1 = muladd(tap, load(src, at + step), a1)
        a2 = muladd(tap, load(src, at + 2 * step), a2)
        a3 = muladd(tap, load(src, at + 3 * step), a3)
    return a0, a1, a2, a3


@njit(cache=True)
def _input_plane(Hp, Wp, sh, sw, V, dtype_of):
    """``(phases, R, U)``: a zeroed flat scratch plane in ``sw`` column phases of ``R =
    Hp + (ROWS - 1)*sh`` rows (the rows past ``H_out`` of a last block of rows) of
    ``U = ceil(Wp / sw) + V`` numbers (a vector that starts in a row stays in it)."""
    R, U = Hp + (ROWS - 1) * sh, -(-Wp // sw) + V
    return np.zeros(sw * R * U, dtype=dtype_of.dtype), R, U


@njit(cache=True)
def _tap_offsets(KH, KW, sh, sw, dh, dw, R, U):
    """Offset of tap ``t = kh*KW + kw`` in the input plane of :func:`_input_plane`,
    from row ``i*sh`` of phase 0: ``((kw*dw % sw)*R + kh*dh)*U + kw*dw // sw``."""
    offsets = np.empty(KH * KW, dtype=np.int64)
    for kh in range(KH):
        for kw in range(KW):
            offsets[kh * KW + kw] = ((kw * dw % sw) * R + kh * dh) * U + kw * dw // sw
    return offsets


@njit(cache=True)
def _starts(count, step):
    """Where the blocks of ``step`` along ``count`` begin: ``0, step, ...``, the last
    moved back to ``count - step`` so that it ends at the edge (``count >= step``)."""
    starts = np.empty(-(-count // step), dtype=np.int64)
    for k in range(starts.size):
        starts[k] = min(k * step, count - step)
    return starts


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
        C-contiguous, written in place.
    p0, p1 : int
        The input planes.

    Notes
    -----
    ``out[n, f, i, j] = b[f] + sum_{kh, kw} w[f, 0, kh, kw]
    * xp[n, f // M, i*sh + kh*dh, j*sw + kw*dw]``, the taps added in row-major order
    after the bias. An output plane smaller than one block (``H_out < ROWS`` or
    ``W_out`` less than a vector) goes through a row buffer instead, its lanes past
    ``W_out`` and rows past ``H_out`` thrown away.
    """
    _, C, H, W = x.shape
    F, _, KH, KW = w.shape
    M, T = F // C, KH * KW
    H_out, W_out = out.shape[2], out.shape[3]
    V = lanes(b)
    phases, R, U = _input_plane(Hp, Wp, sh, sw, V, x)
    offsets = _tap_offsets(KH, KW, sh, sw, dh, dw, R, U)
    flat_x, flat_w = x.reshape(x.size), np.ascontiguousarray(w).reshape(F * T)
    flat_out = out.reshape(out.size)
    direct = H_out >= ROWS and W_out >= V
    if direct:
        row_starts, column_starts = _starts(H_out, ROWS), _starts(W_out, V)
    else:
        row_starts, column_starts = np.arange(0, H_out, ROWS), np.arange(0, W_out, V)
    rows = np.empty((ROWS, column_starts.size * V), dtype=out.dtype)
    step = sh * U
    for p in range(p0, p1):
        n, c = p // C, p % C
        _copy_in(flat_x, p * H * W, H, W, phases, 0, R, U, sw, top, left)
        for f in range(c * M, (c + 1) * M):
            first = (n * F + f) * H_out * W_out
            for i in row_starts:
                for j in column_starts:
                    a0, a1, a2, a3 = _block(phases, i * step + j, step, offsets,
                                            flat_w, f * T, 0, T, broadcast(b, f))
                    if direct:
                        at = first + i * W_out + j
                        store(flat_out, at, a0)
                        store(flat_out, at + W_out, a1)
                        store(flat_out, at + 2 * W_out, a2)
                        store(flat_out, at + 3 * W_out, a3)
                    else:
                        store(rows[0], j, a0)
                        store(rows[1], j, a1)
                        store(rows[2], j, a2)
                        store(rows[3], j, a3)
                if not direct:
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
def _gather_taps(M, KH, KW, sh, sw, dh, dw, Qh, Qw, Pd, Ud):
    """The taps of ``dx`` by stride phase (see the module's notes, step 5).

    Returns ``(bounds, offsets, which)``: the taps of phase ``(rh, rw)`` are ``bounds[rh*sw
    + rw] <= t < bounds[rh*sw + rw + 1]``; tap ``t`` reads the padded ``dout`` planes
    at ``offsets[t]`` from row ``a`` and column ``b`` of plane 0 (``Pd`` numbers a
    plane, ``Ud`` a row, ``Qh`` and ``Qw`` zero rows and columns before ``dout``) with
    the weight ``which[t] = m*KH*KW + kh*KW + kw`` of the channel's filters.
    """
    bounds = np.zeros(sh * sw + 1, dtype=np.int64)
    offsets = np.empty(M * KH * KW, dtype=np.int64)
    which = np.empty(M * KH * KW, dtype=np.int64)
    t = 0
    for rh in range(sh):
        for rw in range(sw):
            for m in range(M):
                for kh in range(KH):
                    for kw in range(KW):
                        if (kh * dh) % sh == rh and (kw * dw) % sw == rw:
                            qh, qw = (kh * dh - rh) // sh, (kw * dw - rw) // sw
                            offsets[t] = m * Pd + (Qh - qh) * Ud + Qw - qw
                            which[t] = (m * KH + kh) * KW + kw
                            t += 1
            bounds[rh * sw + rw + 1] = t
    return bounds, offsets, which


@njit(cache=True)
def backward(x, w, dout, sh, sw, dh, dw, top, left, Hp, Wp, dx, dw_parts, db_parts, p0, p1):
    """``dx`` and per-image ``dw`` and ``db`` of the input planes ``p0 <= n*C + c < p1``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (C*M, 1, KH, KW)
    dout : ndarray, shape (N, C*M, H_out, W_out)
    sh, sw, dh, dw, top, left, Hp, Wp : int
        As in :func:`forward`.
    dx : ndarray, shape (N, C, H, W)
        C-contiguous, written in place.
    dw_parts : ndarray, shape (N, C*M, KH*KW)
        Written in place: image ``n``'s share of ``dw``; ``dw = dw_parts.sum(0)``.
    db_parts : ndarray, shape (N, C*M)
        Written in place: ``db_parts[n, f] = dout[n, f].sum()``; ``db = db_parts.sum(0)``
        (summed from the padded copy of ``dout``, in the core's cache).
    p0, p1 : int
        The input planes.

    Notes
    -----
    ::

        dw_parts[n, f, kh*KW + kw] = sum_{i, j} dout[n, f, i, j]
                                     * xp[n, f // M, i*sh + kh*dh, j*sw + kw*dw]
        dxp[n, c, i*sh + kh*dh, j*sw + kw*dw] += w[f, 0, kh, kw] * dout[n, f, i, j]

    summed over the ``M`` filters ``f`` of channel ``c`` and every output ``(i, j)``;
    ``dx`` is ``dxp`` without its padding, computed by gathering (module notes, step
    5). Each tap's partial sums of ``dw`` are two vectors (even and odd rows), added
    across their lanes at the end.
    """
    _, C, H, W = x.shape
    F, _, KH, KW = w.shape
    M, T = F // C, KH * KW
    H_out, W_out = dout.shape[2], dout.shape[3]
    V = lanes(dw_parts.reshape(dw_parts.size))
    phases, R, U = _input_plane(Hp, Wp, sh, sw, V, x)
    offsets = _tap_offsets(KH, KW, sh, sw, dh, dw, R, U)
    # dout's planes with Qh zero rows above and Qw zero columns on the left, as far
    # below and to the right as the gathering of dx and the vectors of dw read
    Qh, Qw = (KH - 1) * dh // sh, (KW - 1) * dw // sw
    A, B = (top + H - 1) // sh, (left + W - 1) // sw  # the last phase row and column
    Rd, Ud = Qh + max(A, H_out) + ROWS, Qw + max(B, W_out) + V
    padded = np.zeros(M * Rd * Ud, dtype=x.dtype)
    # dx's padded plane in column phases: rows (A + ROWS)*sh, B + V numbers a row
    Rx, Ux = (A + ROWS) * sh, B + V
    dxp = np.empty(sw * Rx * Ux, dtype=x.dtype)
    # with stride 1 and a plane of at least one block, the sums go straight into dx (the
    # last block of rows and vector of a row moved back to end at the edge, as forward)
    direct = sh == sw == 1 and H >= ROWS and W >= V
    row_starts, column_starts = _starts(max(H, ROWS), ROWS), _starts(max(W, V), V)
    bounds, gather, which = _gather_taps(M, KH, KW, sh, sw, dh, dw, Qh, Qw, Rd * Ud, Ud)
    taps = np.empty(M * T, dtype=x.dtype)
    # dw goes three taps by two rows at a time: the taps past T (to a multiple of 3)
    # read where tap 0 does and add into rows of sums that are never used
    T3 = -(-T // 3) * 3
    reach = np.concatenate((offsets, np.full(T3 - T, offsets[0])))
    sums = np.empty((T3, 2 * V), dtype=x.dtype)
    one = broadcast(np.ones(1, dtype=x.dtype), 0)
    flat_x, flat_w = x.reshape(x.size), np.ascontiguousarray(w).reshape(F * T)
    flat_dout, flat_dx = dout.reshape(dout.size), dx.reshape(dx.size)
    step = sh * U
    for p in range(p0, p1):
        n, c = p // C, p % C
        _copy_in(flat_x, p * H * W, H, W, phases, 0, R, U, sw, top, left)
        for m in range(M):
            _copy_in(flat_dout, (p * M + m) * H_out * W_out, H_out, W_out, padded,
                     m * Rd * Ud, Rd, Ud, 1, Qh, Qw)
        for f in range(c * M, (c + 1) * M):  # dw
            g0 = (f - c * M) * Rd * Ud + Qh * Ud + Qw
            for t in range(0, T3, 3):
                s00, s01, s10, s11 = zeros(taps), zeros(taps), zeros(taps), zeros(taps)
                s20, s21 = zeros(taps), zeros(taps)
                for i in range(0, H_out, 2):
                    g = g0 + i * Ud
                    at0 = i * step + reach[t]
                    at1, at2 = at0 + reach[t + 1] - reach[t], at0 + reach[t + 2] - reach[t]
                    for j in range(0, W_out, V):
                        d0, d1 = load(padded, g + j), load(padded, g + Ud + j)
                        s00 = muladd(d0, load(phases, at0 + j), s00)
                        s01 = muladd(d1, load(phases, at0 + step + j), s01)
                        s10 = muladd(d0, load(phases, at1 + j), s10)
                        s11 = muladd(d1, load(phases, at1 + step + j), s11)
                        s20 = muladd(d0, load(phases, at2 + j), s20)
                        s21 = muladd(d1, load(phases, at2 + step + j), s21)
                store(sums[t], 0, s00)
                store(sums[t], V, s01)
                store(sums[t + 1], 0, s10)
                store(sums[t + 1], V, s11)
                store(sums[t + 2], 0, s20)
                store(sums[t + 2], V, s21)
            for t in range(T):
                total = sums[t, 0]
                for lane in range(1, 2 * V):
                    total += sums[t, lane]
                dw_parts[n, f, t] = total
            b0, b1, b2, b3 = zeros(taps), zeros(taps), zeros(taps), zeros(taps)
            for i in range(0, H_out, ROWS):  # db: the rows past H_out are zeros
                g = g0 + i * Ud
                for j in range(0, W_out, V):
                    b0 = muladd(load(padded, g + j), one, b0)
                    b1 = muladd(load(padded, g + Ud + j), one, b1)
                    b2 = muladd(load(padded, g + 2 * Ud + j), one, b2)
                    b3 = muladd(load(padded, g + 3 * Ud + j), one, b3)
            store(sums[0], 0, muladd(b0, one, b1))
            store(sums[0], V, muladd(b2, one, b3))
            total = sums[0, 0]
            for lane in range(1, 2 * V):
                total += sums[0, lane]
            db_parts[n, f] = total
        for t in range(M * T):  # dx
            taps[t] = flat_w[c * M * T + which[t]]
        if direct:  # stride 1: one phase, straight into dx
            for y in row_starts:
                for x_ in column_starts:
                    a0, a1, a2, a3 = _block(padded, (top + y) * Ud + left + x_, Ud, gather,
                                            taps, 0, 0, M * T, zeros(taps))
                    at = p * H * W + y * W + x_
                    store(flat_dx, at, a0)
                    store(flat_dx, at + W, a1)
                    store(flat_dx, at + 2 * W, a2)
                    store(flat_dx, at + 3 * W, a3)
            continue
        for rh in range(sh):
            for rw in range(sw):
                t0, t1 = bounds[rh * sw + rw], bounds[rh * sw + rw + 1]
                for a in range((top - rh + sh - 1) // sh, (top + H - 1 - rh) // sh + 1, ROWS):
                    to = (rw * Rx + a * sh + rh) * Ux
                    for b_ in range((left - rw + sw - 1) // sw, (left + W - 1 - rw) // sw + 1,
                                    V):
                        a0, a1, a2, a3 = _block(padded, a * Ud + b_, Ud, gather, taps, 0, t0,
                                                t1, zeros(taps))
                        store(dxp, to + b_, a0)
                        store(dxp, to + sh * Ux + b_, a1)
                        store(dxp, to + 2 * sh * Ux + b_, a2)
                        store(dxp, to + 3 * sh * Ux + b_, a3)
        _copy_out(dxp, Rx, Ux, sw, top, left, flat_dx, p * H * W, H, W)


@njit(cache=True, parallel=True)
def backward_parallel(x, w, dout, sh, sw, dh, dw, top, left, Hp, Wp, dx, dw_parts, db_parts,
                      chunks):
    """:func:`backward` on every input plane, in ``chunks`` ranges run in parallel."""
    P = x.shape[0] * x.shape[1]
    for k in prange(chunks):
        backward(x, w, dout, sh, sw, dh, dw, top, left, Hp, Wp, dx, dw_parts, db_parts,
                 k * P // chunks, (k + 1) * P // chunks)
