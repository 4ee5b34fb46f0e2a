"""ps3_pooling: max and average pooling, forward and backward.

The cases deliberately include what CS231n's 2x2-stride-2 check never exercises:
overlapping windows (3x3 stride 1, the CS109B example; 3x3 stride 2, AlexNet's pools),
ties (small integer inputs), padding and windows of only negative values. The rules
(which maximum of a tied window gets the gradient, ``-inf`` padding for max pooling,
zeros counted by average pooling) are cnnlab's: every reference below calls
:mod:`cnnlab.naive`. Read-only notebook cells define the probes the grader calls:
``max_pool_out``, ``max_pool_dx``, ``avg_pool_out``, ``avg_pool_dx``.

The variant re-dresses the lecture's 5x5 example: the input may be transposed, and the
upstream gradients rotated and scaled (default: the slides' own numbers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from cnnlab import examples, naive, shapes
from cnnlab.grading.build import Mistake, function_question, value_question
from cnnlab.grading.compare import as_array
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


# --- references: cnnlab's pooling ---------------------------------------------------------


def _f64(a: Any) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64)


def max_out(x, kernel: int, stride: int, padding: int) -> np.ndarray:
    """Max pooling's output, ``(N, C, H_out, W_out)``."""
    return naive.max_pool2d_forward(_f64(x), kernel=kernel, stride=stride, padding=padding)[0]


def max_dx(x, dout, kernel: int, stride: int, padding: int) -> np.ndarray:
    """Max pooling's ``dx`` for upstream gradient ``dout``, ``(N, C, H, W)``."""
    _, cache = naive.max_pool2d_forward(_f64(x), kernel=kernel, stride=stride, padding=padding)
    return naive.max_pool2d_backward(_f64(dout), cache)


def avg_out(x, kernel: int, stride: int, padding: int, *, include_pad: bool = True):
    """Average pooling's output (padded zeros counted unless ``include_pad=False``)."""
    return naive.avg_pool2d_forward(
        _f64(x), kernel=kernel, stride=stride, padding=padding, count_include_pad=include_pad
    )[0]


def avg_dx(x, dout, kernel: int, stride: int, padding: int, *, include_pad: bool = True):
    """Average pooling's ``dx`` for upstream gradient ``dout``."""
    _, cache = naive.avg_pool2d_forward(
        _f64(x), kernel=kernel, stride=stride, padding=padding, count_include_pad=include_pad
    )
    return naive.avg_pool2d_backward(_f64(dout), cache)


# --- the inputs -----------------------------------------------------------------------------


def _label(x_shape, k: int, s: int, p: int) -> str:
    N, C, H, W = x_shape
    return f"N={N}, C={C}, {H}x{W} input, {k}x{k} window, stride {s}, padding {p}"


def _forward_label(x, k: int, s: int, p: int) -> str:
    return _label(np.shape(x), k, s, p)


def _backward_label(x, dout, k: int, s: int, p: int) -> str:
    return _label(np.shape(x), k, s, p)


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


def _forward_args(rng: np.random.Generator, geometry) -> tuple:
    N, C, H, W, k, s, p, kind = geometry
    return (_values(rng, (N, C, H, W), kind, k, s), k, s, p)


def _backward_args(rng: np.random.Generator, geometry) -> tuple:
    N, C, H, W, k, s, p, kind = geometry
    x = _values(rng, (N, C, H, W), kind, k, s)
    if kind == "lecture":
        dout = examples.MAXPOOL_DOUT[None, None].copy()
    else:
        H_out, W_out = shapes.pool_output_size((H, W), k, s, p)
        dout = rng.integers(1, 7, size=(N, C, H_out, W_out)).astype(np.float64)
    return (x, dout, k, s, p)


def _visible_args(make: Callable, seed: int) -> Callable[[], list[tuple]]:
    """The visible cases, drawn from one generator seeded by ``seed`` (the same each run)."""

    def visible() -> list[tuple]:
        rng = np.random.default_rng(seed)
        return [make(rng, geometry) for geometry in VISIBLE]

    return visible


def _hidden_args(make: Callable) -> Callable[[np.random.Generator], list[tuple]]:
    return lambda rng: [make(rng, _scenario_geometry(rng, sc)) for sc in HIDDEN_SCENARIOS]


# --- the wrong computations, each beside the sentence a student reads ---------------------------


def _windows(x_shape, k: int, s: int, p: int):
    """``(n, c, i, j, rows, cols)`` of every window, clipped to the real input, in the
    row-major order a student's loops visit them."""
    N, C, H, W = x_shape
    H_out, W_out = shapes.pool_output_size((H, W), k, s, p)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    top, left = i * s - p, j * s - p
                    rows = slice(max(top, 0), min(top + k, H))
                    cols = slice(max(left, 0), min(left + k, W))
                    yield n, c, i, j, rows, cols


