"""NumPy layers of a CNN, forward and backward, fast (Numba + BLAS) and validated.

Every layer follows one contract (CS231n's)::

    out, cache = layer_forward(x, ...)      # cache: a small named object
    dx, ...    = layer_backward(dout, cache)

Layout is NCHW, conv weights are ``(F, C/groups, KH, KW)``, dense weights ``(F, D)``;
float32 and float64 are supported and outputs keep the input dtype (mixing them is a
``TypeError``: cnnlab never promotes silently). Every public function validates its
inputs before any kernel runs. :mod:`cnnlab.naive` has the same layers as readable
loops; ``docs/engine.md`` states every convention.

Examples
--------
>>> import numpy as np
>>> from cnnlab.layers import conv2d_forward, max_pool2d_forward, relu_forward
>>> x = np.ones((2, 3, 8, 8), dtype=np.float32)
>>> out, _ = conv2d_forward(x, np.ones((4, 3, 3, 3), np.float32), None, padding="same")
>>> out, _ = max_pool2d_forward(relu_forward(out)[0], kernel=2)
>>> out.shape, out.dtype
((2, 4, 4, 4), dtype('float32'))
"""

from __future__ import annotations

from cnnlab.layers.activation import ReluCache, relu_backward, relu_forward
from cnnlab.layers.conv import Conv2dCache, conv2d_backward, conv2d_forward
from cnnlab.layers.dense import (
    DenseCache,
    FlattenCache,
    dense_backward,
    dense_forward,
    flatten,
    flatten_backward,
)
from cnnlab.layers.global_pool import (
    GlobalAvgPool2dCache,
    global_avg_pool2d_backward,
    global_avg_pool2d_forward,
)
from cnnlab.layers.loss import softmax_cross_entropy
from cnnlab.layers.norm import BatchNorm2dCache, batchnorm2d_backward, batchnorm2d_forward
from cnnlab.layers.pool import (
    AvgPool2dCache,
    MaxPool2dCache,
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)
from cnnlab.layers.residual import BasicBlockCache, basic_block_backward, basic_block_forward

__all__ = [
    "AvgPool2dCache",
    "BasicBlockCache",
    "BatchNorm2dCache",
    "Conv2dCache",
    "DenseCache",
    "FlattenCache",
    "GlobalAvgPool2dCache",
    "MaxPool2dCache",
    "ReluCache",
    "avg_pool2d_backward",
    "avg_pool2d_forward",
    "basic_block_backward",
    "basic_block_forward",
    "batchnorm2d_backward",
    "batchnorm2d_forward",
    "conv2d_backward",
    "conv2d_forward",
    "dense_backward",
    "dense_forward",
    "flatten",
    "flatten_backward",
    "global_avg_pool2d_backward",
    "global_avg_pool2d_forward",
    "max_pool2d_backward",
    "max_pool2d_forward",
    "relu_backward",
    "relu_forward",
    "softmax_cross_entropy",
]
