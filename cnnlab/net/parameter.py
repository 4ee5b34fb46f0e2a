"""A trainable array with its gradient and the settings an optimizer reads.

Examples
--------
>>> import numpy as np
>>> p = Parameter("conv1.weight", np.ones((2, 1, 3, 3)))
>>> p.size, p.trainable, p.lr_scale
(18, True, 1.0)
"""

from __future__ import annotations

import numpy as np

__all__ = ["Parameter"]


class Parameter:
    """One weight or bias array of a layer.

    Parameters
    ----------
    name : str
        Unique name inside a model, ``"<layer>.<weight|bias>"`` (``"conv1.weight"``).
        Saved weight files are keyed by it.
    value : ndarray
        The array itself; optimizers update it in place.
    trainable : bool, default True
        ``False`` freezes the parameter: layers stop accumulating its gradient and
        :class:`~cnnlab.net.SGD` leaves it unchanged.
    lr_scale : float, default 1.0
        Multiplies the optimizer's learning rate for this parameter only (smaller
        learning rates for earlier layers when fine-tuning).
    regularized : bool, default True
        Whether weight decay applies. Layers set it to ``False`` for biases.

    Attributes
    ----------
    grad : ndarray
        Same shape and dtype as ``value``. Backward passes *add* into it (``+=``), so
        call ``zero_grad()`` before each mini-batch.
    """

    __slots__ = ("grad", "lr_scale", "name", "regularized", "trainable", "value")

    def __init__(
        self,
        name: str,
        value: np.ndarray,
        *,
        trainable: bool = True,
        lr_scale: float = 1.0,
        regularized: bool = True,
    ) -> None:
        self.name = name
        self.value = np.ascontiguousarray(value)
        self.grad = np.zeros_like(self.value)
        self.trainable = bool(trainable)
        self.lr_scale = float(lr_scale)
        self.regularized = bool(regularized)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of ``value``."""
        return self.value.shape

    @property
    def size(self) -> int:
        """Number of scalars in ``value``."""
        return int(self.value.size)

    def accumulate(self, grad: np.ndarray) -> None:
        """Add ``grad`` into :attr:`grad` unless the parameter is frozen."""
        if self.trainable:
            self.grad += grad

    def zero_grad(self) -> None:
        """Reset :attr:`grad` to zeros."""
        self.grad[...] = 0

    def astype(self, dtype: np.dtype | type) -> None:
        """Convert ``value`` and ``grad`` to ``dtype`` in place of the old arrays."""
        self.value = np.ascontiguousarray(self.value, dtype=dtype)
        self.grad = np.ascontiguousarray(self.grad, dtype=dtype)

    def __repr__(self) -> str:
        flags = "" if self.trainable else ", frozen"
        if self.lr_scale != 1.0:
            flags += f", lr_scale={self.lr_scale:g}"
        return f"Parameter({self.name!r}, shape={self.shape}, dtype={self.value.dtype}{flags})"
