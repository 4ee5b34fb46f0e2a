"""ps3_pooling: max and average pooling, forward and backward.

The cases deliberately include what CS231n's 2x2-stride-2 check never exercises:
overlapping windows (3x3 stride 1, the CS109B example; 3x3 stride 2, AlexNet's pools),
ties (small integer inputs; PyTorch's rule: the first maximum in row-major order wins),
padding (``-inf`` for max pooling, counted zeros for average pooling) and windows of
only negative values. Read-only notebook cells define the probes the grader calls:
``max_pool_out``, ``max_pool_dx``, ``avg_pool_out``, ``avg_pool_dx``.

The variant re-dresses the lecture's 5x5 example: the input may be transposed, and the
upstream gradients rotated and scaled (default: the slides' own numbers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from cnnlab import examples
from cnnlab.grading import diagnose
from cnnlab.grading import reference as ref
from cnnlab.grading.compare import array_check, as_array
from cnnlab.grading.questions import Case, Check, Question
from cnnlab.grading.variants import Draw, VariantSpec, register_variant

ASSIGNMENT = "ps3_pooling"

DEFAULTS: dict[str, int] = {"x_transpose": 0, "dout_rotation": 0, "dout_scale": 1}


def _draw(draw: Draw) -> dict[str, int]:
    while True:
        v = {
            "x_transpose": draw.integer(0, 1),
            "dout_rotation": draw.integer(0, 3),
            "dout_scale": draw.integer(1, 3),
        }
        if v != DEFAULTS:
            return v


register_variant(VariantSpec(ASSIGNMENT, DEFAULTS, _draw))


def lecture_example(variant: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The CS109B 5x5 input and 3x3 upstream gradient, as this variant dresses them."""
    x = examples.MAXPOOL_INPUT.T if variant["x_transpose"] else examples.MAXPOOL_INPUT
    dout = np.rot90(examples.MAXPOOL_DOUT, int(variant["dout_rotation"])) * variant["dout_scale"]
    return np.ascontiguousarray(x), np.ascontiguousarray(dout)


# --- inputs ------------------------------------------------------------------------------


def _label(x_shape, k: int, s: int, p: int) -> str:
    N, C, H, W = x_shape
    return f"N={N}, C={C}, {H}x{W} input, {k}x{k} window, stride {s}, padding {p}"


def _out(H: int, k: int, s: int, p: int) -> int:
    return (H + 2 * p - k) // s + 1


def _ramp(rng: np.random.Generator, shape, *, negative: bool) -> np.ndarray:
    """Distinct values decreasing in row-major order: each window's maximum is its
    top-left real pixel, so two windows share a winner only where padding clips them."""
    N, C, H, W = shape
    slope = rng.uniform(0.5, 2.0, size=(N, C, 1, 1))
    steps = np.arange(H * W, dtype=np.float64).reshape(1, 1, H, W)
    top = -rng.uniform(1.0, 3.0, size=(N, C, 1, 1)) if negative else slope * H * W + 1.0
    return top - slope * steps


def _values(rng: np.random.Generator, shape, kind: str, k: int, s: int) -> np.ndarray:
    """Inputs built so that each kind of mistake shows, or not, by construction.

    ``lecture``: the CS109B 5x5 map. ``peak``: distinct negative values and one large
    peak that wins several overlapping windows. ``ties``: a constant (every window
    tied). ``ramp``: distinct positive values. ``negative``: distinct negative values
    (padding must not win).
    """
    N, C, H, W = shape
    if kind == "lecture":
        return examples.MAXPOOL_INPUT[None, None].copy()
    if kind == "ties":
        return np.broadcast_to(rng.uniform(1.0, 5.0, size=(N, C, 1, 1)), shape).copy()
    if kind == "peak":
        x = -(rng.permuted(np.tile(np.arange(1.0, H * W + 1), (N, C, 1)), axis=2))
        x = x.reshape(shape)
        x[:, :, s, s] = 10.0 * H * W  # inside windows 0 and 1 of both axes
        return x
    return _ramp(rng, shape, negative=kind == "negative")


#: Visible cases: (N, C, H, W, kernel, stride, padding, kind).
VISIBLE = (
    (1, 1, 5, 5, 3, 1, 0, "lecture"),  # CS109B: 3x3 stride 1, overlapping
    (1, 2, 7, 7, 3, 2, 0, "peak"),  # AlexNet-style 3x3 stride 2, overlapping
    (2, 1, 4, 4, 2, 2, 0, "ramp"),  # CS231n: 2x2 stride 2
    (1, 1, 3, 4, 2, 1, 0, "ties"),  # every window tied
    (1, 2, 5, 6, 3, 2, 1, "negative"),  # padding next to negative values
)
#: Hidden-case scenarios: (N, C, kernel, stride, padding, kind); sizes drawn at grading.
HIDDEN_SCENARIOS = (
    (1, 1, 3, 1, 0, "peak"),
    (2, 2, 3, 2, 0, "peak"),
    (1, 2, 2, 1, 0, "ties"),
    (2, 1, 3, 2, 1, "ties"),
    (1, 2, 3, 1, 1, "negative"),
    (2, 1, 2, 2, 0, "ramp"),
    (1, 3, 3, 3, 1, "ramp"),
    (2, 2, 3, 2, 1, "ramp"),
)


def _scenario_geometry(rng: np.random.Generator, scenario) -> tuple:
    N, C, k, s, p, kind = scenario
    low = max(k + s - 2 * p, s + 1, 2)  # two windows per axis, room for the peak
    H = int(rng.integers(low, 9))
    W = int(rng.integers(low, 9))
    if H == W:
        W += 1  # always a non-square input
    return (N, C, H, W, k, s, p, kind)


