"""How each convolution kernel is fed: the copies, layouts and paddings it needs.

:mod:`cnnlab.layers.conv` validates the arrays and picks a path (and whether to run in
parallel); the functions here prepare that path's arrays and call its kernels:

- :func:`blocked_forward`: channel-last copy, filters as ``[group, block, kh, kw, c,
  f]`` padded to whole blocks per group (:mod:`cnnlab.kernels.blocked`);
- :func:`direct_forward`: channel-major copy and tap offsets for stride 1
  (:mod:`cnnlab.kernels.direct`);
- :func:`weight_gradient`: ``dw`` from channel-last copies of ``x`` and ``dout``
  (:mod:`cnnlab.kernels.weight_grad`), a group at a time;
- :func:`phase_input_gradient`: a strided one-group layer's ``dx``, a stride phase at a
  time, from one channel-last copy of ``dout`` (:mod:`cnnlab.kernels.phases`,
  :mod:`cnnlab.kernels.blocked`);
- :func:`im2col_forward` / :func:`im2col_backward`: im2col, BLAS products and col2im,
  a chunk of images at a time (:mod:`cnnlab.kernels.conv`);
- :func:`depthwise_forward` / :func:`depthwise_backward`: a channel plane at a time,
  no copy beyond the kernels' own padded plane (:mod:`cnnlab.kernels.depthwise`);
- :func:`pointwise_forward` / :func:`pointwise_backward`: a 1x1 convolution as one BLAS
  product per image on the NCHW arrays themselves, nothing copied at stride 1.
"""

from __future__ import annotations

import numba
import numpy as np

from cnnlab.kernels import blocked, depthwise, direct, parallel_chunks, phases, weight_grad
from cnnlab.kernels import conv as kernels
from cnnlab.kernels.simd import VECTOR_BYTES, aligned_empty
from cnnlab.layers import dispatch
from cnnlab.layers._validate import ConvGeometry, pad_nchw


def _check_width(module, x: np.ndarray) -> None:
    """The module's compiled kernels use the vectors the arrays are sized for.

    Numba's cache does not notice a change of :data:`~cnnlab.kernels.simd.VECTOR_BYTES`
    alone; kernels cached for another width would read past the arrays, so refuse.
    """
    if module.compiled_lanes(x.ravel()[:1]) * x.itemsize != VECTOR_BYTES:
        raise RuntimeError(
            f"{module.__name__}: the cached kernels were compiled for other vectors than "
            f"this CPU's {VECTOR_BYTES * 8}-bit ones; delete cnnlab/kernels/__pycache__ "
            "(or NUMBA_CACHE_DIR) and run `python -m cnnlab warmup`."
        )


