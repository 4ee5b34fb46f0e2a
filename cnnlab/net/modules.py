"""Layer objects: each wraps one ``cnnlab.layers`` forward/backward pair.

A layer keeps the cache of its last forward pass, so ``backward(dout)`` needs only the
upstream gradient; weight gradients are *added* into each :class:`Parameter`'s
``grad`` (zero them before each mini-batch). The arithmetic lives in
:mod:`cnnlab.layers`; this module holds state (weights, caches, train/eval mode) and
checks shapes so that a mistake is reported by the layer that received it.

Layout is NCHW throughout; conv weights are ``(F, C // groups, KH, KW)``.

Examples
--------
>>> import numpy as np
>>> conv = Conv2d(1, 4, 3, padding=1, seed=0)
>>> conv(np.zeros((2, 1, 8, 8), dtype=np.float32)).shape
(2, 4, 8, 8)
>>> conv.weight.shape, conv.bias.shape
((4, 1, 3, 3), (4,))
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from cnnlab import layers as F
from cnnlab.net.parameter import Parameter
from cnnlab.shapes import conv_output_size, pool_output_size

__all__ = [
    "AvgPool2d",
    "Conv2d",
    "Dense",
    "Dropout",
    "Flatten",
    "Layer",
    "MaxPool2d",
    "ReLU",
]

Shape = tuple[int, ...]
Padding = int | tuple[int, int] | tuple[tuple[int, int], tuple[int, int]] | str


def _pair(value: int | tuple[int, int], what: str) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value), int(value)
    if (
        isinstance(value, tuple)
        and len(value) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value)
    ):
        return int(value[0]), int(value[1])
    raise TypeError(f"{what} must be an int or a pair of ints, found {value!r}")


def _padding(value: Any) -> Any:
    """Ints become pairs; 'same', 'valid' and per-side pairs pass through as given."""
    if isinstance(value, str):
        if value not in ("same", "valid"):
            raise ValueError(f"padding must be an int, a pair, 'same' or 'valid', found {value!r}")
        return value
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, tuple) for v in value):
        return tuple(_pair(v, "padding") for v in value)
    return _pair(value, "padding")


def _he_normal(rng: np.random.Generator, shape: Shape, fan_in: int) -> np.ndarray:
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)


class Layer:
    """Base class: name, train/eval mode, parameters and the forward/backward protocol.

    Subclasses implement :meth:`forward`, :meth:`backward` and :meth:`output_shape`;
    layers with weights also implement :meth:`init_parameters`.

    Parameters
    ----------
    name : str, optional
        Name used in ``repr``, ``summary`` and parameter names. A
        :class:`~cnnlab.net.Sequential` gives unnamed layers ``kind`` plus a counter
        (``conv1``, ``conv2``, ``dense1``).
    """

    kind: ClassVar[str] = "layer"

    def __init__(self, *, name: str | None = None) -> None:
        self._params: dict[str, Parameter] = {}
        self._name: str | None = None
        if name is not None:
            self.name = name  # validated by the setter
        self.auto_named = name is None
        self.training = True
        self._cache: Any = None

    # -- naming ---------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The layer's name; parameter names are ``f"{name}.{weight|bias}"``."""
        return self._name if self._name is not None else self.kind

    @name.setter
    def name(self, value: str) -> None:
        if not isinstance(value, str) or not value or "." in value:
            raise ValueError(
                f"a layer name must be a non-empty string without '.', found {value!r}"
            )
        self._name = value
        for key, param in self._params.items():
            param.name = f"{value}.{key}"

    def _add_parameter(self, key: str, value: np.ndarray, *, regularized: bool) -> Parameter:
        param = Parameter(f"{self.name}.{key}", value, regularized=regularized)
        self._params[key] = param
        return param

    # -- protocol -------------------------------------------------------------------
    def parameters(self) -> list[Parameter]:
        """The layer's parameters, weight first (empty for ReLU, pooling, ...)."""
        return list(self._params.values())

    def init_parameters(self, rng: np.random.Generator) -> None:
        """(Re)draw the layer's initial parameters from ``rng``; no-op without weights."""

    def buffers(self) -> dict[str, np.ndarray]:
        """Arrays the layer keeps that are not trained (BatchNorm's running statistics)."""
        return {}

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def output_shape(self, in_shape: Shape) -> Shape:
        """Shape of one example's output, given one example's input shape (no ``N``)."""
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def train(self, mode: bool = True) -> Layer:
        """Switch to training (``True``) or evaluation (``False``) mode."""
        self.training = bool(mode)
        return self

    def eval(self) -> Layer:
        """Switch to evaluation mode (Dropout becomes the identity)."""
        return self.train(False)

    def _cached(self) -> Any:
        if self._cache is None:
            raise RuntimeError(
                f"{type(self).__name__} {self.name!r}: backward() called before forward(); "
                "run a forward pass on the batch first"
            )
        return self._cache

    def _check_ndim(self, x: np.ndarray, ndim: int, layout: str) -> None:
        if not isinstance(x, np.ndarray):
            raise TypeError(
                f"{type(self).__name__} {self.name!r} expects a NumPy array, "
                f"found {type(x).__name__}"
            )
        if x.ndim != ndim:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expects a {ndim}-D input {layout}, "
                f"found shape {x.shape}"
            )

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class Conv2d(Layer):
    """2-D convolution (cross-correlation, as in every deep-learning library).

    Parameters
    ----------
    in_channels, out_channels : int
        ``C`` and ``F``.
    kernel : int or (int, int)
        ``KH, KW``.
    stride, dilation : int or (int, int)
        PyTorch conventions: ``dilation=1`` is an ordinary convolution.
    padding : int, (ph, pw), ((top, bottom), (left, right)), 'valid' or 'same'
        Zero padding per side, as :func:`cnnlab.layers.conv2d_forward` takes it
        (``'same'`` is TensorFlow's: an odd total puts the extra pixel bottom/right).
    groups : int
        ``C`` and ``F`` must both be divisible by it; ``groups=C`` is depthwise.
    bias : bool
        Add a learned bias per output channel.
    seed : int
        Seed of the initial weights (a :class:`~cnnlab.net.Sequential` re-seeds).
    dtype : numpy dtype
        float32 (default) or float64.

    Notes
    -----
    Weights ``(F, C // groups, KH, KW)`` start from He (Kaiming) normal
    initialisation, :math:`w \\sim \\mathcal{N}(0, 2 / \\text{fan\\_in})` with
    :math:`\\text{fan\\_in} = (C / \\text{groups}) \\cdot KH \\cdot KW`; biases start
    at zero. Output size per axis: ``floor((n + 2p - d(k-1) - 1) / s) + 1``.

    References
    ----------
    He, Zhang, Ren, Sun. "Delving Deep into Rectifiers." ICCV 2015.
    """

    kind = "conv"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: Padding = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        *,
        name: str | None = None,
        seed: int = 0,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__(name=name)
        for what, value in (("in_channels", in_channels), ("out_channels", out_channels),
                            ("groups", groups)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Conv2d: {what} must be a positive int, found {value!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"Conv2d: in_channels={in_channels} and out_channels={out_channels} must both "
                f"be divisible by groups={groups}"
            )
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel = _pair(kernel, "kernel")
        self.stride = _pair(stride, "stride")
        self.padding = _padding(padding)
        self.dilation = _pair(dilation, "dilation")
        self.groups = int(groups)
        kh, kw = self.kernel
        w_shape = (self.out_channels, self.in_channels // self.groups, kh, kw)
        self.weight = self._add_parameter("weight", np.zeros(w_shape, dtype), regularized=True)
        self.bias = (
            self._add_parameter("bias", np.zeros(self.out_channels, dtype), regularized=False)
            if bias
            else None
        )
        self.init_parameters(np.random.default_rng(seed))

    def init_parameters(self, rng: np.random.Generator) -> None:
        fan_in = int(np.prod(self.weight.shape[1:]))
        dtype = self.weight.value.dtype
        self.weight.value = _he_normal(rng, self.weight.shape, fan_in).astype(dtype)
        self.weight.zero_grad()
        if self.bias is not None:
            self.bias.value = np.zeros(self.out_channels, dtype)
            self.bias.zero_grad()

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_ndim(x, 4, "(N, C, H, W)")
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"Conv2d {self.name!r} expects {self.in_channels} input channels, found "
                f"{x.shape[1]} (input shape {x.shape}): in_channels must equal the previous "
                "conv layer's out_channels (or the image's colour channels)"
            )
        b = self.bias.value if self.bias is not None else None
        out, self._cache = F.conv2d_forward(
            x, self.weight.value, b, stride=self.stride, padding=self.padding,
            dilation=self.dilation, groups=self.groups,
        )
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx, dw, db = F.conv2d_backward(dout, self._cached())
        self.weight.accumulate(dw)
        if self.bias is not None:
            self.bias.accumulate(db)
        return dx

    def output_shape(self, in_shape: Shape) -> Shape:
        _, h, w = in_shape
        h_out, w_out = conv_output_size(
            (h, w), self.kernel, self.stride, self.padding, self.dilation
        )
        return (self.out_channels, h_out, w_out)

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel={_fmt(self.kernel)}"
        for key, default in (("stride", 1), ("padding", 0), ("dilation", 1)):
            value = getattr(self, key)
            if value != (default, default):
                text += f", {key}={_fmt(value)}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


def _fmt(pair: Any) -> str:
    if isinstance(pair, str) or not isinstance(pair[0], int):
        return repr(pair)
    return str(pair[0]) if pair[0] == pair[1] else str(pair)


class _Pool2d(Layer):
    _forward: ClassVar[Any]
    _backward: ClassVar[Any]

    def __init__(
        self,
        kernel: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: Padding = 0,
        ceil_mode: bool = False,
        *,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.kernel = _pair(kernel, "kernel")
        self.stride = self.kernel if stride is None else _pair(stride, "stride")
        self.padding = _padding(padding)
        self.ceil_mode = bool(ceil_mode)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_ndim(x, 4, "(N, C, H, W)")
        out, self._cache = type(self)._forward(
            x, kernel=self.kernel, stride=self.stride, padding=self.padding,
            ceil_mode=self.ceil_mode,
        )
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return type(self)._backward(dout, self._cached())

    def output_shape(self, in_shape: Shape) -> Shape:
        c, h, w = in_shape
        h_out, w_out = pool_output_size(
            (h, w), self.kernel, self.stride, self.padding, ceil_mode=self.ceil_mode
        )
        return (c, h_out, w_out)

    def extra_repr(self) -> str:
        text = f"kernel={_fmt(self.kernel)}"
        if self.stride != self.kernel:
            text += f", stride={_fmt(self.stride)}"
        if self.padding != (0, 0):
            text += f", padding={_fmt(self.padding)}"
        if self.ceil_mode:
            text += ", ceil_mode=True"
        return text


class MaxPool2d(_Pool2d):
    """Max pooling; ``stride`` defaults to ``kernel``.

    Backward routes each upstream gradient to its window's maximum, adding where
    windows overlap (see :func:`cnnlab.layers.max_pool2d_backward`).
    """

    kind = "maxpool"
    _forward = staticmethod(F.max_pool2d_forward)
    _backward = staticmethod(F.max_pool2d_backward)


class AvgPool2d(_Pool2d):
    """Average pooling; ``stride`` defaults to ``kernel``."""

    kind = "avgpool"
    _forward = staticmethod(F.avg_pool2d_forward)
    _backward = staticmethod(F.avg_pool2d_backward)


class ReLU(Layer):
    """Rectified linear unit, ``max(0, x)`` element-wise."""

    kind = "relu"

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, self._cache = F.relu_forward(x)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return F.relu_backward(dout, self._cached())

    def output_shape(self, in_shape: Shape) -> Shape:
        return tuple(in_shape)


class Flatten(Layer):
    """Reshape ``(N, C, H, W)`` to ``(N, C*H*W)``, channel-major like PyTorch."""

    kind = "flatten"

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not isinstance(x, np.ndarray) or x.ndim < 2:
            raise ValueError(
                f"Flatten {self.name!r} expects a batch (N, ...), found "
                f"{getattr(x, 'shape', type(x).__name__)}"
            )
        out, self._cache = F.flatten(x)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return F.flatten_backward(dout, self._cached())

    def output_shape(self, in_shape: Shape) -> Shape:
        return (int(np.prod(in_shape)),)


class Dense(Layer):
    """Fully connected layer, ``out = x @ W.T + b``.

    Parameters
    ----------
    in_features, out_features : int
        Input and output widths. After a Flatten, ``in_features = C*H*W`` of the
        feature map before it.
    bias : bool
        Add a learned bias per output.

    Notes
    -----
    The weight is ``(out_features, in_features)``: one row per output unit, as in
    :func:`cnnlab.layers.dense_forward` and PyTorch's ``nn.Linear``. He normal
    initialisation with ``fan_in = in_features``; the bias starts at zero.
    """

    kind = "dense"

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        name: str | None = None,
        seed: int = 0,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__(name=name)
        for what, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Dense: {what} must be a positive int, found {value!r}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = self._add_parameter(
            "weight", np.zeros((self.out_features, self.in_features), dtype),
            regularized=True,
        )
        self.bias = (
            self._add_parameter("bias", np.zeros(self.out_features, dtype), regularized=False)
            if bias
            else None
        )
        self.init_parameters(np.random.default_rng(seed))

    def init_parameters(self, rng: np.random.Generator) -> None:
        dtype = self.weight.value.dtype
        self.weight.value = _he_normal(rng, self.weight.shape, self.in_features).astype(dtype)
        self.weight.zero_grad()
        if self.bias is not None:
            self.bias.value = np.zeros(self.out_features, dtype)
            self.bias.zero_grad()

    def forward(self, x: np.ndarray) -> np.ndarray:
        if isinstance(x, np.ndarray) and x.ndim == 4:
            raise ValueError(
                f"Dense {self.name!r} received a 4-D feature map {x.shape}: put a Flatten "
                "layer between the last conv/pooling layer and the first Dense layer"
            )
        self._check_ndim(x, 2, "(N, in_features)")
        if x.shape[1] != self.in_features:
            raise ValueError(
                f"Dense {self.name!r} expects {self.in_features} input features, found "
                f"{x.shape[1]}: did the Flatten size change after you edited a conv or pooling "
                "layer? in_features must equal C*H*W of the feature map before Flatten"
            )
        b = self.bias.value if self.bias is not None else None
        out, self._cache = F.dense_forward(x, self.weight.value, b)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx, dw, db = F.dense_backward(dout, self._cached())
        self.weight.accumulate(dw)
        if self.bias is not None:
            self.bias.accumulate(db)
        return dx

    def output_shape(self, in_shape: Shape) -> Shape:
        if len(in_shape) != 1:
            raise ValueError(
                f"Dense {self.name!r} received a feature map of shape {tuple(in_shape)}: put a "
                "Flatten layer before it"
            )
        if in_shape[0] != self.in_features:
            raise ValueError(
                f"Dense {self.name!r} expects {self.in_features} input features, found "
                f"{in_shape[0]}: did the Flatten size change after you edited a conv or pooling "
                "layer? in_features must equal C*H*W of the feature map before Flatten"
            )
        return (self.out_features,)

    def extra_repr(self) -> str:
        text = f"{self.in_features}, {self.out_features}"
        return text if self.bias is not None else text + ", bias=False"


class Dropout(Layer):
    """Inverted dropout: in training, zero each unit with probability ``p``.

    Kept units are scaled by ``1 / (1 - p)`` during training, so evaluation mode is the
    identity and needs no rescaling.

    Parameters
    ----------
    p : float
        Drop probability, ``0 <= p < 1``.
    seed : int
        Seed of the mask generator (a :class:`~cnnlab.net.Sequential` re-seeds).

    References
    ----------
    Srivastava et al. "Dropout: A Simple Way to Prevent Neural Networks from
    Overfitting." JMLR 15, 2014.
    """

    kind = "dropout"

    def __init__(self, p: float = 0.5, *, name: str | None = None, seed: int = 0) -> None:
        super().__init__(name=name)
        if not 0.0 <= float(p) < 1.0:
            raise ValueError(f"Dropout: p is a drop probability in [0, 1), found {p!r}")
        self.p = float(p)
        self.rng = np.random.default_rng(seed)

    def init_parameters(self, rng: np.random.Generator) -> None:
        self.rng = np.random.default_rng(rng.integers(2**63))

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not self.training or self.p == 0.0:
            self._cache = None
            return x
        mask = (self.rng.random(x.shape) >= self.p).astype(x.dtype) / x.dtype.type(1.0 - self.p)
        self._cache = mask
        return x * mask

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if not self.training or self.p == 0.0:
            return dout
        return dout * self._cached()

    def output_shape(self, in_shape: Shape) -> Shape:
        return tuple(in_shape)

    def extra_repr(self) -> str:
        return f"p={self.p:g}"
