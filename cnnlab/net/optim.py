"""Stochastic gradient descent with momentum, weight decay and per-parameter rates.

Examples
--------
>>> import numpy as np
>>> from cnnlab.net.parameter import Parameter
>>> w = Parameter("w", np.array([1.0, 2.0]))
>>> w.grad[:] = [0.5, -1.0]
>>> SGD([w], lr=0.1).step()
>>> w.value
array([0.95, 2.1 ])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnlab.net.parameter import Parameter

__all__ = ["SGD", "StepDecay"]


class SGD:
    """Mini-batch SGD with optional (Nesterov) momentum and L2 weight decay.

    Parameters
    ----------
    model_or_params : Sequential or iterable of Parameter
        A model (all its parameters, read again at each step, so freezing after the
        optimizer was created works) or an explicit list of parameters.
    lr : float
        Base learning rate :math:`\\eta`.
    momentum : float, default 0
        :math:`\\mu`; 0 is plain SGD.
    weight_decay : float, default 0
        :math:`\\lambda`. Applied to weights only, never to biases (parameters with
        ``regularized=False``): shrinking a bias toward zero does not limit the
        model's capacity, it only shifts its outputs.
    nesterov : bool, default False
        Nesterov momentum (needs ``momentum > 0``).

    Notes
    -----
    For each trainable parameter :math:`w` with gradient :math:`g` and learning-rate
    scale :math:`s` (``Parameter.lr_scale``), one :meth:`step` computes (the PyTorch
    formulation, so results match ``torch.optim.SGD`` with ``dampening=0``):

    .. math::

        g &\\leftarrow g + \\lambda w \\quad \\text{(weights only)} \\\\
        v &\\leftarrow \\mu v + g \\\\
        d &= g + \\mu v \\ \\text{(Nesterov)} \\quad\\text{or}\\quad d = v \\\\
        w &\\leftarrow w - s\\,\\eta\\, d

    Frozen parameters (``trainable=False``) are skipped entirely, velocity included.

    References
    ----------
    Sutskever, Martens, Dahl, Hinton. "On the importance of initialization and momentum
    in deep learning." ICML 2013.
    """

    def __init__(
        self,
        model_or_params: Any,
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        if not float(lr) > 0.0:
            raise ValueError(f"SGD: lr must be > 0, found {lr!r}")
        if not 0.0 <= float(momentum) < 1.0:
            raise ValueError(f"SGD: momentum must be in [0, 1), found {momentum!r}")
        if not float(weight_decay) >= 0.0:
            raise ValueError(f"SGD: weight_decay must be >= 0, found {weight_decay!r}")
        if nesterov and momentum == 0.0:
            raise ValueError("SGD: nesterov=True needs momentum > 0")
        if hasattr(model_or_params, "parameters") and callable(model_or_params.parameters):
            self._model = model_or_params
            self._params: list[Parameter] | None = None
        else:
            self._model = None
            self._params = list(model_or_params)
            for p in self._params:
                if not isinstance(p, Parameter):
                    raise TypeError(
                        f"SGD: expected a model or Parameter objects, found {type(p).__name__}"
                    )
        self.lr = float(lr)
        self.base_lr = self.lr
        self.momentum = float(momentum)
        self.weight_decay = float(weight_decay)
        self.nesterov = bool(nesterov)
        self.velocity: dict[Parameter, np.ndarray] = {}

    @property
    def params(self) -> list[Parameter]:
        """The parameters this optimizer updates (frozen ones included, then skipped)."""
        return self._model.parameters() if self._model is not None else list(self._params)

    def zero_grad(self) -> None:
        """Set every parameter's gradient to zero."""
        for p in self.params:
            p.zero_grad()

    def step(self) -> None:
        """Update every trainable parameter once from its current ``grad``."""
        for p in self.params:
            if not p.trainable or p.lr_scale == 0.0:
                continue
            g = p.grad
            if self.weight_decay and p.regularized:
                g = g + self.weight_decay * p.value
            if self.momentum:
                v = self.velocity.get(p)
                if v is None or v.shape != g.shape:
                    v = self.velocity[p] = np.array(g, copy=True)
                else:
                    v *= self.momentum
                    v += g
                g = g + self.momentum * v if self.nesterov else v
            p.value -= (self.lr * p.lr_scale) * g

    def __repr__(self) -> str:
        extra = ""
        if self.momentum:
            extra += f", momentum={self.momentum:g}"
        if self.weight_decay:
            extra += f", weight_decay={self.weight_decay:g}"
        if self.nesterov:
            extra += ", nesterov=True"
        return f"SGD(lr={self.lr:g}{extra})"


class StepDecay:
    """Learning-rate schedule: multiply the rate by ``factor`` every ``every`` epochs.

    Use as a :func:`~cnnlab.net.fit` callback; after epoch ``e`` (counting from 0) it
    sets ``optimizer.lr = base_lr * factor ** ((e + 1) // every)``.

    Examples
    --------
    >>> from cnnlab.net.parameter import Parameter
    >>> import numpy as np
    >>> opt = SGD([Parameter("w", np.zeros(1))], lr=0.1)
    >>> schedule = StepDecay(opt, every=2, factor=0.5)
    >>> [schedule(epoch, None) or round(opt.lr, 4) for epoch in range(5)]
    [0.1, 0.05, 0.05, 0.025, 0.025]
    """

    def __init__(self, optimizer: SGD, *, every: int, factor: float = 0.1) -> None:
        if int(every) < 1:
            raise ValueError(f"StepDecay: every must be >= 1 epoch, found {every!r}")
        if not 0.0 < float(factor) <= 1.0:
            raise ValueError(f"StepDecay: factor must be in (0, 1], found {factor!r}")
        self.optimizer = optimizer
        self.every = int(every)
        self.factor = float(factor)
        self.base_lr = optimizer.lr

    def __call__(self, epoch: int, history: object) -> None:
        self.optimizer.lr = self.base_lr * self.factor ** ((epoch + 1) // self.every)

