"""2-D convolution (cross-correlation, as in every deep-learning library), fast path.

With stride 1 the forward pass adds up shifted copies of the input directly
(:mod:`cnnlab.kernels.direct`). Other strides unroll every receptive field into a
column (``im2col``), multiply by the filters in one BLAS product and reshuffle the
result to NCHW; the backward pass is two more products and ``col2im``, which *adds*
the gradients of overlapping receptive fields. :mod:`cnnlab.naive` has the same layer
as the four nested loops of the lecture; the two agree in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np

from cnnlab.kernels import blocked, direct, parallel_chunks, weight_grad
from cnnlab.kernels import conv as kernels
from cnnlab.kernels.simd import VECTOR_BYTES
from cnnlab.layers._validate import (
    ConvGeometry,
    as_float_array,
    check_dout,
    conv2d_geometry,
    pad_nchw,
    same_dtype,
)

__all__ = ["Conv2dCache", "conv2d_backward", "conv2d_forward"]


@dataclass(frozen=True)
class Conv2dCache:
    """What :func:`conv2d_backward` needs from the forward pass.

    Attributes
    ----------
    x : ndarray, shape (N, C, H, W)
        The (unpadded) input.
    w : ndarray, shape (F, C/groups, KH, KW)
        The filters.
    has_bias : bool
        Whether the forward pass had a bias (else ``db`` is None).
    geometry : ConvGeometry
        Stride, per-side padding, dilation, groups and the output shape.

    Notes
    -----
    The im2col matrix is *not* kept: backward rebuilds it a few images at a time,
    which costs little and keeps memory at the size of the activations.
    """

    x: np.ndarray = field(repr=False)
    w: np.ndarray = field(repr=False)
    has_bias: bool
    geometry: ConvGeometry


def validate_conv2d(
    x: Any, w: Any, b: Any, stride: Any, padding: Any, dilation: Any, groups: Any, where: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, ConvGeometry]:
    """Arrays as contiguous float arrays of one dtype, plus the checked geometry."""
    x = as_float_array(x, "x", 4, where)
    w = as_float_array(w, "w", 4, where)
    b = None if b is None else as_float_array(b, "b", 1, where)
    same_dtype(where, x=x, w=w, b=b)
    geometry = conv2d_geometry(x, w, b, stride, padding, dilation, groups, where)
    return x, w, b, geometry


#: Size of the im2col buffer that the batch streams through (bytes). Smaller chunks
#: stay in cache (on one core, 1-2 MB chunks ran about a third faster than 8 MB ones);
#: fewer chunks mean fewer hand-overs to BLAS's threads, which cost a lot on a busy
#: machine. 2 MB: the course's shapes take 3 to 8 chunks, and memory stays bounded for
#: any batch size.
CHUNK_BYTES = 1 << 21


def _layout(g: ConvGeometry, xp_width: int, rows: int, itemsize: int) -> tuple[bool, int, int]:
    """``(wide, Wq, per_chunk)``: the column layout and how many images per chunk.

    Stride 1 uses wide columns (row width ``Wq`` = padded width, see
    :mod:`cnnlab.kernels.conv`), any other stride ordinary ones (``Wq = W_out``).
    """
    N, _, H_out, W_out = g.out_shape
    wide = g.stride == (1, 1)
    Wq = xp_width if wide else W_out
    per_chunk = max(1, min(N, CHUNK_BYTES // (rows * H_out * Wq * itemsize)))
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


def conv2d_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None = None,
    *,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> tuple[np.ndarray, Conv2dCache]:
    """Convolve a batch of images with a bank of filters.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
        Input images, float32 or float64.
    w : ndarray, shape (F, C/groups, KH, KW)
        Filters, same dtype as ``x``.
    b : ndarray, shape (F,), or None
        One bias per filter.
    stride : int or (sh, sw), default 1
    padding : int, (ph, pw), ((top, bottom), (left, right)), 'valid' or 'same'
        Zero padding per side; ``'same'`` is TensorFlow's (extra pixel bottom/right).
    dilation : int or (dh, dw), default 1
        Step between kernel taps, as in PyTorch (1 is an ordinary convolution).
    groups : int, default 1
        Split channels and filters into ``groups`` independent convolutions
        (``groups == C == F`` is a depthwise convolution).

    Returns
    -------
    out : ndarray, shape (N, F, H_out, W_out)
        Same dtype as ``x``.
    cache : Conv2dCache
        For :func:`conv2d_backward`.

    Raises
    ------
    TypeError
        A dtype other than float32/float64, or ``x`` and ``w`` of different dtypes.
    ValueError
        Wrong number of axes, channel mismatch, ``groups`` not dividing C and F, a
        bias of the wrong length, or a kernel larger than the padded input.

    Notes
    -----
    With ``xp`` the zero-padded input and ``g`` the group of filter ``f``::

        out[n, f, i, j] = b[f] + sum_{c, kh, kw} w[f, c, kh, kw]
                          * xp[n, g*C/groups + c, i*sh + kh*dh, j*sw + kw*dw]

    ``H_out = floor((H + top + bottom - dh*(KH - 1) - 1)/sh) + 1`` (likewise W_out).
    Stride 1 is computed directly, one vectorized loop per kernel tap
    (:mod:`cnnlab.kernels.direct`); other strides as ``w.reshape(F, -1) @ im2col(xp)``
    per group, a few images at a time (:mod:`cnnlab.kernels.conv`).

    References
    ----------
    .. [1] CS231n, "Convolutional Neural Networks" notes, section "Conv layer".
    .. [2] K. Chellapilla, S. Puri, P. Simard, "High performance convolutional neural
       networks for document processing", 2006 (the im2col formulation).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> w = np.ones((1, 1, 2, 2))
    >>> out, cache = conv2d_forward(x, w, np.array([0.5]), stride=2)
    >>> out
    array([[[[10.5, 18.5],
             [42.5, 50.5]]]])
    """
    where = "conv2d_forward"
    x, w, b, g = validate_conv2d(x, w, b, stride, padding, dilation, groups, where)
    bias = np.zeros(w.shape[0], dtype=x.dtype) if b is None else b
    cache = Conv2dCache(x=x, w=w, has_bias=b is not None, geometry=g)
    return _forward(x, w, bias, g), cache


def _forward(x: np.ndarray, w: np.ndarray, bias: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """The forward pass of validated arrays, by the kernel that suits the shape."""
    C, F = x.shape[1], w.shape[0]
    stride1 = g.stride == (1, 1)
    if g.groups == 1 and F >= BLOCKED_MIN_FILTERS and (C >= BLOCKED_MIN_CHANNELS or not stride1):
        return _blocked_channel_last(x, w, bias, g)
    if stride1:
        return _direct_stride1(x, w, bias, g)
    return _im2col_forward(x, w, bias, g)


def _im2col_forward(x: np.ndarray, w: np.ndarray, bias: np.ndarray, g: ConvGeometry):
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


#: Convolutions with fewer multiply-adds than this run on one thread: below it,
#: starting the threads costs more than the work.
PARALLEL_MIN_MACS = 1 << 24


#: With stride 1 and fewer input channels (the first layer of a network, C = 1 or 3)
#: the wide-grid kernel of :mod:`cnnlab.kernels.direct` is faster: a window row's taps
#: make too short a run for the channel-last kernel. With a larger stride the
#: channel-last kernel wins for any C (AlexNet's conv1: about 1.8x faster than im2col).
BLOCKED_MIN_CHANNELS = 8
#: The channel-last kernel computes filters 16 at a time (8 in float64); with fewer
#: filters most of that work would be thrown away.
BLOCKED_MIN_FILTERS = 8


def _channel_last(x: np.ndarray, padding, stride: int, slack: int, parallel: bool):
    """``x`` (N, C, H, W) zero-padded and channel last, flat: ``x[n, c, y, x]`` at
    ``((n*Hp + top + y)*Wp + left + x)*stride + c``, then ``slack`` more zeros."""
    N, _, H, W = x.shape
    (top, bottom), (left, right) = padding
    Hp, Wp = top + H + bottom, left + W + right
    xh = np.zeros(N * Hp * Wp * stride + slack, dtype=x.dtype)
    if parallel:
        blocked.to_channel_last_parallel(x, top, left, Hp, Wp, stride, xh)
    else:
        blocked.to_channel_last(x, top, left, Hp, Wp, stride, xh, 0, N)
    return xh


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _blocked_channel_last(x: np.ndarray, w: np.ndarray, bias: np.ndarray, g: ConvGeometry):
    """Forward pass with the sums in registers (:mod:`cnnlab.kernels.blocked`)."""
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    (top, bottom), (left, right) = g.padding
    Hp, Wp = top + H + bottom, left + W + right
    Fp = _round_up(F, 2 * VECTOR_BYTES // x.itemsize)  # blocks of two vectors of filters
    out = np.empty(g.out_shape, dtype=x.dtype)
    parallel = out.size * w[0].size >= PARALLEL_MIN_MACS
    slack = (blocked.PIXELS - 1) * g.stride[1] * C  # blocks sticking out past the last row
    xh = _channel_last(x, g.padding, C, slack, parallel)
    wt = np.zeros((KH, KW, C, Fp), dtype=x.dtype)
    wt[..., :F] = w.transpose(2, 3, 1, 0)
    bias_padded = np.zeros(Fp, dtype=x.dtype)
    bias_padded[:F] = bias
    args = (xh, wt.ravel(), bias_padded, C, Hp, Wp, KH, KW, *g.stride, *g.dilation, out)
    rows = N * g.out_shape[2]
    if parallel:
        blocked.conv_rows_parallel(*args, parallel_chunks(rows))
    else:
        blocked.conv_rows(*args, 0, rows)
    return out


def _direct_stride1(x: np.ndarray, w: np.ndarray, bias: np.ndarray, g: ConvGeometry):
    """Stride-1 forward pass without im2col (:mod:`cnnlab.kernels.direct`)."""
    N, C, H, W = x.shape
    F, Cg, KH, KW = w.shape
    (top, bottom), (left, right) = g.padding
    Hp, Wp = top + H + bottom, left + W + right
    dh, dw = g.dilation
    # Channel-major padded copy, (C, N, Hp, Wp), plus room for the last tile's overhang.
    xflat = np.zeros(C * N * Hp * Wp + 2 * VECTOR_BYTES // x.itemsize, dtype=x.dtype)
    xc = xflat[: C * N * Hp * Wp].reshape(C, N, Hp, Wp)
    xc[:, :, top : top + H, left : left + W] = x.transpose(1, 0, 2, 3)
    # Where tap (c, kh, kw) of group g starts in xflat: ((g*Cg + c)*N*Hp + kh*dh)*Wp + kw*dw
    channel_starts = np.arange(0, C * N * Hp * Wp, N * Hp * Wp).reshape(g.groups, Cg, 1, 1)
    row_starts = np.arange(0, KH * dh * Wp, dh * Wp).reshape(KH, 1)
    offsets = (channel_starts + row_starts + np.arange(0, KW * dw, dw)).reshape(g.groups, -1)
    Fg = F // g.groups
    wt = np.zeros((g.groups, Cg * KH * KW, -(-Fg // 4) * 4), dtype=x.dtype)
    wt[:, :, :Fg] = w.reshape(g.groups, Fg, -1).transpose(0, 2, 1)
    out = np.empty(g.out_shape, dtype=x.dtype)
    images, items = direct.work_split(N, F, g.groups, Hp * Wp)
    args = (xflat, offsets, wt, bias, N, Hp, Wp, images, out)
    if out.size * w[0].size >= PARALLEL_MIN_MACS:
        direct.conv_stride1_parallel(*args, items, parallel_chunks(items))
    else:
        direct.conv_stride1(*args, 0, items)
    return out


def conv2d_backward(
    dout: np.ndarray, cache: Conv2dCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Gradients of a convolution with respect to its input, filters and bias.

    Parameters
    ----------
    dout : ndarray, shape (N, F, H_out, W_out)
        Upstream gradient, same shape and dtype as the forward output.
    cache : Conv2dCache
        From :func:`conv2d_forward` (or :func:`cnnlab.naive.conv2d_forward`).

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
    dw : ndarray, shape (F, C/groups, KH, KW)
    db : ndarray, shape (F,), or None
        None when the forward pass had no bias.

    Raises
    ------
    TypeError, ValueError
        ``dout`` of another shape or dtype than the forward output.

    Notes
    -----
    With ``dout_mat`` the upstream gradient laid out as (F, N*H_out*W_out)::

        db[f]  = sum_{n, i, j} dout[n, f, i, j]
        dw_mat = sum over chunks of dout_mat @ cols.T   (per group)
        dcols  = w_mat.T @ dout_mat                     (per group)
        dx     = col2im(dcols), cropped to the unpadded input

    ``col2im`` adds (``+=``) the gradients of every receptive field that saw a pixel.

    References
    ----------
    .. [1] CS231n, assignment 2, ``conv_backward_naive`` / ``conv_backward_im2col``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> out, cache = conv2d_forward(x, np.ones((1, 1, 2, 2)), np.zeros(1))
    >>> dx, dw, db = conv2d_backward(np.ones_like(out), cache)
    >>> dx[0, 0]       # how many 2x2 windows saw each pixel
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    >>> dw[0, 0], db
    (array([[ 8., 12.],
           [20., 24.]]), array([4.]))
    """
    if not isinstance(cache, Conv2dCache):
        raise TypeError(
            f"conv2d_backward: cache must be the Conv2dCache returned by conv2d_forward, "
            f"got {type(cache).__name__}."
        )
    x, w, g = cache.x, cache.w, cache.geometry
    dout = check_dout(dout, g.out_shape, x.dtype, "conv2d_backward")
    db = dout.sum(axis=(0, 2, 3)) if cache.has_bias else None
    padding = _input_gradient_padding(w.shape, g)
    if g.groups == 1 and padding is not None:
        dx = _input_gradient_by_convolution(dout, w, padding, g, x.shape)
        dw = _weight_gradient_channel_last(x, dout, w.shape, g)
    else:
        dx, dw = _im2col_backward(x, w, dout, g)
    return dx, dw, db


