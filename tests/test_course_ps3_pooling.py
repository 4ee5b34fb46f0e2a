"""ps3_pooling's questions file: every misconception caught on a student who makes it.

Each test writes the mistake the way a student would (the loops below, one flag per
mistake), runs it through the question's own visible and hidden cases and ``grade``,
and checks that the report names the mistake; the loops without a mistake earn every
point and are never diagnosed.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.grading import question, variant_for
from cnnlab.grading.check import run_case
from cnnlab.grading.questions import assignment_module
from tests.course_helpers import assert_fixed_sentences, diagnoses, sentence_with

PS3 = assignment_module("ps3_pooling")


def _padded(x, padding: int, fill: float) -> np.ndarray:
    pads = ((0, 0), (0, 0), (padding, padding), (padding, padding))
    return np.pad(np.asarray(x, dtype=np.float64), pads, constant_values=fill)


def _positions(H_out: int, W_out: int, kernel: int, step: int):
    for i in range(H_out):
        for j in range(W_out):
            yield i, j, slice(i * step, i * step + kernel), slice(j * step, j * step + kernel)


def student_forward(x, kernel, stride, padding, *, mode="max", pad_value=None,
                    include_pad=True, average=True, use_stride=True):
    """A student's pooling forward; each flag switches on one mistake."""
    N, C, H, W = x.shape
    fill = (-np.inf if mode == "max" else 0.0) if pad_value is None else pad_value
    xp = _padded(x, padding, fill)
    real = np.pad(np.ones((H, W)), padding)
    H_out = (H + 2 * padding - kernel) // stride + 1
    W_out = (W + 2 * padding - kernel) // stride + 1
    out = np.zeros((N, C, H_out, W_out))
    for i, j, rows, cols in _positions(H_out, W_out, kernel, stride if use_stride else 1):
        window = xp[:, :, rows, cols]
        if mode == "max":
            out[:, :, i, j] = window.max(axis=(2, 3))
        else:
            divisor = kernel * kernel if include_pad else real[rows, cols].sum()
            total = window.sum(axis=(2, 3))
            out[:, :, i, j] = total / divisor if average else total
    return out


def student_backward(x, dout, kernel, stride, padding, *, mode="max", accumulate=True,
                     tie="first", crop=True, use_stride=True, divide=True, include_pad=True):
    """A student's pooling backward; each flag switches on one mistake."""
    N, C, H, W = x.shape
    xp = _padded(x, padding, -np.inf if mode == "max" else 0.0)
    real = np.pad(np.ones((H, W)), padding)
    dxp = np.zeros_like(xp)
    H_out, W_out = dout.shape[2:]
    for i, j, rows, cols in _positions(H_out, W_out, kernel, stride if use_stride else 1):
        for n in range(N):
            for c in range(C):
                g = dout[n, c, i, j]
                window = xp[n, c, rows, cols]
                if mode == "max":
                    hits = np.flatnonzero(window.ravel() == window.max())
                    mask = np.zeros(window.shape, dtype=bool)
                    chosen = {"first": hits[:1], "last": hits[-1:], "all": hits}[tie]
                    mask.ravel()[chosen] = True
                    target = dxp[n, c, rows, cols]
                    if accumulate:
                        target += np.where(mask, g, 0.0)
                    else:
                        target[mask] = g
                else:
                    divisor = kernel * kernel if include_pad else real[rows, cols].sum()
                    share = g / divisor if divide else g
                    if accumulate:
                        dxp[n, c, rows, cols] += share
                    else:
                        dxp[n, c, rows, cols] = share
    if not crop:
        return dxp
    return dxp[:, :, padding : padding + H, padding : padding + W]


def _student(mode: str, **flags):
    def forward(x, kernel, stride, padding):
        return student_forward(x, kernel, stride, padding, mode=mode, **flags)

    def backward(x, dout, kernel, stride, padding):
        return student_backward(x, dout, kernel, stride, padding, mode=mode, **flags)

    return forward, backward


def test_sentences_are_short_fixed_text():
    assert_fixed_sentences(PS3)


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_the_loops_without_mistakes_earn_every_point(mode):
    forward, backward = _student(mode)
    for key, target in (
        (f"ps3_pooling-{mode}_forward", forward),
        (f"ps3_pooling-{mode}_backward", backward),
    ):
        q = question(key)
        cases = q.visible_cases({}) + q.hidden_cases(np.random.default_rng(4), {})
        report = q.grade([run_case(q, target, c) for c in cases], cases, {})
        assert report.score == q.points, report.text()
        assert report.diagnoses() == []


