"""ps2_conv: convolution forward and backward in NumPy, and a numerical gradient.

Students write ``conv2d_forward(x, w, b, stride, padding) -> (out, cache)`` and
``conv2d_backward(dout, cache) -> (dx, dw, db)``. Their cache never crosses the sandbox
boundary: read-only cells of the notebook define the probes the grader calls,
``conv2d_out`` (forward, output only) and ``conv2d_grads`` (forward then backward),
which return plain arrays. ``numerical_gradient_probe`` runs the student's
``numerical_gradient`` on ``f(z) = tanh(z @ a)``, whose gradient is known exactly.

The variant sets the shape of one visible example (default: CS231n's 7x7 input, 3x3
filter, stride 2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from cnnlab.grading import diagnose
from cnnlab.grading import reference as ref
from cnnlab.grading.compare import array_check, sequence_of
from cnnlab.grading.questions import Case, Check, Question
from cnnlab.grading.variants import Draw, VariantSpec, register_variant

ASSIGNMENT = "ps2_conv"

DEFAULTS: dict[str, int] = {"H": 7, "W": 7, "K": 3, "stride": 2, "padding": 0}


def _draw(draw: Draw) -> dict[str, int]:
    K = draw.choice((2, 3, 4))
    return {
        "H": draw.integer(K + 2, 9),
        "W": draw.integer(K + 2, 9),
        "K": K,
        "stride": draw.choice((1, 2, 3)),
        "padding": draw.integer(0, 2),
    }


register_variant(VariantSpec(ASSIGNMENT, DEFAULTS, _draw))


# --- inputs ------------------------------------------------------------------------------


def _geometry_label(x_shape, w_shape, stride: int, padding: int) -> str:
    N, C, H, W = x_shape
    F, _, KH, KW = w_shape
    return (
        f"N={N}, C={C}, {H}x{W} input, F={F}, {KH}x{KW} filters, "
        f"stride {stride}, padding {padding}"
    )


def _conv_inputs(rng: np.random.Generator, N, C, H, W, F, KH, KW):
    x = rng.normal(size=(N, C, H, W))
    w = rng.normal(size=(F, C, KH, KW))
    b = rng.normal(size=(F,))
    return x, w, b


def _out_hw(H: int, W: int, KH: int, KW: int, s: int, p: int) -> tuple[int, int]:
    return (H + 2 * p - KH) // s + 1, (W + 2 * p - KW) // s + 1


def _visible_geometries(variant: Mapping[str, Any]):
    """``(geometry, weight)`` of the visible cases.

    The student's own example (the variant's shape) is shown but not scored: whether a
    mistake shows on it depends on the variant's stride and padding, and a mistake
    must cost every student the same.
    """
    v = variant
    return [
        # (N, C, H, W, F, KH, KW, stride, padding)
        ((1, 1, 7, 7, 1, 3, 3, 1, 0), 1.0),  # CS231n: 7x7 input, 3x3 filter -> 5x5
        ((2, 3, v["H"], v["W"], 2, v["K"], v["K"], v["stride"], v["padding"]), 0.0),
        ((1, 2, 5, 6, 3, 2, 3, 1, 1), 1.0),  # non-square input and kernel, padding
        ((2, 2, 7, 6, 2, 3, 3, 2, 1), 1.0),  # overlapping windows, stride and padding
    ]


#: Hidden-case scenarios: (N, KH, KW, stride, padding). Sizes, channels and values are
#: drawn at grading time; every scenario has at least two windows per axis, so windows
#: overlap whenever the kernel is larger than the stride.
HIDDEN_SCENARIOS = (
    (1, 3, 3, 1, 0),  # N = 1, overlapping windows
    (2, 3, 3, 2, 1),  # overlap, stride and padding together
    (3, 2, 3, 1, 2),  # non-square kernel, wide padding
    (2, 2, 2, 3, 0),  # stride larger than the kernel: gaps, no overlap
    (1, 3, 2, 2, 0),  # non-square kernel, stride 2
    (2, 1, 1, 1, 1),  # 1x1 kernel with padding
    (2, 4, 4, 2, 2),  # large kernel, stride 2, padding 2
    (1, 3, 3, 1, 1),  # 'same'-style padding
)


def _scenario_geometry(rng: np.random.Generator, scenario) -> tuple:
    N, KH, KW, s, p = scenario
    C, F = int(rng.integers(1, 4)), int(rng.integers(1, 5))
    H = int(rng.integers(max(KH + s - 2 * p, 2), 10))
    W = int(rng.integers(max(KW + s - 2 * p, 2), 10))
    if H == W:
        W += 1  # always a non-square input
    return (N, C, H, W, F, KH, KW, s, p)


def _forward_case(rng, geometry, hidden: bool, weight: float = 1.0) -> Case:
    N, C, H, W, F, KH, KW, s, p = geometry
    x, w, b = _conv_inputs(rng, N, C, H, W, F, KH, KW)
    label = _geometry_label(x.shape, w.shape, s, p)
    return Case((x, w, b, s, p), label=label, hidden=hidden, weight=weight)


def _backward_case(rng, geometry, hidden: bool, weight: float = 1.0) -> Case:
    N, C, H, W, F, KH, KW, s, p = geometry
    x, w, b = _conv_inputs(rng, N, C, H, W, F, KH, KW)
    dout = rng.normal(size=(N, F, *_out_hw(H, W, KH, KW, s, p)))
    label = _geometry_label(x.shape, w.shape, s, p)
    return Case((x, w, b, dout, s, p), label=label, hidden=hidden, weight=weight)


# --- conv forward -------------------------------------------------------------------------


def _forward_visible(variant: Mapping[str, Any]) -> list[Case]:
    rng = np.random.default_rng(20_241)
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    cases = [
        Case(
            (x, np.ones((1, 1, 2, 2)), np.array([0.5]), 2, 0),
            label="4x4 arange input, one 2x2 filter of ones, bias 0.5, stride 2 (docs example)",
        )
    ]
    cases += [_forward_case(rng, g, False, weight) for g, weight in _visible_geometries(variant)]
    return cases


def _forward_hidden(rng: np.random.Generator, variant: Mapping[str, Any]) -> list[Case]:
    return [_forward_case(rng, _scenario_geometry(rng, sc), True) for sc in HIDDEN_SCENARIOS]


def _forward_judge(value: Any, case: Case, variant: Mapping[str, Any]) -> list[Check]:
    expected = ref.conv_out(*case.args)
    return [
        array_check(
            "out",
            value,
            expected,
            reveal=not case.hidden,
            diagnose=lambda: diagnose.conv_out(value, case, expected, every=True),
        )
    ]


CONV_FORWARD = Question(
    f"{ASSIGNMENT}-conv_forward",
    "conv2d_out",
    "function",
    4,
    visible=_forward_visible,
    hidden=_forward_hidden,
    judge=_forward_judge,
    variant_fields=("H", "W", "K", "stride", "padding"),
    title="conv2d_forward",
)


# --- conv backward ------------------------------------------------------------------------


def _backward_visible(variant: Mapping[str, Any]) -> list[Case]:
    rng = np.random.default_rng(20_242)
    return [_backward_case(rng, g, False, weight) for g, weight in _visible_geometries(variant)]


def _backward_hidden(rng: np.random.Generator, variant: Mapping[str, Any]) -> list[Case]:
    return [_backward_case(rng, _scenario_geometry(rng, sc), True) for sc in HIDDEN_SCENARIOS]


def _backward_judge(value: Any, case: Case, variant: Mapping[str, Any]) -> list[Check]:
    dx, dw, db = ref.conv_grads(*case.args)
    parts = sequence_of(value, 3)
    if parts is None:
        return [Check(False, "conv2d_backward should return a tuple (dx, dw, db).", weight=3.0)]
    reveal = not case.hidden
    return [
        array_check(
            name,
            got,
            expected,
            reveal=reveal,
            diagnose=lambda got=got, expected=expected, detector=detector: detector(
                got, case, expected, every=True
            ),
        )
        for name, got, expected, detector in (
            ("dx", parts[0], dx, diagnose.conv_dx),
            ("dw", parts[1], dw, diagnose.conv_dw),
            ("db", parts[2], db, diagnose.conv_db),
        )
    ]


CONV_BACKWARD = Question(
    f"{ASSIGNMENT}-conv_backward",
    "conv2d_grads",
    "function",
    6,
    visible=_backward_visible,
    hidden=_backward_hidden,
    judge=_backward_judge,
    variant_fields=("H", "W", "K", "stride", "padding"),
    title="conv2d_backward",
)


# --- numerical gradient ---------------------------------------------------------------------


def tanh_matmul_gradient(x: np.ndarray, a: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Exact gradient of ``sum(tanh(x @ a) * df)`` with respect to ``x``."""
    t = np.tanh(x @ a)
    return ((1.0 - t * t) * df) @ a.T


