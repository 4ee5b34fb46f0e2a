"""The residual block of ResNet-18/34 ("BasicBlock"), forward and backward.

``out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``: two 3x3 convolutions
(the first with the block's stride), each followed by batch normalisation, added to the
block's input. The shortcut is the identity when the block keeps the shape, and a
1x1 convolution with the block's stride plus batch normalisation (a *projection*) when
it changes the number of channels or the size. Batch normalisation uses the batch's
statistics here (training mode); :class:`cnnlab.net.ResidualBlock` adds the running
statistics and evaluation mode.

The block is built from the other layers' forward and backward functions, in the order
of the lecture's figure; its backward pass is theirs in reverse, and the gradient that
reaches ``x`` is the *sum* of the two paths (``dx = dx_main + dx_shortcut``), which is
why a deep residual network still passes a gradient to its first layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from cnnlab.layers.activation import relu_backward, relu_forward
from cnnlab.layers.conv import conv2d_backward, conv2d_forward
from cnnlab.layers.norm import batchnorm2d_backward, batchnorm2d_forward

__all__ = ["BasicBlockCache", "basic_block_backward", "basic_block_forward"]

#: The layer functions the block is made of; :mod:`cnnlab.naive` passes its own.
FAST = SimpleNamespace(
    conv_forward=conv2d_forward,
    conv_backward=conv2d_backward,
    bn_forward=batchnorm2d_forward,
    bn_backward=batchnorm2d_backward,
)


@dataclass(frozen=True)
class BasicBlockCache:
    """The caches of the block's layers, in forward order.

    ``skip_conv`` and ``skip_bn`` are None for an identity shortcut.
    """

    conv1: Any
    bn1: Any
    relu1: Any
    conv2: Any
    bn2: Any
    skip_conv: Any
    skip_bn: Any
    relu_out: Any


def _check_shortcut(x, w1, skip, stride, where: str) -> None:
    given = [value is not None for value in skip]
    if any(given) and not all(given):
        raise ValueError(
            f"{where}: a projection shortcut needs all of w_skip, gamma_skip and beta_skip; "
            "pass all three, or none for an identity shortcut."
        )
    changes_shape = stride != 1 or np.shape(w1)[0] != np.shape(x)[1]
    if changes_shape and not all(given):
        raise ValueError(
            f"{where}: this block changes the shape (x has {np.shape(x)[1]} channels, the "
            f"block {np.shape(w1)[0]}, stride {stride}), so x cannot be added as it is: "
            "pass a projection shortcut (w_skip of shape (F, C, 1, 1), gamma_skip, "
            "beta_skip)."
        )


def forward_with(ops, x, w1, gamma1, beta1, w2, gamma2, beta2, skip, stride, eps, where):
    """The block's forward pass on the layer functions ``ops`` (see :data:`FAST`)."""
    _check_shortcut(x, w1, skip, stride, where)
    out, conv1 = ops.conv_forward(x, w1, stride=stride, padding=1)
    out, bn1 = ops.bn_forward(out, gamma1, beta1, eps=eps)
    out, relu1 = relu_forward(out)
    out, conv2 = ops.conv_forward(out, w2, padding=1)
    main, bn2 = ops.bn_forward(out, gamma2, beta2, eps=eps)
    skip_conv = skip_bn = None
    if skip[0] is None:
        shortcut = x
    else:
        shortcut, skip_conv = ops.conv_forward(x, skip[0], stride=stride)
        shortcut, skip_bn = ops.bn_forward(shortcut, skip[1], skip[2], eps=eps)
    if shortcut.dtype != main.dtype:
        raise TypeError(f"{where}: x is {shortcut.dtype} but the weights are {main.dtype}.")
    out, relu_out = relu_forward(main + shortcut)
    return out, BasicBlockCache(conv1, bn1, relu1, conv2, bn2, skip_conv, skip_bn, relu_out)


