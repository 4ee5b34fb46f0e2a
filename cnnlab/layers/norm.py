"""Batch normalisation over the channels of an NCHW batch (``BatchNorm2d``).

In training mode each channel is normalised by the mean and variance of the batch (over
``N``, ``H`` and ``W``) and the running statistics are updated in place, as PyTorch's
``F.batch_norm`` does; in evaluation mode the running statistics are used instead and
nothing is updated. The passes over the activations run on the Numba kernels of
:mod:`cnnlab.kernels.norm` (sums in float64), in parallel from
:data:`cnnlab.layers.dispatch.NORM_PARALLEL_MIN_SIZE` elements. :mod:`cnnlab.naive` has
the same layer as loops over the channels, with the backward pass of the computational
graph, step by step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cnnlab.kernels import norm as kernels
from cnnlab.kernels import parallel_chunks
from cnnlab.layers import dispatch
from cnnlab.layers._validate import as_float_array, check_dout, check_flag, same_dtype

__all__ = ["BatchNorm2dCache", "batchnorm2d_backward", "batchnorm2d_forward"]


@dataclass(frozen=True)
class BatchNorm2dCache:
    """What :func:`batchnorm2d_backward` needs from the forward pass.

    Attributes
    ----------
    x : ndarray, shape (N, C, H, W)
    gamma : ndarray, shape (C,)
    mean : ndarray, shape (C,)
        The statistics the forward pass normalised with: the batch's in training
        mode, the running ones in evaluation mode.
    inv_std : ndarray, shape (C,)
        ``1 / sqrt(var + eps)`` of those statistics.
    training : bool
        Whether ``mean`` and ``inv_std`` came from the batch (then they depend on ``x``
        and the backward pass has two more terms).
    """

    x: np.ndarray = field(repr=False)
    gamma: np.ndarray = field(repr=False)
    mean: np.ndarray = field(repr=False)
    inv_std: np.ndarray = field(repr=False)
    training: bool


def validate_batchnorm2d(
    x: Any,
    gamma: Any,
    beta: Any,
    training: Any,
    running_mean: Any,
    running_var: Any,
    momentum: Any,
    eps: Any,
    where: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """``x``, ``gamma``, ``beta`` as contiguous arrays of one dtype, checked shapes."""
    x = as_float_array(x, "x", 4, where)
    gamma = as_float_array(gamma, "gamma", 1, where)
    beta = as_float_array(beta, "beta", 1, where)
    same_dtype(where, x=x, gamma=gamma, beta=beta)
    training = check_flag(training, "training", where)
    C = x.shape[1]
    for name, value in (("gamma", gamma), ("beta", beta)):
        if value.shape != (C,):
            raise ValueError(
                f"{where}: {name} must have one value per channel, shape ({C},) for x "
                f"{x.shape}, found {value.shape}."
            )
    for name, value in (("running_mean", running_mean), ("running_var", running_var)):
        if value is None:
            if not training:
                raise ValueError(
                    f"{where}: evaluation mode (training=False) normalises with the running "
                    f"statistics, so {name} is required."
                )
            continue
        if not isinstance(value, np.ndarray) or value.shape != (C,) or value.dtype != x.dtype:
            found = (
                f"{value.dtype} {value.shape}" if isinstance(value, np.ndarray) else type(value)
            )
            raise ValueError(
                f"{where}: {name} must be a {x.dtype} array of shape ({C},) (it is updated "
                f"in place), found {found}."
            )
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not (
        0 <= momentum <= 1
    ):
        raise ValueError(f"{where}: momentum must be a number in [0, 1], got {momentum!r}.")
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps >= 0:
        raise ValueError(
            f"{where}: eps must be a number >= 0 (1e-5 keeps a constant channel finite), "
            f"got {eps!r}."
        )
    if training and x.shape[0] * x.shape[2] * x.shape[3] < 2:
        raise ValueError(
            f"{where}: training mode needs more than one value per channel to compute a "
            f"variance, found x {x.shape}; use a larger batch or training=False."
        )
    return x, gamma, beta, training


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
    """Normalise each channel, then scale by ``gamma`` and shift by ``beta``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
        float32 or float64.
    gamma, beta : ndarray, shape (C,)
        Learned scale and shift, same dtype as ``x``.
    training : bool, default True
        Normalise with the batch's statistics (and update the running ones), or, if
        False, with ``running_mean`` and ``running_var``.
    running_mean, running_var : ndarray, shape (C,), optional
        Running statistics, same dtype as ``x``; required when ``training`` is False,
        updated in place when ``training`` is True.
    momentum : float, default 0.1
        ``running = (1 - momentum) * running + momentum * batch`` (PyTorch's meaning).
    eps : float, default 1e-5

    Returns
    -------
    out : ndarray, shape (N, C, H, W)
    cache : BatchNorm2dCache

    Notes
    -----
    With ``m = N*H*W`` values per channel::

        mean[c] = sum_{n,h,w} x[n, c, h, w] / m
        var[c]  = sum_{n,h,w} (x[n, c, h, w] - mean[c])**2 / m
        out     = gamma[c] * (x - mean[c]) / sqrt(var[c] + eps) + beta[c]

    The running variance is updated with the unbiased ``var * m / (m - 1)``, as in
    PyTorch.

    References
    ----------
    .. [1] S. Ioffe, C. Szegedy, "Batch Normalization: Accelerating Deep Network
       Training by Reducing Internal Covariate Shift", ICML 2015.
    .. [2] CS231n, assignment 2, ``batchnorm_forward``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([1.0, 3.0, 5.0, 7.0]).reshape(2, 1, 2, 1)
    >>> out, cache = batchnorm2d_forward(x, np.ones(1), np.zeros(1), eps=0.0)
    >>> out.ravel()
    array([-1.34164079, -0.4472136 ,  0.4472136 ,  1.34164079])
    """
    where = "batchnorm2d_forward"
    x, gamma, beta, training = validate_batchnorm2d(
        x, gamma, beta, training, running_mean, running_var, momentum, eps, where
    )
    parallel = _parallel("batchnorm2d_forward", x)
    if training:
        mean, var = _channel_stats(x, parallel)
        count = x.shape[0] * x.shape[2] * x.shape[3]
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean
        if running_var is not None:
            running_var *= 1 - momentum
            running_var += momentum * var * (count / (count - 1))
    else:
        mean, var = running_mean.copy(), running_var.copy()
    inv_std = (1 / np.sqrt(var + eps)).astype(x.dtype)
    scale, shift = gamma * inv_std, beta - mean * gamma * inv_std
    out = np.empty_like(x)
    planes = x.shape[0] * x.shape[1]
    if parallel:
        kernels.scale_shift_parallel(x, scale, shift, out, parallel_chunks(planes))
    else:
        kernels.scale_shift(x, scale, shift, out, 0, planes)
    cache = BatchNorm2dCache(x=x, gamma=gamma, mean=mean, inv_std=inv_std, training=training)
    return out, cache


def _parallel(op: str, x: np.ndarray) -> bool:
    """Whether ``op`` runs its parallel kernels (:func:`cnnlab.layers.dispatch.norm_parallel`)."""
    parallel = dispatch.norm_parallel(x.size)
    dispatch.record(op, "norm", parallel)
    if parallel:
        dispatch.announce_compile(kernels.scale_shift_parallel, x.dtype)
    return parallel


def _channel_stats(x: np.ndarray, parallel: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, var)`` of each channel over ``N, H, W``, summed in float64
    (:func:`cnnlab.kernels.norm.channel_stats`), in ``x``'s dtype."""
    C = x.shape[1]
    mean, var = np.empty(C), np.empty(C)
    if parallel:
        kernels.channel_stats_parallel(x, mean, var, parallel_chunks(C))
    else:
        kernels.channel_stats(x, mean, var, 0, C)
    return mean.astype(x.dtype), var.astype(x.dtype)


def batchnorm2d_backward(
    dout: np.ndarray, cache: BatchNorm2dCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of batch normalisation with respect to ``x``, ``gamma`` and ``beta``.

    Parameters
    ----------
    dout : ndarray, shape (N, C, H, W)
    cache : BatchNorm2dCache
        From :func:`batchnorm2d_forward` (or :func:`cnnlab.naive.batchnorm2d_forward`).

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
    dgamma, dbeta : ndarray, shape (C,)

    Notes
    -----
    With ``xhat = (x - mean) * inv_std`` and sums over ``n, h, w``::

        dbeta[c]  = sum dout
        dgamma[c] = sum dout * xhat
        dx        = gamma * inv_std * (dout - (dbeta + xhat * dgamma) / m)   (training)
        dx        = gamma * inv_std * dout                                   (evaluation)

    The training formula folds the graph's three paths (through ``xhat``, the mean and
    the variance) into one line; :func:`cnnlab.naive.batchnorm2d_backward` walks them
    one by one. The kernel computes it as ``a*dout + b*(x - mean) + d`` with the
    per-channel constants ``a = gamma*inv_std``, ``b = -a*inv_std*dgamma/m`` and
    ``d = -a*dbeta/m`` (``b = d = 0`` in evaluation mode), one pass over the planes.

    References
    ----------
    .. [1] CS231n, assignment 2, ``batchnorm_backward_alt``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([1.0, 3.0, 5.0, 7.0]).reshape(2, 1, 2, 1)
    >>> out, cache = batchnorm2d_forward(x, np.ones(1), np.zeros(1))
    >>> dx, dgamma, dbeta = batchnorm2d_backward(np.ones_like(x), cache)
    >>> bool(np.abs(dx).max() < 1e-12), dbeta     # a constant shift of the output: no dx
    (True, array([4.]))
    """
    if not isinstance(cache, BatchNorm2dCache):
        raise TypeError(
            "batchnorm2d_backward: cache must be the BatchNorm2dCache returned by "
            f"batchnorm2d_forward, got {type(cache).__name__}."
        )
    x = cache.x
    dout = check_dout(dout, x.shape, x.dtype, "batchnorm2d_backward")
    N, C, H, W = x.shape
    parallel = _parallel("batchnorm2d_backward", x)
    dbeta64, dout_xmu = np.empty(C), np.empty(C)
    if parallel:
        dispatch.announce_compile(kernels.gradient_sums_parallel, x.dtype)
        kernels.gradient_sums_parallel(dout, x, cache.mean, dbeta64, dout_xmu, parallel_chunks(C))
    else:
        kernels.gradient_sums(dout, x, cache.mean, dbeta64, dout_xmu, 0, C)
    inv_std = cache.inv_std.astype(np.float64)
    dgamma64 = dout_xmu * inv_std
    scale = cache.gamma * inv_std
    # dx = scale*dout - scale*inv_std*dgamma/m * (x - mean) - scale*dbeta/m  (training)
    count = N * H * W
    slope = -scale * inv_std * dgamma64 / count if cache.training else np.zeros(C)
    offset = -scale * dbeta64 / count if cache.training else np.zeros(C)
    a, b, d = (v.astype(x.dtype) for v in (scale, slope, offset))
    dx = np.empty_like(x)
    if parallel:
        dispatch.announce_compile(kernels.input_gradient_parallel, x.dtype)
        chunks = parallel_chunks(N * C)
        kernels.input_gradient_parallel(dout, x, a, b, cache.mean, d, dx, chunks)
    else:
        kernels.input_gradient(dout, x, a, b, cache.mean, d, dx, 0, N * C)
    return dx, dgamma64.astype(x.dtype), dbeta64.astype(x.dtype)