def _numgrad_case(rng: np.random.Generator, n: int, m: int, k: int, hidden: bool) -> Case:
    x = rng.normal(size=(n, m))
    a = rng.normal(size=(m, k)) / np.sqrt(m)
    df = rng.normal(size=(n, k))
    return Case((x, a, df), label=f"x {n}x{m}, a {m}x{k}", hidden=hidden)


def _numgrad_visible(variant: Mapping[str, Any]) -> list[Case]:
    rng = np.random.default_rng(20_243)
    return [_numgrad_case(rng, 1, 3, 2, False), _numgrad_case(rng, 4, 5, 3, False)]


def _numgrad_hidden(rng: np.random.Generator, variant: Mapping[str, Any]) -> list[Case]:
    return [
        _numgrad_case(
            rng, int(rng.integers(1, 5)), int(rng.integers(1, 6)), int(rng.integers(1, 5)), True
        )
        for _ in range(4)
    ]


def _numgrad_judge(value: Any, case: Case, variant: Mapping[str, Any]) -> list[Check]:
    expected = tanh_matmul_gradient(*case.args)
    return [
        array_check(
            "the gradient",
            value,
            expected,
            reveal=not case.hidden,
            rtol=1e-7,
            atol=1e-8,
            diagnose=lambda: diagnose.numerical_gradient(value, case, expected, every=True),
        )
    ]


NUMERICAL_GRADIENT = Question(
    f"{ASSIGNMENT}-numerical_gradient",
    "numerical_gradient_probe",
    "function",
    2,
    visible=_numgrad_visible,
    hidden=_numgrad_hidden,
    judge=_numgrad_judge,
    title="numerical_gradient",
)

#: The questions, in notebook order (the registry reads this; importing registers nothing).
QUESTIONS = (CONV_FORWARD, CONV_BACKWARD, NUMERICAL_GRADIENT)
