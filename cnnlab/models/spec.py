"""Declarative layer specs: what a layer *is*, and what it costs, without any arrays.

A network is a :class:`Sequential` of layer specs. Each spec knows, for an input shape,
its output shape and its counts (:class:`Count`); nothing here computes a forward pass.

Shapes follow the course layout without the batch axis: ``(C, H, W)`` for images,
``(features,)`` after ``Flatten``. Input channels are never written: each layer takes
them from the previous layer's output, as Keras does.

Conventions (see ``docs/conventions.md``)
-----------------------------------------
- ``params = weights + biases + BatchNorm gamma/beta``; BatchNorm running mean and
  variance are ``buffers``, reported apart and not in the parameter total.
- ``activations`` are the values a layer stores in its output, per image. Elementwise
  activation functions, Dropout and Flatten are in place (or a view) and add 0;
  a ResNet block's addition is in place too (``out += identity``, as in torchvision).
- ``macs`` are multiply-accumulates of convolutions and dense layers only; bias
  additions, pooling, normalisation and activations are not counted.

Examples
--------
>>> net = Sequential(Input(3, 32, 32), Conv2d(8, 3, padding="same"), ReLU(), name="tiny")
>>> [(name, layer.kind) for name, layer in net.named_layers()]
[('input', 'Input'), ('conv1', 'Conv2d'), ('relu1', 'ReLU')]
>>> Conv2d(8, 3, padding="same").count((3, 32, 32)).params
224
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

from cnnlab.params import (
    activation_count,
    batchnorm_buffers,
    batchnorm_params,
    conv2d_macs,
    conv2d_params,
    dense_macs,
    dense_params,
)
from cnnlab.receptive import Window
from cnnlab.shapes import (
    Pair,
    PerSide,
    _as_int,
    _as_pair,
    conv_output_size,
    pool_output_size,
    resolve_padding,
)

__all__ = [
    "AvgPool2d",
    "BasicBlock",
    "BatchNorm2d",
    "Bottleneck",
    "Conv2d",
    "Count",
    "Dense",
    "DepthwiseConv2d",
    "Dropout",
    "Flatten",
    "GlobalAvgPool2d",
    "Input",
    "Layer",
    "LocalResponseNorm",
    "MaxPool2d",
    "ReLU",
    "Sequential",
    "Shape",
    "Tanh",
]

Shape = tuple[int, ...]
Padding = int | Pair | PerSide | str


@dataclass(frozen=True)
class Count:
    """What one layer produces and costs for one input shape (one image).

    Attributes
    ----------
    output_shape : tuple
        ``(C, H, W)`` or ``(features,)``.
    weights, biases, norm_params : int
        Multiplicative weights, additive biases, BatchNorm gamma and beta.
    buffers : int
        Non-trainable state (BatchNorm running mean and variance).
    activations : int
        Output values stored (0 for in-place layers).
    macs : int
        Multiply-accumulates (biases not counted).
    trainable : bool
        False when the layer is frozen (transfer learning).
    """

    output_shape: Shape
    weights: int = 0
    biases: int = 0
    norm_params: int = 0
    buffers: int = 0
    activations: int = 0
    macs: int = 0
    trainable: bool = True

    @property
    def params(self) -> int:
        return self.weights + self.biases + self.norm_params

    @property
    def trainable_params(self) -> int:
        return self.params if self.trainable else 0


# --- shape checks that speak to students ---------------------------------------------------


def _image(shape: Shape, kind: str) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ValueError(
            f"{kind} expects an image (C, H, W) but got a flat vector of shape {shape}: "
            "convolution, pooling and BatchNorm2d layers come before Flatten."
        )
    return shape[0], shape[1], shape[2]


def _flat(shape: Shape, kind: str) -> int:
    if len(shape) != 1:
        raise ValueError(
            f"{kind} expects a flat vector but got the image shape {shape}: add Flatten() "
            "before the first Dense layer (or GlobalAvgPool2d())."
        )
    return shape[0]


def _check_padding(padding: object) -> None:
    resolve_padding((1, 1), 1, 1, padding)  # type: ignore[arg-type]


def _check_bool(value: object, name: str) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}.")


# --- base class -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    """Base class of layer specs. Subclasses implement :meth:`count`."""

    name: str | None = field(default=None, kw_only=True)
    trainable: bool = field(default=True, kw_only=True)

    #: Prefix of automatic names (``conv1``, ``conv2``, ...).
    prefix: ClassVar[str] = "layer"
    #: Flatten, Dense and global pooling end the spatial part of a network.
    ends_spatial: ClassVar[bool] = False
    #: True for the ``Input`` marker only.
    is_input: ClassVar[bool] = False

    @property
    def kind(self) -> str:
        return type(self).__name__

    def count(self, input_shape: Shape) -> Count:  # pragma: no cover - abstract
        raise NotImplementedError

    def receptive_windows(self) -> list[Window]:
        """Sliding windows this layer applies (empty: the layer passes through)."""
        return []

    def children(self, input_shape: Shape) -> list[tuple[str, Layer, Count]]:
        """Inner layers of a block, with their counts (empty for plain layers)."""
        return []


# --- layers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Input(Layer):
    """The input of a network: ``Input(3, 224, 224)`` an RGB image, ``Input(2)`` a vector.

    Its row counts the input values as activations (the VGG16 table's first row).
    """

    channels: int
    height: int | None = None
    width: int | None = None

    prefix: ClassVar[str] = "input"
    is_input: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _as_int(self.channels, "channels", 1, "an input has at least one channel or feature")
        if (self.height is None) != (self.width is None):
            raise ValueError(
                f"Input({self.channels}, {self.height}, {self.width}): give both height and "
                "width for an image, or neither for a flat vector."
            )
        if self.height is not None:
            _as_pair((self.height, self.width), "input size", 1, "an image needs pixels")

    @property
    def shape(self) -> Shape:
        if self.height is None or self.width is None:
            return (self.channels,)
        return (self.channels, self.height, self.width)

    def count(self, input_shape: Shape | None = None) -> Count:
        return Count(self.shape, activations=activation_count(self.shape))


class _Convolution(Layer):
    """Shared counting of Conv2d and DepthwiseConv2d (fields live in the subclasses)."""

    kernel: int | Pair
    stride: int | Pair
    padding: Padding
    dilation: int | Pair
    bias: bool

    def _in_out(self, channels: int) -> tuple[int, int, int]:  # pragma: no cover - abstract
        """(in_channels, out_channels, groups) for an input with ``channels``."""
        raise NotImplementedError

    def _validate_window(self) -> None:
        _as_pair(self.kernel, "kernel", 1)
        _as_pair(self.stride, "stride", 1)
        _as_pair(self.dilation, "dilation", 1)
        _check_padding(self.padding)
        _check_bool(self.bias, "bias")

    def count(self, input_shape: Shape) -> Count:
        channels, height, width = _image(input_shape, self.kind)
        c_in, c_out, groups = self._in_out(channels)
        out = conv_output_size(
            (height, width), self.kernel, self.stride, self.padding, self.dilation
        )
        assert isinstance(out, tuple)
        return Count(
            output_shape=(c_out, *out),
            weights=conv2d_params(c_in, c_out, self.kernel, groups=groups, bias=False),
            biases=c_out if self.bias else 0,
            activations=c_out * out[0] * out[1],
            macs=conv2d_macs(c_in, c_out, self.kernel, out, groups=groups),
            trainable=self.trainable,
        )

    def receptive_windows(self) -> list[Window]:
        return [Window(self.kernel, self.stride, self.padding, self.dilation, self.name or "")]


@dataclass(frozen=True)
class Conv2d(_Convolution):
    """2-D convolution with ``out_channels`` filters; input channels come from the input.

    Notes
    -----
    ``H_out = floor((H + 2p - d*(KH - 1) - 1)/s) + 1``; weights ``(F, C/groups, KH, KW)``;
    MACs ``H_out*W_out*F*(C/groups)*KH*KW`` (no bias additions).
    """

    out_channels: int
    kernel: int | Pair
    stride: int | Pair = 1
    padding: Padding = 0
    dilation: int | Pair = 1
    groups: int = 1
    bias: bool = True

    prefix: ClassVar[str] = "conv"

    def __post_init__(self) -> None:
        _as_int(self.out_channels, "out_channels", 1, "a convolution needs at least one filter")
        _as_int(self.groups, "groups", 1, "groups=1 is an ordinary convolution")
        self._validate_window()

    def _in_out(self, channels: int) -> tuple[int, int, int]:
        return channels, self.out_channels, self.groups


@dataclass(frozen=True)
class DepthwiseConv2d(_Convolution):
    """Depthwise convolution: ``depth_multiplier`` filters per input channel (``groups = C``).

    ``DepthwiseConv2d(3)`` keeps the channel count, like Keras' ``DepthwiseConv2D``.
    """

    kernel: int | Pair
    stride: int | Pair = 1
    padding: Padding = 0
    dilation: int | Pair = 1
    depth_multiplier: int = 1
    bias: bool = True

    prefix: ClassVar[str] = "dwconv"

    def __post_init__(self) -> None:
        _as_int(self.depth_multiplier, "depth_multiplier", 1, "1 keeps the channel count")
        self._validate_window()

    def _in_out(self, channels: int) -> tuple[int, int, int]:
        return channels, channels * self.depth_multiplier, channels


@dataclass(frozen=True)
class MaxPool2d(Layer):
    """Max pooling; ``stride`` defaults to ``kernel``. No parameters, no MACs."""

    kernel: int | Pair
    stride: int | Pair | None = None
    padding: Padding = 0
    ceil_mode: bool = False

    prefix: ClassVar[str] = "maxpool"

    def __post_init__(self) -> None:
        _as_pair(self.kernel, "kernel", 1)
        if self.stride is not None:
            _as_pair(self.stride, "stride", 1)
        _check_padding(self.padding)
        _check_bool(self.ceil_mode, "ceil_mode")

    def count(self, input_shape: Shape) -> Count:
        channels, height, width = _image(input_shape, self.kind)
        out = pool_output_size(
            (height, width), self.kernel, self.stride, self.padding, ceil_mode=self.ceil_mode
        )
        assert isinstance(out, tuple)
        return Count((channels, *out), activations=channels * out[0] * out[1])

    def receptive_windows(self) -> list[Window]:
        stride = self.kernel if self.stride is None else self.stride
        return [
            Window(
                self.kernel,
                stride,
                self.padding,
                1,
                self.name or "",
                pool=True,
                ceil_mode=self.ceil_mode,
            )
        ]


@dataclass(frozen=True)
class AvgPool2d(MaxPool2d):
    """Average pooling; ``stride`` defaults to ``kernel``. No parameters, no MACs."""

    prefix: ClassVar[str] = "avgpool"


@dataclass(frozen=True)
class GlobalAvgPool2d(Layer):
    """Average over the whole of each channel: ``(C, H, W) -> (C,)``. Ends the spatial part."""

    prefix: ClassVar[str] = "avgpool"
    ends_spatial: ClassVar[bool] = True

    def count(self, input_shape: Shape) -> Count:
        channels, _, _ = _image(input_shape, self.kind)
        return Count((channels,), activations=channels)


@dataclass(frozen=True)
class _Elementwise(Layer):
    """A layer applied value by value, in place: same shape, nothing stored."""

    def count(self, input_shape: Shape) -> Count:
        return Count(tuple(input_shape))


@dataclass(frozen=True)
class ReLU(_Elementwise):
    """``max(x, 0)``, in place: 0 parameters, 0 extra activations."""

    prefix: ClassVar[str] = "relu"


@dataclass(frozen=True)
class Tanh(_Elementwise):
    """``tanh(x)`` (LeNet-5). Not in place: like PyTorch's ``nn.Tanh`` it stores a new
    tensor (its backward pass needs the output), so its output counts as activations."""

    prefix: ClassVar[str] = "tanh"

    def count(self, input_shape: Shape) -> Count:
        shape = tuple(input_shape)
        return Count(shape, activations=math.prod(shape))


@dataclass(frozen=True)
class Dropout(_Elementwise):
    """Dropout with probability ``p`` (in place; identity at inference)."""

    p: float = 0.5

    prefix: ClassVar[str] = "dropout"

    def __post_init__(self) -> None:
        if isinstance(self.p, bool) or not isinstance(self.p, (int, float)) or not 0 <= self.p < 1:
            raise ValueError(
                f"Dropout p is the probability of zeroing a value, so 0 <= p < 1; got {self.p!r}."
            )


@dataclass(frozen=True)
class BatchNorm2d(Layer):
    """Batch normalisation over channels: ``2C`` parameters (gamma, beta), ``2C`` buffers.

    Notes
    -----
    ``y = gamma * (x - mean) / sqrt(var + eps) + beta`` per channel. ``gamma`` and
    ``beta`` are learned; the running ``mean`` and ``var`` are buffers updated by
    averaging, reported apart and not counted as parameters.
    """

    prefix: ClassVar[str] = "bn"

    def count(self, input_shape: Shape) -> Count:
        channels, height, width = _image(input_shape, self.kind)
        return Count(
            tuple(input_shape),
            norm_params=batchnorm_params(channels),
            buffers=batchnorm_buffers(channels),
            activations=channels * height * width,
            trainable=self.trainable,
        )


@dataclass(frozen=True)
class LocalResponseNorm(Layer):
    """AlexNet's local response normalisation ("NORM"): 0 parameters, same shape.

    ``size`` is the number of neighbouring channels normalised together.
    """

    size: int = 5

    prefix: ClassVar[str] = "norm"

    def __post_init__(self) -> None:
        _as_int(self.size, "size", 1, "LRN normalises over at least one channel")

    def count(self, input_shape: Shape) -> Count:
        channels, height, width = _image(input_shape, self.kind)
        return Count(tuple(input_shape), activations=channels * height * width)


@dataclass(frozen=True)
class Flatten(Layer):
    """``(C, H, W) -> (C*H*W,)``: a view, so 0 activations. Ends the spatial part."""

    prefix: ClassVar[str] = "flatten"
    ends_spatial: ClassVar[bool] = True

    def count(self, input_shape: Shape) -> Count:
        return Count((activation_count(input_shape),))


@dataclass(frozen=True)
class Dense(Layer):
    """Fully connected layer: ``in*out`` weights, ``out`` biases, ``in*out`` MACs."""

    out_features: int
    bias: bool = True

    prefix: ClassVar[str] = "fc"
    ends_spatial: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _as_int(self.out_features, "out_features", 1, "a layer needs at least one unit")
        _check_bool(self.bias, "bias")

    def count(self, input_shape: Shape) -> Count:
        features = _flat(input_shape, self.kind)
        return Count(
            (self.out_features,),
            weights=dense_params(features, self.out_features, bias=False),
            biases=self.out_features if self.bias else 0,
            activations=self.out_features,
            macs=dense_macs(features, self.out_features),
            trainable=self.trainable,
        )


# --- residual blocks ----------------------------------------------------------------------------


def _run(layers: list[tuple[str, Layer]], shape: Shape) -> list[tuple[str, Layer, Count]]:
    counted = []
    for name, layer in layers:
        count = layer.count(shape)
        counted.append((name, layer, count))
        shape = count.output_shape
    return counted


class _ResidualBlock(Layer):
    """``relu(main(x) + shortcut(x))``; the shortcut is a 1x1 conv + BN when shapes change."""

    stride: int  # a field of each subclass

    prefix: ClassVar[str] = "block"

    def _out_channels(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def _main(self) -> list[tuple[str, Layer]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _shortcut(self, in_channels: int) -> list[tuple[str, Layer]]:
        if self.stride == 1 and in_channels == self._out_channels():
            return []
        return [
            ("downsample.0", Conv2d(self._out_channels(), 1, self.stride, bias=False)),
            ("downsample.1", BatchNorm2d()),
        ]

    def paths(self, in_channels: int) -> tuple[list[tuple[str, Layer]], list[tuple[str, Layer]]]:
        """``(main, shortcut)``: the named layers of each path (the shortcut is empty
        for the identity), as :func:`cnnlab.net.build` turns them into layers."""
        return self._main(), self._shortcut(in_channels)

    def children(self, input_shape: Shape) -> list[tuple[str, Layer, Count]]:
        channels, _, _ = _image(input_shape, self.kind)
        main_layers, shortcut_layers = self.paths(channels)
        main = _run(main_layers, tuple(input_shape))
        shortcut = _run(shortcut_layers, tuple(input_shape))
        out_shape = main[-1][2].output_shape
        skip_shape = shortcut[-1][2].output_shape if shortcut else tuple(input_shape)
        if skip_shape != out_shape:
            raise ValueError(
                f"{self.kind}: the main path gives {out_shape} but the shortcut gives "
                f"{skip_shape}; the two must match to be added."
            )
        frozen = [(name, layer, _freeze(count, self.trainable)) for name, layer, count in main]
        tail = [(name, layer, _freeze(count, self.trainable)) for name, layer, count in shortcut]
        ends = [("add", _Add(), Count(out_shape)), ("relu", ReLU(), Count(out_shape))]
        return [*frozen, *tail, *ends]

    def count(self, input_shape: Shape) -> Count:
        parts = [count for _, _, count in self.children(input_shape)]
        return Count(
            output_shape=parts[-1].output_shape,
            weights=sum(c.weights for c in parts),
            biases=sum(c.biases for c in parts),
            norm_params=sum(c.norm_params for c in parts),
            buffers=sum(c.buffers for c in parts),
            activations=sum(c.activations for c in parts),
            macs=sum(c.macs for c in parts),
            trainable=self.trainable,
        )

    def receptive_windows(self) -> list[Window]:
        return [w for _, layer in self._main() for w in layer.receptive_windows()]


def _freeze(count: Count, trainable: bool) -> Count:
    if trainable:
        return count
    return Count(**{**count.__dict__, "trainable": False})


@dataclass(frozen=True)
class _Add(_Elementwise):
    """The in-place addition of a residual block (``out += identity``)."""

    prefix: ClassVar[str] = "add"

    @property
    def kind(self) -> str:
        return "Add"


@dataclass(frozen=True)
class BasicBlock(_ResidualBlock):
    """ResNet-18/34 block: 3x3 conv (stride) - BN - ReLU - 3x3 conv - BN, plus shortcut.

    References
    ----------
    .. [1] K. He et al., "Deep Residual Learning for Image Recognition", CVPR 2016.
    """

    out_channels: int
    stride: int = 1

    def __post_init__(self) -> None:
        _as_int(self.out_channels, "out_channels", 1, "a block needs at least one channel")
        _as_int(self.stride, "stride", 1)

    def _out_channels(self) -> int:
        return self.out_channels

    def _main(self) -> list[tuple[str, Layer]]:
        c = self.out_channels
        return [
            ("conv1", Conv2d(c, 3, self.stride, 1, bias=False)),
            ("bn1", BatchNorm2d()),
            ("relu1", ReLU()),
            ("conv2", Conv2d(c, 3, 1, 1, bias=False)),
            ("bn2", BatchNorm2d()),
        ]


@dataclass(frozen=True)
class Bottleneck(_ResidualBlock):
    """ResNet-50 block: 1x1 (width) - 3x3 (width, stride) - 1x1 (width*expansion).

    The stride sits on the 3x3 convolution, as in torchvision ("ResNet v1.5"); the
    parameter count is the same either way.

    References
    ----------
    .. [1] K. He et al., "Deep Residual Learning for Image Recognition", CVPR 2016.
    """

    width: int
    stride: int = 1
    expansion: int = 4

    def __post_init__(self) -> None:
        _as_int(self.width, "width", 1, "a block needs at least one channel")
        _as_int(self.stride, "stride", 1)
        _as_int(self.expansion, "expansion", 1, "expansion multiplies the width")

    def _out_channels(self) -> int:
        return self.width * self.expansion

    def _main(self) -> list[tuple[str, Layer]]:
        w = self.width
        return [
            ("conv1", Conv2d(w, 1, bias=False)),
            ("bn1", BatchNorm2d()),
            ("relu1", ReLU()),
            ("conv2", Conv2d(w, 3, self.stride, 1, bias=False)),
            ("bn2", BatchNorm2d()),
            ("relu2", ReLU()),
            ("conv3", Conv2d(self._out_channels(), 1, bias=False)),
            ("bn3", BatchNorm2d()),
        ]


# --- the container ---------------------------------------------------------------------


class Sequential:
    """A named chain of layer specs, usually starting with :class:`Input`.

    Parameters
    ----------
    *layers : Layer
    name : str
    description : str
        One line for the zoo listing.

    Examples
    --------
    >>> net = Sequential(Input(2), Dense(4), ReLU(), Dense(1), name="eecs442")
    >>> net.input_shape
    (2,)
    """

    def __init__(self, *layers: Layer, name: str = "model", description: str = "") -> None:
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for position, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"layer {position + 1} of {name!r} is {layer!r} "
                    f"({type(layer).__name__}): expected a layer spec such as Conv2d(...). "
                    "Did you forget the parentheses, e.g. ReLU instead of ReLU()?"
                )
            if layer.is_input and position != 0:
                raise ValueError(
                    f"Input must be the first layer of {name!r}, found it at position "
                    f"{position + 1}."
                )
        self.layers: tuple[Layer, ...] = tuple(layers)
        self.name = name
        self.description = description
        self.named_layers()  # fail early on duplicate names

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Sequential({inner}, name={self.name!r})"

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    @property
    def input_shape(self) -> Shape | None:
        """The shape given by the first layer when it is an :class:`Input`, else None."""
        if self.layers and isinstance(self.layers[0], Input):
            return self.layers[0].shape
        return None

    def with_input(self, shape: Shape) -> Sequential:
        """The same network on another input shape (replacing or adding the Input)."""
        layers = self.layers[1:] if self.input_shape is not None else self.layers
        return Sequential(Input(*shape), *layers, name=self.name, description=self.description)

    def named_layers(self) -> list[tuple[str, Layer]]:
        """``(name, layer)`` pairs; unnamed layers get ``conv1``, ``relu2``, ... by kind."""
        taken = {layer.name for layer in self.layers if layer.name}
        counters: dict[str, int] = {}
        named = []
        seen: set[str] = set()
        for layer in self.layers:
            name = layer.name
            if name is None:
                if layer.is_input:
                    name = "input"
                else:
                    while True:
                        counters[layer.prefix] = counters.get(layer.prefix, 0) + 1
                        name = f"{layer.prefix}{counters[layer.prefix]}"
                        if name not in taken:
                            break
            if name in seen:
                raise ValueError(
                    f"two layers of {self.name!r} are named {name!r}: names must differ."
                )
            seen.add(name)
            named.append((name, layer))
        return named
