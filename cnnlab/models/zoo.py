"""Classic networks as layer specs, by name: ``get("vgg16")``, ``summary("resnet50")``.

Every network is built from its paper or from the lecture that teaches it; the
published totals they reproduce are tested in ``tests/test_zoo.py`` and discussed in
``docs/conventions.md``.

=====================  ===========  ===================================================
name                   parameters   built as
=====================  ===========  ===================================================
cs109b_example         2,103,156    CS109B lecture 11's worked example
lenet5                 61,706       LeNet-5 with full C3 connections, Tanh, Dense output
alexnet                62,378,344   the CS231n lecture's AlexNet (227x227, 96 conv1
                                    filters, one GPU, NORM layers)
alexnet_torchvision    61,100,840   torchvision's variant (224x224, 64 conv1 filters)
zfnet                  see docs     AlexNet with 7x7/2 conv1 and 512/1024/512 filters
vgg16                  138,357,544  VGG configuration D
vgg19                  143,667,240  VGG configuration E
resnet18               11,689,512   BasicBlock [2, 2, 2, 2]
resnet34               21,797,672   BasicBlock [3, 4, 6, 3]
resnet50               25,557,032   Bottleneck [3, 4, 6, 3]
mobilenet_v1           4,231,976    width 1.0, 224x224
=====================  ===========  ===================================================

Examples
--------
>>> names()[:3]
['cs109b_example', 'lenet5', 'alexnet']
>>> get("vgg16").input_shape
(3, 224, 224)
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

from cnnlab.models.spec import (
    AvgPool2d,
    BasicBlock,
    BatchNorm2d,
    Bottleneck,
    Conv2d,
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

__all__ = ["ZooEntry", "describe", "get", "names"]


@dataclass(frozen=True)
class ZooEntry:
    """A named network: how to build it, one line about it and its source."""

    name: str
    description: str
    reference: str
    build: Callable[[], Sequential]


_ZOO: dict[str, ZooEntry] = {}


def _register(name: str, description: str, reference: str):  # type: ignore[no-untyped-def]
    def decorator(build: Callable[[], list[Layer]]) -> Callable[[], list[Layer]]:
        def make() -> Sequential:
            return Sequential(*build(), name=name, description=description)

        _ZOO[name] = ZooEntry(name, description, reference, make)
        return build

    return decorator


def names() -> list[str]:
    """Zoo names, in teaching order."""
    return list(_ZOO)


def _squash(name: str) -> str:
    """``'VGG-16'``, ``'vgg_16'`` and ``'vgg16'`` are the same name."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


def describe(name: str) -> ZooEntry:
    """The :class:`ZooEntry` for ``name`` (description, reference, builder)."""
    squashed = {_squash(known): known for known in _ZOO}
    key = squashed.get(_squash(str(name)))
    if key is None:
        close = difflib.get_close_matches(str(name).lower(), list(_ZOO), n=3)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"unknown model {name!r}: the zoo has {', '.join(_ZOO)}.{hint}")
    return _ZOO[key]


def get(name: str) -> Sequential:
    """A fresh :class:`Sequential` for the zoo network ``name``."""
    return describe(name).build()


# --- the lecture examples -------------------------------------------------------------------


@_register(
    "cs109b_example",
    "CS109B lecture 11: 32x32x3 -> conv 8 3x3 same -> conv 16 5x5/2 same -> dense 512 -> 4",
    "CS109B lecture 11 (CNN 2), parameter-counting example",
)
def _cs109b_example() -> list[Layer]:
    return [
        Input(3, 32, 32),
        Conv2d(8, 3, 1, "same", name="conv1"),
        ReLU(),
        Conv2d(16, 5, 2, "same", name="conv2"),
        ReLU(),
        Flatten(),
        Dense(512, name="dense1"),
        ReLU(),
        Dense(4, name="dense2"),
    ]


@_register(
    "lenet5",
    "LeNet-5 on 32x32 digits: conv-pool-conv-pool-conv-FC (full C3, Tanh, Dense output)",
    "Y. LeCun et al., Gradient-based learning applied to document recognition, 1998",
)
def _lenet5() -> list[Layer]:
    return [
        Input(1, 32, 32),
        Conv2d(6, 5, name="c1"),
        Tanh(),
        AvgPool2d(2, name="s2"),
        Conv2d(16, 5, name="c3"),
        Tanh(),
        AvgPool2d(2, name="s4"),
        Conv2d(120, 5, name="c5"),
        Tanh(),
        Flatten(),
        Dense(84, name="f6"),
        Tanh(),
        Dense(10, name="output"),
    ]