def _routed(x, dout, k: int, s: int, p: int, spread: Callable, *, add: bool = True):
    """A pooling backward written as loops: window ``(i, j)`` sends ``dout[n, c, i, j] *
    spread(window)`` to its pixels, added (``+=``) or, with ``add=False``, assigned
    (``=``) over what earlier windows sent there."""
    x, dout = _f64(x), _f64(dout)
    dx = np.zeros_like(x)
    for n, c, i, j, rows, cols in _windows(x.shape, k, s, p):
        share = spread(x[n, c, rows, cols], k) * dout[n, c, i, j]
        region = dx[n, c, rows, cols]
        if add:
            region += share
        else:
            touched = share != 0
            region[touched] = share[touched]
    return dx


def _cnnlab_winner(window: np.ndarray, k: int) -> np.ndarray:
    """1 at the pixel of ``window`` that cnnlab's max pooling routes the gradient to."""
    _, cache = naive.max_pool2d_forward(window[None, None], kernel=window.shape)
    return naive.max_pool2d_backward(np.ones((1, 1, 1, 1)), cache)[0, 0]


def _last_maximum(window: np.ndarray, k: int) -> np.ndarray:
    flat = window.ravel()
    weights = np.zeros(flat.shape)
    weights[np.flatnonzero(flat == flat.max())[-1]] = 1.0
    return weights.reshape(window.shape)


def _every_maximum(window: np.ndarray, k: int) -> np.ndarray:
    return (window == window.max()).astype(np.float64)


def _evenly(window: np.ndarray, k: int) -> np.ndarray:
    return np.full(window.shape, 1.0 / (k * k))


def _missing_last(reference: Callable) -> Mistake:
    return Mistake(
        "the last row and column of windows are missing: there are (H + 2p - k)//s + 1 "
        "window positions per axis.",
        lambda *args: reference(*args)[..., :-1, :-1],
    )


def _stride_ignored_forward(reference: Callable) -> Mistake:
    def wrong(x, k, s, p):
        H_out, W_out = shapes.pool_output_size(np.shape(x)[2:], k, s, p)
        return reference(x, k, 1, p)[..., :H_out, :W_out]

    return Mistake("the stride was ignored: window (i, j) starts at (i*s, j*s).", wrong)


def _stride_ignored_backward(backward: Callable) -> Mistake:
    def wrong(x, dout, k, s, p):
        dout = _f64(dout)
        N, C, H_out, W_out = dout.shape
        dout_1 = np.zeros((N, C, *shapes.pool_output_size(np.shape(x)[2:], k, 1, p)))
        dout_1[:, :, :H_out, :W_out] = dout  # window (i, j) at (i, j): stride 1's windows
        return backward(x, dout_1, k, 1, p)

    return Mistake(
        "the stride was ignored in backward: the gradient of window (i, j) goes to the "
        "window starting at (i*s, j*s).",
        wrong,
    )


def _uncropped(backward: Callable, fill: float) -> Mistake:
    def wrong(x, dout, k, s, p):
        pads = ((0, 0), (0, 0), (p, p), (p, p))
        return backward(np.pad(_f64(x), pads, constant_values=fill), dout, k, s, 0)

    return Mistake(
        "dx still has the padded border: crop the padding off before returning.", wrong
    )


OVERWRITTEN = (
    "gradients were overwritten (=) where pooling windows overlap: a pixel that wins (or "
    "belongs to) several windows collects the sum of their gradients (+=)."
)
EXCLUDE_PAD = (
    "you divided by the real pixels in the window: this course follows PyTorch's default "
    "(count_include_pad=True) and divides by k*k, padded zeros included."
)

MAX_FORWARD_MISTAKES = (
    Mistake(
        "max pooling was padded with zeros: padding must never win a max, so pad with -inf "
        "(PyTorch's rule); it matters where a window holds only negative values.",
        lambda x, k, s, p: max_out(np.pad(_f64(x), ((0, 0), (0, 0), (p, p), (p, p))), k, s, 0),
    ),
    _missing_last(max_out),
    _stride_ignored_forward(max_out),
)

AVG_FORWARD_MISTAKES = (
    Mistake(EXCLUDE_PAD, lambda x, k, s, p: avg_out(x, k, s, p, include_pad=False)),
    Mistake(
        "each window was summed, not averaged: divide by k*k.",
        lambda x, k, s, p: avg_out(x, k, s, p) * (k * k),
    ),
    _missing_last(avg_out),
    _stride_ignored_forward(avg_out),
)

