"""The layers as a lecture writes them: plain loops over every output position.

Same signatures, same validation and same caches as :mod:`cnnlab.layers`, so a naive
forward can feed a fast backward and the other way round. These are thousands of times
slower than the fast layers (``benchmarks/RESULTS.md``): read them, test against them,
time them on a tiny batch, but train with :mod:`cnnlab.layers`.

Each function mirrors one slide:

- :func:`conv2d_forward`: slide a filter over the padded input, take the dot product
  of the filter with each window, add the bias.
- :func:`conv2d_backward`: every output position sends ``dout * w`` back to the window
  it saw (``+=``: windows overlap) and ``dout * window`` to the filter.
- :func:`max_pool2d_forward` / :func:`max_pool2d_backward`: the max of each window;
  the gradient goes to the first maximum and adds up where windows overlap.
- :func:`avg_pool2d_forward` / :func:`avg_pool2d_backward`: the mean of each window;
  the gradient is shared equally.
- :func:`batchnorm2d_forward` / :func:`batchnorm2d_backward`: a mean and a variance per
  channel; the backward pass walks the computational graph node by node.
- :func:`global_avg_pool2d_forward` / :func:`global_avg_pool2d_backward`: one mean per
  channel map.
- :func:`basic_block_forward` / :func:`basic_block_backward`: ResNet's block on the
  loops above.

Examples
--------
>>> import numpy as np
>>> from cnnlab import naive
>>> from cnnlab.examples import MAXPOOL_INPUT, MAXPOOL_DOUT, MAXPOOL_DX
>>> out, cache = naive.max_pool2d_forward(MAXPOOL_INPUT[None, None], kernel=3, stride=1)
>>> bool((naive.max_pool2d_backward(MAXPOOL_DOUT[None, None], cache)[0, 0] == MAXPOOL_DX).all())
True
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from cnnlab.layers import residual
from cnnlab.layers._validate import as_float_array, check_dout, check_flag, pad_nchw
from cnnlab.layers.conv import Conv2dCache, validate_conv2d
from cnnlab.layers.global_pool import GlobalAvgPool2dCache
from cnnlab.layers.norm import BatchNorm2dCache, validate_batchnorm2d
from cnnlab.layers.pool import AvgPool2dCache, MaxPool2dCache, validate_pool2d

__all__ = [
    "avg_pool2d_backward",
    "avg_pool2d_forward",
    "basic_block_backward",
    "basic_block_forward",
    "batchnorm2d_backward",
    "batchnorm2d_forward",
    "conv2d_backward",
    "conv2d_forward",
    "global_avg_pool2d_backward",
    "global_avg_pool2d_forward",
    "max_pool2d_backward",
    "max_pool2d_forward",
]


def conv2d_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None = None,
    *,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> tuple[np.ndarray, Conv2dCache]:
    """Convolution with four loops (image, filter, output row, output column).

    Same parameters, returns and conventions as :func:`cnnlab.layers.conv2d_forward`.

    Notes
    -----
    ``out[n, f, i, j] = b[f] + sum(w[f] * window)`` where ``window`` is the part of
    the zero-padded input that filter ``f`` sees at ``(i, j)``: its group's channels,
    rows ``i*sh, i*sh + dh, ...`` and columns ``j*sw, j*sw + dw, ...``.

    Examples
    --------
    >>> import numpy as np
    >>> out, _ = conv2d_forward(np.arange(16.0).reshape(1, 1, 4, 4), np.ones((1, 1, 2, 2)),
    ...                         np.array([0.5]), stride=2)
    >>> out
    array([[[[10.5, 18.5],
             [42.5, 50.5]]]])
    """
    x, w, b, g = validate_conv2d(
        x, w, b, stride, padding, dilation, groups, "naive.conv2d_forward"
    )
    N, F, H_out, W_out = g.out_shape
    _, C_per_group, KH, KW = w.shape
    F_per_group = F // g.groups
    sh, sw = g.stride
    dh, dw = g.dilation
    xp = pad_nchw(x, g.padding)
    out = np.zeros(g.out_shape, dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            c0 = (f // F_per_group) * C_per_group  # first input channel of f's group
            for i in range(H_out):
                for j in range(W_out):
                    window = xp[
                        n,
                        c0 : c0 + C_per_group,
                        i * sh : i * sh + dh * (KH - 1) + 1 : dh,
                        j * sw : j * sw + dw * (KW - 1) + 1 : dw,
                    ]
                    out[n, f, i, j] = np.sum(window * w[f])
            if b is not None:
                out[n, f] += b[f]
    return out, Conv2dCache(x=x, w=w, has_bias=b is not None, geometry=g)


def conv2d_backward(
    dout: np.ndarray, cache: Conv2dCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Convolution backward with the same four loops as the forward pass.

    Same parameters and returns as :func:`cnnlab.layers.conv2d_backward`.

    Notes
    -----
    For every output position ``(n, f, i, j)`` and its window::

        dx_padded[n, window] += w[f] * dout[n, f, i, j]     (windows overlap: add)
        dw[f]                += x_padded[n, window] * dout[n, f, i, j]
        db[f]                += dout[n, f, i, j]

    and ``dx`` is ``dx_padded`` with the padding cut off.

    Examples
    --------
    >>> import numpy as np
    >>> out, cache = conv2d_forward(np.arange(9.0).reshape(1, 1, 3, 3), np.ones((1, 1, 2, 2)))
    >>> conv2d_backward(np.ones_like(out), cache)[0][0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    x, w, g = cache.x, cache.w, cache.geometry
    dout = check_dout(dout, g.out_shape, x.dtype, "naive.conv2d_backward")
    N, F, H_out, W_out = g.out_shape
    _, C_per_group, KH, KW = w.shape
    F_per_group = F // g.groups
    sh, sw = g.stride
    dh, dw_ = g.dilation
    (top, _), (left, _) = g.padding
    xp = pad_nchw(x, g.padding)
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for n in range(N):
        for f in range(F):
            c0 = (f // F_per_group) * C_per_group
            for i in range(H_out):
                for j in range(W_out):
                    rows = slice(i * sh, i * sh + dh * (KH - 1) + 1, dh)
                    cols = slice(j * sw, j * sw + dw_ * (KW - 1) + 1, dw_)
                    channels = slice(c0, c0 + C_per_group)
                    dxp[n, channels, rows, cols] += w[f] * dout[n, f, i, j]
                    dw[f] += xp[n, channels, rows, cols] * dout[n, f, i, j]
    H, W = x.shape[2:]
    dx = dxp[:, :, top : top + H, left : left + W].copy()
    db = dout.sum(axis=(0, 2, 3)) if cache.has_bias else None
    return dx, dw, db


def _windows(H: int, W: int, H_out: int, W_out: int, g: Any):
    """Yield ``(i, j, h0, h1, w0, w1)``: each window clipped to the real input."""
    KH, KW = g.kernel
    sh, sw = g.stride
    (top, _), (left, _) = g.padding
    for i in range(H_out):
        for j in range(W_out):
            h0, w0 = i * sh - top, j * sw - left
            yield i, j, max(h0, 0), min(h0 + KH, H), max(w0, 0), min(w0 + KW, W)


def max_pool2d_forward(
    x: np.ndarray,
    *,
    kernel: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
) -> tuple[np.ndarray, MaxPool2dCache]:
    """Max pooling with a loop over every window.

    Same parameters and conventions as :func:`cnnlab.layers.max_pool2d_forward`.
    A window is clipped to the real input, which is what ``-inf`` padding means.

    Examples
    --------
    >>> import numpy as np
    >>> max_pool2d_forward(np.arange(16.0).reshape(1, 1, 4, 4), kernel=2)[0]
    array([[[[ 5.,  7.],
             [13., 15.]]]])
    """
    x, g = validate_pool2d(x, kernel, stride, padding, ceil_mode, "naive.max_pool2d_forward")
    N, C, H_out, W_out = g.out_shape
    out = np.zeros(g.out_shape, dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i, j, h0, h1, w0, w1 in _windows(*x.shape[2:], H_out, W_out, g):
                out[n, c, i, j] = np.max(x[n, c, h0:h1, w0:w1])
    return out, MaxPool2dCache(x=x, geometry=g, argmax=None)


def max_pool2d_backward(dout: np.ndarray, cache: MaxPool2dCache) -> np.ndarray:
    """Max-pool backward: each gradient to the first maximum of its window, ``+=``.

    Notes
    -----
    ``np.argmax`` of the flattened window returns the *first* maximum in row-major
    order, which is the tie rule. The ``+=`` makes a pixel that wins several
    overlapping windows collect all their gradients; ``=`` would keep only the last
    (the bug that 2x2 stride-2 tests never catch).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[[[3.0, 3.0]]]])                 # a tie: the first 3 wins
    >>> out, cache = max_pool2d_forward(x, kernel=(1, 2))
    >>> max_pool2d_backward(np.ones_like(out), cache)
    array([[[[1., 0.]]]])
    """
    x, g = cache.x, cache.geometry
    dout = check_dout(dout, g.out_shape, x.dtype, "naive.max_pool2d_backward")
    N, C, H_out, W_out = g.out_shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i, j, h0, h1, w0, w1 in _windows(*x.shape[2:], H_out, W_out, g):
                window = x[n, c, h0:h1, w0:w1]
                kh, kw = np.unravel_index(np.argmax(window), window.shape)
                dx[n, c, h0 + kh, w0 + kw] += dout[n, c, i, j]
    return dx


def _divisor(h0: int, w0: int, H: int, W: int, g: Any, count_include_pad: bool) -> int:
    """PyTorch's average-pool divisor for the window starting at padded ``(h0, w0)``."""
    KH, KW = g.kernel
    (_, bottom), (_, right) = g.padding
    h1, w1 = min(h0 + KH, H + bottom), min(w0 + KW, W + right)
    if count_include_pad:
        return (h1 - h0) * (w1 - w0)
    return (min(h1, H) - max(h0, 0)) * (min(w1, W) - max(w0, 0))