def _alexnet_head(flat_name: str = "flatten") -> list[Layer]:
    return [
        Flatten(name=flat_name),
        Dense(4096, name="fc6"),
        ReLU(),
        Dropout(0.5),
        Dense(4096, name="fc7"),
        ReLU(),
        Dropout(0.5),
        Dense(1000, name="fc8"),
    ]


@_register(
    "alexnet",
    "AlexNet as taught in CS231n: 227x227x3, 96 11x11/4 filters, NORM layers, one GPU",
    "A. Krizhevsky, I. Sutskever, G. Hinton, NIPS 2012; CS231n lecture slides",
)
def _alexnet() -> list[Layer]:
    return [
        Input(3, 227, 227),
        Conv2d(96, 11, 4, 0, name="conv1"),
        ReLU(),
        MaxPool2d(3, 2, name="pool1"),
        LocalResponseNorm(5, name="norm1"),
        Conv2d(256, 5, 1, 2, name="conv2"),
        ReLU(),
        MaxPool2d(3, 2, name="pool2"),
        LocalResponseNorm(5, name="norm2"),
        Conv2d(384, 3, 1, 1, name="conv3"),
        ReLU(),
        Conv2d(384, 3, 1, 1, name="conv4"),
        ReLU(),
        Conv2d(256, 3, 1, 1, name="conv5"),
        ReLU(),
        MaxPool2d(3, 2, name="pool3"),
        *_alexnet_head(),
    ]


@_register(
    "alexnet_torchvision",
    "torchvision's AlexNet: 224x224x3, 64 11x11/4 filters with padding 2, no NORM",
    "torchvision.models.alexnet; A. Krizhevsky, One weird trick..., arXiv:1404.5997",
)
def _alexnet_torchvision() -> list[Layer]:
    return [
        Input(3, 224, 224),
        Conv2d(64, 11, 4, 2, name="conv1"),
        ReLU(),
        MaxPool2d(3, 2, name="pool1"),
        Conv2d(192, 5, 1, 2, name="conv2"),
        ReLU(),
        MaxPool2d(3, 2, name="pool2"),
        Conv2d(384, 3, 1, 1, name="conv3"),
        ReLU(),
        Conv2d(256, 3, 1, 1, name="conv4"),
        ReLU(),
        Conv2d(256, 3, 1, 1, name="conv5"),
        ReLU(),
        MaxPool2d(3, 2, name="pool3"),
        Flatten(),
        Dropout(0.5),
        Dense(4096, name="fc6"),
        ReLU(),
        Dropout(0.5),
        Dense(4096, name="fc7"),
        ReLU(),
        Dense(1000, name="fc8"),
    ]


@_register(
    "zfnet",
    "ZFNet: AlexNet with conv1 7x7/2 and conv3-5 of 512, 1024, 512 filters (224x224)",
    "M. Zeiler and R. Fergus, Visualizing and Understanding Convolutional Networks, 2014",
)
def _zfnet() -> list[Layer]:
    # Sizes of the paper's figure 3: 224 -> 110 -> 55 -> 26 -> 13 -> 13 -> 13 -> 6. Conv1
    # pads 1 and the first two pools round up (ceil_mode) to reach 110, 55 and 13; conv2
    # keeps the paper's stride 2 (the slide's "AlexNet but" changes only conv1, conv3-5).
    return [
        Input(3, 224, 224),
        Conv2d(96, 7, 2, 1, name="conv1"),
        ReLU(),
        MaxPool2d(3, 2, ceil_mode=True, name="pool1"),
        LocalResponseNorm(5, name="norm1"),
        Conv2d(256, 5, 2, 0, name="conv2"),
        ReLU(),
        MaxPool2d(3, 2, ceil_mode=True, name="pool2"),
        LocalResponseNorm(5, name="norm2"),
        Conv2d(512, 3, 1, 1, name="conv3"),
        ReLU(),
        Conv2d(1024, 3, 1, 1, name="conv4"),
        ReLU(),
        Conv2d(512, 3, 1, 1, name="conv5"),
        ReLU(),
        MaxPool2d(3, 2, name="pool3"),
        *_alexnet_head(),
    ]


# --- VGG ----------------------------------------------------------------------------------------


