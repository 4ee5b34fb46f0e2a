"""Fully connected (dense, affine) layer and the flatten that feeds it.

Weights are ``(F, D)``: one row per output unit, like a conv layer's ``(F, C, KH, KW)``
filters flattened (and like PyTorch's ``nn.Linear``). A dense layer on a flattened
``(C, H, W)`` activation is therefore a convolution whose kernel covers the whole input:
``w_dense = w_conv.reshape(F, -1)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cnnlab.layers._validate import as_float_array, check_dout, same_dtype

__all__ = [
    "DenseCache",
    "FlattenCache",
    "dense_backward",
    "dense_forward",
    "flatten",
    "flatten_backward",
]


@dataclass(frozen=True)
class DenseCache:
    """What :func:`dense_backward` needs: the input, the weights, whether a bias."""

    x: np.ndarray = field(repr=False)
    w: np.ndarray = field(repr=False)
    has_bias: bool


def dense_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None
) -> tuple[np.ndarray, DenseCache]:
    """Affine map of a batch of feature vectors: ``out = x @ w.T + b``.

    Parameters
    ----------
    x : ndarray, shape (N, D)
        float32 or float64; flatten images first with :func:`flatten`.
    w : ndarray, shape (F, D)
        One row of weights per output unit (PyTorch ``nn.Linear`` layout).
    b : ndarray, shape (F,), or None

    Returns
    -------
    out : ndarray, shape (N, F)
    cache : DenseCache

    Raises
    ------
    TypeError, ValueError
        Bad dtype, a non-flat ``x``, or ``w`` not ``(F, D)``.

    Notes
    -----
    ``out[n, f] = b[f] + sum_d x[n, d] * w[f, d]``.

    References
    ----------
    .. [1] CS231n, assignment 2, ``affine_forward`` (which stores ``w`` transposed).

    Examples
    --------
    >>> import numpy as np
    >>> out, cache = dense_forward(np.array([[1.0, 2.0]]), np.array([[1.0, 1.0], [0.0, 3.0]]),
    ...                            np.array([0.5, 0.0]))
    >>> out
    array([[3.5, 6. ]])
    """
    where = "dense_forward"
    x = as_float_array(x, "x", 2, where)
    w = as_float_array(w, "w", 2, where)
    b = None if b is None else as_float_array(b, "b", 1, where)
    same_dtype(where, x=x, w=w, b=b)
    D = x.shape[1]
    F = w.shape[0]
    if w.shape[1] != D:
        hint = ""
        if w.shape[0] == D:
            hint = (
                f" It looks like (D, F) = {w.shape}: cnnlab stores dense weights as "
                "(F, D), one row per output unit; pass w.T."
            )
        raise ValueError(
            f"{where}: x is (N, D) = {x.shape} so w must be (F, {D}), found "
            f"{w.shape}.{hint}"
        )
    if b is not None and b.shape != (F,):
        raise ValueError(f"{where}: b must be ({F},), one value per output unit, found {b.shape}.")
    out = x @ w.T
    if b is not None:
        out += b
    return out, DenseCache(x=x, w=w, has_bias=b is not None)


def dense_backward(
    dout: np.ndarray, cache: DenseCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Gradients of the dense layer.

    Parameters
    ----------
    dout : ndarray, shape (N, F)
    cache : DenseCache

    Returns
    -------
    dx : ndarray, shape (N, D)
    dw : ndarray, shape (F, D)
    db : ndarray, shape (F,), or None

    Notes
    -----
    ``dx = dout @ w``, ``dw = dout.T @ x``, ``db = dout.sum(axis=0)``.

    Examples
    --------
    >>> import numpy as np
    >>> out, cache = dense_forward(np.array([[1.0, 2.0]]), np.eye(2), np.zeros(2))
    >>> dense_backward(np.array([[1.0, -1.0]]), cache)
    (array([[ 1., -1.]]), array([[ 1.,  2.],
           [-1., -2.]]), array([ 1., -1.]))
    """
    where = "dense_backward"
    if not isinstance(cache, DenseCache):
        raise TypeError(
            f"{where}: cache must be the DenseCache returned by dense_forward, got "
            f"{type(cache).__name__}."
        )
    x, w = cache.x, cache.w
    dout = check_dout(dout, (x.shape[0], w.shape[0]), x.dtype, where)
    db = dout.sum(axis=0) if cache.has_bias else None
    return dout @ w, dout.T @ x, db


@dataclass(frozen=True)
class FlattenCache:
    """The shape before flattening."""

    x_shape: tuple[int, ...]


def flatten(x: np.ndarray) -> tuple[np.ndarray, FlattenCache]:
    """Flatten every example to a vector: (N, C, H, W) -> (N, C*H*W).

    Parameters
    ----------
    x : ndarray, shape (N, ...)

    Returns
    -------
    out : ndarray, shape (N, prod(...))
        C order: channel, then row, then column (what ``x.reshape(N, -1)`` gives).
    cache : FlattenCache

    Examples
    --------
    >>> import numpy as np
    >>> out, cache = flatten(np.zeros((2, 3, 4, 5)))
    >>> out.shape, cache.x_shape
    ((2, 60), (2, 3, 4, 5))
    """
    array = np.asarray(x)
    if array.ndim < 2:
        raise ValueError(
            f"flatten: x must have a batch axis and at least one more, found shape "
            f"{array.shape}; a single example needs x[None]."
        )
    return array.reshape(array.shape[0], -1), FlattenCache(x_shape=array.shape)


def flatten_backward(dout: np.ndarray, cache: FlattenCache) -> np.ndarray:
    """Undo :func:`flatten` on the gradient: (N, C*H*W) -> (N, C, H, W).

    Examples
    --------
    >>> import numpy as np
    >>> out, cache = flatten(np.zeros((2, 3, 4, 5)))
    >>> flatten_backward(np.ones_like(out), cache).shape
    (2, 3, 4, 5)
    """
    if not isinstance(cache, FlattenCache):
        raise TypeError(
            f"flatten_backward: cache must be the FlattenCache returned by flatten, got "
            f"{type(cache).__name__}."
        )
    dout = np.asarray(dout)
    expected = (cache.x_shape[0], int(np.prod(cache.x_shape[1:])))
    if dout.shape != expected:
        raise ValueError(
            f"flatten_backward: dout has shape {dout.shape} but flatten produced "
            f"{expected} from {cache.x_shape}."
        )
    return dout.reshape(cache.x_shape)
