"""Deliberately wrong implementations: what a common mistake computes.

:mod:`cnnlab.grading.diagnose` recognises a misconception by recomputing the answer
*with the mistake* and comparing it with the student's. Where a mistake can be written
as the correct layer applied to altered inputs (a flipped kernel, a pre-padded input, a
stride of 1), the correct layer from :mod:`cnnlab.grading.reference` is reused.
"""

from __future__ import annotations

import math

import numpy as np

from cnnlab.grading import reference as ref

__all__ = [
    "conv_dx_cropped_top_left",
    "conv_dx_overwritten",
    "conv_grads_stride_ignored",
    "conv_out_stride_ignored",
    "numerical_gradient",
    "output_size",
    "pad",
    "same_padding",
]


# --- ps1: arithmetic -------------------------------------------------------------------


def output_size(n: int, k: int, s: int = 1, p: int = 0, d: int = 1, *, mistake: str) -> float:
    """The output size a given mistake produces (may be a non-integer for ``'true_division'``)."""
    span = d * (k - 1) + 1
    if mistake == "missing_plus_one":
        return (n + 2 * p - span) // s
    if mistake == "one_side_padding":
        return (n + p - span) // s + 1
    if mistake == "ceil":
        return math.ceil((n + 2 * p - span) / s) + 1
    if mistake == "true_division":
        return (n + 2 * p - span) / s + 1
    if mistake == "dilation_ignored":
        return (n + 2 * p - k) // s + 1
    if mistake == "dilation_times_kernel":
        return (n + 2 * p - d * k) // s + 1
    if mistake == "stride_ignored":
        return n + 2 * p - span + 1
    if mistake == "padding_ignored":
        return (n - span) // s + 1
    raise ValueError(f"unknown mistake {mistake!r}")


def same_padding(n: int, k: int, s: int, *, mistake: str) -> tuple[int, int]:
    """``(before, after)`` 'same' padding as a given mistake computes it."""
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    if mistake == "extra_pixel_first":
        return (total - total // 2, total // 2)
    if mistake == "stride_ignored":
        total = k - 1
        return (total // 2, total - total // 2)
    raise ValueError(f"unknown mistake {mistake!r}")


# --- ps2: convolution --------------------------------------------------------------------


def conv_grads_stride_ignored(x, w, b, dout, stride: int, padding: int):
    """Backward whose loops put window ``(i, j)`` at ``(i, j)``, not ``(i*s, j*s)``."""
    N, F, H_out, W_out = dout.shape
    H1 = x.shape[2] + 2 * padding - w.shape[2] + 1
    W1 = x.shape[3] + 2 * padding - w.shape[3] + 1
    dout1 = np.zeros((N, F, H1, W1))
    dout1[:, :, :H_out, :W_out] = dout
    return ref.conv_grads(x, w, b, dout1, 1, padding)


def conv_dx_overwritten(x, w, dout, stride: int, padding: int) -> np.ndarray:
    """dx from loops that assign (``=``) each window's contribution instead of adding it."""
    N, F, H_out, W_out = dout.shape
    _, _, KH, KW = w.shape
    H, W = x.shape[2:]
    dxp = np.zeros((N, x.shape[1], H + 2 * padding, W + 2 * padding))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    rows = slice(i * stride, i * stride + KH)
                    cols = slice(j * stride, j * stride + KW)
                    dxp[n, :, rows, cols] = w[f] * dout[n, f, i, j]
    return dxp[:, :, padding : padding + H, padding : padding + W]


def conv_out_stride_ignored(x, w, b, stride: int, padding: int) -> np.ndarray:
    """Forward whose output has the right shape but whose window ``(i, j)`` starts at
    ``(i, j)``: the stride-1 output's top-left ``H_out x W_out`` corner."""
    H_out, W_out = ref.conv_out(x, w, b, stride, padding).shape[2:]
    return ref.conv_out(x, w, b, 1, padding)[..., :H_out, :W_out]


def pad(a: np.ndarray, padding: int) -> np.ndarray:
    """``a`` zero-padded by ``padding`` on each side of its last two axes."""
    return np.pad(a, ((0, 0), (0, 0), (padding, padding), (padding, padding)))


def conv_dx_cropped_top_left(x, w, b, dout, stride: int, padding: int) -> np.ndarray:
    """dx cropped from the padded gradient's top-left corner instead of its centre."""
    if padding == 0:
        return None
    H, W = x.shape[2:]
    dxp = ref.conv_grads(pad(x, padding), w, b, dout, stride, 0)[0]
    return dxp[:, :, :H, :W]


# --- ps2: finite differences -----------------------------------------------------------


def numerical_gradient(f, x: np.ndarray, df: np.ndarray, h: float = 1e-5, *, mistake: str):
    """A numerical gradient of ``sum(f(x) * df)`` with a given mistake."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    if mistake == "ignores_df":
        df = np.ones_like(df)
    for index in np.ndindex(x.shape):
        old = x[index]
        if mistake == "forward_difference":
            f0 = f(x)
            x[index] = old + h
            grad[index] = np.sum((f(x) - f0) * df) / h
            x[index] = old
            continue
        x[index] = old + h
        plus = f(x)
        x[index] = old - h
        minus = f(x)
        if mistake != "not_restored":
            x[index] = old
        divisor = h if mistake == "divides_by_h" else 2 * h
        grad[index] = np.sum((plus - minus) * df) / divisor
    return grad
