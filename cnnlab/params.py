"""Parameter, multiply-accumulate and activation counts of single layers.

Pure integer arithmetic, like :mod:`cnnlab.shapes`: no arrays, no layers engine.
:mod:`cnnlab.models` adds these up over whole networks.

Conventions (also in ``docs/conventions.md``)
---------------------------------------------
- *Parameters* are weights plus biases. BatchNorm's ``gamma`` and ``beta`` are
  parameters; its running mean and variance are *buffers*, reported apart and never
  added to the parameter total (Keras lists them as "non-trainable params").
- A *MAC* is one multiply-accumulate ``acc += w * x``. Bias additions are **not**
  MACs (fvcore's convention, and the MobileNet paper's "mult-adds"); torchinfo adds
  the bias to its "Mult-Adds", so its conv figures are higher by ``H_out*W_out*F``.
  One MAC is two FLOPs for tools that count multiplies and adds separately.
- *Activations* are stored output values, counted per image (batch size 1).

Examples
--------
>>> conv2d_params(3, 16, 3)                 # CS109B: 16 filters of 3x3 on RGB
448
>>> dense_params(16 * 16 * 16, 512) + dense_params(512, 4)
2099716
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from cnnlab.shapes import Pair, _as_int, _as_pair, conv_output_size

__all__ = [
    "BottleneckComparison",
    "SeparableComparison",
    "activation_bytes",
    "activation_count",
    "batchnorm_buffers",
    "batchnorm_params",
    "bottleneck_comparison",
    "conv2d_macs",
    "conv2d_params",
    "dense_macs",
    "dense_params",
    "densenet_channels",
    "depthwise_separable_macs",
    "depthwise_separable_params",
    "dtype_size",
    "format_bytes",
    "mlp_params",
    "separable_comparison",
]

_COUNT_HINT = "a layer needs at least one channel or feature"

#: Bytes per value of the dtypes a course meets (no NumPy needed).
DTYPE_SIZES = {
    "float64": 8,
    "float32": 4,
    "float16": 2,
    "bfloat16": 2,
    "int64": 8,
    "int32": 4,
    "int16": 2,
    "int8": 1,
    "uint8": 1,
    "bool": 1,
}


def _count(value: object, name: str) -> int:
    return _as_int(value, name, 1, _COUNT_HINT)


def _check_bool(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return value


def _channels_per_group(in_channels: int, out_channels: int, groups: object) -> int:
    groups = _as_int(groups, "groups", 1, "groups=1 is an ordinary convolution")
    for name, channels in (("in_channels", in_channels), ("out_channels", out_channels)):
        if channels % groups:
            raise ValueError(
                f"{name} {channels} is not divisible by groups {groups}: the channels are "
                "split into equal groups, so groups must divide both in_channels and "
                f"out_channels (a depthwise convolution has groups == in_channels)."
            )
    return in_channels // groups


# --- convolution -----------------------------------------------------------------------


def conv2d_params(
    in_channels: int,
    out_channels: int,
    kernel: int | Pair,
    *,
    groups: int = 1,
    bias: bool = True,
) -> int:
    """Learnable parameters of a 2-D convolution.

    Parameters
    ----------
    in_channels : int
        ``C``, channels of the input.
    out_channels : int
        ``F``, number of filters.
    kernel : int or (KH, KW)
    groups : int, default 1
        Channel groups; ``groups == in_channels`` is a depthwise convolution.
    bias : bool, default True
        One bias per filter.

    Returns
    -------
    int
        ``F * (C/groups) * KH * KW`` weights, plus ``F`` biases if ``bias``.

    Notes
    -----
    Weights have shape ``(F, C/groups, KH, KW)``: every filter spans all the input
    channels of its group. The input's height and width do not matter (weight sharing).

    References
    ----------
    .. [1] CS231n, "Convolutional Networks" notes: ``(F*F*C)*K`` weights and ``K``
       biases.

    Examples
    --------
    >>> conv2d_params(3, 1, 3)      # CS109B: one 3x3 filter on RGB, 1*(3*3*3) + 1
    28
    >>> conv2d_params(3, 96, 11, bias=False)   # AlexNet conv1 weights
    34848
    >>> conv2d_params(32, 32, 3, groups=32)    # depthwise 3x3
    320
    """
    in_channels = _count(in_channels, "in_channels")
    out_channels = _count(out_channels, "out_channels")
    kh, kw = _as_pair(kernel, "kernel", 1)
    per_group = _channels_per_group(in_channels, out_channels, groups)
    biases = out_channels if _check_bool(bias, "bias") else 0
    return out_channels * per_group * kh * kw + biases


def conv2d_macs(
    in_channels: int,
    out_channels: int,
    kernel: int | Pair,
    output_size: int | Pair,
    *,
    groups: int = 1,
) -> int:
    """Multiply-accumulates of a 2-D convolution, one image.

    Parameters
    ----------
    in_channels, out_channels : int
        ``C`` and ``F``.
    kernel : int or (KH, KW)
    output_size : int or (H_out, W_out)
        The *output* grid (see :func:`cnnlab.shapes.conv_output_size`).
    groups : int, default 1

    Returns
    -------
    int
        ``H_out * W_out * F * (C/groups) * KH * KW``.

    Notes
    -----
    Each of the ``H_out*W_out*F`` outputs is a dot product of length
    ``(C/groups)*KH*KW``. Bias additions are not counted (fvcore's convention;
    torchinfo adds ``H_out*W_out*F`` for them).

    References
    ----------
    .. [1] A. G. Howard et al., "MobileNets", arXiv:1704.04861, 2017, section 3.1.

    Examples
    --------
    >>> conv2d_macs(3, 256, 5, 8)    # 5x5 conv, 3 -> 256 channels, 8x8 output
    1228800
    """
    in_channels = _count(in_channels, "in_channels")
    out_channels = _count(out_channels, "out_channels")
    kh, kw = _as_pair(kernel, "kernel", 1)
    h_out, w_out = _as_pair(output_size, "output_size", 1, "an output has at least one pixel")
    per_group = _channels_per_group(in_channels, out_channels, groups)
    return h_out * w_out * out_channels * per_group * kh * kw


def depthwise_separable_params(
    in_channels: int,
    out_channels: int,
    kernel: int | Pair,
    *,
    depth_multiplier: int = 1,
    bias: bool = True,
) -> int:
    """Parameters of a depthwise convolution followed by a 1x1 (pointwise) one.

    Returns
    -------
    int
        ``(C*m*KH*KW + C*m) + (C*m*F + F)`` with biases (``m`` the depth multiplier),
        ``C*m*KH*KW + C*m*F`` without.

    Notes
    -----
    The depthwise step filters each channel on its own (``groups = C``); the pointwise
    step mixes channels. MobileNet uses ``bias=False`` and a BatchNorm after each step.

    References
    ----------
    .. [1] A. G. Howard et al., "MobileNets", arXiv:1704.04861, 2017.

    Examples
    --------
    >>> depthwise_separable_params(3, 256, 5)   # CS109B: (5*5*3 + 3) + (1*1*3*256 + 256)
    1102
    """
    in_channels = _count(in_channels, "in_channels")
    multiplier = _as_int(depth_multiplier, "depth_multiplier", 1, "1 keeps the channel count")
    mid = in_channels * multiplier
    depthwise = conv2d_params(in_channels, mid, kernel, groups=in_channels, bias=bias)
    return depthwise + conv2d_params(mid, out_channels, 1, bias=bias)


def depthwise_separable_macs(
    in_channels: int,
    out_channels: int,
    kernel: int | Pair,
    output_size: int | Pair,
    *,
    depth_multiplier: int = 1,
) -> int:
    """Multiply-accumulates of a depthwise-separable convolution, one image.

    Returns
    -------
    int
        ``H_out*W_out*C*m*KH*KW + H_out*W_out*C*m*F``.

    Notes
    -----
    Both steps produce the same ``H_out x W_out`` grid: the pointwise 1x1 convolution
    does not change it. Relative to a standard convolution the cost is
    ``1/F + 1/(KH*KW)`` (MobileNet, eq. 5).

    References
    ----------
    .. [1] A. G. Howard et al., "MobileNets", arXiv:1704.04861, 2017, section 3.1.

    Examples
    --------
    >>> depthwise_separable_macs(3, 256, 5, 8)   # 5*5*3*8*8 + 3*256*8*8
    53952
    """
    in_channels = _count(in_channels, "in_channels")
    multiplier = _as_int(depth_multiplier, "depth_multiplier", 1, "1 keeps the channel count")
    mid = in_channels * multiplier
    depthwise = conv2d_macs(in_channels, mid, kernel, output_size, groups=in_channels)
    return depthwise + conv2d_macs(mid, out_channels, 1, output_size)


# --- dense and normalisation -------------------------------------------------------------


def dense_params(in_features: int, out_features: int, *, bias: bool = True) -> int:
    """Parameters of a fully connected layer: ``in*out`` weights plus ``out`` biases.

    Examples
    --------
    >>> dense_params(7 * 7 * 512, 4096, bias=False)   # VGG16 fc6 weights
    102760448
    """
    in_features = _count(in_features, "in_features")
    out_features = _count(out_features, "out_features")
    return in_features * out_features + (out_features if _check_bool(bias, "bias") else 0)


def dense_macs(in_features: int, out_features: int) -> int:
    """Multiply-accumulates of a fully connected layer, one input: ``in*out``.

    Examples
    --------
    >>> dense_macs(4096, 1000)
    4096000
    """
    return _count(in_features, "in_features") * _count(out_features, "out_features")


def mlp_params(sizes: Sequence[int], *, bias: bool = True) -> int:
    """Parameters of a chain of fully connected layers ``sizes[0] -> ... -> sizes[-1]``.

    Examples
    --------
    >>> mlp_params([2, 4, 1])        # EECS 442: weights 2*4 + 4*1 = 12, biases 4 + 1
    17
    >>> mlp_params([2, 4, 4, 3])     # weights 2*4 + 4*4 + 4*3 = 36, biases 11
    47
    """
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(
            f"mlp_params needs at least an input and an output size, got {sizes}: "
            "a network [2, 4, 1] has 2 inputs, 4 hidden units and 1 output."
        )
    return sum(dense_params(a, b, bias=bias) for a, b in pairwise(sizes))


def batchnorm_params(channels: int) -> int:
    """Trainable parameters of BatchNorm: ``gamma`` and ``beta``, ``2*C``.

    The running mean and variance are buffers: see :func:`batchnorm_buffers`.

    Examples
    --------
    >>> batchnorm_params(64)
    128
    """
    return 2 * _count(channels, "channels")


def batchnorm_buffers(channels: int) -> int:
    """Non-trainable running statistics of BatchNorm: mean and variance, ``2*C``.

    Notes
    -----
    They are updated by averaging, not by gradient descent, so cnnlab does not count
    them as parameters. Keras shows them as "non-trainable params"; PyTorch also keeps
    a one-value ``num_batches_tracked`` counter, not counted here.

    Examples
    --------
    >>> batchnorm_buffers(64)
    128
    """
    return 2 * _count(channels, "channels")


# --- activations and memory ----------------------------------------------------------------


def activation_count(shape: Iterable[int]) -> int:
    """Values in one activation tensor of ``shape`` (per image, no batch axis).

    Examples
    --------
    >>> activation_count((64, 224, 224))
    3211264
    """
    total = 1
    for size in shape:
        total *= _as_int(size, "shape entry", 1, "every axis of a tensor has a length")
    return total


def dtype_size(dtype: str = "float32") -> int:
    """Bytes per value of ``dtype`` (a name such as ``'float32'``).

    Examples
    --------
    >>> dtype_size("float16")
    2
    """
    name = str(dtype).removeprefix("torch.").removeprefix("np.")
    if name not in DTYPE_SIZES:
        known = ", ".join(DTYPE_SIZES)
        raise ValueError(f"unknown dtype {dtype!r}: expected one of {known}.")
    return DTYPE_SIZES[name]


def activation_bytes(values: int, dtype: str = "float32") -> int:
    """Bytes needed to store ``values`` numbers of ``dtype``.

    Examples
    --------
    >>> activation_bytes(15_237_608)      # VGG16 forward activations, float32
    60950432
    """
    return _as_int(values, "values", 0, "a count cannot be negative") * dtype_size(dtype)


def format_bytes(nbytes: int) -> str:
    """Bytes spelled out with both binary (MiB) and decimal (MB) units.

    torchsummary prints MiB labelled "MB"; cnnlab names both so nobody has to guess.

    Examples
    --------
    >>> format_bytes(60_950_432)
    '60,950,432 bytes = 58.13 MiB = 60.95 MB'
    """
    nbytes = _as_int(nbytes, "nbytes", 0, "a size cannot be negative")
    return f"{nbytes:,} bytes = {nbytes / 2**20:.2f} MiB = {nbytes / 1e6:.2f} MB"


# --- lecture comparisons ---------------------------------------------------------------------


@dataclass(frozen=True)
class SeparableComparison:
    """A standard convolution against a depthwise-separable one on the same input."""

    output_size: Pair
    standard_params: int
    separable_params: int
    standard_macs: int
    separable_macs: int

    @property
    def mac_ratio(self) -> float:
        """``separable_macs / standard_macs``, equal to ``1/F + 1/(KH*KW)``."""
        return self.separable_macs / self.standard_macs

    @property
    def param_ratio(self) -> float:
        return self.separable_params / self.standard_params


def separable_comparison(
    in_channels: int,
    out_channels: int,
    kernel: int | Pair,
    input_size: int | Pair,
    *,
    padding: int | Pair | str = 0,
    bias: bool = True,
) -> SeparableComparison:
    """Cost of a standard convolution versus a depthwise-separable one (MobileNet).

    Notes
    -----
    The CS109B MobileNet slide takes a 12x12x3 input, a 5x5 kernel and 256 filters.
    Without padding the output is 8x8 for *both* versions; the slide multiplies the
    standard and depthwise costs by 12*12 and the pointwise cost by 8*8. With
    ``padding='same'`` every grid is 12x12. Either way the ratio is ``1/F + 1/K^2``.

    References
    ----------
    .. [1] A. G. Howard et al., "MobileNets", arXiv:1704.04861, 2017.

    Examples
    --------
    >>> c = separable_comparison(3, 256, 5, 12)
    >>> c.output_size, c.standard_macs, c.separable_macs
    ((8, 8), 1228800, 53952)
    >>> c.standard_params, c.separable_params
    (19456, 1102)
    """
    size = input_size if isinstance(input_size, (tuple, list)) else (input_size, input_size)
    output = conv_output_size(tuple(size), kernel, 1, padding)
    assert isinstance(output, tuple)
    return SeparableComparison(
        output_size=output,
        standard_params=conv2d_params(in_channels, out_channels, kernel, bias=bias),
        separable_params=depthwise_separable_params(in_channels, out_channels, kernel, bias=bias),
        standard_macs=conv2d_macs(in_channels, out_channels, kernel, output),
        separable_macs=depthwise_separable_macs(in_channels, out_channels, kernel, output),
    )


@dataclass(frozen=True)
class BottleneckComparison:
    """A wide convolution with and without a 1x1 channel reduction first (Inception)."""

    direct_params: int
    bottleneck_params: int
    direct_macs: int
    bottleneck_macs: int

    @property
    def mac_ratio(self) -> float:
        return self.bottleneck_macs / self.direct_macs


def bottleneck_comparison(
    in_channels: int,
    out_channels: int,
    kernel: int | Pair,
    size: int | Pair,
    reduced_channels: int,
    *,
    bias: bool = True,
) -> BottleneckComparison:
    """A ``kernel`` convolution ``in -> out`` against ``1x1 in -> reduced`` then ``kernel``.

    Both keep the ``size`` grid ('same' padding, stride 1), as in an Inception module.

    Notes
    -----
    Direct: ``H*W*F*C*K*K`` MACs. With the bottleneck:
    ``H*W*R*C + H*W*F*R*K*K``.

    References
    ----------
    .. [1] C. Szegedy et al., "Going deeper with convolutions", CVPR 2015.

    Examples
    --------
    >>> c = bottleneck_comparison(192, 32, 5, 28, reduced_channels=16)
    >>> c.direct_macs, c.bottleneck_macs      # about 120M against 12.4M
    (120422400, 12443648)
    """
    grid = _as_pair(size, "size", 1, "an image has at least one pixel")
    direct = conv2d_params(in_channels, out_channels, kernel, bias=bias)
    reduce = conv2d_params(in_channels, reduced_channels, 1, bias=bias)
    wide = conv2d_params(reduced_channels, out_channels, kernel, bias=bias)
    return BottleneckComparison(
        direct_params=direct,
        bottleneck_params=reduce + wide,
        direct_macs=conv2d_macs(in_channels, out_channels, kernel, grid),
        bottleneck_macs=conv2d_macs(in_channels, reduced_channels, 1, grid)
        + conv2d_macs(reduced_channels, out_channels, kernel, grid),
    )


def densenet_channels(layer: int, initial_channels: int, growth_rate: int) -> int:
    """Input channels of layer ``l`` in a DenseNet block: ``k_0 + k*(l - 1)``.

    Each layer adds ``growth_rate`` feature maps, and every layer sees the
    concatenation of all earlier ones.

    References
    ----------
    .. [1] G. Huang et al., "Densely Connected Convolutional Networks", CVPR 2017.

    Examples
    --------
    >>> [densenet_channels(layer, 64, 32) for layer in (1, 2, 3, 6)]
    [64, 96, 128, 224]
    """
    layer = _as_int(layer, "layer", 1, "layers are numbered from 1")
    initial = _count(initial_channels, "initial_channels")
    growth = _count(growth_rate, "growth_rate")
    return initial + growth * (layer - 1)
