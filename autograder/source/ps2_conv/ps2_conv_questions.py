"""ps2_conv: convolution forward and backward in NumPy, and a numerical gradient.

Students write ``conv2d_forward(x, w, b, stride, padding) -> (out, cache)`` and
``conv2d_backward(dout, cache) -> (dx, dw, db)``. Their cache never crosses the sandbox
boundary: read-only cells of the notebook define the probes the grader calls,
``conv2d_out`` (forward, output only) and ``conv2d_grads`` (forward then backward),
which return plain arrays. ``numerical_gradient_probe`` runs the student's
``numerical_gradient`` on ``f(z) = tanh(z @ a)``, whose gradient is known exactly.

The references are cnnlab's loop layers (:mod:`cnnlab.naive`, float64); each
misconception is the sentence a student reads next to the wrong computation that
produces it. The variant sets the shape of one visible example (default: CS231n's 7x7
input, 3x3 filter, stride 2). This file is released with the notebook: a student's
``check`` reads it there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from cnnlab import naive, shapes
from cnnlab.grading.build import Mistake, function_question
from cnnlab.grading.questions import Case
from cnnlab.grading.variants import Draw, VariantSpec, register_variant

ASSIGNMENT = "ps2_conv"

# --- the variant: the shape of the student's own example ----------------------------------

DEFAULTS: dict[str, int] = {"H": 7, "W": 7, "K": 3, "stride": 2, "padding": 0}
VARIANT_FIELDS = tuple(DEFAULTS)


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


# --- references: cnnlab's loop layers ---------------------------------------------------------


def _f64(a: Any) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64)


def conv_out(x, w, b, stride: int, padding: int) -> np.ndarray:
    """``conv2d_forward``'s output: x (N, C, H, W), w (F, C, KH, KW), b (F,)."""
    out, _ = naive.conv2d_forward(
        _f64(x), _f64(w), _f64(b), stride=int(stride), padding=int(padding)
    )
    return out


def conv_grads(x, w, b, dout, stride: int, padding: int):
    """``(dx, dw, db)`` of a convolution for the upstream gradient ``dout``."""
    _, cache = naive.conv2d_forward(
        _f64(x), _f64(w), _f64(b), stride=int(stride), padding=int(padding)
    )
    return naive.conv2d_backward(_f64(dout), cache)


