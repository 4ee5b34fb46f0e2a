"""Save and load a model's weights as a ``.npz`` file keyed by parameter name.

Only the arrays are stored (``conv1.weight``, ``conv1.bias``, ..., and BatchNorm's
running statistics such as ``bn1.running_mean``), not the
architecture: build the same :class:`~cnnlab.net.Sequential` in code, then load.
Loading checks every name and shape and reports all mismatches at once.

Examples
--------
>>> import tempfile, pathlib
>>> from cnnlab.net import Dense, Flatten, Sequential
>>> model = Sequential([Flatten(), Dense(4, 2)], seed=1)
>>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.npz"
>>> save_weights(model, path)
>>> copy = load_weights(Sequential([Flatten(), Dense(4, 2)], seed=2), path)
>>> bool((copy[1].weight.value == model[1].weight.value).all())
True
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from cnnlab.net.sequential import Sequential

__all__ = ["load_weights", "save_weights"]


def save_weights(model: Sequential, path: str | os.PathLike[str]) -> None:
    """Write every parameter of ``model`` to a compressed ``.npz`` file.

    Parameters
    ----------
    model : Sequential
    path : str or path-like
        NumPy appends ``.npz`` if the name lacks it.
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"save_weights: expected a Sequential, found {type(model).__name__}")
    np.savez_compressed(path, **model.state_dict())


def load_weights(
    model: Sequential, path: str | os.PathLike[str] | Any, *, strict: bool = True
) -> Sequential:
    """Copy the arrays of a ``.npz`` file into ``model``'s parameters (in place).

    Parameters
    ----------
    model : Sequential
        Must have the architecture the file was saved from.
    path : str, path-like or file object
    strict : bool, default True
        If True, the file and the model must have exactly the same parameter names and
        shapes. If False, load the parameters whose name and shape match and leave the
        others as they are (e.g. a new head for transfer learning).

    Returns
    -------
    Sequential
        ``model`` itself. Values are cast to the model's dtype.

    Raises
    ------
    ValueError
        Listing every missing, unexpected or mis-shaped parameter (strict mode), or
        when nothing at all matches (non-strict).
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"load_weights: expected a Sequential, found {type(model).__name__}")
    with np.load(path, allow_pickle=False) as data:
        stored = {name: data[name] for name in data.files}
    params = model.named_parameters()
    buffers = model.named_buffers()
    shapes = {name: param.shape for name, param in params.items()}
    shapes.update({name: buffer.shape for name, buffer in buffers.items()})
    missing = [name for name in shapes if name not in stored]
    unexpected = [name for name in stored if name not in shapes]
    wrong_shape = [
        f"{name}: file {stored[name].shape}, model {shapes[name]}"
        for name in shapes
        if name in stored and stored[name].shape != shapes[name]
    ]
    if strict and (missing or unexpected or wrong_shape):
        problems = []
        if missing:
            problems.append(f"missing from the file: {missing}")
        if unexpected:
            problems.append(f"in the file but not in the model: {unexpected}")
        if wrong_shape:
            problems.append("shape mismatch: " + "; ".join(wrong_shape))
        raise ValueError(
            f"load_weights: {os.fspath(path) if isinstance(path, (str, os.PathLike)) else 'file'} "
            "does not fit this architecture (" + "; ".join(problems) + "). Build the model "
            "with the same layers, in the same order, as the one that was saved; "
            "use strict=False to load only the matching layers."
        )
    loaded = [n for n in shapes if n in stored and stored[n].shape == shapes[n]]
    if not any(name in params for name in loaded):
        raise ValueError(
            f"load_weights: no parameter of the file matches the model by name and shape "
            f"(file: {sorted(stored)}, model: {list(params)})"
        )
    for name in loaded:
        if name in buffers:  # running statistics: copied into the layer's own array
            buffers[name][...] = stored[name]
            continue
        param = params[name]
        param.value = np.ascontiguousarray(stored[name], dtype=model.dtype)
        param.grad = np.zeros_like(param.value)
    return model
