"""The same network in PyTorch, weights copied: the independent cross-check.

:func:`torch_twin` turns a :class:`cnnlab.net.Sequential` into a ``torch.nn.Sequential``
that computes the same function on the same weights (and, for batch norm, the same
running statistics, momentum and epsilon), so a test or a benchmark can compare the
two layer for layer. PyTorch is optional: it is imported only when this is called.

Examples
--------
>>> import numpy as np
>>> from cnnlab.net import digits_cnn
>>> from cnnlab.net.torch_twin import torch_twin
>>> model = digits_cnn(seed=0)
>>> twin = torch_twin(model)                       # doctest: +SKIP
>>> x = np.zeros((2, 1, 8, 8), np.float32)
>>> np.allclose(model.eval()(x), twin.eval()(torch.tensor(x)).detach().numpy())  # doctest: +SKIP
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["torch_twin"]


def _symmetric_padding(padding: Any, where: str) -> Any:
    """PyTorch's ``padding`` argument for a cnnlab padding (ints or equal per-side pairs)."""
    if isinstance(padding, str):
        raise ValueError(f"{where}: padding {padding!r} has no fixed PyTorch twin; "
                         "give the padding in pixels")
    if isinstance(padding[0], tuple):
        (top, bottom), (left, right) = padding
        if top != bottom or left != right:
            raise ValueError(f"{where}: PyTorch pads both sides equally, found {padding}")
        return (top, left)
    return tuple(padding)


def torch_twin(model: Any, torch: Any = None) -> Any:
    """A ``torch.nn.Sequential`` computing what ``model`` computes, on a copy of its weights.

    Parameters
    ----------
    model : cnnlab.net.Sequential
        Conv2d, BatchNorm2d, ReLU, MaxPool2d, AvgPool2d, Flatten, Dense, Dropout,
        GlobalAvgPool2d and ResidualBlock layers (``relu(main(x) + shortcut(x))``).
    torch : module, optional
        The ``torch`` module (imported here when not given).

    Returns
    -------
    torch.nn.Sequential
        In the dtype of ``model``'s weights, in training mode like a new model.

    Raises
    ------
    TypeError
        For a layer with no PyTorch counterpart here.
    ValueError
        For 'same' or unequal per-side padding, which ``nn.Conv2d`` cannot express.
    """
    if torch is None:
        import torch
    from torch import nn

    from cnnlab import net

    def tensor(array: np.ndarray) -> Any:
        return torch.tensor(np.ascontiguousarray(array))

    def convert(layer: Any) -> Any:
        where = f"layer {layer.name!r}"
        if isinstance(layer, net.Conv2d):
            conv = nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel, layer.stride,
                             _symmetric_padding(layer.padding, where), layer.dilation,
                             layer.groups, layer.bias is not None)
            conv.weight.data = tensor(layer.weight.value)
            if layer.bias is not None:
                conv.bias.data = tensor(layer.bias.value)
            return conv
        if isinstance(layer, net.BatchNorm2d):
            bn = nn.BatchNorm2d(layer.num_features, eps=layer.eps, momentum=layer.momentum)
            bn.weight.data = tensor(layer.weight.value)
            bn.bias.data = tensor(layer.bias.value)
            bn.running_mean.data = tensor(layer.running_mean)
            bn.running_var.data = tensor(layer.running_var)
            return bn
        if isinstance(layer, net.ReLU):
            return nn.ReLU()
        if isinstance(layer, net.MaxPool2d):
            return nn.MaxPool2d(layer.kernel, layer.stride,
                                _symmetric_padding(layer.padding, where),
                                ceil_mode=layer.ceil_mode)
        if isinstance(layer, net.AvgPool2d):
            return nn.AvgPool2d(layer.kernel, layer.stride,
                                _symmetric_padding(layer.padding, where),
                                ceil_mode=layer.ceil_mode)
        if isinstance(layer, net.Flatten):
            return nn.Flatten()
        if isinstance(layer, net.Dropout):
            return nn.Dropout(layer.p)
        if isinstance(layer, net.GlobalAvgPool2d):
            return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        if isinstance(layer, net.Dense):
            dense = nn.Linear(layer.weight.shape[1], layer.weight.shape[0])
            dense.weight.data = tensor(layer.weight.value)
            dense.bias.data = tensor(layer.bias.value)
            return dense
        if isinstance(layer, net.ResidualBlock):
            return _Residual(nn, torch, nn.Sequential(*map(convert, layer.main)),
                             nn.Sequential(*map(convert, layer.shortcut)))
        raise TypeError(f"{where}: no PyTorch twin for {type(layer).__name__}")

    dtype = next((p.value.dtype for p in model.parameters()), np.dtype(np.float32))
    twin = nn.Sequential(*map(convert, model))
    return twin.to(torch.float64 if dtype == np.float64 else torch.float32)


def _Residual(nn: Any, torch: Any, main: Any, shortcut: Any) -> Any:
    """``relu(main(x) + shortcut(x))`` as a ``torch.nn.Module``."""

    class Residual(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.main, self.shortcut = main, shortcut

        def forward(self, x: Any) -> Any:
            return torch.relu(self.main(x) + self.shortcut(x))

    return Residual()
