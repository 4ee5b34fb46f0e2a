"""2-D convolution (cross-correlation, as in every deep-learning library), fast path.

:func:`conv2d_forward` validates its arrays, then picks a kernel by the layer's shape
(:func:`_forward`, thresholds in :mod:`cnnlab.layers.dispatch`): a 1x1 kernel with
one group and no padding, one BLAS product per image; with enough filters
per group (8 with AVX, 24 with AVX-512), the channel-last kernel that
keeps its sums in registers (:mod:`cnnlab.kernels.blocked`), unless the stride is 1
and there are fewer than 8 channels per group; a depthwise layer (``groups == C``)
has a kernel of its own at any stride (:mod:`cnnlab.kernels.depthwise`); the other
layers, for stride 1, the wide-grid kernel (:mod:`cnnlab.kernels.direct`), otherwise
im2col and one BLAS product per chunk of images. :func:`conv2d_backward` computes a
stride-1 layer's ``dx`` as a convolution of ``dout`` on the same kernels and its ``dw`` with
:mod:`cnnlab.kernels.weight_grad` (a group at a time); depthwise layers take their own
kernel in this direction too; strided layers without dilation compute ``dx`` a stride
phase at a time, each phase a stride-1 convolution; other layers take im2col, two BLAS
products and ``col2im``, which *adds* the gradients of overlapping receptive fields.
:mod:`cnnlab.layers._conv_paths` prepares each kernel's arrays. :mod:`cnnlab.naive` has
the same layer as the four nested loops of the lecture; the two agree in the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cnnlab.layers import _conv_paths as paths
from cnnlab.layers import dispatch
from cnnlab.layers._validate import (
    ConvGeometry,
    as_float_array,
    check_dout,
    conv2d_geometry,
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
    A 1x1 kernel with one group and no padding is ``w.reshape(F, C) @ x[n, :, ::sh,
    ::sw].reshape(C, -1)`` per image, by BLAS. Otherwise the kernels keep their running
    sums in registers, a block of outputs at a time:
    on a channel-last copy of the input with enough filters per group
    (``dispatch.BLOCKED_MIN_FILTERS``; and 8 or more channels per group if the stride
    is 1, :mod:`cnnlab.kernels.blocked`; from ``dispatch.PLANES_MIN_CHANNELS`` channels
    a group, on a padded copy in planes instead), on the wide grid
    of the padded input for the other stride-1 layers (:mod:`cnnlab.kernels.direct`);
    the rest as ``w.reshape(F, -1) @ im2col(xp)`` per group, a few images at a time
    (:mod:`cnnlab.kernels.conv`).

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
    """The forward pass of validated arrays, by the kernel that suits the shape
    (:func:`cnnlab.layers.dispatch.conv_forward_path`)."""
    path = dispatch.conv_forward_path(
        channels=x.shape[1], filters=w.shape[0], groups=g.groups, stride=g.stride,
        pixels=g.out_shape[2] * g.out_shape[3],
        pointwise=_pointwise(w.shape, g),
    )
    macs = math.prod(g.out_shape) * w[0].size
    if path == "depthwise":
        parallel = dispatch.depthwise_parallel(macs)
    else:
        parallel = path not in dispatch.BLAS_ONLY and dispatch.conv_parallel(macs)
    dispatch.record("conv2d_forward", path, parallel)
    if path == "blocked":  # reads any strides: its filters are laid out anew anyway
        return paths.blocked_forward(x, w, bias, g, parallel)
    w = np.ascontiguousarray(w)  # dx's filters may be a view (see _swap_filters)
    if path == "depthwise":
        return paths.depthwise_forward(x, w, bias, g, parallel)
    if path == "pointwise":
        return paths.pointwise_forward(x, w, bias, g)
    if path == "direct":
        return paths.direct_forward(x, w, bias, g, parallel)
    return paths.im2col_forward(x, w, bias, g)


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
    ::

        db[f]          = sum_{n, i, j} dout[n, f, i, j]
        dw[f, c, kh, kw] = sum_{n, i, j} dout[n, f, i, j] * xp[n, c, i*sh + kh*dh, j*sw + kw*dw]
        dx[n, c, y, x] = sum over the outputs whose window saw (y, x) of dout * w

    With stride 1, ``dx`` is a convolution of ``dout`` padded by
    ``dh*(KH - 1) - top`` (likewise each side) with the filters flipped and channels
    and filters swapped (within each group), run on the forward kernels, and ``dw`` is
    summed by :mod:`cnnlab.kernels.weight_grad` (one group, or each group in turn;
    no BLAS call, so that Numba's and BLAS's threads never take turns on the cores);
    strided layers without dilation take one such convolution per stride phase for
    ``dx`` (with one group, :func:`cnnlab.layers._conv_paths.phase_input_gradient`:
    every phase on the channel-last kernel, from one copy of ``dout``; a layer with
    fewer than 8 channels keeps im2col). A depthwise layer (``groups == C``) gets
    both ``dx`` and ``dw`` from one pass of :mod:`cnnlab.kernels.depthwise` over
    ``dout``, at any stride. A 1x1 kernel with one group and no padding has
    ``dw = sum_n dout[n] @ x_n.T`` and ``dx[n, :, ::sh, ::sw] = w.T @ dout[n]``
    (``x_n`` the pixels the kernel read, as (C, pixels)). Otherwise, with
    ``dout_mat`` the upstream gradient laid out as (F, N*H_out*W_out),
    ``dw_mat = dout_mat @ cols.T`` and ``dcols = w_mat.T @ dout_mat`` per group and
    chunk of images, and
    ``dx = col2im(dcols)`` cropped to the unpadded input: ``col2im`` adds (``+=``) the
    gradients of every receptive field that saw a pixel.

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
    padding = _input_gradient_padding(w.shape, g)
    path = dispatch.conv_backward_path(
        channels=x.shape[1], filters=w.shape[0], groups=g.groups, stride=g.stride,
        dilation=g.dilation,
        by_convolution_fits=padding is not None, depthwise=g.groups == x.shape[1],
        pixels=g.out_shape[2] * g.out_shape[3],
        pointwise=_pointwise(w.shape, g),
    )
    if path == "depthwise":
        parallel = dispatch.depthwise_parallel(dout.size * w[0].size)
        dispatch.record("conv2d_backward", path, parallel)
        dx, dw, db = paths.depthwise_backward(x, w, dout, g, parallel)  # db for free
        return dx, dw, db if cache.has_bias else None
    db = dout.sum(axis=(0, 2, 3)) if cache.has_bias else None
    if path not in dispatch.BLAS_ONLY:
        parallel = dispatch.conv_parallel(dout.size * w[0].size)
        if path == "by_convolution":
            dx = _input_gradient_by_convolution(dout, w, padding, g, x.shape)
        elif g.groups == 1:
            dx = paths.phase_input_gradient(dout, w, g, x.shape, parallel)
        else:
            dx = _input_gradient_by_phases(dout, w, g, x.shape)
        dispatch.record("conv2d_backward", path, parallel)
        dw = paths.weight_gradient(x, dout, w.shape, g, parallel)
    else:
        dispatch.record("conv2d_backward", path, False)
        backward = paths.pointwise_backward if path == "pointwise" else paths.im2col_backward
        dx, dw = backward(x, w, dout, g)
    return dx, dw, db


def _pointwise(w_shape, g: ConvGeometry) -> bool:
    """Whether the layer is a 1x1 convolution with one group and no padding: a matrix
    product per image (any stride; dilation changes nothing with one tap)."""
    return w_shape[2:] == (1, 1) and g.groups == 1 and g.padding == ((0, 0), (0, 0))


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
    """``dx`` of a stride-1 convolution as a forward convolution of ``dout`` (see
    :func:`_input_gradient_padding`): filters flipped in space, filters and channels
    swapped within each group. It runs on the fast forward kernels (the wide-grid one
    for groups, depthwise included), without the column matrix and ``col2im``."""
    geometry = ConvGeometry(
        stride=(1, 1), padding=padding, dilation=g.dilation, groups=g.groups, out_shape=x_shape
    )
    swapped = _swap_filters(w, g.groups)
    return _forward(dout, swapped, np.zeros(x_shape[1], dtype=dout.dtype), geometry)


def _swap_filters(w: np.ndarray, groups: int) -> np.ndarray:
    """``(F, C/G, KH, KW)`` to ``(C, F/G, KH, KW)``: filters and channels swapped within
    each group, the taps flipped in space (the filters of ``dx``'s convolution).

    With one group this is a view of ``w``: the channel-last kernel lays its filters
    out anew in one copy anyway (a copy here as well, and one of each stride phase's
    taps, had been 60% of the phases' time for ResNet's 256->512 stride 2)."""
    F, Cg, KH, KW = w.shape
    swapped = w.reshape(groups, F // groups, Cg, KH, KW)[:, :, :, ::-1, ::-1]
    swapped = swapped.transpose(0, 2, 1, 3, 4).reshape(groups * Cg, -1, KH, KW)
    return swapped if groups == 1 else np.ascontiguousarray(swapped)


def _input_gradient_by_phases(dout, w, g: ConvGeometry, x_shape) -> np.ndarray:
    """``dx`` of a strided convolution (dilation 1) as ``sh*sw`` stride-1 convolutions.

    Padded input row ``y = q*sh + r`` met tap ``kh = r + t*sh`` in output row
    ``i = q - t``, so the rows of phase ``r`` of ``dx`` are a stride-1 convolution of
    ``dout`` with the taps ``w[:, :, r::sh]`` (flipped, channels and filters swapped),
    ``dout`` padded by ``T - 1`` rows on top (``T`` taps) and as many below as the
    phase has rows past ``H_out``; likewise for columns. Each phase runs on the fast
    forward kernels and lands in ``dx[:, :, r::sh, c::sw]``; no multiply touches a
    zero inserted between outputs, and nothing goes through im2col.
    """
    N, C, H, W = x_shape
    KH, KW = w.shape[2:]
    sh, sw = g.stride
    (top, bottom), (left, right) = g.padding
    Hp, Wp = top + H + bottom, left + W + right
    _, _, H_out, W_out = g.out_shape
    dxp = np.zeros((N, C, Hp, Wp), dtype=dout.dtype)
    zeros = np.zeros(C, dtype=dout.dtype)
    for r in range(min(sh, KH)):
        rows = -(-(Hp - r) // sh)  # rows of the padded input in phase r
        taps_h = len(range(r, KH, sh))
        for c in range(min(sw, KW)):
            cols = -(-(Wp - c) // sw)
            taps_w = len(range(c, KW, sw))
            sub = _swap_filters(w[:, :, r::sh, c::sw], g.groups)
            padding = ((taps_h - 1, rows - H_out), (taps_w - 1, cols - W_out))
            geometry = ConvGeometry(stride=(1, 1), padding=padding, dilation=(1, 1),
                                    groups=g.groups, out_shape=(N, C, rows, cols))
            dxp[:, :, r::sh, c::sw] = _forward(dout, sub, zeros, geometry)
    return np.ascontiguousarray(dxp[:, :, top : top + H, left : left + W])


