"""The correct answers, from cnnlab's own layers, in float64 and without warnings.

Grading never trusts the student's code for the expected value: every question asks
these wrappers, which call cnnlab's layers with the course conventions of the
assignments (integer kernel, stride and padding).

They use :mod:`cnnlab.naive`, the loop versions of :mod:`cnnlab.layers` (same
signatures, same validation, same caches, and tested against the fast layers in
cnnlab's own suite): grading inputs are a few hundred numbers, and the loops answer at
once where the Numba kernels would first need to compile or load, which a student
running ``check`` in a fresh kernel would otherwise wait for.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

__all__ = [
    "conv_grads",
    "conv_out",
    "quiet",
]

T = TypeVar("T")


def quiet(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call ``function`` with every warning silenced (nbgrader zeroes stderr output)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            return function(*args, **kwargs)


def _f64(a: Any) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64)


def conv_out(x, w, b, stride: int, padding: int) -> np.ndarray:
    """``conv2d_forward`` output: x (N, C, H, W), w (F, C, KH, KW), b (F,)."""
    from cnnlab.naive import conv2d_forward

    out, _ = quiet(conv2d_forward, _f64(x), _f64(w), _f64(b), stride=stride, padding=padding)
    return out


def conv_grads(x, w, b, dout, stride: int, padding: int):
    """``(dx, dw, db)`` of a convolution for upstream gradient ``dout``."""
    from cnnlab.naive import conv2d_backward, conv2d_forward

    _, cache = quiet(conv2d_forward, _f64(x), _f64(w), _f64(b), stride=stride, padding=padding)
    return quiet(conv2d_backward, _f64(dout), cache)