def backward_with(ops, dout, cache: BasicBlockCache, where: str):
    """The block's backward pass on the layer functions ``ops``."""
    if not isinstance(cache, BasicBlockCache):
        raise TypeError(
            f"{where}: cache must be the BasicBlockCache returned by basic_block_forward, "
            f"got {type(cache).__name__}."
        )
    dsum = relu_backward(dout, cache.relu_out)
    d, dgamma2, dbeta2 = ops.bn_backward(dsum, cache.bn2)
    d, dw2, _ = ops.conv_backward(d, cache.conv2)
    d = relu_backward(d, cache.relu1)
    d, dgamma1, dbeta1 = ops.bn_backward(d, cache.bn1)
    dx, dw1, _ = ops.conv_backward(d, cache.conv1)
    dskip: tuple[Any, Any, Any] = (None, None, None)
    if cache.skip_conv is None:
        dx = dx + dsum  # the identity shortcut passes the gradient on unchanged
    else:
        d, dgamma_skip, dbeta_skip = ops.bn_backward(dsum, cache.skip_bn)
        dx_skip, dw_skip, _ = ops.conv_backward(d, cache.skip_conv)
        dx = dx + dx_skip
        dskip = (dw_skip, dgamma_skip, dbeta_skip)
    return (dx, dw1, dgamma1, dbeta1, dw2, dgamma2, dbeta2, *dskip)


def basic_block_forward(
    x: np.ndarray,
    w1: np.ndarray,
    gamma1: np.ndarray,
    beta1: np.ndarray,
    w2: np.ndarray,
    gamma2: np.ndarray,
    beta2: np.ndarray,
    w_skip: np.ndarray | None = None,
    gamma_skip: np.ndarray | None = None,
    beta_skip: np.ndarray | None = None,
    *,
    stride: int = 1,
    eps: float = 1e-5,
) -> tuple[np.ndarray, BasicBlockCache]:
    """ResNet's BasicBlock: two 3x3 conv + batch-norm layers plus a shortcut, then ReLU.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    w1 : ndarray, shape (F, C, 3, 3)
        First convolution (stride ``stride``, padding 1, no bias).
    gamma1, beta1 : ndarray, shape (F,)
    w2 : ndarray, shape (F, F, 3, 3)
        Second convolution (stride 1, padding 1, no bias).
    gamma2, beta2 : ndarray, shape (F,)
    w_skip : ndarray, shape (F, C, 1, 1), optional
        Projection shortcut (1x1, stride ``stride``), required when ``F != C`` or
        ``stride != 1``; None for the identity shortcut.
    gamma_skip, beta_skip : ndarray, shape (F,), optional
        The projection's batch normalisation.
    stride : int, default 1
    eps : float, default 1e-5

    Returns
    -------
    out : ndarray, shape (N, F, H_out, W_out)
    cache : BasicBlockCache

    Notes
    -----
    ``out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`` with
    ``shortcut(x) = x`` or ``bn_skip(conv_skip(x))``; batch normalisation in training
    mode (the batch's statistics).

    References
    ----------
    .. [1] K. He, X. Zhang, S. Ren, J. Sun, "Deep Residual Learning for Image
       Recognition", CVPR 2016, figure 2 and option (B) of section 3.3.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((2, 4, 6, 6))
    >>> w1, w2 = rng.standard_normal((8, 4, 3, 3)), rng.standard_normal((8, 8, 3, 3))
    >>> ones, zeros = np.ones(8), np.zeros(8)
    >>> out, cache = basic_block_forward(x, w1, ones, zeros, w2, ones, zeros,
    ...                                  rng.standard_normal((8, 4, 1, 1)), ones, zeros,
    ...                                  stride=2)
    >>> out.shape
    (2, 8, 3, 3)
    """
    return forward_with(
        FAST, x, w1, gamma1, beta1, w2, gamma2, beta2, (w_skip, gamma_skip, beta_skip),
        stride, eps, "basic_block_forward",
    )


def basic_block_backward(dout: np.ndarray, cache: BasicBlockCache) -> tuple:
    """Gradients of :func:`basic_block_forward` with respect to each of its arrays.

    Parameters
    ----------
    dout : ndarray, shape (N, F, H_out, W_out)
    cache : BasicBlockCache

    Returns
    -------
    tuple of ndarray
        ``(dx, dw1, dgamma1, dbeta1, dw2, dgamma2, dbeta2, dw_skip, dgamma_skip,
        dbeta_skip)``; the last three are None for an identity shortcut.

    Notes
    -----
    The gradient reaching the sum, ``dsum = dout * (out > 0)``, goes down both paths:
    through ``bn2, conv2, relu1, bn1, conv1`` and through the shortcut, and
    ``dx`` adds the two. With the identity shortcut ``dx = dx_main + dsum``: even when
    the main path's gradient vanishes, ``dsum`` reaches ``x``.
    """
    return backward_with(FAST, dout, cache, "basic_block_backward")
