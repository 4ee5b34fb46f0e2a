"""Variants of the zoo networks that the lecture slides quote figures for.

The zoo (:mod:`cnnlab.models.zoo`) holds each network once, in the layout the course
teaches. Some slide figures belong to a different layout of the same network; the
builders here make those layouts so that a notebook can compute the slide's figure
instead of typing it.

- :func:`alexnet_grouped`: AlexNet as trained on two GPUs, conv2, conv4 and conv5 seeing
  only the half of the channels on their own GPU (``groups=2``): the paper's
  "60 million parameters".
- :func:`resnet`: ResNet-18/34/50/101/152 with the ImageNet stem (7x7 stride 2 and a
  max pool, 1000 classes, torchvision's figures) or the CIFAR-10 stem (one 3x3 stride-1
  convolution, no max pool, 10 classes: the CS109B slide's figures).

Examples
--------
>>> from cnnlab.models import summary
>>> summary(alexnet_grouped()).total_params
60965224
>>> summary(resnet(18, cifar=True)).total_params        # CS109B's "11.174M"
11173962
"""

from __future__ import annotations

from dataclasses import replace

from cnnlab.models.spec import (
    BasicBlock,
    BatchNorm2d,
    Bottleneck,
    Conv2d,
    Dense,
    GlobalAvgPool2d,
    Input,
    Layer,
    MaxPool2d,
    ReLU,
    Sequential,
)
from cnnlab.models.zoo import get

__all__ = ["RESNET_BLOCKS", "alexnet_grouped", "resnet"]

#: Block type and blocks per stage of each ResNet depth (He et al. 2016, table 1).
RESNET_BLOCKS: dict[int, tuple[type, tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}


def alexnet_grouped() -> Sequential:
    """AlexNet split over two GPUs: ``alexnet`` with ``groups=2`` on conv2, conv4, conv5.

    Each GPU held half of the filters of every layer; conv2, conv4 and conv5 read only
    the maps on their own GPU, conv3 and the dense layers read both. Halving the
    channels those three layers see removes 1,413,120 weights from the single-GPU
    version's 62,378,344.

    Returns
    -------
    Sequential
        Named ``"alexnet_grouped"``; 60,965,224 parameters.

    References
    ----------
    .. [1] A. Krizhevsky, I. Sutskever, G. Hinton, "ImageNet Classification with Deep
       Convolutional Neural Networks", NIPS 2012, figure 2.
    """
    layers: list[Layer] = [
        replace(layer, groups=2) if layer.name in ("conv2", "conv4", "conv5") else layer
        for layer in get("alexnet").layers
    ]
    return Sequential(*layers, name="alexnet_grouped",
                      description="AlexNet on two GPUs: conv2, conv4, conv5 with groups=2")


def resnet(depth: int, *, cifar: bool = False, num_classes: int | None = None) -> Sequential:
    """ResNet of ``depth`` layers, with the ImageNet stem or the CIFAR-10 stem.

    Parameters
    ----------
    depth : {18, 34, 50, 101, 152}
    cifar : bool, default False
        False: 224x224 input, 7x7 stride-2 convolution and a 3x3 stride-2 max pool
        (torchvision). True: 32x32 input, one 3x3 stride-1 convolution, no max pool (the
        common CIFAR-10 adaptation of the ImageNet ResNets).
    num_classes : int, optional
        Defaults to 1000 (ImageNet) or 10 (CIFAR-10).

    Returns
    -------
    Sequential

    Examples
    --------
    >>> from cnnlab.models import summary
    >>> summary(resnet(50)).total_params                   # torchvision
    25557032
    """
    if depth not in RESNET_BLOCKS:
        raise ValueError(
            f"ResNet depth {depth!r} is not one of the published depths "
            f"{sorted(RESNET_BLOCKS)}."
        )
    block, depths = RESNET_BLOCKS[depth]
    if num_classes is None:
        num_classes = 10 if cifar else 1000
    if cifar:
        stem: list[Layer] = [
            Input(3, 32, 32),
            Conv2d(64, 3, 1, 1, bias=False, name="conv1"),
            BatchNorm2d(name="bn1"),
            ReLU(name="relu"),
        ]
    else:
        stem = [
            Input(3, 224, 224),
            Conv2d(64, 7, 2, 3, bias=False, name="conv1"),
            BatchNorm2d(name="bn1"),
            ReLU(name="relu"),
            MaxPool2d(3, 2, 1, name="maxpool"),
        ]
    layers = list(stem)
    for stage, count in enumerate(depths, start=1):
        width = 64 * 2 ** (stage - 1)
        for index in range(count):
            stride = 2 if stage > 1 and index == 0 else 1
            layers.append(block(width, stride, name=f"layer{stage}.{index}"))
    layers += [GlobalAvgPool2d(name="avgpool"), Dense(num_classes, name="fc")]
    stem_name = "cifar" if cifar else "imagenet"
    return Sequential(*layers, name=f"resnet{depth}_{stem_name}",
                      description=f"ResNet-{depth}, {stem_name} stem, {num_classes} classes")