def avg_pool2d_forward(
    x: np.ndarray,
    *,
    kernel: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> tuple[np.ndarray, AvgPool2dCache]:
    """Average pooling with a loop over every window.

    Same parameters and conventions as :func:`cnnlab.layers.avg_pool2d_forward`.

    Examples
    --------
    >>> import numpy as np
    >>> avg_pool2d_forward(np.arange(16.0).reshape(1, 1, 4, 4), kernel=2)[0]
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]])
    """
    where = "naive.avg_pool2d_forward"
    x, g = validate_pool2d(x, kernel, stride, padding, ceil_mode, where)
    count_include_pad = check_flag(count_include_pad, "count_include_pad", where)
    N, C, H_out, W_out = g.out_shape
    H, W = x.shape[2:]
    sh, sw = g.stride
    (top, _), (left, _) = g.padding
    out = np.zeros(g.out_shape, dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i, j, h0, h1, w0, w1 in _windows(H, W, H_out, W_out, g):
                divisor = _divisor(i * sh - top, j * sw - left, H, W, g, count_include_pad)
                out[n, c, i, j] = np.sum(x[n, c, h0:h1, w0:w1]) / divisor
    cache = AvgPool2dCache(
        x_shape=x.shape, dtype=x.dtype, geometry=g, count_include_pad=count_include_pad
    )
    return out, cache


def avg_pool2d_backward(dout: np.ndarray, cache: AvgPool2dCache) -> np.ndarray:
    """Average-pool backward: each gradient shared equally over its window, ``+=``.

    Examples
    --------
    >>> import numpy as np
    >>> out, cache = avg_pool2d_forward(np.zeros((1, 1, 2, 2)), kernel=2)
    >>> avg_pool2d_backward(np.ones_like(out), cache)
    array([[[[0.25, 0.25],
             [0.25, 0.25]]]])
    """
    g = cache.geometry
    dout = check_dout(dout, g.out_shape, cache.dtype, "naive.avg_pool2d_backward")
    N, C, H_out, W_out = g.out_shape
    H, W = cache.x_shape[2:]
    sh, sw = g.stride
    (top, _), (left, _) = g.padding
    dx = np.zeros(cache.x_shape, dtype=cache.dtype)
    for n in range(N):
        for c in range(C):
            for i, j, h0, h1, w0, w1 in _windows(H, W, H_out, W_out, g):
                divisor = _divisor(i * sh - top, j * sw - left, H, W, g, cache.count_include_pad)
                dx[n, c, h0:h1, w0:w1] += dout[n, c, i, j] / divisor
    return dx


def batchnorm2d_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    *,
    training: bool = True,
    running_mean: np.ndarray | None = None,
    running_var: np.ndarray | None = None,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> tuple[np.ndarray, BatchNorm2dCache]:
    """Batch normalisation, one channel at a time, with explicit sums.

    Same parameters and conventions as :func:`cnnlab.layers.batchnorm2d_forward`.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([1.0, 3.0, 5.0, 7.0]).reshape(2, 1, 2, 1)
    >>> batchnorm2d_forward(x, np.ones(1), np.zeros(1), eps=0.0)[0].ravel()
    array([-1.34164079, -0.4472136 ,  0.4472136 ,  1.34164079])
    """
    x, gamma, beta, training = validate_batchnorm2d(
        x, gamma, beta, training, running_mean, running_var, momentum, eps,
        "naive.batchnorm2d_forward",
    )
    N, C, H, W = x.shape
    m = N * H * W
    mean = np.zeros(C, dtype=x.dtype)
    inv_std = np.zeros(C, dtype=x.dtype)
    out = np.zeros_like(x)
    for c in range(C):
        values = x[:, c].ravel()
        if training:
            mu = np.sum(values) / m
            var = np.sum((values - mu) ** 2) / m
            if running_mean is not None:
                running_mean[c] = (1 - momentum) * running_mean[c] + momentum * mu
            if running_var is not None:
                running_var[c] = (1 - momentum) * running_var[c] + momentum * var * m / (m - 1)
        else:
            mu, var = running_mean[c], running_var[c]
        mean[c] = mu
        inv_std[c] = 1 / np.sqrt(var + eps)
        out[:, c] = gamma[c] * (x[:, c] - mu) * inv_std[c] + beta[c]
    return out, BatchNorm2dCache(x=x, gamma=gamma, mean=mean, inv_std=inv_std, training=training)


def batchnorm2d_backward(
    dout: np.ndarray, cache: BatchNorm2dCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batch-norm backward through the computational graph, node by node.

    Notes
    -----
    Per channel, forward: ``xmu = x - mean``, ``var = mean(xmu**2)``,
    ``istd = 1/sqrt(var + eps)``, ``xhat = xmu*istd``, ``out = gamma*xhat + beta``.
    Backward visits the same nodes in reverse; ``x`` reaches the output by three
    paths (directly, through the mean and through the variance) and ``dx`` adds them.
    In evaluation mode the mean and variance are constants, so only the direct path
    remains.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([1.0, 3.0, 5.0, 7.0]).reshape(2, 1, 2, 1)
    >>> out, cache = batchnorm2d_forward(x, np.ones(1), np.zeros(1))
    >>> batchnorm2d_backward(np.ones_like(x), cache)[2]
    array([4.])
    """
    if not isinstance(cache, BatchNorm2dCache):
        raise TypeError(
            "naive.batchnorm2d_backward: cache must be the BatchNorm2dCache returned by "
            f"batchnorm2d_forward, got {type(cache).__name__}."
        )
    x = cache.x
    dout = check_dout(dout, x.shape, x.dtype, "naive.batchnorm2d_backward")
    N, C, H, W = x.shape
    m = N * H * W
    dx = np.zeros_like(x)
    dgamma = np.zeros(C, dtype=x.dtype)
    dbeta = np.zeros(C, dtype=x.dtype)
    for c in range(C):
        g, istd = cache.gamma[c], cache.inv_std[c]
        xmu = x[:, c] - cache.mean[c]
        xhat = xmu * istd
        d = dout[:, c]
        dbeta[c] = np.sum(d)
        dgamma[c] = np.sum(d * xhat)
        dxhat = d * g
        dxmu = dxhat * istd  # the direct path
        if cache.training:
            distd = np.sum(dxhat * xmu)
            dvar = distd * -0.5 * istd**3
            dxmu = dxmu + dvar * 2 * xmu / m  # through the variance
            dmean = -np.sum(dxmu)
            dxmu = dxmu + dmean / m  # through the mean
        dx[:, c] = dxmu
    return dx, dgamma, dbeta


def global_avg_pool2d_forward(x: np.ndarray) -> tuple[np.ndarray, GlobalAvgPool2dCache]:
    """Global average pooling with a loop over every channel map.

    Examples
    --------
    >>> import numpy as np
    >>> global_avg_pool2d_forward(np.arange(8.0).reshape(1, 2, 2, 2))[0]
    array([[1.5, 5.5]])
    """
    x = as_float_array(x, "x", 4, "naive.global_avg_pool2d_forward")
    N, C, H, W = x.shape
    out = np.zeros((N, C), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            total = 0.0
            for h in range(H):
                for w in range(W):
                    total += x[n, c, h, w]
            out[n, c] = total / (H * W)
    return out, GlobalAvgPool2dCache(x_shape=x.shape, dtype=x.dtype)


def global_avg_pool2d_backward(dout: np.ndarray, cache: GlobalAvgPool2dCache) -> np.ndarray:
    """Each pixel of a map receives ``1/(H*W)`` of its channel's gradient.

    Examples
    --------
    >>> import numpy as np
    >>> out, cache = global_avg_pool2d_forward(np.zeros((1, 1, 1, 2)))
    >>> global_avg_pool2d_backward(np.array([[1.0]]), cache)
    array([[[[0.5, 0.5]]]])
    """
    N, C, H, W = cache.x_shape
    dout = check_dout(dout, (N, C), cache.dtype, "naive.global_avg_pool2d_backward")
    dx = np.zeros(cache.x_shape, dtype=cache.dtype)
    for n in range(N):
        for c in range(C):
            for h in range(H):
                for w in range(W):
                    dx[n, c, h, w] += dout[n, c] / (H * W)
    return dx


_OPS = SimpleNamespace(
    conv_forward=conv2d_forward,
    conv_backward=conv2d_backward,
    bn_forward=batchnorm2d_forward,
    bn_backward=batchnorm2d_backward,
)


def basic_block_forward(
    x, w1, gamma1, beta1, w2, gamma2, beta2, w_skip=None, gamma_skip=None, beta_skip=None,
    *, stride: int = 1, eps: float = 1e-5,
):
    """ResNet's BasicBlock on the naive convolution and batch normalisation.

    Same parameters and conventions as :func:`cnnlab.layers.basic_block_forward`.
    """
    return residual.forward_with(
        _OPS, x, w1, gamma1, beta1, w2, gamma2, beta2, (w_skip, gamma_skip, beta_skip),
        stride, eps, "naive.basic_block_forward",
    )


def basic_block_backward(dout, cache):
    """The block's backward pass on the naive layers; ``dx`` adds both paths."""
    return residual.backward_with(_OPS, dout, cache, "naive.basic_block_backward")