def _im2col_backward(x: np.ndarray, w: np.ndarray, dout: np.ndarray, g: ConvGeometry):
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


def _input_gradient_padding(w_shape, g: ConvGeometry):
    """Padding of ``dout`` that makes ``dx`` a stride-1 convolution of it, or None.

    Pixel ``y`` of the input met tap ``kh`` in output row ``i = y + top - kh*dh``, so
    ``dx[n, c, y, x] = sum_{f, kh', kw'} dout_p[n, f, y + kh'*dh, x + kw'*dw]
    * w[f, c, KH-1-kh', KW-1-kw']`` with ``dout_p`` padded by ``dh*(KH-1) - top`` on
    top (likewise on each side). None for strides other than 1, or when the forward
    padding was wider than the dilated kernel, which would make this one negative.
    """
    if g.stride != (1, 1):
        return None
    _, _, KH, KW = w_shape
    (top, bottom), (left, right) = g.padding
    reach_h, reach_w = g.dilation[0] * (KH - 1), g.dilation[1] * (KW - 1)
    padding = ((reach_h - top, reach_h - bottom), (reach_w - left, reach_w - right))
    return None if min(padding[0] + padding[1]) < 0 else padding


def _input_gradient_by_convolution(dout, w, padding, g: ConvGeometry, x_shape) -> np.ndarray:
    """``dx`` of a stride-1 convolution (one group) as a forward convolution of
    ``dout`` (see :func:`_input_gradient_padding`): filters flipped in space, filters
    and channels swapped. It runs on the fast forward kernels, without the column
    matrix and ``col2im``."""
    swapped = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))  # (C, F, KH, KW)
    geometry = ConvGeometry(
        stride=(1, 1), padding=padding, dilation=g.dilation, groups=1, out_shape=x_shape
    )
    return _forward(dout, swapped, np.zeros(x_shape[1], dtype=dout.dtype), geometry)