def _vgg(blocks: list[int]) -> list[Layer]:
    """VGG with ``blocks[i]`` 3x3 convolutions in stage ``i``; names as in the paper's table."""
    layers: list[Layer] = [Input(3, 224, 224)]
    channels = [64, 128, 256, 512, 512]
    for stage, (count, width) in enumerate(zip(blocks, channels, strict=True), start=1):
        for index in range(1, count + 1):
            layers += [Conv2d(width, 3, 1, 1, name=f"conv{stage}_{index}"), ReLU()]
        layers.append(MaxPool2d(2, 2, name=f"pool{stage}"))
    return layers + _alexnet_head()


@_register(
    "vgg16",
    "VGG16 (configuration D): 13 3x3 convolutions, 5 2x2 pools, 3 dense layers",
    "K. Simonyan and A. Zisserman, Very Deep Convolutional Networks, ICLR 2015",
)
def _vgg16() -> list[Layer]:
    return _vgg([2, 2, 3, 3, 3])


@_register(
    "vgg19",
    "VGG19 (configuration E): 16 3x3 convolutions, 5 2x2 pools, 3 dense layers",
    "K. Simonyan and A. Zisserman, Very Deep Convolutional Networks, ICLR 2015",
)
def _vgg19() -> list[Layer]:
    return _vgg([2, 2, 4, 4, 4])


# --- ResNet --------------------------------------------------------------------------------------


def _resnet(block: type, depths: list[int]) -> list[Layer]:
    layers: list[Layer] = [
        Input(3, 224, 224),
        Conv2d(64, 7, 2, 3, bias=False, name="conv1"),
        BatchNorm2d(name="bn1"),
        ReLU(name="relu"),
        MaxPool2d(3, 2, 1, name="maxpool"),
    ]
    for stage, depth in enumerate(depths, start=1):
        width = 64 * 2 ** (stage - 1)
        for index in range(depth):
            stride = 2 if stage > 1 and index == 0 else 1
            layers.append(block(width, stride, name=f"layer{stage}.{index}"))
    return [*layers, GlobalAvgPool2d(name="avgpool"), Dense(1000, name="fc")]


@_register(
    "resnet18",
    "ResNet-18: BasicBlocks [2, 2, 2, 2], BatchNorm, global average pooling",
    "K. He et al., Deep Residual Learning for Image Recognition, CVPR 2016",
)
def _resnet18() -> list[Layer]:
    return _resnet(BasicBlock, [2, 2, 2, 2])


@_register(
    "resnet34",
    "ResNet-34: BasicBlocks [3, 4, 6, 3]",
    "K. He et al., Deep Residual Learning for Image Recognition, CVPR 2016",
)
def _resnet34() -> list[Layer]:
    return _resnet(BasicBlock, [3, 4, 6, 3])


@_register(
    "resnet50",
    "ResNet-50: Bottleneck blocks [3, 4, 6, 3] (stride on the 3x3, as torchvision)",
    "K. He et al., Deep Residual Learning for Image Recognition, CVPR 2016",
)
def _resnet50() -> list[Layer]:
    return _resnet(Bottleneck, [3, 4, 6, 3])


# --- MobileNet ---------------------------------------------------------------------------------


@_register(
    "mobilenet_v1",
    "MobileNet v1 (width 1.0, 224x224): 13 depthwise-separable blocks",
    "A. G. Howard et al., MobileNets, arXiv:1704.04861, 2017 (table 1)",
)
def _mobilenet_v1() -> list[Layer]:
    layers: list[Layer] = [
        Input(3, 224, 224),
        Conv2d(32, 3, 2, 1, bias=False, name="conv1"),
        BatchNorm2d(name="conv1_bn"),
        ReLU(name="conv1_relu"),
    ]
    plan = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)]
    plan += [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    for index, (channels, stride) in enumerate(plan, start=1):
        layers += [
            DepthwiseConv2d(3, stride, 1, bias=False, name=f"conv_dw_{index}"),
            BatchNorm2d(name=f"conv_dw_{index}_bn"),
            ReLU(name=f"conv_dw_{index}_relu"),
            Conv2d(channels, 1, bias=False, name=f"conv_pw_{index}"),
            BatchNorm2d(name=f"conv_pw_{index}_bn"),
            ReLU(name=f"conv_pw_{index}_relu"),
        ]
    return [*layers, GlobalAvgPool2d(name="avgpool"), Dense(1000, name="fc")]
