"""ReLU, the activation between layers."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cnnlab.layers._validate import FLOAT_DTYPES, check_dout

__all__ = ["ReluCache", "relu_backward", "relu_forward"]


@dataclass(frozen=True)
class ReluCache:
    """The input of the ReLU (its sign decides where gradients pass)."""

    x: np.ndarray = field(repr=False)


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, ReluCache]:
    """Rectified linear unit, elementwise: ``max(x, 0)``.

    Parameters
    ----------
    x : ndarray, any shape
        float32 or float64.

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
    cache : ReluCache

    Notes
    -----
    ``out = max(x, 0)``; the gradient at exactly 0 is taken as 0 (as in PyTorch).

    Examples
    --------
    >>> import numpy as np
    >>> relu_forward(np.array([-1.0, 0.0, 2.0]))[0]
    array([0., 0., 2.])
    """
    x = np.asarray(x)
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"relu_forward: x must be float32 or float64, found {x.dtype}.")
    return np.maximum(x, 0), ReluCache(x=x)


def relu_backward(dout: np.ndarray, cache: ReluCache) -> np.ndarray:
    """Pass the gradient where the input was positive, block it elsewhere.

    Notes
    -----
    ``dx = dout * (x > 0)``.

    Examples
    --------
    >>> import numpy as np
    >>> out, cache = relu_forward(np.array([-1.0, 0.0, 2.0]))
    >>> relu_backward(np.array([5.0, 5.0, 5.0]), cache)
    array([0., 0., 5.])
    """
    if not isinstance(cache, ReluCache):
        raise TypeError(
            f"relu_backward: cache must be the ReluCache returned by relu_forward, got "
            f"{type(cache).__name__}."
        )
    dout = check_dout(dout, cache.x.shape, cache.x.dtype, "relu_backward")
    return np.where(cache.x > 0, dout, 0).astype(cache.x.dtype, copy=False)
