"""Global average pooling: one number per channel, the mean of its whole map.

ResNet, GoogLeNet and MobileNet end their convolutional part with it instead of
flattening: ``(N, C, H, W) -> (N, C)``, no parameters, any input size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnlab.layers._validate import as_float_array, check_dout

__all__ = ["GlobalAvgPool2dCache", "global_avg_pool2d_backward", "global_avg_pool2d_forward"]


@dataclass(frozen=True)
class GlobalAvgPool2dCache:
    """What :func:`global_avg_pool2d_backward` needs: the input's shape and dtype."""

    x_shape: tuple[int, int, int, int]
    dtype: np.dtype


def global_avg_pool2d_forward(x: np.ndarray) -> tuple[np.ndarray, GlobalAvgPool2dCache]:
    """Average each channel map over all its pixels.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
        float32 or float64.

    Returns
    -------
    out : ndarray, shape (N, C)
    cache : GlobalAvgPool2dCache

    Notes
    -----
    ``out[n, c] = sum_{h, w} x[n, c, h, w] / (H*W)``: an average pool whose window is
    the whole map (PyTorch's ``AdaptiveAvgPool2d(1)`` followed by ``flatten``).

    References
    ----------
    .. [1] M. Lin, Q. Chen, S. Yan, "Network In Network", ICLR 2014, section 3.2.

    Examples
    --------
    >>> import numpy as np
    >>> out, cache = global_avg_pool2d_forward(np.arange(8.0).reshape(1, 2, 2, 2))
    >>> out
    array([[1.5, 5.5]])
    """
    x = as_float_array(x, "x", 4, "global_avg_pool2d_forward")
    out = x.mean(axis=(2, 3), dtype=x.dtype)
    return out, GlobalAvgPool2dCache(x_shape=x.shape, dtype=x.dtype)


def global_avg_pool2d_backward(dout: np.ndarray, cache: GlobalAvgPool2dCache) -> np.ndarray:
    """Share each channel's gradient equally over its ``H*W`` pixels.

    Parameters
    ----------
    dout : ndarray, shape (N, C)
    cache : GlobalAvgPool2dCache

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
        ``dx[n, c, h, w] = dout[n, c] / (H*W)``.

    Examples
    --------
    >>> import numpy as np
    >>> out, cache = global_avg_pool2d_forward(np.zeros((1, 1, 2, 2)))
    >>> global_avg_pool2d_backward(np.array([[4.0]]), cache)
    array([[[[1., 1.],
             [1., 1.]]]])
    """
    if not isinstance(cache, GlobalAvgPool2dCache):
        raise TypeError(
            "global_avg_pool2d_backward: cache must be the GlobalAvgPool2dCache returned "
            f"by global_avg_pool2d_forward, got {type(cache).__name__}."
        )
    N, C, H, W = cache.x_shape
    dout = check_dout(dout, (N, C), cache.dtype, "global_avg_pool2d_backward")
    share = (dout / (H * W)).astype(cache.dtype, copy=False)
    return np.ascontiguousarray(np.broadcast_to(share[:, :, None, None], cache.x_shape))
