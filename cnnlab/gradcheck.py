"""Finite-difference gradient checking, for notebooks, assignments and tests.

Backpropagation is easy to get almost right. The check is to nudge every input by
``±h``, watch the output move, and compare with the analytic gradient::

    >>> import numpy as np
    >>> from cnnlab.layers import relu_forward, relu_backward
    >>> report = check_layer(relu_forward, relu_backward, {"x": np.array([[-1.0, 2.0]])})
    >>> report.passed
    True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["GradCheckReport", "check_layer", "numerical_gradient", "rel_error"]


def _require_float64(x: np.ndarray, name: str) -> None:
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        found = type(x).__name__ if not isinstance(x, np.ndarray) else str(x.dtype)
        raise TypeError(
            f"numerical_gradient: {name} must be a float64 NumPy array, found {found}. "
            "Finite differences with h=1e-5 drown in float32 rounding (about 1e-7 "
            "relative): check gradients on x.astype(np.float64)."
        )


def numerical_gradient(
    f: Callable[[np.ndarray], Any],
    x: np.ndarray,
    dout: np.ndarray | None = None,
    h: float = 1e-5,
) -> np.ndarray:
    """Gradient of ``sum(f(x) * dout)`` with respect to ``x``, by central differences.

    Parameters
    ----------
    f : callable
        ``f(x)`` returns an array (or a scalar). It is called ``2 * x.size`` times and
        must read ``x`` afresh each time (the array is modified in place).
    x : ndarray of float64, any shape
        The point; every entry is nudged in turn and restored exactly afterwards.
    dout : ndarray, shape of ``f(x)``, optional
        Upstream gradient; None means all ones (the gradient of ``sum(f(x))``).
    h : float, default 1e-5
        Step.

    Returns
    -------
    grad : ndarray, shape of ``x``, float64

    Raises
    ------
    TypeError
        ``x`` is not a float64 array.
    ValueError
        ``dout`` does not have the shape of ``f(x)``.

    Notes
    -----
    ``grad[k] = (sum(f(x + h e_k) * dout) - sum(f(x - h e_k) * dout)) / (2 h)``,
    whose error is ``O(h^2)`` plus rounding of order ``eps / h``.

    References
    ----------
    .. [1] CS231n, "Optimization" notes, section "Computing the gradient numerically".

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([1.0, 2.0, 3.0])
    >>> np.round(numerical_gradient(lambda v: v ** 2, x), 6)
    array([2., 4., 6.])
    >>> x                                   # restored
    array([1., 2., 3.])
    """
    _require_float64(x, "x")
    if dout is not None:
        dout = np.asarray(dout, dtype=np.float64)
        shape = np.shape(f(x))
        if dout.shape != shape:
            raise ValueError(
                f"numerical_gradient: dout has shape {dout.shape} but f(x) has shape "
                f"{shape}: dout is the upstream gradient of f's output."
            )
    grad = np.zeros_like(x)
    for index in np.ndindex(*x.shape):
        old = x[index]
        x[index] = old + h
        plus = np.array(f(x), dtype=np.float64)  # a copy: f may return a view of x
        x[index] = old - h
        minus = np.array(f(x), dtype=np.float64)
        x[index] = old
        diff = plus - minus
        grad[index] = (np.sum(diff * dout) if dout is not None else np.sum(diff)) / (2 * h)
    return grad


def rel_error(a: Any, b: Any) -> float:
    """Worst absolute difference, relative to the size of the values compared.

    Parameters
    ----------
    a, b : array_like, same shape

    Returns
    -------
    float
        0 for identical arrays; about 1e-16..1e-8 for a correct float64 gradient
        against finite differences; 1e-2 and above means a bug.

    Notes
    -----
    ``rel_error(a, b) = max_k |a_k - b_k| / max(max_k (|a_k| + |b_k|), tiny)`` with
    ``tiny`` the smallest normal float64. Unlike CS231n's elementwise
    ``max_k |a_k - b_k| / max(1e-8, |a_k| + |b_k|)``, one entry that is zero up to
    rounding on both sides (say 1e-12 vs 3e-12) cannot make a correct gradient look
    wrong: the error is measured against the scale of the whole array.

    Examples
    --------
    >>> rel_error([1.0, 2.0], [1.0, 2.0])
    0.0
    >>> rel_error([1.0, 100.0], [1.0, 101.0])   # 1 / (100 + 101)
    0.004975124378109453
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ, {a.shape} vs {b.shape}.")
    if a.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(a) + np.abs(b))), np.finfo(np.float64).tiny)
    return float(np.max(np.abs(a - b))) / scale


