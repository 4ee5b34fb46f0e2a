"""The layers a residual network adds: batch normalisation, global average pooling and
the residual block that holds a main path and a shortcut.

Each wraps :mod:`cnnlab.layers` functions like the layers of :mod:`cnnlab.net.modules`;
:class:`ResidualBlock` holds other layers and adds their outputs, so any main path
(ResNet-18's BasicBlock, ResNet-50's Bottleneck) and any shortcut (the identity, or a
1x1 convolution plus batch normalisation) can be built from the
:mod:`cnnlab.models` specs (:func:`cnnlab.net.build`).

Examples
--------
>>> import numpy as np
>>> from cnnlab.net import Conv2d, ReLU
>>> block = ResidualBlock(
...     [Conv2d(4, 4, 3, padding=1, bias=False), BatchNorm2d(4), ReLU(),
...      Conv2d(4, 4, 3, padding=1, bias=False), BatchNorm2d(4)])
>>> block(np.ones((2, 4, 5, 5), np.float32)).shape
(2, 4, 5, 5)
>>> [p.name for p in block.parameters()][:3]
['block.conv1.weight', 'block.bn1.weight', 'block.bn1.bias']
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np

from cnnlab import layers as F
from cnnlab.net.modules import Layer, Shape
from cnnlab.net.parameter import Parameter

__all__ = ["BatchNorm2d", "GlobalAvgPool2d", "ResidualBlock"]


class BatchNorm2d(Layer):
    """Batch normalisation per channel, with running statistics for evaluation.

    Parameters
    ----------
    num_features : int
        ``C``, the channels of the input.
    momentum : float, default 0.1
        Weight of the newest batch in the running statistics (PyTorch's meaning).
    eps : float, default 1e-5

    Attributes
    ----------
    weight, bias : Parameter
        ``gamma`` (starts at 1) and ``beta`` (starts at 0); not weight-decayed.
    running_mean, running_var : ndarray, shape (C,)
        Updated by every training-mode forward pass, used in evaluation mode.

    Notes
    -----
    Training mode normalises with the batch's mean and variance
    (:func:`cnnlab.layers.batchnorm2d_forward`), evaluation mode with the running ones,
    so a single image gives the same answer whatever batch it comes in.
    """

    kind = "bn"

    def __init__(
        self,
        num_features: int,
        *,
        momentum: float = 0.1,
        eps: float = 1e-5,
        name: str | None = None,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__(name=name)
        if not isinstance(num_features, (int, np.integer)) or num_features < 1:
            raise ValueError(f"BatchNorm2d: num_features must be a positive int, found "
                             f"{num_features!r}")
        self.num_features = int(num_features)
        self.momentum = float(momentum)
        self.eps = float(eps)
        self.weight = self._add_parameter("weight", np.ones(self.num_features, dtype),
                                          regularized=False)
        self.bias = self._add_parameter("bias", np.zeros(self.num_features, dtype),
                                        regularized=False)
        self.init_parameters(np.random.default_rng(0))

    def init_parameters(self, rng: np.random.Generator) -> None:
        dtype = self.weight.value.dtype
        self.weight.value = np.ones(self.num_features, dtype)
        self.bias.value = np.zeros(self.num_features, dtype)
        self.weight.zero_grad()
        self.bias.zero_grad()
        self.running_mean = np.zeros(self.num_features, dtype)
        self.running_var = np.ones(self.num_features, dtype)

    def buffers(self) -> dict[str, np.ndarray]:
        """The running statistics, keyed as in a saved file (``bn1.running_mean``)."""
        return {"running_mean": self.running_mean, "running_var": self.running_var}

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_ndim(x, 4, "(N, C, H, W)")
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm2d {self.name!r} normalises {self.num_features} channels, found "
                f"{x.shape[1]} (input shape {x.shape}): num_features must equal the "
                "previous layer's out_channels"
            )
        if self.running_mean.dtype != x.dtype:  # the model's dtype changed
            self.running_mean = self.running_mean.astype(x.dtype)
            self.running_var = self.running_var.astype(x.dtype)
        out, self._cache = F.batchnorm2d_forward(
            x, self.weight.value, self.bias.value, training=self.training,
            running_mean=self.running_mean, running_var=self.running_var,
            momentum=self.momentum, eps=self.eps,
        )
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx, dgamma, dbeta = F.batchnorm2d_backward(dout, self._cached())
        self.weight.accumulate(dgamma)
        self.bias.accumulate(dbeta)
        return dx

    def output_shape(self, in_shape: Shape) -> Shape:
        return tuple(in_shape)

    def extra_repr(self) -> str:
        return str(self.num_features)


class GlobalAvgPool2d(Layer):
    """Average each channel over its whole map: ``(N, C, H, W) -> (N, C)``."""

    kind = "avgpool"

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_ndim(x, 4, "(N, C, H, W)")
        out, self._cache = F.global_avg_pool2d_forward(x)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return F.global_avg_pool2d_backward(dout, self._cached())

    def output_shape(self, in_shape: Shape) -> Shape:
        return (in_shape[0],)


class ResidualBlock(Layer):
    """``relu(main(x) + shortcut(x))``: a stack of layers plus a shortcut around it.

    Parameters
    ----------
    main : iterable of Layer
        The main path (e.g. conv - bn - relu - conv - bn).
    shortcut : iterable of Layer, optional
        The projection (e.g. a 1x1 strided conv and a bn); empty or None for the
        identity, which needs the main path to keep the shape.

    Notes
    -----
    The backward pass sends the gradient of the sum down both paths and adds what
    reaches ``x``: ``dx = dx_main + dx_shortcut`` (``dx_shortcut = dsum`` for the
    identity), the lecture's "gradient highway". Sub-layers are named as in a
    :class:`~cnnlab.net.Sequential` (``conv1``, ``bn1``, ...; the shortcut's as
    ``downsample_<kind><i>`` unless named), their parameters ``<block>.<layer>.<key>``.
    """

    kind = "block"

    def __init__(
        self,
        main: Iterable[Layer],
        shortcut: Iterable[Layer] | None = None,
        *,
        name: str | None = None,
    ) -> None:
        self.main = list(main)
        self.shortcut = list(shortcut or [])
        if not self.main:
            raise ValueError("ResidualBlock: the main path needs at least one layer")
        for layer in (*self.main, *self.shortcut):
            if not isinstance(layer, Layer) or isinstance(layer, ResidualBlock):
                raise TypeError(
                    f"ResidualBlock: paths hold cnnlab.net layers (not blocks), found "
                    f"{type(layer).__name__}"
                )
        _name_sublayers(self.main, "")
        _name_sublayers(self.shortcut, "downsample_")
        super().__init__(name=name)
        self._rename_parameters()

    @property
    def name(self) -> str:
        return Layer.name.fget(self)

    @name.setter
    def name(self, value: str) -> None:
        Layer.name.fset(self, value)
        self._rename_parameters()

    def _rename_parameters(self) -> None:
        for layer in (*self.main, *self.shortcut):
            for key, param in layer._params.items():
                param.name = f"{self.name}.{layer.name}.{key}"

    def sublayers(self) -> list[Layer]:
        """The main path's layers, then the shortcut's."""
        return [*self.main, *self.shortcut]

    def parameters(self) -> list[Parameter]:
        return [p for layer in self.sublayers() for p in layer.parameters()]

    def buffers(self) -> dict[str, np.ndarray]:
        return {
            f"{layer.name}.{key}": value
            for layer in self.sublayers()
            for key, value in layer.buffers().items()
        }

    def init_parameters(self, rng: np.random.Generator) -> None:
        for i, layer in enumerate(self.sublayers()):
            layer.init_parameters(np.random.default_rng([int(rng.integers(2**32)), i]))

    def train(self, mode: bool = True) -> ResidualBlock:
        super().train(mode)
        for layer in self.sublayers():
            layer.train(mode)
        return self

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_ndim(x, 4, "(N, C, H, W)")
        out = x
        for layer in self.main:
            out = layer.forward(out)
        skip = x
        for layer in self.shortcut:
            skip = layer.forward(skip)
        if skip.shape != out.shape:
            raise ValueError(
                f"ResidualBlock {self.name!r}: the main path gives {out.shape} but the "
                f"shortcut gives {skip.shape}; a block that changes channels or size needs "
                "a projection shortcut (1x1 conv with the block's stride + BatchNorm2d)"
            )
        out, self._cache = F.relu_forward(out + skip)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dsum = F.relu_backward(dout, self._cached())
        grad = dsum
        for layer in reversed(self.main):
            grad = layer.backward(grad)
        skip = dsum
        for layer in reversed(self.shortcut):
            skip = layer.backward(skip)
        return grad + skip

    def output_shape(self, in_shape: Shape) -> Shape:
        shape = tuple(in_shape)
        for layer in self.main:
            shape = layer.output_shape(shape)
        return shape

    def extra_repr(self) -> str:
        shortcut = "projection" if self.shortcut else "identity"
        return f"{len(self.main)} layers, {shortcut} shortcut"


def _name_sublayers(path: list[Layer], prefix: str) -> None:
    counts: Counter[str] = Counter()
    for layer in path:
        if layer.auto_named:
            counts[layer.kind] += 1
            layer.name = f"{prefix}{layer.kind}{counts[layer.kind]}"
            layer.auto_named = True