def _layout(g: ConvGeometry, xp_width: int, rows: int, itemsize: int) -> tuple[bool, int, int]:
    """``(wide, Wq, per_chunk)``: the column layout and how many images per chunk.

    A chunk holds :data:`cnnlab.layers.dispatch.CHUNK_BYTES` of columns. Stride 1 uses
    wide columns (row width ``Wq`` = padded width, see :mod:`cnnlab.kernels.conv`), any
    other stride ordinary ones (``Wq = W_out``).
    """
    N, _, H_out, W_out = g.out_shape
    wide = g.stride == (1, 1)
    Wq = xp_width if wide else W_out
    per_chunk = max(1, min(N, dispatch.CHUNK_BYTES // (rows * H_out * Wq * itemsize)))
    return wide, Wq, per_chunk


def _unroll(xp, n0, n1, KH, KW, g, wide, cols) -> None:
    """im2col of images ``n0..n1-1`` into ``cols``, wide or ordinary."""
    if wide:
        kernels.im2col_wide(xp, n0, n1, KH, KW, *g.dilation, g.out_shape[2], cols)
    else:
        kernels.im2col(xp, n0, n1, KH, KW, *g.stride, *g.dilation, *g.out_shape[2:], cols)


def _fold(dcols, n0, n1, KH, KW, g, wide, dxp) -> None:
    """col2im of images ``n0..n1-1`` from ``dcols`` into ``dxp`` (``+=``)."""
    if wide:
        kernels.col2im_wide(dcols, n0, n1, KH, KW, *g.dilation, g.out_shape[2], dxp)
    else:
        kernels.col2im(dcols, n0, n1, KH, KW, *g.stride, *g.dilation, *g.out_shape[2:], dxp)


def _group_slices(F: int, taps: int, groups: int) -> list[tuple[slice, slice]]:
    """Rows of ``w_mat`` (filters) and of ``cols`` (taps) that belong to each group."""
    f, k = F // groups, taps // groups
    return [(slice(i * f, (i + 1) * f), slice(i * k, (i + 1) * k)) for i in range(groups)]


def im2col_forward(x, w, bias, g: ConvGeometry) -> np.ndarray:
    """Forward pass as ``w.reshape(F, -1) @ im2col(xp)`` (:mod:`cnnlab.kernels.conv`)."""
    N, F, _, _ = g.out_shape
    C = x.shape[1]
    _, _, KH, KW = w.shape
    xp = pad_nchw(x, g.padding)
    w_mat = w.reshape(F, -1)
    wide, Wq, per_chunk = _layout(g, xp.shape[3], C * KH * KW, x.itemsize)
    P = g.out_shape[2] * Wq  # columns per image
    cols = np.empty((C * KH * KW, per_chunk * P), dtype=x.dtype)
    mat = np.empty((F, per_chunk * P), dtype=x.dtype)
    out = np.empty(g.out_shape, dtype=x.dtype)
    for n0 in range(0, N, per_chunk):
        n1 = min(N, n0 + per_chunk)
        m = (n1 - n0) * P
        _unroll(xp, n0, n1, KH, KW, g, wide, cols)
        for filters, taps in _group_slices(F, C * KH * KW, g.groups):
            np.matmul(w_mat[filters], cols[taps, :m], out=mat[filters, :m])
        kernels.mat_to_nchw(mat, bias, n0, n1, Wq, out)
    return out


def _channel_last(x: np.ndarray, padding, stride: int, slack: int, parallel: bool):
    """``x`` (N, C, H, W) zero-padded and channel last, flat: ``x[n, c, y, x]`` at
    ``((n*Hp + top + y)*Wp + left + x)*stride + c``, then ``slack`` more zeros."""
    N = x.shape[0]
    (top, _), (left, _) = padding
    Hp, Wp = _padded_size(x, padding)
    x = np.ascontiguousarray(x)  # the kernels read it as one flat run
    xh = np.zeros(N * Hp * Wp * stride + slack, dtype=x.dtype)
    if parallel:
        dispatch.announce_compile(blocked.to_channel_last_parallel, x.dtype)
        blocked.to_channel_last_parallel(x, top, left, Hp, Wp, stride, xh)
    else:
        blocked.to_channel_last(x, top, left, Hp, Wp, stride, xh, 0, N)
    return xh


def _padded_planes(x: np.ndarray, padding, plane: int, parallel: bool) -> np.ndarray:
    """``x`` (N, C, H, W) zero-padded, flat, each channel's padded image in a plane of
    ``plane`` numbers: ``x[n, c, y, x]`` at ``(n*C + c)*plane + (top + y)*Wp + left + x``
    (:func:`cnnlab.kernels.blocked.plane_stride`)."""
    N, C = x.shape[:2]
    (top, _), (left, _) = padding
    _, Wp = _padded_size(x, padding)
    x = np.ascontiguousarray(x)
    xp = np.zeros(N * C * plane, dtype=x.dtype)
    if parallel:
        dispatch.announce_compile(blocked.to_padded_planes_parallel, x.dtype)
        blocked.to_padded_planes_parallel(x, top, left, Wp, plane, xp)
    else:
        blocked.to_padded_planes(x, top, left, Wp, plane, xp)
    return xp


def _spread(n: int, itemsize: int) -> int:
    """A pixel stride of at least ``n`` numbers for a channel-last copy: ``n``, or one
    cache line (64 bytes) more when ``n`` numbers make a multiple of 8 lines. With a
    pixel every 2 KB (512 float32 channels) every pixel's numbers would fall into the
    same few sets of the L1 cache, which then holds a few dozen pixels instead of
    hundreds (256->256 3x3 on 14x14: 15.1 ms without, 13.8 ms with, one thread)."""
    line = 64 // itemsize
    return n + line if n % (8 * line) == 0 else n


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _padded_size(x: np.ndarray, padding) -> tuple[int, int]:
    """``(Hp, Wp)``: the spatial size of ``x`` once padded per side."""
    (top, bottom), (left, right) = padding
    return top + x.shape[2] + bottom, left + x.shape[3] + right


def blocked_forward(x, w, bias, g: ConvGeometry, parallel: bool) -> np.ndarray:
    """Forward pass with the sums in registers (:mod:`cnnlab.kernels.blocked`), any
    number of groups."""
    N, C, _, _ = x.shape
    F, Cg, KH, KW = w.shape
    G = g.groups
    Fg = F // G
    Hp, Wp = _padded_size(x, g.padding)
    _check_width(blocked, x)
    B = 2 * VECTOR_BYTES // x.itemsize  # a block: two vectors of filters
    Fp = _round_up(Fg, B)  # filters per group, padded to whole blocks
    out = np.empty(g.out_shape, dtype=x.dtype)
    if Cg >= dispatch.PLANES_MIN_CHANNELS:  # padded planes: a copy, not a transpose
        plane = blocked.plane_stride(Hp * Wp, x.itemsize)
        xh = _padded_planes(x, g.padding, plane, parallel)
        steps = (1, plane, C * plane)
    else:
        xh = _channel_last(x, g.padding, C, 0, parallel)
        steps = (C, 1, Hp * Wp * C)
    # Each block's weights, one run; aligned like the bias, for the kernel's vector loads.
    wt = aligned_empty(G * Fp * Cg * KH * KW, x.dtype)
    if parallel:
        dispatch.announce_compile(blocked.filter_blocks_parallel, x.dtype)
        blocked.filter_blocks_parallel(w, G, Fp, wt)
    else:
        blocked.filter_blocks(w, G, Fp, wt)
    bias_padded = aligned_empty(G * Fp, x.dtype)
    bias_padded.reshape(G, Fp)[...] = 0
    bias_padded.reshape(G, Fp)[:, :Fg] = bias.reshape(G, Fg)
    args = (xh, wt, bias_padded, C, G, Hp, Wp, KH, KW, *g.stride, *g.dilation, *steps, out)
    blocks = G * Fp // B
    rows = N * g.out_shape[2]
    tile = blocked.tile_rows(C, Wp, g.stride[0], x.itemsize)
    if parallel:
        dispatch.announce_compile(blocked.conv_rows_parallel, x.dtype)
        split = blocked.work_split(rows, blocks, tile, parallel_chunks(rows * blocks))
        blocked.conv_rows_parallel(*args, tile, *split)
    else:
        blocked.conv_rows(*args, tile, 0, rows, 0, blocks)
    return out


def direct_forward(x, w, bias, g: ConvGeometry, parallel: bool) -> np.ndarray:
    """Stride-1 forward pass without im2col (:mod:`cnnlab.kernels.direct`)."""
    N, _, _, _ = x.shape
    F = w.shape[0]
    (top, _), (left, _) = g.padding
    Hp, Wp = _padded_size(x, g.padding)
    _check_width(direct, x)
    xflat, offsets, wt = direct.layout(np.ascontiguousarray(x), w, g.groups, top, left, Hp, Wp,
                                       *g.dilation)
    out = np.empty(g.out_shape, dtype=x.dtype)
    images, items = direct.work_split(N, F, g.groups, Hp * Wp)
    args = (xflat, offsets, wt, bias, N, Hp, Wp, images, out)
    if parallel:
        dispatch.announce_compile(direct.conv_stride1_parallel, x.dtype)
        direct.conv_stride1_parallel(*args, items, parallel_chunks(items))
    else:
        direct.conv_stride1(*args, 0, items)
    return out


def im2col_backward(x, w, dout, g: ConvGeometry) -> tuple[np.ndarray, np.ndarray]:
    """``(dx, dw)`` from im2col, two BLAS products per chunk of images, and col2im."""
    N, F, _, _ = g.out_shape
    _, C, H, W = x.shape
    _, _, KH, KW = w.shape
    (top, _), (left, _) = g.padding
    xp = pad_nchw(x, g.padding)
    w_mat = w.reshape(F, -1)
    wide, Wq, per_chunk = _layout(g, xp.shape[3], C * KH * KW, x.itemsize)
    P = g.out_shape[2] * Wq  # columns per image
    cols = np.empty((C * KH * KW, per_chunk * P), dtype=x.dtype)
    dcols = np.empty_like(cols)
    dout_mat = np.empty((F, per_chunk * P), dtype=x.dtype)
    dw_mat = np.zeros_like(w_mat)
    dw_part = np.empty_like(w_mat)
    dxp = np.zeros(xp.shape, dtype=x.dtype)
    for n0 in range(0, N, per_chunk):
        n1 = min(N, n0 + per_chunk)
        m = (n1 - n0) * P
        _unroll(xp, n0, n1, KH, KW, g, wide, cols)
        kernels.nchw_to_mat(dout, n0, n1, Wq, dout_mat)
        for filters, taps in _group_slices(F, C * KH * KW, g.groups):
            np.matmul(dout_mat[filters, :m], cols[taps, :m].T, out=dw_part[filters])
            np.matmul(w_mat[filters].T, dout_mat[filters, :m], out=dcols[taps, :m])
        dw_mat += dw_part
        _fold(dcols, n0, n1, KH, KW, g, wide, dxp)
    dx = dxp[:, :, top : top + H, left : left + W]
    return (dx if dx.flags.c_contiguous else np.ascontiguousarray(dx)), dw_mat.reshape(w.shape)


def weight_gradient(x, dout, w_shape, g: ConvGeometry, parallel: bool) -> np.ndarray:
    """``dw`` by :mod:`cnnlab.kernels.weight_grad`, a group at a time.

    ``x`` and ``dout`` are copied channel last once; group ``i`` reads the copies from
    its first channel and filter on (``xh[i*Cg:]``, ``douth[i*Fg:]``) as a one-group
    layer of its own, and what its blocks compute from the next group's numbers is
    thrown away. In parallel, a group's ``dw`` of more than
    :data:`cnnlab.layers.dispatch.WEIGHT_GRAD_SPLIT_BYTES` is split among the threads
    by work items (runs of window rows and blocks of filters), a smaller one by ranges
    of rows, each into a copy of that ``dw`` of its own, added up here.
    """
    N, C, _, _ = x.shape
    F, Cg, KH, KW = w_shape
    G = g.groups
    Fg = F // G
    _, _, H_out, W_out = g.out_shape
    Hp, Wp = _padded_size(x, g.padding)
    _check_width(weight_grad, x)
    B = 2 * VECTOR_BYTES // x.itemsize  # filters per block
    Fp = _round_up(Fg, B)
    S, Fs = _spread(C, x.itemsize), _spread((G - 1) * Fg + Fp, x.itemsize)
    xh = _channel_last(x, g.padding, S, weight_grad.CHANNELS - 1, parallel)
    douth = _channel_last(dout, ((0, 0), (0, 0)), Fs, 0, parallel)
    # A window row's taps and channels as one run (dilation 1 in width: 3 channels x 3
    # taps fill 16 entries rather than 3 x 8), else a run of channels per tap.
    one_run = (g.dilation[1] == 1 or KW == 1) and (Cg == S or Cg % weight_grad.CHANNELS == 0)
    KT, E = (1, KW * Cg) if one_run else (KW, Cg)
    Ep = _round_up(E, weight_grad.CHANNELS)
    rows, items, size = N * H_out, Fp // B * KH * KT, Fp * KH * KT * Ep
    geometry = (S, Cg, Hp, Wp, KH, KT, *g.stride, g.dilation[0], g.dilation[1] * S, H_out,
                W_out, E, Fs, weight_grad.pass_rows(W_out))
    grads = np.empty(w_shape, dtype=x.dtype)
    for i in range(G):
        args = (xh[i * Cg :], douth[i * Fg :], *geometry)
        if parallel:
            dispatch.announce_compile(weight_grad.weight_grad_parallel, x.dtype)
            threads = numba.get_num_threads()
            if size * x.itemsize > dispatch.WEIGHT_GRAD_SPLIT_BYTES:
                row_ranges, item_ranges = 1, min(items, threads)
            else:
                row_ranges, item_ranges = min(rows, threads), 1
            parts = np.empty((row_ranges, size), x.dtype)
            weight_grad.weight_grad_parallel(*args, parts, rows, item_ranges)
            dwt = parts[0] if row_ranges == 1 else parts.sum(axis=0)
        else:
            dwt = np.empty(size, dtype=x.dtype)
            weight_grad.weight_grad(*args, dwt, 0, rows, 0, items)
        weight_grad.to_filters(dwt, KH, KW, KT, Ep, grads[i * Fg : (i + 1) * Fg])
    return grads


def _phase_rows(size: int, kernel: int, stride: int, before: int) -> list[tuple[int, ...]]:
    """Per stride phase ``r`` of one axis: ``(taps, first, count, start)``.

    Padded input row ``y = q*stride + r`` (``before`` rows of padding) met taps ``r,
    r + stride, ...`` (``taps`` of them) in output rows ``q, q - 1, ...``. The phase's
    rows of ``dx`` (the unpadded input, ``size`` rows) are ``start, start + stride, ...``
    (``count`` of them), the first being ``q = first``.
    """
    phases = []
    for r in range(stride):
        first = -((r - before) // stride)  # the first q with q*stride + r >= before
        start = first * stride + r - before
        phases.append((len(range(r, kernel, stride)), first, len(range(start, size, stride)),
                       start))
    return phases


def _phase_padding(phases: list[tuple[int, ...]], out_size: int) -> tuple[int, int]:
    """Rows of zeros before and after ``dout`` that every phase's windows stay in: phase
    rows ``first .. first + count - 1`` read output rows ``first - taps + 1 .. first +
    count - 1``."""
    used = [(taps, first, count) for taps, first, count, _ in phases if taps and count]
    before = max([taps - 1 - first for taps, first, _ in used], default=0)
    after = max([first + count - out_size for _, first, count in used], default=0)
    return max(0, before), max(0, after)


def phase_input_gradient(dout, w, g: ConvGeometry, x_shape, parallel: bool) -> np.ndarray:
    """``dx`` of a strided convolution with one group and dilation 1, a stride phase at
    a time, on the channel-last kernel (:mod:`cnnlab.kernels.blocked`).

    Phase ``(r, s)``'s pixels of the padded input, ``(q*sh + r, p*sw + s)``, met taps
    ``(r + t*sh, s + u*sw)`` in output pixels ``(q - t, p - u)``: they are a stride-1
    convolution of ``dout`` with those taps, flipped, filters and channels swapped
    (:mod:`cnnlab.kernels.phases` lays out every phase's filters in one pass). All the
    phases read one channel-last copy of ``dout``, padded so that each phase's windows
    stay inside it (:func:`_phase_padding`); a phase reads it from its own first row and
    column on and computes only its pixels of the unpadded ``dx``
    (``dx[:, :, start::sh, start_w::sw]``, see :func:`_phase_rows`), so no multiply
    touches a zero inserted between outputs and nothing goes through im2col. Phases
    with no taps (stride larger than the kernel) are zero.
    """
    N, C, H, W = x_shape
    F, _, KH, KW = w.shape
    sh, sw = g.stride
    (top, _), (left, _) = g.padding
    _, _, H_out, W_out = g.out_shape
    _check_width(blocked, dout)
    B = 2 * VECTOR_BYTES // dout.itemsize
    Cp = _round_up(C, B)
    rows_h, rows_w = _phase_rows(H, KH, sh, top), _phase_rows(W, KW, sw, left)
    (pad_top, pad_bottom), (pad_left, pad_right) = padding = (
        _phase_padding(rows_h, H_out), _phase_padding(rows_w, W_out))
    Hq, Wq = pad_top + H_out + pad_bottom, pad_left + W_out + pad_right
    douth = _channel_last(dout, padding, F, 0, parallel)
    sizes = [T * U * F * Cp for T, *_ in rows_h for U, *_ in rows_w]
    starts = np.cumsum([0, *sizes[:-1]]).astype(np.int64)
    wt = aligned_empty(sum(sizes), dout.dtype)
    w = np.ascontiguousarray(w)
    phases.phase_filters(w, sh, sw, B, Cp, starts, wt)
    bias = aligned_empty(Cp, dout.dtype)
    bias[:] = 0
    tile = blocked.tile_rows(F, Wq, 1, dout.itemsize)
    dx = (np.zeros if sh > KH or sw > KW else np.empty)(x_shape, dtype=dout.dtype)
    for r, (T, first_h, count_h, start_h) in enumerate(rows_h):
        for s, (U, first_w, count_w, start_w) in enumerate(rows_w):
            if not (T and U and count_h and count_w):
                continue  # no taps (dx stays zero) or no pixels
            # the phase's window of its first pixel starts at this row and column
            y0, x0 = pad_top + first_h - (T - 1), pad_left + first_w - (U - 1)
            out = np.empty((N, C, count_h, count_w), dtype=dout.dtype)
            start = starts[r * sw + s]
            args = (douth[(y0 * Wq + x0) * F :], wt[start : start + sizes[r * sw + s]], bias,
                    F, 1, Hq, Wq, T, U, 1, 1, 1, 1, F, 1, Hq * Wq * F, out, tile)
            rows = N * count_h
            if parallel:
                dispatch.announce_compile(blocked.conv_rows_parallel, dout.dtype)
                blocks = Cp // B
                blocked.conv_rows_parallel(
                    *args, *blocked.work_split(rows, blocks, tile, parallel_chunks(rows * blocks)))
            else:
                blocked.conv_rows(*args, 0, rows, 0, Cp // B)
            dx[:, :, start_h::sh, start_w::sw] = out
    return dx


def _depthwise_geometry(x: np.ndarray, g: ConvGeometry) -> tuple[int, ...]:
    """``(sh, sw, dh, dw, top, left, Hp, Wp)``: the depthwise kernels' plain ints."""
    (top, _), (left, _) = g.padding
    return (*g.stride, *g.dilation, top, left, *_padded_size(x, g.padding))


def depthwise_forward(x, w, bias, g: ConvGeometry, parallel: bool) -> np.ndarray:
    """Forward pass of a depthwise layer (``groups == C``, any multiplier, stride,
    dilation and padding) by :mod:`cnnlab.kernels.depthwise`."""
    out = np.empty(g.out_shape, dtype=x.dtype)
    args = (x, w, bias, *_depthwise_geometry(x, g), out)
    if parallel:
        dispatch.announce_compile(depthwise.forward_parallel, x.dtype)
        depthwise.forward_parallel(*args, parallel_chunks(x.shape[0] * x.shape[1]))
    else:
        depthwise.forward(*args, 0, x.shape[0] * x.shape[1])
    return out


def depthwise_backward(x, w, dout, g: ConvGeometry, parallel: bool):
    """``(dx, dw, db)`` of a depthwise layer in one pass over ``dout``
    (:mod:`cnnlab.kernels.depthwise`); ``dw`` and ``db`` are sums of per-image parts."""
    N, F, KH, KW = x.shape[0], w.shape[0], w.shape[2], w.shape[3]
    dx = np.empty(x.shape, dtype=x.dtype)
    dw_parts = np.empty((N, F, KH * KW), dtype=x.dtype)
    db_parts = np.empty((N, F), dtype=x.dtype)
    args = (x, w, dout, *_depthwise_geometry(x, g), dx, dw_parts, db_parts)
    if parallel:
        dispatch.announce_compile(depthwise.backward_parallel, x.dtype)
        depthwise.backward_parallel(*args, parallel_chunks(N * x.shape[1]))
    else:
        depthwise.backward(*args, 0, N * x.shape[1])
    return dx, dw_parts.sum(axis=0).reshape(w.shape), db_parts.sum(axis=0)


def _pointwise_input(x: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """``x`` at the pixels a 1x1 kernel without padding reads, as (N, C, H_out*W_out):
    ``x`` itself with stride 1, a copy of ``x[:, :, ::sh, ::sw]`` otherwise."""
    N, C = x.shape[:2]
    sh, sw = g.stride
    seen = x if (sh, sw) == (1, 1) else np.ascontiguousarray(x[:, :, ::sh, ::sw])
    return seen.reshape(N, C, -1)


def pointwise_forward(x, w, bias, g: ConvGeometry) -> np.ndarray:
    """Forward pass of a 1x1 convolution (one group, no padding) by BLAS.

    ``out[n] = w.reshape(F, C) @ x[n, :, ::sh, ::sw].reshape(C, -1) + b``: image ``n``'s
    (C, pixels) matrix is its NCHW plane as it lies in memory.
    """
    N, F, H_out, W_out = g.out_shape
    out = np.matmul(w.reshape(F, -1), _pointwise_input(x, g))
    out += bias[:, None]
    return out.reshape(N, F, H_out, W_out)


def pointwise_backward(x, w, dout, g: ConvGeometry) -> tuple[np.ndarray, np.ndarray]:
    """``(dx, dw)`` of a 1x1 convolution (one group, no padding) by BLAS.

    With ``x_n = x[n, :, ::sh, ::sw]`` as (C, pixels) and ``d_n = dout[n]`` as
    (F, pixels): ``dw = sum_n d_n @ x_n.T`` and ``dx[n, :, ::sh, ::sw] = w.T @ d_n``;
    the pixels a stride skips get no gradient.
    """
    N, C, H, W = x.shape
    F = w.shape[0]
    sh, sw = g.stride
    w_mat = w.reshape(F, C)
    d = dout.reshape(N, F, -1)
    seen = _pointwise_input(x, g)
    dw = np.zeros((F, C), dtype=x.dtype)
    for n in range(N):
        dw += d[n] @ seen[n].T
    dx_seen = np.matmul(w_mat.T, d)
    if (sh, sw) == (1, 1):
        dx = dx_seen.reshape(N, C, H, W)
    else:
        dx = np.zeros((N, C, H, W), dtype=x.dtype)
        dx[:, :, ::sh, ::sw] = dx_seen.reshape(N, C, *g.out_shape[2:])
    return dx, dw.reshape(w.shape)