@dataclass(frozen=True)
class GradCheckReport:
    """Worst relative error of the analytic gradient of each input.

    Attributes
    ----------
    errors : dict of str to float
        :func:`rel_error` between the analytic and the numerical gradient, per input.
    tol : float
        Threshold for :attr:`passed`.
    """

    errors: dict[str, float]
    tol: float

    @property
    def worst(self) -> float:
        """The largest error over all inputs."""
        return max(self.errors.values(), default=0.0)

    @property
    def passed(self) -> bool:
        """True if every input's error is at most :attr:`tol`."""
        return self.worst <= self.tol

    def __str__(self) -> str:
        lines = [f"gradient check (tol {self.tol:.0e}):"]
        for name, error in self.errors.items():
            verdict = "ok" if error <= self.tol else "WRONG"
            lines.append(f"  d{name:<8} rel_error {error:.2e}  {verdict}")
        return "\n".join(lines)


def check_layer(
    forward: Callable[..., tuple[np.ndarray, Any]],
    backward: Callable[[np.ndarray, Any], Any],
    inputs: Mapping[str, np.ndarray | None],
    *,
    params: Mapping[str, Any] | None = None,
    dout: np.ndarray | None = None,
    h: float = 1e-5,
    tol: float = 1e-7,
    seed: int = 0,
) -> GradCheckReport:
    """Compare a layer's backward pass with finite differences of its forward pass.

    Parameters
    ----------
    forward : callable
        ``forward(**inputs, **params) -> (out, cache)``.
    backward : callable
        ``backward(dout, cache)`` -> the gradients, one per input of ``inputs`` in
        order (a single array if there is one input); ``None`` is allowed for an input
        that is itself ``None`` (such as a missing bias).
    inputs : dict of str to ndarray (float64) or None
        The arrays to differentiate with respect to, named as ``forward`` calls them.
    params : dict, optional
        Keyword arguments passed to ``forward`` and not differentiated (stride, ...).
    dout : ndarray, optional
        Upstream gradient; default random normal (``seed``), which checks more than
        all ones would.
    h : float, default 1e-5
    tol : float, default 1e-7
        Threshold of :attr:`GradCheckReport.passed`.
    seed : int, default 0

    Returns
    -------
    GradCheckReport
        Printable; ``report.errors`` has the worst relative error per input.

    Raises
    ------
    TypeError, ValueError
        Inputs that are not float64, or a backward that returns a different number
        of gradients than there are inputs, or gradients of the wrong shape.

    Notes
    -----
    For each input ``x``: ``rel_error(backward(dout, cache)[x],
    numerical_gradient(lambda x: forward(...)[0], x, dout))``. Inputs are copied, so
    the caller's arrays are never modified.

    Examples
    --------
    >>> import numpy as np
    >>> from cnnlab.layers import conv2d_forward, conv2d_backward
    >>> rng = np.random.default_rng(0)
    >>> inputs = {"x": rng.normal(size=(1, 2, 4, 4)), "w": rng.normal(size=(3, 2, 3, 3)),
    ...           "b": rng.normal(size=3)}
    >>> report = check_layer(conv2d_forward, conv2d_backward, inputs, params={"padding": 1})
    >>> report.passed, sorted(report.errors)
    (True, ['b', 'w', 'x'])
    """
    params = dict(params or {})
    arrays = {name: None if value is None else np.array(value) for name, value in inputs.items()}
    for name, value in arrays.items():
        if value is not None:
            _require_float64(value, name)
    out, cache = forward(**arrays, **params)
    if dout is None:
        dout = np.random.default_rng(seed).standard_normal(np.shape(out))
    grads = backward(np.asarray(dout, dtype=np.asarray(out).dtype), cache)
    if not isinstance(grads, tuple):
        grads = (grads,)
    if len(grads) != len(arrays):
        raise ValueError(
            f"check_layer: backward returned {len(grads)} gradient(s) for {len(arrays)} "
            f"input(s) {list(arrays)}: it must return one per input, in the same order."
        )
    errors: dict[str, float] = {}
    for (name, value), grad in zip(arrays.items(), grads, strict=True):
        if value is None:
            continue
        if grad is None or np.shape(grad) != value.shape:
            raise ValueError(
                f"check_layer: the gradient for {name} has shape "
                f"{None if grad is None else np.shape(grad)}, expected {value.shape}."
            )

        def f(v: np.ndarray, name: str = name) -> np.ndarray:
            return forward(**{**arrays, name: v}, **params)[0]

        numeric = numerical_gradient(f, value.copy(), dout, h)
        errors[name] = rel_error(grad, numeric)
    return GradCheckReport(errors=errors, tol=tol)