def tanh_matmul_gradient(x: np.ndarray, a: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Exact gradient of ``sum(tanh(x @ a) * df)`` with respect to ``x``."""
    t = np.tanh(x @ a)
    return ((1.0 - t * t) * df) @ a.T


def _pad(a: np.ndarray, top_left: int, bottom_right: int) -> np.ndarray:
    """``a`` zero-padded on its last two axes: ``top_left`` before, ``bottom_right`` after."""
    return np.pad(a, ((0, 0), (0, 0), (top_left, bottom_right), (top_left, bottom_right)))


def _stride_one_corner(x, w, b, s: int, p: int) -> np.ndarray:
    """The right output shape, but window ``(i, j)`` starts at ``(i, j)``: the stride-1
    output's top-left ``H_out x W_out`` corner."""
    H_out, W_out = shapes.conv_output_size(x.shape[2:], w.shape[2:], stride=s, padding=p)
    return conv_out(x, w, b, 1, p)[..., :H_out, :W_out]


def _square(w) -> bool:
    return np.shape(w)[2] == np.shape(w)[3]


# --- cases ------------------------------------------------------------------------------------


def _geometry_label(x_shape, w_shape, stride: int, padding: int) -> str:
    N, C, H, W = x_shape
    F, _, KH, KW = w_shape
    return (
        f"N={N}, C={C}, {H}x{W} input, F={F}, {KH}x{KW} filters, "
        f"stride {stride}, padding {padding}"
    )


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


def _conv_case(rng, geometry, hidden: bool, weight: float = 1.0, *, backward: bool) -> Case:
    N, C, H, W, F, KH, KW, s, p = geometry
    x = rng.normal(size=(N, C, H, W))
    w = rng.normal(size=(F, C, KH, KW))
    b = rng.normal(size=(F,))
    label = _geometry_label(x.shape, w.shape, s, p)
    if not backward:
        return Case((x, w, b, s, p), label=label, hidden=hidden, weight=weight)
    H_out, W_out = shapes.conv_output_size((H, W), (KH, KW), stride=s, padding=p)
    dout = rng.normal(size=(N, F, H_out, W_out))
    return Case((x, w, b, dout, s, p), label=label, hidden=hidden, weight=weight)


def _cases(seed: int, backward: bool):
    """The visible cases (a function of the variant) and the hidden ones (of the rng)."""

    def visible(variant: Mapping[str, Any]) -> list[Case]:
        rng = np.random.default_rng(seed)
        return [
            _conv_case(rng, g, False, weight, backward=backward)
            for g, weight in _visible_geometries(variant)
        ]

    def hidden(rng: np.random.Generator) -> list[Case]:
        return [
            _conv_case(rng, _scenario_geometry(rng, sc), True, backward=backward)
            for sc in HIDDEN_SCENARIOS
        ]

    return visible, hidden


# --- conv forward -----------------------------------------------------------------------------

FORWARD_MISTAKES = [
    Mistake(
        "the kernel is flipped: CNN layers compute a cross-correlation, "
        "out = sum w[kh, kw] * x[i*s + kh, j*s + kw], without flipping w.",
        lambda x, w, b, s, p: conv_out(x, w[..., ::-1, ::-1], b, s, p),
    ),
    Mistake(
        "the bias b[f] was not added to the output of filter f.",
        lambda x, w, b, s, p: conv_out(x, w, np.zeros_like(b), s, p),
    ),
    Mistake(
        "the last row and column of outputs are missing: the window's positions run "
        "from 0 to (H + 2p - KH)//s inclusive (range(H_out) with the +1).",
        lambda x, w, b, s, p: conv_out(x, w, b, s, p)[..., :-1, :-1],
    ),
    Mistake(
        "the stride was ignored: output (i, j) reads the window starting at (i*s, j*s).",
        lambda x, w, b, s, p: conv_out(x, w, b, 1, p),
        also=(lambda x, w, b, s, p: _stride_one_corner(x, w, b, s, p),),
    ),
    Mistake(
        "the input was not zero-padded before sliding the window.",
        lambda x, w, b, s, p: conv_out(x, w, b, s, 0),
    ),
    Mistake(
        "the input was padded on one side only: np.pad needs (p, p) on both spatial axes.",
        lambda x, w, b, s, p: conv_out(_pad(x, p, 0), w, b, s, 0),
        also=(
            lambda x, w, b, s, p: conv_out(_pad(x, 0, p), w, b, s, 0),
            lambda x, w, b, s, p: conv_out(_pad(x, 2 * p, 0), w, b, s, 0),
        ),
    ),
    Mistake(
        "the kernel's rows and columns are swapped (w[kw, kh] used for w[kh, kw]).",
        lambda x, w, b, s, p: (
            conv_out(x, w.transpose(0, 1, 3, 2), b, s, p) if _square(w) else None
        ),
    ),
]

_forward_visible, _forward_hidden = _cases(20_241, backward=False)


def _forward_cases(variant: Mapping[str, Any]) -> list[Case]:
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    docs_example = Case(
        (x, np.ones((1, 1, 2, 2)), np.array([0.5]), 2, 0),
        label="4x4 arange input, one 2x2 filter of ones, bias 0.5, stride 2 (docs example)",
    )
    return [docs_example, *_forward_visible(variant)]


CONV_FORWARD = function_question(
    f"{ASSIGNMENT}-conv_forward",
    "conv2d_out",
    points=4,
    reference=conv_out,
    visible=_forward_cases,
    hidden=_forward_hidden,
    mistakes=FORWARD_MISTAKES,
    result="out",
    variant_fields=VARIANT_FIELDS,
    title="conv2d_forward",
)


# --- conv backward ----------------------------------------------------------------------------


def _grads_stride_ignored(x, w, b, dout, s, p):
    """Backward whose loops put window ``(i, j)`` at ``(i, j)``, not ``(i*s, j*s)``."""
    N, F, H_out, W_out = dout.shape
    H1, W1 = shapes.conv_output_size(x.shape[2:], w.shape[2:], stride=1, padding=p)
    dout1 = np.zeros((N, F, H1, W1))
    dout1[:, :, :H_out, :W_out] = dout
    return conv_grads(x, w, b, dout1, 1, p)


def _dx_overwritten(x, w, b, dout, s, p) -> np.ndarray:
    """dx from loops that assign (``=``) each window's contribution instead of adding it."""
    N, F, H_out, W_out = dout.shape
    KH, KW = w.shape[2:]
    H, W = x.shape[2:]
    dxp = np.zeros((N, x.shape[1], H + 2 * p, W + 2 * p))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    dxp[n, :, i * s : i * s + KH, j * s : j * s + KW] = w[f] * dout[n, f, i, j]
    return dxp[:, :, p : p + H, p : p + W]


def _dx_cropped_top_left(x, w, b, dout, s, p):
    """dx cropped from the padded gradient's top-left corner instead of its centre."""
    if p == 0:
        return None
    H, W = x.shape[2:]
    return conv_grads(_pad(x, p, p), w, b, dout, s, 0)[0][:, :, :H, :W]


BACKWARD_STRIDE_IGNORED = (
    "the stride was ignored in backward: the gradient of output (i, j) goes to the "
    "window starting at (i*s, j*s), as in forward."
)


def _dw(x, w, b, dout, s, p) -> np.ndarray:
    return conv_grads(x, w, b, dout, s, p)[1]


BACKWARD_MISTAKES = [
    # dx
    Mistake(
        "dx still has the padded border: the gradient for the padding is thrown away, "
        "so crop dxp[:, :, p:p+H, p:p+W].",
        lambda x, w, b, dout, s, p: conv_grads(_pad(x, p, p), w, b, dout, s, 0)[0],
        part="dx",
    ),
    Mistake(
        "dx has the padded input's shape with a zero border: dx is the gradient of x "
        "itself, (N, C, H, W), so crop dxp and return it without padding it again.",
        lambda x, w, b, dout, s, p: _pad(conv_grads(x, w, b, dout, s, p)[0], p, p),
        part="dx",
    ),
    Mistake(
        "dx was cropped at the wrong place: the padding sits on both sides, so keep "
        "dxp[:, :, p:p+H, p:p+W], not the top-left corner.",
        _dx_cropped_top_left,
        part="dx",
    ),
    Mistake(
        BACKWARD_STRIDE_IGNORED,
        lambda *args: _grads_stride_ignored(*args)[0],
        part="dx",
    ),
    Mistake(
        "dx used a flipped kernel: each output's gradient flows back through the same "
        "weight w[f, c, kh, kw] that multiplied x[i*s + kh, j*s + kw] in forward.",
        lambda x, w, b, dout, s, p: conv_grads(x, w[..., ::-1, ::-1], b, dout, s, p)[0],
        part="dx",
    ),
    Mistake(
        "gradients were overwritten (=) where windows overlap: a pixel seen by several "
        "windows collects the sum of their gradients (+=).",
        _dx_overwritten,
        part="dx",
    ),
    # dw
    Mistake(
        "dw is transposed (dw[..., kw, kh]): dw[f, c, kh, kw] pairs with "
        "x[i*s + kh, j*s + kw], rows with rows.",
        lambda *args: _dw(*args).transpose(0, 1, 3, 2) if _square(args[1]) else None,
        part="dw",
    ),
    Mistake(
        "dw is flipped, as for a true convolution: no flip anywhere, dw[f, c, kh, kw] "
        "= sum over n, i, j of dout[n, f, i, j] * x[n, c, i*s + kh, j*s + kw].",
        lambda *args: _dw(*args)[..., ::-1, ::-1],
        part="dw",
    ),
    Mistake(
        BACKWARD_STRIDE_IGNORED,
        lambda *args: _grads_stride_ignored(*args)[1],
        part="dw",
    ),
    Mistake(
        "dw holds only one image's contribution: accumulate (+=) over every image of "
        "the batch instead of overwriting or using a single image.",
        lambda x, w, b, dout, s, p: _dw(x[-1:], w, b, dout[-1:], s, p),
        part="dw",
        also=(lambda x, w, b, dout, s, p: _dw(x[:1], w, b, dout[:1], s, p),),
    ),
    Mistake(
        "dw was averaged over the batch; the gradient of a sum is a sum (no 1/N).",
        lambda *args: _dw(*args) / args[0].shape[0],
        part="dw",
    ),
    Mistake(
        "dw has its filter and channel axes swapped: it must match w, (F, C, KH, KW).",
        lambda *args: _dw(*args).transpose(1, 0, 2, 3),
        part="dw",
    ),
    # db
    Mistake(
        "db must also be summed over the images of the batch (axis 0).",
        lambda x, w, b, dout, s, p: dout.sum(axis=(2, 3)),
        part="db",
        also=(lambda x, w, b, dout, s, p: dout[-1].sum(axis=(1, 2)),),
    ),
    Mistake(
        "db must be summed over every output position (axes 2 and 3): the bias is "
        "added at each of them.",
        lambda x, w, b, dout, s, p: dout.sum(axis=0),
        part="db",
    ),
    Mistake(
        "db has one value per filter: sum over axes 0, 2 and 3, not over filters.",
        lambda x, w, b, dout, s, p: dout.sum(),
        part="db",
    ),
    Mistake(
        "db was averaged; every output the bias touched adds its full gradient (a sum).",
        lambda x, w, b, dout, s, p: dout.mean(axis=(0, 2, 3)),
        part="db",
    ),
]

_backward_visible, _backward_hidden = _cases(20_242, backward=True)

CONV_BACKWARD = function_question(
    f"{ASSIGNMENT}-conv_backward",
    "conv2d_grads",
    points=6,
    reference=conv_grads,
    visible=_backward_visible,
    hidden=_backward_hidden,
    mistakes=BACKWARD_MISTAKES,
    parts=("dx", "dw", "db"),
    variant_fields=VARIANT_FIELDS,
    title="conv2d_backward",
)


# --- numerical gradient -----------------------------------------------------------------------


def _numerical_gradient(x, a, df, *, centred=True, weighted=True, span=2.0, restore=True):
    """A numerical gradient of ``sum(tanh(x @ a) * df)`` (h = 1e-5), one mistake per flag."""
    h = 1e-5
    x = np.array(x, dtype=np.float64)
    df = np.asarray(df) if weighted else np.ones_like(df)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        old = x[index]
        if not centred:
            base = np.tanh(x @ a)
            x[index] = old + h
            grad[index] = np.sum((np.tanh(x @ a) - base) * df) / h
            x[index] = old
            continue
        x[index] = old + h
        plus = np.tanh(x @ a)
        x[index] = old - h
        minus = np.tanh(x @ a)
        if restore:
            x[index] = old
        grad[index] = np.sum((plus - minus) * df) / (span * h)
    return grad


NUMERICAL_GRADIENT_MISTAKES = [
    Mistake(
        "that is a one-sided difference (f(x + h) - f(x))/h: use the centred "
        "(f(x + h) - f(x - h))/(2h), which is far more accurate.",
        lambda x, a, df: _numerical_gradient(x, a, df, centred=False),
    ),
    Mistake(
        "the upstream gradient df was ignored: the gradient of sum(f(x) * df) weights "
        "each output's change by df.",
        lambda x, a, df: _numerical_gradient(x, a, df, weighted=False),
    ),
    Mistake(
        "the centred difference spans 2h, so divide by 2h, not h.",
        lambda x, a, df: _numerical_gradient(x, a, df, span=1.0),
    ),
    Mistake(
        "x[i] was not restored after nudging it, so later entries "
        "were measured at a shifted point.",
        lambda x, a, df: _numerical_gradient(x, a, df, restore=False),
    ),
]


def _numgrad_case(rng: np.random.Generator, n: int, m: int, k: int, hidden: bool) -> Case:
    x = rng.normal(size=(n, m))
    a = rng.normal(size=(m, k)) / np.sqrt(m)
    df = rng.normal(size=(n, k))
    return Case((x, a, df), label=f"x {n}x{m}, a {m}x{k}", hidden=hidden)


def _numgrad_visible(variant: Mapping[str, Any]) -> list[Case]:
    rng = np.random.default_rng(20_243)
    return [_numgrad_case(rng, 1, 3, 2, False), _numgrad_case(rng, 4, 5, 3, False)]


def _numgrad_hidden(rng: np.random.Generator) -> list[Case]:
    return [
        _numgrad_case(
            rng, int(rng.integers(1, 5)), int(rng.integers(1, 6)), int(rng.integers(1, 5)), True
        )
        for _ in range(4)
    ]


NUMERICAL_GRADIENT = function_question(
    f"{ASSIGNMENT}-numerical_gradient",
    "numerical_gradient_probe",
    points=2,
    reference=tanh_matmul_gradient,
    visible=_numgrad_visible,
    hidden=_numgrad_hidden,
    mistakes=NUMERICAL_GRADIENT_MISTAKES,
    result="the gradient",
    rtol=1e-7,
    atol=1e-8,
    title="numerical_gradient",
)

#: The questions, in notebook order (the registry reads this; importing registers nothing).
QUESTIONS = (CONV_FORWARD, CONV_BACKWARD, NUMERICAL_GRADIENT)
