"""ps2_conv's questions file: every misconception caught on a student who makes it.

Each test writes the mistake the way a student would (the loops below, one flag per
mistake), runs it through the question's own visible and hidden cases and ``grade``,
and checks that the report names the mistake; the loops without a mistake earn every
point and are never diagnosed.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.grading import question
from cnnlab.grading.check import run_case
from cnnlab.grading.questions import assignment_module
from tests.course_helpers import assert_fixed_sentences, diagnoses

MODULE = assignment_module("ps2_conv")


def test_sentences_are_short_fixed_text():
    assert_fixed_sentences(MODULE)


def _diagnosed_as(key: str, target, beginning: str, variant=None) -> None:
    """The report names the question's mistake whose sentence starts with ``beginning``."""
    found = diagnoses(key, target, variant)
    assert any(sentence.startswith(beginning) for sentence in found), found


# --- ps2 --------------------------------------------------------------------------------------


def _conv_forward(x, w, b, stride, padding, *, flip=False, bias=True, pad=None, last=True):
    """A loop convolution with switchable mistakes."""
    N, _, _H, _W = x.shape
    F, _, KH, KW = w.shape
    pads = pad if pad is not None else ((padding, padding), (padding, padding))
    xp = np.pad(x, ((0, 0), (0, 0), *pads))
    H_out = (xp.shape[2] - KH) // stride + (1 if last else 0)
    W_out = (xp.shape[3] - KW) // stride + (1 if last else 0)
    kernel = w[..., ::-1, ::-1] if flip else w
    out = np.zeros((N, F, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            window = xp[:, :, i * stride : i * stride + KH, j * stride : j * stride + KW]
            out[:, :, i, j] = np.tensordot(window, kernel, axes=([1, 2, 3], [1, 2, 3]))
    return out + (b[None, :, None, None] if bias else 0.0)


CONV_FORWARD = "ps2_conv-conv_forward"


@pytest.mark.parametrize(
    ("mistake", "kwargs"),
    [
        ("the kernel is flipped", {"flip": True}),
        ("the bias b[f] was not added", {"bias": False}),
        ("the last row and column of outputs", {"last": False}),
    ],
)
def test_conv_forward_mistakes(mistake, kwargs):
    def student(x, w, b, stride, padding):
        return _conv_forward(x, w, b, stride, padding, **kwargs)

    _diagnosed_as(CONV_FORWARD, student, mistake)


def test_conv_forward_padding_and_stride_mistakes():
    def one_side(x, w, b, stride, padding):
        return _conv_forward(x, w, b, stride, padding, pad=((padding, 0), (padding, 0)))

    def no_stride(x, w, b, stride, padding):
        return _conv_forward(x, w, b, 1, padding)

    def no_padding(x, w, b, stride, padding):
        return _conv_forward(x, w, b, stride, 0)

    def transposed(x, w, b, stride, padding):
        if w.shape[2] != w.shape[3]:
            return _conv_forward(x, w, b, stride, padding)
        return _conv_forward(x, w.transpose(0, 1, 3, 2), b, stride, padding)

    _diagnosed_as(CONV_FORWARD, one_side, "the input was padded on one side only")
    _diagnosed_as(CONV_FORWARD, no_stride, "the stride was ignored: output (i, j)")
    _diagnosed_as(CONV_FORWARD, no_padding, "the input was not zero-padded")
    _diagnosed_as(CONV_FORWARD, transposed, "the kernel's rows and columns are swapped")


def _conv_backward(x, w, b, dout, stride, padding, **mistake):
    """A loop backward pass with switchable mistakes."""
    H, W = x.shape[2:]
    KH, KW = w.shape[2:]
    N, _F, H_out, W_out = dout.shape
    step = 1 if mistake.get("no_stride") else stride
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    kernel = w[..., ::-1, ::-1] if mistake.get("flip_dx") else w
    for n in range(N):
        for i in range(H_out):
            for j in range(W_out):
                rows = slice(i * step, i * step + KH)
                cols = slice(j * step, j * step + KW)
                g = dout[n, :, i, j]
                contribution = np.tensordot(g, kernel, axes=([0], [0]))
                if mistake.get("overwrite"):
                    dxp[n, :, rows, cols] = contribution
                else:
                    dxp[n, :, rows, cols] += contribution
                window = np.multiply.outer(g, xp[n, :, rows, cols])
                if mistake.get("last_image_dw"):
                    dw = (
                        window
                        if (n == N - 1 and i == 0 and j == 0)
                        else dw + (n == N - 1) * window
                    )
                else:
                    dw += window
    if mistake.get("transpose_dw"):
        dw = dw.transpose(0, 1, 3, 2)
    if mistake.get("flip_dw"):
        dw = dw[..., ::-1, ::-1]
    if mistake.get("mean_dw"):
        dw = dw / N
    db = mistake.get("db", lambda d: d.sum(axis=(0, 2, 3)))(dout)
    dx = (
        dxp
        if mistake.get("uncropped")
        else dxp[:, :, padding : padding + H, padding : padding + W]
    )
    return dx, dw, db


CONV_BACKWARD = "ps2_conv-conv_backward"


@pytest.mark.parametrize(
    ("mistake", "kwargs"),
    [
        ("dx still has the padded border", {"uncropped": True}),
        ("the stride was ignored in backward", {"no_stride": True}),
        ("dx used a flipped kernel", {"flip_dx": True}),
        ("gradients were overwritten (=) where windows", {"overwrite": True}),
        ("dw is transposed", {"transpose_dw": True}),
        ("dw is flipped", {"flip_dw": True}),
        ("dw was averaged", {"mean_dw": True}),
        ("dw holds only one image", {"last_image_dw": True}),
        ("db must also be summed over the images", {"db": lambda d: d.sum(axis=(2, 3))}),
        ("db must be summed over every output position", {"db": lambda d: d.sum(axis=0)}),
        ("db has one value per filter", {"db": lambda d: d.sum()}),
        ("db was averaged", {"db": lambda d: d.mean(axis=(0, 2, 3))}),
    ],
)
def test_conv_backward_mistakes(mistake, kwargs):
    def student(x, w, b, dout, stride, padding):
        return _conv_backward(x, w, b, dout, stride, padding, **kwargs)

    _diagnosed_as(CONV_BACKWARD, student, mistake)


def test_conv_backward_reference_loop_is_right_and_undiagnosed():
    q = question(CONV_BACKWARD)
    cases = q.hidden_cases(np.random.default_rng(2), {})
    outcomes = [run_case(q, _conv_backward, c) for c in cases]
    assert q.grade(outcomes, cases, {}).score == q.points


def test_dw_with_filter_and_channel_axes_swapped():
    def student(x, w, b, dout, stride, padding):
        dx, dw, db = MODULE.conv_grads(x, w, b, dout, stride, padding)
        return dx, dw.transpose(1, 0, 2, 3), db

    _diagnosed_as(CONV_BACKWARD, student, "dw has its filter and channel axes swapped")


def _tanh_probe(x, a, df, h=1e-5):
    """The centred difference, written out as a student would."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + h
        plus = np.tanh(x @ a)
        x[index] = old - h
        minus = np.tanh(x @ a)
        x[index] = old
        grad[index] = np.sum((plus - minus) * df) / (2 * h)
    return grad


NUMERICAL_GRADIENT_SENTENCES = {
    "forward_difference": "that is a one-sided difference",
    "ignores_df": "the upstream gradient df was ignored",
    "divides_by_h": "the centred difference spans 2h",
    "not_restored": "x[i] was not restored",
}


@pytest.mark.parametrize(
    "mistake", ["forward_difference", "ignores_df", "divides_by_h", "not_restored"]
)
def test_numerical_gradient_mistakes(mistake):
    def student(x, a, df, h=1e-5):
        # written out as a student would, one mistake at a time
        x = x.copy()
        grad = np.zeros_like(x)
        weights = np.ones_like(df) if mistake == "ignores_df" else df
        for index in np.ndindex(x.shape):
            old = x[index]
            if mistake == "forward_difference":
                base = np.tanh(x @ a)
                x[index] = old + h
                grad[index] = np.sum((np.tanh(x @ a) - base) * weights) / h
                x[index] = old
                continue
            x[index] = old + h
            plus = np.tanh(x @ a)
            x[index] = old - h
            minus = np.tanh(x @ a)
            if mistake != "not_restored":
                x[index] = old
            grad[index] = np.sum((plus - minus) * weights) / (
                h if mistake == "divides_by_h" else 2 * h
            )
        return grad

    _diagnosed_as("ps2_conv-numerical_gradient", student, NUMERICAL_GRADIENT_SENTENCES[mistake])


def test_the_correct_numerical_gradient_passes():
    q = question("ps2_conv-numerical_gradient")
    cases = q.visible_cases({}) + q.hidden_cases(np.random.default_rng(1), {})
    outcomes = [run_case(q, _tanh_probe, c) for c in cases]
    assert q.grade(outcomes, cases, {}).score == q.points


def test_a_forward_that_ignores_the_stride_with_the_right_output_shape():
    def student(x, w, b, stride, padding):
        N, _, H, W = x.shape
        F, _, KH, KW = w.shape
        H_out = (H + 2 * padding - KH) // stride + 1  # the shape is right ...
        W_out = (W + 2 * padding - KW) // stride + 1
        xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
        out = np.zeros((N, F, H_out, W_out))
        for i in range(H_out):
            for j in range(W_out):  # ... but window (i, j) starts at (i, j)
                window = xp[:, :, i : i + KH, j : j + KW]
                out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))
        return out + b[None, :, None, None]

    _diagnosed_as(CONV_FORWARD, student, "the stride was ignored: output (i, j)")


def test_a_dx_cropped_then_zero_padded_again():
    def student(x, w, b, dout, stride, padding):
        dx, dw, db = _conv_backward(x, w, b, dout, stride, padding)
        return np.pad(dx, ((0, 0), (0, 0), (padding, padding), (padding, padding))), dw, db

    _diagnosed_as(CONV_BACKWARD, student, "dx has the padded input's shape")


def test_a_dx_cropped_at_the_top_left_corner():
    def student(x, w, b, dout, stride, padding):
        dxp, dw, db = _conv_backward(x, w, b, dout, stride, padding, uncropped=True)
        return dxp[:, :, : x.shape[2], : x.shape[3]], dw, db

    _diagnosed_as(CONV_BACKWARD, student, "dx was cropped at the wrong place")


def test_a_dw_from_the_first_image_only():
    def student(x, w, b, dout, stride, padding):
        dx, _, db = _conv_backward(x, w, b, dout, stride, padding)
        dw = _conv_backward(x[:1], w, b, dout[:1], stride, padding)[1]
        return dx, dw, db

    _diagnosed_as(CONV_BACKWARD, student, "dw holds only one image")