def _weight_gradient_channel_last(x, dout, w_shape, g: ConvGeometry) -> np.ndarray:
    """``dw`` of a one-group convolution by :mod:`cnnlab.kernels.weight_grad`."""
    N, C, H, W = x.shape
    F, _, KH, KW = w_shape
    _, _, H_out, W_out = g.out_shape
    (top, bottom), (left, right) = g.padding
    Hp, Wp = top + H + bottom, left + W + right
    Fp = _round_up(F, 2 * VECTOR_BYTES // x.itemsize)
    Cp = _round_up(C, weight_grad.CHANNELS)
    parallel = dout.size * C * KH * KW >= PARALLEL_MIN_MACS
    xh = _channel_last(x, g.padding, C, weight_grad.CHANNELS - 1, parallel)
    douth = _channel_last(dout, ((0, 0), (0, 0)), Fp, 0, parallel)
    args = (xh, douth, C, Hp, Wp, KH, KW, *g.stride, *g.dilation, H_out, W_out, Cp)
    rows = N * H_out
    if parallel:
        parts = np.zeros((min(rows, numba.get_num_threads()), KH * KW * Cp * Fp), x.dtype)
        weight_grad.weight_grad_parallel(*args, parts, rows)
        dwt = parts.sum(axis=0)
    else:
        dwt = np.zeros(KH * KW * Cp * Fp, dtype=x.dtype)
        weight_grad.weight_grad(*args, dwt, 0, rows)
    dw = dwt.reshape(KH, KW, Cp, Fp)[:, :, :C, :F].transpose(3, 2, 0, 1)
    return np.ascontiguousarray(dw)
