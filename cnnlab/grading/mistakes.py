"""Deliberately wrong implementations: what a common mistake computes.

:mod:`cnnlab.grading.diagnose` recognises a misconception by recomputing the answer
*with the mistake* and comparing it with the student's.
"""

from __future__ import annotations

import math

__all__ = [
    "output_size",
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