#: Max-pool backward, most likely first; the lecture's example reuses them.
MAX_BACKWARD_MISTAKES = (
    Mistake(
        OVERWRITTEN,
        lambda x, dout, k, s, p: _routed(x, dout, k, s, p, _cnnlab_winner, add=False),
    ),
    Mistake(
        "on a tie the gradient went to the last maximum: PyTorch's rule (and this "
        "course's) sends it to the first maximum in row-major order, and only to it.",
        lambda x, dout, k, s, p: _routed(x, dout, k, s, p, _last_maximum),
    ),
    Mistake(
        "on a tie every maximum got the gradient: only the first maximum in row-major "
        "order (the one forward picked) receives it.",
        lambda x, dout, k, s, p: _routed(x, dout, k, s, p, _every_maximum),
    ),
    Mistake(
        "the gradient was spread evenly over the window, as in average pooling: in max "
        "pooling only the maximum (the pixel forward picked) receives it.",
        avg_dx,
    ),
    _uncropped(max_dx, -np.inf),
    _stride_ignored_backward(max_dx),
    Mistake(
        OVERWRITTEN,
        lambda x, dout, k, s, p: _routed(x, dout, k, s, p, _last_maximum, add=False),
    ),
)

AVG_BACKWARD_MISTAKES = (
    Mistake(
        "the upstream gradient was not divided by k*k: each pixel contributed 1/(k*k) of "
        "the window's average.",
        lambda x, dout, k, s, p: avg_dx(x, dout, k, s, p) * (k * k),
    ),
    Mistake(OVERWRITTEN, lambda x, dout, k, s, p: _routed(x, dout, k, s, p, _evenly, add=False)),
    Mistake(EXCLUDE_PAD, lambda x, dout, k, s, p: avg_dx(x, dout, k, s, p, include_pad=False)),
    _uncropped(avg_dx, 0.0),
    _stride_ignored_backward(avg_dx),
)


# --- the questions ----------------------------------------------------------------------------


def _pooling_question(name, target, points, *, forward: bool, seed, reference, mistakes, title):
    make = _forward_args if forward else _backward_args
    label = _forward_label if forward else _backward_label
    return function_question(
        f"{ASSIGNMENT}-{name}",
        target,
        points=points,
        reference=reference,
        visible=_visible_args(make, seed),
        hidden=_hidden_args(make),
        mistakes=mistakes,
        label=label,
        describe=label,
        result="out" if forward else "dx",
        title=title,
    )


MAX_FORWARD = _pooling_question(
    "max_forward",
    "max_pool_out",
    2,
    forward=True,
    seed=30_301,
    reference=max_out,
    mistakes=MAX_FORWARD_MISTAKES,
    title="max_pool2d_forward",
)
MAX_BACKWARD = _pooling_question(
    "max_backward",
    "max_pool_dx",
    4,
    forward=False,
    seed=30_302,
    reference=max_dx,
    mistakes=MAX_BACKWARD_MISTAKES,
    title="max_pool2d_backward",
)
AVG_FORWARD = _pooling_question(
    "avg_forward",
    "avg_pool_out",
    2,
    forward=True,
    seed=30_303,
    reference=avg_out,
    mistakes=AVG_FORWARD_MISTAKES,
    title="avg_pool2d_forward",
)
AVG_BACKWARD = _pooling_question(
    "avg_backward",
    "avg_pool_dx",
    3,
    forward=False,
    seed=30_304,
    reference=avg_dx,
    mistakes=AVG_BACKWARD_MISTAKES,
    title="avg_pool2d_backward",
)


# --- the lecture's example, with the student's numbers ------------------------------------------


def _lecture_args(variant: Mapping[str, Any]) -> tuple:
    """``(x, dout, kernel, stride, padding)`` of the lecture's example, 4-D."""
    x, dout = lecture_example(variant)
    return (x[None, None], dout[None, None], 3, 1, 0)


def _as_map(value: Any) -> Any:
    """A ``(1, 1, H, W)`` answer read as the ``(H, W)`` map asked for."""
    array = as_array(value)
    if array is not None and array.ndim == 4 and array.shape[:2] == (1, 1):
        return array[0, 0]
    return value


def _on_lecture(mistake: Mistake) -> Mistake:
    """A backward mistake, as it shows on the lecture's example."""
    return Mistake(mistake.sentence, lambda v: mistake.compute(*_lecture_args(v))[0, 0])


LECTURE_OUT = value_question(
    f"{ASSIGNMENT}-lecture_out",
    "ans_lecture_out",
    points=1,
    reference=lambda v: max_out(_lecture_args(v)[0], 3, 1, 0)[0, 0],
    read=_as_map,
    result="the pooled output",
    variant_fields=("x_transpose",),
    title="the lecture's example: forward",
)
LECTURE_DX = value_question(
    f"{ASSIGNMENT}-lecture_dx",
    "ans_lecture_dx",
    points=1,
    reference=lambda v: max_dx(*_lecture_args(v))[0, 0],
    mistakes=[_on_lecture(mistake) for mistake in MAX_BACKWARD_MISTAKES],
    read=_as_map,
    result="the gradient dx",
    variant_fields=("x_transpose", "dout_rotation", "dout_scale"),
    title="the lecture's example: backward",
)

#: The questions, in notebook order (the registry reads this; importing registers nothing).
QUESTIONS = (MAX_FORWARD, MAX_BACKWARD, AVG_FORWARD, AVG_BACKWARD, LECTURE_OUT, LECTURE_DX)