@pytest.mark.parametrize(
    ("phrase", "flags"),
    [
        ("overwritten (=)", {"accumulate": False}),
        ("the last maximum", {"tie": "last"}),
        ("every maximum got", {"tie": "all"}),
        ("padded border", {"crop": False}),
        ("ignored in backward", {"use_stride": False}),
    ],
)
def test_max_pool_backward_mistakes(phrase, flags):
    found = diagnoses("ps3_pooling-max_backward", _student("max", **flags)[1])
    assert sentence_with(PS3.MAX_BACKWARD_MISTAKES, phrase) in found, found


def test_a_max_pool_backward_spread_evenly_like_average_pooling():
    found = diagnoses("ps3_pooling-max_backward", _student("avg")[1])
    assert sentence_with(PS3.MAX_BACKWARD_MISTAKES, "spread evenly") in found, found


@pytest.mark.parametrize(
    ("phrase", "flags"),
    [
        ("not divided by k*k", {"divide": False}),
        ("overwritten (=)", {"accumulate": False}),
        ("divided by the real pixels", {"include_pad": False}),
        ("padded border", {"crop": False}),
        ("ignored in backward", {"use_stride": False}),
    ],
)
def test_avg_pool_backward_mistakes(phrase, flags):
    found = diagnoses("ps3_pooling-avg_backward", _student("avg", **flags)[1])
    assert sentence_with(PS3.AVG_BACKWARD_MISTAKES, phrase) in found, found


@pytest.mark.parametrize(
    ("mode", "phrase", "flags"),
    [
        ("max", "padded with zeros", {"pad_value": 0.0}),
        ("max", "stride was ignored", {"use_stride": False}),
        ("avg", "divided by the real pixels", {"include_pad": False}),
        ("avg", "summed, not averaged", {"average": False}),
    ],
)
def test_pool_forward_mistakes(mode, phrase, flags):
    found = diagnoses(f"ps3_pooling-{mode}_forward", _student(mode, **flags)[0])
    mistakes = PS3.MAX_FORWARD_MISTAKES if mode == "max" else PS3.AVG_FORWARD_MISTAKES
    assert sentence_with(mistakes, phrase) in found, found


def test_a_forward_missing_its_last_windows():
    def missing_last(x, kernel, stride, padding):
        return student_forward(x, kernel, stride, padding)[..., :-1, :-1]

    found = diagnoses("ps3_pooling-max_forward", missing_last)
    assert sentence_with(PS3.MAX_FORWARD_MISTAKES, "last row and column") in found, found


def test_lecture_example_overwrite_is_diagnosed():
    q = question("ps3_pooling-lecture_dx")
    variant = variant_for("ps3_pooling")
    x, dout = PS3.lecture_example(variant)
    wrong = student_backward(x[None, None], dout[None, None], 3, 1, 0, accumulate=False)
    report = q.grade([{"value": wrong[0, 0]}], q.visible_cases(variant), variant)
    assert report.score == 0
    assert report.diagnoses() == [sentence_with(PS3.MAX_BACKWARD_MISTAKES, "overwritten (=)")]


def test_lecture_answers_may_keep_their_two_leading_axes():
    q = question("ps3_pooling-lecture_out")
    variant = {"x_transpose": 1, "dout_rotation": 2, "dout_scale": 3}
    x, _ = PS3.lecture_example(variant)
    out = student_forward(x[None, None], 3, 1, 0)
    for answer in (out, out[0, 0], out[0, 0].tolist()):
        assert q.grade([{"value": answer}], q.visible_cases(variant), variant).score == 1


def test_the_tie_mistakes_differ_from_cnnlabs_tie_rule():
    from cnnlab import naive

    x, dout = np.full((1, 1, 2, 2), 3.0), np.ones((1, 1, 1, 1))  # one window, all tied
    _, cache = naive.max_pool2d_forward(x, kernel=2)
    reference = PS3.max_dx(x, dout, 2, 2, 0)
    assert np.array_equal(reference, naive.max_pool2d_backward(dout, cache))
    last, every = (
        next(m for m in PS3.MAX_BACKWARD_MISTAKES if phrase in m.sentence).compute(
            x, dout, 2, 2, 0
        )
        for phrase in ("the last maximum", "every maximum")
    )
    assert np.array_equal(last, [[[[0.0, 0.0], [0.0, 1.0]]]])
    assert np.array_equal(every, np.ones((1, 1, 2, 2)))
    assert not np.array_equal(last, reference)
