"""Turn a declarative :mod:`cnnlab.models` spec into a trainable :class:`Sequential`.

A spec says what a network *is* (and :func:`cnnlab.models.summary` counts it); this
module gives it weights. Input channels and Dense input widths are read off the spec's
shapes, layer names are kept, and layers marked ``trainable=False`` start frozen.

Examples
--------
>>> from cnnlab import models
>>> spec = models.Sequential(models.Input(1, 8, 8), models.Conv2d(4, 3, padding=1),
...                          models.ReLU(), models.MaxPool2d(2), models.Flatten(),
...                          models.Dense(10))
>>> net = build(spec, seed=0)
>>> net.num_parameters() == models.summary(spec).total_params
True
>>> [layer.name for layer in net]
['conv1', 'relu1', 'maxpool1', 'flatten1', 'fc1']
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnlab.net.modules import AvgPool2d, Conv2d, Dense, Dropout, Flatten, Layer, MaxPool2d, ReLU
from cnnlab.net.residual import BatchNorm2d, GlobalAvgPool2d, ResidualBlock
from cnnlab.net.sequential import Sequential

__all__ = ["build"]


def _convert(spec_layer: Any, name: str, shape: tuple[int, ...]) -> list[Layer]:
    from cnnlab import models

    kind = type(spec_layer)
    name = name.replace(".", "_")  # "layer1.0" -> "layer1_0": "." separates parameter names
    if kind is models.Conv2d:
        return [Conv2d(shape[0], spec_layer.out_channels, spec_layer.kernel, spec_layer.stride,
                       spec_layer.padding, spec_layer.dilation, spec_layer.groups,
                       spec_layer.bias, name=name)]
    if kind is models.DepthwiseConv2d:
        channels = shape[0]
        return [Conv2d(channels, channels * spec_layer.depth_multiplier, spec_layer.kernel,
                       spec_layer.stride, spec_layer.padding, spec_layer.dilation,
                       groups=channels, bias=spec_layer.bias, name=name)]
    if kind in (models.MaxPool2d, models.AvgPool2d):
        pool = MaxPool2d if kind is models.MaxPool2d else AvgPool2d
        return [pool(spec_layer.kernel, spec_layer.stride, spec_layer.padding,
                     spec_layer.ceil_mode, name=name)]
    if kind is models.GlobalAvgPool2d:
        return [GlobalAvgPool2d(name=name)]
    if kind is models.BatchNorm2d:
        return [BatchNorm2d(shape[0], name=name)]
    if kind in (models.BasicBlock, models.Bottleneck):
        main, shortcut = spec_layer.paths(shape[0])
        return [ResidualBlock(_convert_path(main, shape), _convert_path(shortcut, shape),
                              name=name)]
    if kind is models.ReLU:
        return [ReLU(name=name)]
    if kind is models.Dropout:
        return [Dropout(spec_layer.p, name=name)]
    if kind is models.Flatten:
        return [Flatten(name=name)]
    if kind is models.Dense:
        return [Dense(shape[0], spec_layer.out_features, spec_layer.bias, name=name)]
    raise TypeError(
        f"build: layer {name!r} is a {kind.__name__}, which cnnlab.net cannot train yet "
        "(supported: Conv2d, DepthwiseConv2d, MaxPool2d, AvgPool2d, GlobalAvgPool2d, "
        "BatchNorm2d, BasicBlock, Bottleneck, ReLU, Dropout, Flatten, Dense)"
    )


def _convert_path(named: list[tuple[str, Any]], shape: tuple[int, ...]) -> list[Layer]:
    """The layers of one path of a residual block, each given the shape it receives."""
    layers: list[Layer] = []
    for name, spec_layer in named:
        layers.extend(_convert(spec_layer, name, shape))
        shape = spec_layer.count(shape).output_shape
    return layers


def build(
    spec: Any,
    *,
    input_shape: tuple[int, ...] | None = None,
    seed: int = 0,
    dtype: Any = np.float32,
) -> Sequential:
    """A trainable network with the architecture of a :class:`cnnlab.models.Sequential`.

    Parameters
    ----------
    spec : cnnlab.models.Sequential
        Usually starting with ``Input(C, H, W)``.
    input_shape : tuple of int, optional
        ``(C, H, W)``; required when the spec has no ``Input``, overrides it otherwise.
    seed : int, default 0
        Seeds the He initialisation.
    dtype : numpy dtype, default float32

    Returns
    -------
    Sequential
        Same layer names as ``spec.named_layers()``, with ``.`` written ``_``
        (``layer1.0`` becomes ``layer1_0``, whose parameters are
        ``layer1_0.conv1.weight``, ...); residual blocks become
        :class:`~cnnlab.net.ResidualBlock` layers. The parameter count equals
        ``cnnlab.models.summary(spec).total_params``.

    Raises
    ------
    TypeError
        For spec layers without a trainable counterpart (Tanh, LocalResponseNorm).
    """
    from cnnlab import models

    if not isinstance(spec, models.Sequential):
        raise TypeError(f"build: expected a cnnlab.models.Sequential, found {type(spec).__name__}")
    shape = tuple(input_shape) if input_shape is not None else spec.input_shape
    if shape is None:
        raise ValueError(
            f"build: spec {spec.name!r} has no Input layer; pass input_shape=(C, H, W)"
        )
    start = tuple(shape)
    layers: list[Layer] = []
    frozen: list[str] = []
    for name, spec_layer in spec.named_layers():
        if spec_layer.is_input:
            continue
        converted = _convert(spec_layer, name, shape)
        if not spec_layer.trainable:
            frozen.extend(layer.name for layer in converted if layer.parameters())
        layers.extend(converted)
        shape = spec_layer.count(shape).output_shape
    model = Sequential(layers, seed=seed, dtype=dtype, input_shape=start)
    if frozen:
        model.freeze(frozen)
    return model
