"""A small trainable convolutional network on top of :mod:`cnnlab.layers`.

Modules
-------
parameter   :class:`Parameter`: a weight array, its gradient, ``trainable``, ``lr_scale``
modules     layer objects (Conv2d, MaxPool2d, AvgPool2d, ReLU, Flatten, Dense, Dropout)
residual    BatchNorm2d, GlobalAvgPool2d and ResidualBlock (the layers of a ResNet)
sequential  :class:`Sequential`: naming, seeding, freezing, per-layer learning rates
optim       :class:`SGD` (momentum, Nesterov, weight decay) and :class:`StepDecay`
train       :func:`fit`, :func:`evaluate`, :func:`predict` and :class:`History`
io          :func:`save_weights` / :func:`load_weights` (``.npz`` keyed by parameter name)
saliency    :func:`saliency_map` (Simonyan, Vedaldi, Zisserman 2014)
transfer    freezing the base, new heads, discriminative fine-tuning, scratch vs transfer
zoo         the reference digits CNNs, their recipes and :func:`pretrained`
build       :func:`build`: a trainable network from a :mod:`cnnlab.models` spec

Examples
--------
>>> from cnnlab.datasets import load_digits, train_test_split
>>> from cnnlab.net import SGD, digits_cnn, evaluate, fit
>>> x, y = load_digits()
>>> split = train_test_split(x, y, seed=0)
>>> model = digits_cnn(seed=0)
>>> history = fit(model, SGD(model, lr=0.05, momentum=0.9), *split.train, epochs=2,
...               progress=False)
>>> evaluate(model, *split.test)[1] > 0.8
True
"""

from __future__ import annotations

from cnnlab.net.build import build
from cnnlab.net.io import load_weights, save_weights
from cnnlab.net.modules import (
    AvgPool2d,
    Conv2d,
    Dense,
    Dropout,
    Flatten,
    Layer,
    MaxPool2d,
    ReLU,
)
from cnnlab.net.optim import SGD, StepDecay
from cnnlab.net.parameter import Parameter
from cnnlab.net.residual import BatchNorm2d, GlobalAvgPool2d, ResidualBlock
from cnnlab.net.saliency import class_score_gradient, saliency_map
from cnnlab.net.sequential import Sequential
from cnnlab.net.train import History, evaluate, fit, predict, predict_logits
from cnnlab.net.transfer import (
    TransferComparison,
    discriminative_lr,
    fine_tune,
    layer_groups,
    scratch_vs_transfer,
    transfer_model,
)
from cnnlab.net.zoo import PRETRAINED, digits_cnn, pretrained, train_reference

__all__ = [
    "PRETRAINED",
    "SGD",
    "AvgPool2d",
    "BatchNorm2d",
    "Conv2d",
    "Dense",
    "Dropout",
    "Flatten",
    "GlobalAvgPool2d",
    "History",
    "Layer",
    "MaxPool2d",
    "Parameter",
    "ReLU",
    "ResidualBlock",
    "Sequential",
    "StepDecay",
    "TransferComparison",
    "build",
    "class_score_gradient",
    "digits_cnn",
    "discriminative_lr",
    "evaluate",
    "fine_tune",
    "fit",
    "layer_groups",
    "load_weights",
    "predict",
    "predict_logits",
    "pretrained",
    "saliency_map",
    "save_weights",
    "scratch_vs_transfer",
    "train_reference",
    "transfer_model",
]
