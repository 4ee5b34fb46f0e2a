"""The same network in PyTorch as a :class:`cnnlab.net.Sequential`, weights copied.

Used by ``benchmarks/run.py`` to time a whole-network forward pass and training step
of ResNet-18 and of the digits CNN against PyTorch on identical weights.
"""

from __future__ import annotations

import numpy as np


def torch_twin(model, torch):
    """A ``torch.nn.Sequential`` computing what ``model`` computes."""
    from torch import nn

    from cnnlab import net

    def tensor(array):
        return torch.tensor(np.ascontiguousarray(array))

    def convert(layer):
        if isinstance(layer, net.Conv2d):
            conv = nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel, layer.stride,
                             layer.padding, layer.dilation, layer.groups, layer.bias is not None)
            conv.weight.data = tensor(layer.weight.value)
            if layer.bias is not None:
                conv.bias.data = tensor(layer.bias.value)
            return conv
        if isinstance(layer, net.BatchNorm2d):
            bn = nn.BatchNorm2d(layer.num_features)
            bn.weight.data = tensor(layer.weight.value)
            bn.bias.data = tensor(layer.bias.value)
            return bn
        if isinstance(layer, net.ReLU):
            return nn.ReLU()
        if isinstance(layer, net.MaxPool2d):
            return nn.MaxPool2d(layer.kernel, layer.stride, layer.padding,
                                ceil_mode=layer.ceil_mode)
        if isinstance(layer, net.Flatten):
            return nn.Flatten()
        if isinstance(layer, net.GlobalAvgPool2d):
            return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        if isinstance(layer, net.Dense):
            dense = nn.Linear(layer.weight.shape[1], layer.weight.shape[0])
            dense.weight.data = tensor(layer.weight.value)
            dense.bias.data = tensor(layer.bias.value)
            return dense
        if isinstance(layer, net.ResidualBlock):
            main = nn.Sequential(*map(convert, layer.main))
            skip = nn.Sequential(*map(convert, layer.shortcut))

            class Block(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.main, self.skip = main, skip

                def forward(self, x):
                    return torch.relu(self.main(x) + self.skip(x))

            return Block()
        raise TypeError(f"no PyTorch twin for {type(layer).__name__}")

    return nn.Sequential(*map(convert, model))
