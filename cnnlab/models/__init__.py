"""Declarative network specs, the model zoo and :func:`summary` tables.

Pure arithmetic on shapes: nothing here allocates an array or runs a layer.

- :mod:`cnnlab.models.spec`: layer specs (``Input``, ``Conv2d``, ``MaxPool2d``, ``Dense``,
  ``BatchNorm2d``, ``BasicBlock``, ...) and the ``Sequential`` container;
- :mod:`cnnlab.models.summarize`: :func:`summary` and :class:`ModelSummary`;
- :mod:`cnnlab.models.zoo`: classic networks by name (``"vgg16"``, ``"resnet50"``, ...).

Examples
--------
>>> from cnnlab.models import Conv2d, Dense, Flatten, Input, Sequential, summary
>>> net = Sequential(Input(3, 32, 32), Conv2d(10, 5, padding=2), Flatten(), Dense(10))
>>> s = summary(net)
>>> s.row("conv1").output_shape, s.row("conv1").params    # CS231n: 10*(5*5*3 + 1)
((10, 32, 32), 760)
>>> s.total_params                                        # + 10*32*32*10 + 10
103170
"""

from __future__ import annotations

from cnnlab.models import zoo
from cnnlab.models.spec import (
    AvgPool2d,
    BasicBlock,
    BatchNorm2d,
    Bottleneck,
    Conv2d,
    Count,
    Dense,
    DepthwiseConv2d,
    Dropout,
    Flatten,
    GlobalAvgPool2d,
    Input,
    Layer,
    LocalResponseNorm,
    MaxPool2d,
    ReLU,
    Sequential,
    Tanh,
)
from cnnlab.models.summarize import LayerRow, ModelSummary, parse_shape, summary

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
    "LayerRow",
    "LocalResponseNorm",
    "MaxPool2d",
    "ModelSummary",
    "ReLU",
    "Sequential",
    "Tanh",
    "parse_shape",
    "summary",
    "zoo",
]