def _forward_case(rng, geometry, hidden: bool) -> Case:
    N, C, H, W, k, s, p, kind = geometry
    x = _values(rng, (N, C, H, W), kind, k, s)
    return Case((x, k, s, p), label=_label(x.shape, k, s, p), hidden=hidden)


def _backward_case(rng, geometry, hidden: bool) -> Case:
    N, C, H, W, k, s, p, kind = geometry
    x = _values(rng, (N, C, H, W), kind, k, s)
    if kind == "lecture":
        dout = examples.MAXPOOL_DOUT[None, None].copy()
    else:
        shape = (N, C, _out(H, k, s, p), _out(W, k, s, p))
        dout = rng.integers(1, 7, size=shape).astype(np.float64)
    return Case((x, dout, k, s, p), label=_label(x.shape, k, s, p), hidden=hidden)


def _cases(make: Callable, seed: int):
    def visible(variant: Mapping[str, Any]) -> list[Case]:
        rng = np.random.default_rng(seed)
        return [make(rng, g, False) for g in VISIBLE]

    def hidden(rng: np.random.Generator, variant: Mapping[str, Any]) -> list[Case]:
        return [make(rng, _scenario_geometry(rng, sc), True) for sc in HIDDEN_SCENARIOS]

    return visible, hidden


def _judge(name: str, reference: Callable, detector: Callable):
    def judge(value: Any, case: Case, variant: Mapping[str, Any]) -> list[Check]:
        expected = reference(*case.args)
        return [
            array_check(
                name,
                value,
                expected,
                reveal=not case.hidden,
                diagnose=lambda: detector(value, case, expected, every=True),
            )
        ]

    return judge


def _question(name, target, points, make, seed, judge, title) -> Question:
    visible, hidden = _cases(make, seed)
    return Question(
        f"{ASSIGNMENT}-{name}",
        target,
        "function",
        points,
        visible=visible,
        hidden=hidden,
        judge=judge,
        title=title,
    )


MAX_FORWARD = _question(
    "max_forward",
    "max_pool_out",
    2,
    _forward_case,
    30_301,
    _judge("out", ref.max_pool_out, diagnose.max_pool_out),
    "max_pool2d_forward",
)
MAX_BACKWARD = _question(
    "max_backward",
    "max_pool_dx",
    4,
    _backward_case,
    30_302,
    _judge("dx", ref.max_pool_dx, diagnose.max_pool_dx),
    "max_pool2d_backward",
)
AVG_FORWARD = _question(
    "avg_forward",
    "avg_pool_out",
    2,
    _forward_case,
    30_303,
    _judge("out", ref.avg_pool_out, diagnose.avg_pool_out),
    "avg_pool2d_forward",
)
AVG_BACKWARD = _question(
    "avg_backward",
    "avg_pool_dx",
    3,
    _backward_case,
    30_304,
    _judge("dx", ref.avg_pool_dx, diagnose.avg_pool_dx),
    "avg_pool2d_backward",
)


# --- the lecture's example, with the student's numbers ------------------------------------------


def _lecture_case(variant: Mapping[str, Any]) -> Case:
    x, dout = lecture_example(variant)
    return Case((x[None, None], dout[None, None], 3, 1, 0), label="the lecture's 5x5 example")


def _value_judge(name: str, compute: Callable, detector: Callable | None):
    def judge(value: Any, case: Case, variant: Mapping[str, Any]) -> list[Check]:
        probe = _lecture_case(variant)
        expected = compute(probe)
        array = as_array(value)
        if array is not None and array.ndim == 4 and array.shape[:2] == (1, 1):
            array = array[0, 0]  # (1, 1, H, W) is accepted too
        found = array if array is not None else value
        diagnose_it = None
        if detector is not None and array is not None:

            def diagnose_it() -> str | None:
                return detector(array[None, None], probe, expected[None, None])

        return [array_check(name, found, expected, reveal=False, diagnose=diagnose_it)]

    return judge


def _lecture_out(probe: Case) -> np.ndarray:
    x, _, k, s, p = probe.args
    return ref.max_pool_out(x, k, s, p)[0, 0]


def _lecture_dx(probe: Case) -> np.ndarray:
    return ref.max_pool_dx(*probe.args)[0, 0]


LECTURE_OUT = Question(
    f"{ASSIGNMENT}-lecture_out",
    "ans_lecture_out",
    "value",
    1,
    visible=lambda variant: [Case(label="ans_lecture_out")],
    judge=_value_judge("the pooled output", _lecture_out, None),
    variant_fields=("x_transpose",),
    title="the lecture's example: forward",
)
LECTURE_DX = Question(
    f"{ASSIGNMENT}-lecture_dx",
    "ans_lecture_dx",
    "value",
    1,
    visible=lambda variant: [Case(label="ans_lecture_dx")],
    judge=_value_judge(
        "the gradient dx",
        _lecture_dx,
        lambda value, probe, expected: diagnose.max_pool_dx(
            value, Case((probe.args[0], probe.args[1], 3, 1, 0)), expected
        ),
    ),
    variant_fields=("x_transpose", "dout_rotation", "dout_scale"),
    title="the lecture's example: backward",
)

#: The questions, in notebook order (the registry reads this; importing registers nothing).
QUESTIONS = (MAX_FORWARD, MAX_BACKWARD, AVG_FORWARD, AVG_BACKWARD, LECTURE_OUT, LECTURE_DX)
