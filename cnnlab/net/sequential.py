"""A stack of layers trained as one network.

:class:`Sequential` runs the layers' forward passes in order and their backward passes
in reverse, names the layers (``conv1``, ``relu1``, ``maxpool1``, ``conv2``, ...),
seeds their initial weights, and selects layers for freezing and for per-layer
learning rates (fine-tuning). It computes no arithmetic of its own.

Examples
--------
>>> import numpy as np
>>> from cnnlab.net import Conv2d, Dense, Flatten, MaxPool2d, ReLU, Sequential
>>> model = Sequential(
...     [Conv2d(1, 4, 3, padding=1), ReLU(), MaxPool2d(2), Flatten(), Dense(64, 10)],
...     seed=0, input_shape=(1, 8, 8),
... )
>>> [layer.name for layer in model]
['conv1', 'relu1', 'maxpool1', 'flatten1', 'dense1']
>>> model(np.zeros((5, 1, 8, 8), dtype=np.float32)).shape
(5, 10)
>>> model.num_parameters()
690
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from cnnlab.net._threads import one_blas_thread
from cnnlab.net.modules import Layer, Shape
from cnnlab.net.parameter import Parameter

__all__ = ["Selector", "Sequential"]

#: Which layers a method acts on: an index, a slice, a layer name (``"conv1"``), a
#: parameter name (``"conv1.bias"``), or a list of these.
Selector = int | slice | str | Sequence[int | slice | str] | None


class Sequential:
    """Layers applied one after another.

    Parameters
    ----------
    layers : iterable of Layer
        The network, first layer first.
    seed : int or None, default 0
        Re-draw every layer's initial weights from ``seed`` and the layer's position
        (so replacing the head does not change the other layers' start). ``None`` keeps
        the weights the layers already have.
    dtype : numpy dtype, default float32
        Parameters are converted to it; inputs must have it too (``TypeError``
        otherwise: cnnlab never converts silently). Use float64 for gradient checks.
    input_shape : tuple of int, optional
        Shape of one example ``(C, H, W)``. If given, the layer sizes are checked now
        (a Dense whose ``in_features`` does not match the Flatten fails here, naming
        both) and :meth:`summary` needs no argument.

    Attributes
    ----------
    layers : list of Layer
    training : bool
        ``True`` after :meth:`train`, ``False`` after :meth:`eval`.
    """

    def __init__(
        self,
        layers: Iterable[Layer],
        *,
        seed: int | None = 0,
        dtype: Any = np.float32,
        input_shape: Shape | None = None,
    ) -> None:
        self.layers: list[Layer] = list(layers)
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"Sequential: item {i} is a {type(layer).__name__}, not a layer; build "
                    "models from cnnlab.net layers such as Conv2d, ReLU, Flatten, Dense"
                )
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"Sequential: dtype must be float32 or float64, found {self.dtype}")
        self.training = True
        self.input_shape = None if input_shape is None else tuple(int(s) for s in input_shape)
        self.seed = seed
        self._check_unique_layers()
        self._name_layers()
        for param in self.parameters():
            param.astype(self.dtype)
        if seed is not None:
            self.reset_parameters(seed)
        if self.input_shape is not None:
            self.output_shapes(self.input_shape)

    # -- construction helpers -----------------------------------------------------------
    def _name_layers(self) -> None:
        # as cnnlab.models does: count per kind, skipping names the user chose
        taken = {layer.name for layer in self.layers if not layer.auto_named}
        counts: Counter[str] = Counter()
        for layer in self.layers:
            if layer.auto_named:
                counts[layer.kind] += 1
                while f"{layer.kind}{counts[layer.kind]}" in taken:
                    counts[layer.kind] += 1
                layer.name = f"{layer.kind}{counts[layer.kind]}"
                layer.auto_named = True
        names = [layer.name for layer in self.layers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(
                f"Sequential: layer names must be unique, found {duplicates} more than once "
                "(parameter names and saved weights are keyed by them)"
            )

    def _check_unique_layers(self) -> None:
        seen: set[int] = set()
        for layer in self.layers:
            if id(layer) in seen:
                raise ValueError(
                    f"Sequential: the same {type(layer).__name__} object appears twice; create "
                    "a new layer for each position (they would share weights and caches)"
                )
            seen.add(id(layer))

    def reset_parameters(self, seed: int, layers: Iterable[int] | None = None) -> Sequential:
        """Re-draw initial weights; layer ``i`` uses ``np.random.default_rng([seed, i])``."""
        indices = range(len(self.layers)) if layers is None else layers
        for i in indices:
            self.layers[i].init_parameters(np.random.default_rng([seed, i]))
            for param in self.layers[i].parameters():
                param.astype(self.dtype)
        return self

    # -- running ------------------------------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        """Class scores (logits) ``(N, K)`` for a batch ``x`` of shape ``(N, C, H, W)``.

        ``x`` must have the model's dtype. Each layer keeps its cache for
        :meth:`backward`.
        """
        if not isinstance(x, np.ndarray):
            raise TypeError(f"Sequential.forward expects a NumPy array, found {type(x).__name__}")
        if self.input_shape is not None and tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(
                f"Sequential: this model was built for examples of shape {self.input_shape} "
                f"(batch shape (N, *{self.input_shape})), found a batch of shape {x.shape}"
            )
        if x.dtype != self.dtype:
            if x.dtype.kind == "f":
                hint = f"build the model with dtype=np.{x.dtype} or pass x.astype(np.{self.dtype})"
            else:
                hint = f"convert images with x.astype(np.{self.dtype}) (scaled to [0, 1])"
            raise TypeError(
                f"Sequential: the model's parameters are {self.dtype} but x is {x.dtype} "
                f"(cnnlab never converts silently): {hint}"
            )
        out = np.ascontiguousarray(x)
        with one_blas_thread():
            for layer in self.layers:
                out = layer.forward(out)
        return out

    __call__ = forward

    def backward(self, dscores: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        """Backpropagate ``dscores = dL/dscores``; returns ``dx = dL/dx``.

        Frozen layers still pass the gradient through (``dx`` of a frozen layer is
        needed by every layer before it); their parameters simply do not accumulate
        a gradient.

        Parameters
        ----------
        dscores : ndarray, shape (N, K)
        input_grad : bool, default True
            ``False`` (what :func:`~cnnlab.net.fit` uses) stops at the first layer
            that has a trainable parameter and returns None: with a frozen base, the
            gradient need not travel through it, which makes training a new head fast.
        """
        grad = np.ascontiguousarray(dscores, dtype=self.dtype)
        stop = 0
        if not input_grad:
            trainable = [any(p.trainable for p in layer.parameters()) for layer in self.layers]
            stop = trainable.index(True) if any(trainable) else len(self.layers)
        with one_blas_thread():
            for layer in reversed(self.layers[stop:]):
                grad = layer.backward(grad)
        return grad if input_grad else None

    def train(self, mode: bool = True) -> Sequential:
        """Training mode (Dropout active). Returns the model."""
        self.training = bool(mode)
        for layer in self.layers:
            layer.train(mode)
        return self

    def eval(self) -> Sequential:
        """Evaluation mode (Dropout is the identity). Returns the model."""
        return self.train(False)

    # -- parameters ---------------------------------------------------------------------
    def parameters(self, *, trainable_only: bool = False) -> list[Parameter]:
        """All parameters, in layer order (optionally only the trainable ones)."""
        params = [p for layer in self.layers for p in layer.parameters()]
        return [p for p in params if p.trainable] if trainable_only else params

    def named_parameters(self) -> dict[str, Parameter]:
        """``{"conv1.weight": Parameter, ...}`` in layer order."""
        return {p.name: p for p in self.parameters()}

    def named_buffers(self) -> dict[str, np.ndarray]:
        """``{"bn1.running_mean": array, ...}``: arrays kept but not trained, in layer order."""
        return {
            f"{layer.name}.{key}": value
            for layer in self.layers
            for key, value in layer.buffers().items()
        }

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of all parameter values and buffers keyed by name (what
        :func:`save_weights` stores)."""
        state = {p.name: p.value.copy() for p in self.parameters()}
        state.update({name: value.copy() for name, value in self.named_buffers().items()})
        return state

    def num_parameters(self, *, trainable_only: bool = False) -> int:
        """Number of scalar parameters (weights + biases)."""
        return sum(p.size for p in self.parameters(trainable_only=trainable_only))

    def zero_grad(self) -> None:
        """Set every parameter's gradient to zero."""
        for param in self.parameters():
            param.zero_grad()

    # -- selecting layers ---------------------------------------------------------------
    def _select(self, selector: Selector) -> list[Parameter]:
        """Parameters picked by ``selector`` (see :data:`Selector`); ``None`` picks all."""
        if selector is None:
            return self.parameters()
        if isinstance(selector, (list, tuple)):
            picked: dict[int, Parameter] = {}
            for item in selector:
                for p in self._select(item):
                    picked[id(p)] = p
            return list(picked.values())
        if isinstance(selector, bool):
            raise TypeError("a layer selector cannot be a bool")
        if isinstance(selector, (int, np.integer)):
            n = len(self.layers)
            if not -n <= selector < n:
                raise IndexError(f"layer index {selector} out of range for {n} layers")
            return self.layers[selector].parameters()
        if isinstance(selector, slice):
            return [p for layer in self.layers[selector] for p in layer.parameters()]
        if isinstance(selector, str):
            for layer in self.layers:
                if layer.name == selector:
                    return layer.parameters()
            named = self.named_parameters()
            if selector in named:
                return [named[selector]]
            raise KeyError(
                f"no layer or parameter named {selector!r}; layers are "
                f"{[layer.name for layer in self.layers]}"
            )
        raise TypeError(
            "select layers by index, slice, layer name or parameter name, "
            f"found {type(selector).__name__}"
        )

    def freeze(self, selector: Selector = None) -> Sequential:
        """Stop training the selected parameters (all if ``selector`` is None).

        Examples: ``model.freeze(slice(0, -1))`` freezes everything but the last layer,
        ``model.freeze("conv1")`` one layer. Frozen gradients are reset to zero.
        """
        for param in self._select(selector):
            param.trainable = False
            param.zero_grad()
        return self

    def unfreeze(self, selector: Selector = None) -> Sequential:
        """Train the selected parameters again (all if ``selector`` is None)."""
        for param in self._select(selector):
            param.trainable = True
        return self

    def set_lr_scale(self, selector: Selector, scale: float) -> Sequential:
        """Multiply the optimizer's learning rate by ``scale`` for the selected parameters."""
        scale = float(scale)
        if not scale >= 0.0:
            raise ValueError(f"lr_scale must be >= 0, found {scale}")
        for param in self._select(selector):
            param.lr_scale = scale
        return self

    # -- surgery ------------------------------------------------------------------------
    def replace_head(
        self, new_layers: Layer | Iterable[Layer], *, n: int = 1, seed: int | None = 0
    ) -> Sequential:
        """Replace the last ``n`` layers by ``new_layers`` (in place; returns the model).

        The new layers are named like any other layer and, unless ``seed`` is None,
        initialised from ``seed`` and their position. The layers kept are untouched:
        their weights, ``trainable`` flags and ``lr_scale`` stay as they were.
        """
        new = [new_layers] if isinstance(new_layers, Layer) else list(new_layers)
        if not 1 <= n <= len(self.layers):
            raise ValueError(
                f"replace_head: n must be between 1 and {len(self.layers)}, found {n}"
            )
        kept = self.layers[:-n]
        candidate = Sequential(kept + new, seed=None, dtype=self.dtype)
        if self.input_shape is not None:
            candidate.output_shapes(self.input_shape)
        self.layers = candidate.layers
        if seed is not None:
            self.reset_parameters(seed, range(len(kept), len(self.layers)))
        self.train(self.training)
        return self

    def copy(self) -> Sequential:
        """An independent deep copy (weights, flags and all)."""
        return copy.deepcopy(self)

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __getitem__(self, index: int | str | slice) -> Any:
        """A layer by index or name; a slice gives a Sequential *sharing* those layers."""
        if isinstance(index, slice):
            sub = Sequential.__new__(Sequential)
            sub.layers = self.layers[index]
            sub.dtype = self.dtype
            sub.training = self.training
            sub.input_shape = self.input_shape if (index.start or 0) == 0 else None
            sub.seed = None
            return sub
        if isinstance(index, str):
            for layer in self.layers:
                if layer.name == index:
                    return layer
            names = [layer.name for layer in self.layers]
            raise KeyError(f"no layer named {index!r}; layers are {names}")
        return self.layers[index]

    # -- description --------------------------------------------------------------------
    def output_shapes(self, input_shape: Shape) -> list[Shape]:
        """Shape of one example after each layer, for one example of ``input_shape``."""
        shapes = []
        shape = tuple(int(s) for s in input_shape)
        for layer in self.layers:
            shape = tuple(layer.output_shape(shape))
            shapes.append(shape)
        return shapes

    def summary(self, input_shape: Shape | None = None) -> str:
        """A table of layers, output shapes and parameter counts.

        Counts are weights + biases; a parameter is "trainable" unless frozen.
        Output shapes are per example (no batch axis) and need ``input_shape`` (or
        the one given at construction).
        """
        shape = input_shape if input_shape is not None else self.input_shape
        shapes = self.output_shapes(shape) if shape is not None else [None] * len(self)
        rows = [("layer", "type", "output shape", "params", "trainable")]
        for layer, out in zip(self.layers, shapes, strict=True):
            n_params = sum(p.size for p in layer.parameters())
            n_train = sum(p.size for p in layer.parameters() if p.trainable)
            rows.append((
                layer.name,
                repr(layer),
                "?" if out is None else str(tuple(out)),
                f"{n_params:,}",
                f"{n_train:,}",
            ))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = []
        for j, row in enumerate(rows):
            cells = [
                c.ljust(w) if i < 3 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ]
            lines.append("  ".join(cells).rstrip())
            if j == 0:
                lines.append("-" * len(lines[0]))
        total, trainable = self.num_parameters(), self.num_parameters(trainable_only=True)
        lines.append("-" * len(lines[0]))
        if shape is not None:
            lines.insert(0, f"input shape {tuple(shape)}")
        lines.append(
            f"total parameters: {total:,} (trainable {trainable:,}, frozen {total - trainable:,})"
        )
        return "\n".join(lines)

    def __repr__(self) -> str:
        lines = ["Sequential("]
        for layer in self.layers:
            flags = []
            params = layer.parameters()
            if params and not any(p.trainable for p in params):
                flags.append("frozen")
            scales = {p.lr_scale for p in params}
            if params and scales != {1.0}:
                flags.append("lr_scale=" + "/".join(f"{s:g}" for s in sorted(scales)))
            suffix = f"  [{', '.join(flags)}]" if flags else ""
            lines.append(f"  ({layer.name}): {layer!r}{suffix}")
        lines.append(")")
        return "\n".join(lines)
