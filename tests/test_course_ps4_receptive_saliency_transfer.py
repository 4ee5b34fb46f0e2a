"""ps4_receptive_saliency_transfer's questions file: each misconception caught on a
student who makes it, and the notebook's NumPy network equal to the grader's cnnlab.net
model (the student's own check from the released files: tests/test_released_checks.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cnnlab.grading import question, variant_for
from cnnlab.grading.check import run_case
from cnnlab.grading.questions import assignment_module
from tests.course_helpers import assert_fixed_sentences, diagnoses, sentence_with

ASSIGNMENT = "ps4_receptive_saliency_transfer"
PS4 = assignment_module(ASSIGNMENT)
NETWORK = PS4.network  # the sibling module the questions file imports
ROOT = Path(__file__).resolve().parents[1]
RNG_SEED = 11


def _diagnoses(name: str, target) -> list[str]:
    return diagnoses(f"{ASSIGNMENT}-{name}", target, seed=RNG_SEED)


def test_sentences_are_short_fixed_text():
    assert_fixed_sentences(PS4)


def _rf_student(mode: str):
    def receptive_field(layers):
        r, j = 1, 1
        for k, s, _p, d in layers:
            if mode == "jump_first":
                j *= s
            r += (k - 1) * (1 if mode == "no_dilation" else d) * (1 if mode == "no_jump" else j)
            if mode != "jump_first":
                j *= s
        return r, j

    return receptive_field


def test_the_right_receptive_field_is_never_diagnosed():
    q = question(f"{ASSIGNMENT}-receptive_field")
    cases = q.visible_cases({}) + q.hidden_cases(np.random.default_rng(RNG_SEED), {})
    report = q.grade([run_case(q, _rf_student("right"), c) for c in cases], cases, {})
    assert report.score == q.points
    assert report.diagnoses() == []


@pytest.mark.parametrize(
    ("phrase", "mode"),
    [
        ("not by d*(k - 1) alone", "no_jump"),
        ("dilation was ignored", "no_dilation"),
        ("before widening the field", "jump_first"),
    ],
)
def test_receptive_field_mistakes(phrase, mode):
    found = _diagnoses("receptive_field", _rf_student(mode))
    assert sentence_with(PS4.RF_MISTAKES, phrase) in found, found


@pytest.mark.parametrize(
    "mistake", ["region_padding_ignored", "region_inclusive_stop", "region_padding_without_jump"]
)
def test_input_region_mistakes(mistake):
    def input_region(layers, i):
        r, j, P, plain = 1, 1, 0, 0
        for k, s, p, d in layers:
            r += d * (k - 1) * j
            P += p * j
            plain += p
            j *= s
        if mistake == "region_padding_ignored":
            return i * j, i * j + r
        if mistake == "region_inclusive_stop":
            return i * j - P, i * j - P + r - 1
        return i * j - plain, i * j - plain + r

    phrase = {
        "region_padding_ignored": "the padding was ignored",
        "region_inclusive_stop": "stop is exclusive",
        "region_padding_without_jump": "multiplied by the jump before that layer",
    }[mistake]
    found = _diagnoses("input_region", input_region)
    assert sentence_with(PS4.REGION_MISTAKES, phrase) in found, found


def test_a_receptive_field_as_the_sum_of_kernel_sizes():
    def receptive_field(layers):
        jump = 1
        for _k, s, _p, _d in layers:
            jump *= s
        return sum(k for k, _s, _p, _d in layers), jump

    sentence = sentence_with(PS4.RF_MISTAKES, "kernel sizes were added up")
    assert sentence in _diagnoses("receptive_field", receptive_field)
    rf_vgg = question(f"{ASSIGNMENT}-rf_vgg")
    variant = variant_for(rf_vgg.assignment)
    report = rf_vgg.grade(
        [{"value": 3 * variant["vgg_layers"]}], rf_vgg.visible_cases(variant), variant
    )
    assert report.diagnoses() == [sentence]


def _given_cell(grade_id: str) -> str:
    path = ROOT / "autograder" / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return "".join(cell["source"])
    raise AssertionError(f"no cell {grade_id}")


NOTEBOOK: dict[str, Any] = {"np": np}
exec(_given_cell("given-tiny_cnn"), NOTEBOOK)


def _notebook_gradient(kind: str):
    """The input gradient a student computes from the notebook's network."""

    def gradient(params, x, target):
        scores, cache = NOTEBOOK["tiny_cnn_forward"](params, x)
        n = np.arange(len(x))
        onehot = np.zeros_like(scores)
        onehot[n, target] = 1.0
        prob = np.exp(scores - scores.max(axis=1, keepdims=True))
        prob /= prob.sum(axis=1, keepdims=True)
        dscores = {
            "score": onehot,
            "probability": prob[n, target][:, None] * (onehot - prob),
            "loss": prob - onehot,
            "all": np.ones_like(scores),
        }[kind]
        return NOTEBOOK["tiny_cnn_backward"](dscores, cache)[0]

    return gradient


def test_the_notebooks_numpy_cnn_matches_the_graders():
    rng = np.random.default_rng(3)
    params = NOTEBOOK["init_params"](3, 5, 6, 4, 3, seed=1)
    assert all(
        np.array_equal(params[k], v) for k, v in NETWORK.init_params(3, 5, 6, 4, 3, seed=1).items()
    )
    params["b1"] = rng.normal(size=4)
    x = rng.normal(size=(2, 3, 5, 6))
    scores, cache = NOTEBOOK["tiny_cnn_forward"](params, x)
    model = NETWORK.tiny_cnn(params)
    np.testing.assert_allclose(scores, model.forward(x), rtol=1e-12, atol=1e-12)
    target = np.array([2, 0])
    np.testing.assert_allclose(
        _notebook_gradient("score")(params, x, target),
        NETWORK.input_gradient(params, x, lambda s: NETWORK.one_hot(s, target)),
        rtol=1e-10,
        atol=1e-12,
    )
    np.testing.assert_allclose(
        np.abs(_notebook_gradient("score")(params, x, target)).max(axis=1),
        NETWORK.saliency_reference(params, x, target),
        rtol=1e-10,
        atol=1e-12,
    )
    dx, grads = NOTEBOOK["tiny_cnn_backward"](rng.normal(size=scores.shape), cache)
    assert dx.shape == x.shape
    assert set(grads) == set(NETWORK.PARAM_NAMES)


def test_the_notebooks_accuracy_is_the_graders():
    source = NETWORK.pretrained_source()
    _, _, x_test, y_test = NETWORK.target_task(5, 0)
    head = {**source, "w2": source["w2"][:5], "b2": source["b2"][:5]}
    assert NOTEBOOK["accuracy"](head, x_test, y_test) == NETWORK.accuracy(head, x_test, y_test)


@pytest.mark.parametrize(
    ("phrase", "kind", "reduce"),
    [
        ("softmax probability", "probability", "max_abs"),
        ("gradient of the loss", "loss", "max_abs"),
        ("before the max over channels", "score", "max"),
        ("not the mean", "score", "mean_abs"),
        ("not the sum", "score", "sum_abs"),
        ("every class score", "all", "max_abs"),
        ("after the max over channels", "score", "abs_of_max"),
    ],
)
def test_saliency_mistakes(phrase, kind, reduce):
    gradient = _notebook_gradient(kind)

    def saliency_map(params, x, target):
        grad = gradient(params, x, target)
        if reduce == "max":
            return grad.max(axis=1)
        if reduce == "abs_of_max":
            return np.abs(grad.max(axis=1))
        magnitude = np.abs(grad)
        return {"max_abs": magnitude.max, "mean_abs": magnitude.mean, "sum_abs": magnitude.sum}[
            reduce
        ](axis=1)

    found = _diagnoses("saliency", saliency_map)
    assert sentence_with(PS4.SALIENCY_MISTAKES, phrase) in found, found


def test_the_right_saliency_map_earns_every_point():
    gradient = _notebook_gradient("score")
    q = question(f"{ASSIGNMENT}-saliency")
    cases = q.visible_cases({}) + q.hidden_cases(np.random.default_rng(RNG_SEED), {})

    def saliency_map(params, x, target):
        return np.abs(gradient(params, x, target)).max(axis=1)

    report = q.grade([run_case(q, saliency_map, c) for c in cases], cases, {})
    assert report.score == q.points, report.text()


def test_fine_tune_and_lr_scale_mistakes():
    q = question(f"{ASSIGNMENT}-fine_tune")
    case = q.visible_cases({})[0]
    source = case.args[0]
    untouched = q.grade([{"value": dict(source)}], [case], {})
    assert untouched.score == pytest.approx(4 / 3, abs=1e-3)  # frozen, but nothing learnt
    assert any("the dense head did not change" in d for d in untouched.diagnoses())
    wrong_shape = q.grade([{"value": {"w1": source["w1"]}}], [case], {})
    assert wrong_shape.score == 0.0
    lr = question(f"{ASSIGNMENT}-lr_scales")
    lr_case = lr.visible_cases({})
    frozen = lr.grade([{"value": {"w1": 0.0, "b1": 0.0, "w2": 1.0, "b2": 1.0}}], lr_case, {})
    assert frozen.score == 0.5
    assert frozen.diagnoses() == [PS4._why_scale(0.0)]
    assert "freezes a layer" in PS4._why_scale(0.0)
    reversed_ = lr.grade([{"value": {"w1": 3.0, "b1": 3.0, "w2": 1.0, "b2": 1.0}}], lr_case, {})
    assert reversed_.diagnoses() == [PS4._why_scale(3.0)]
    assert "*slower*" in PS4._why_scale(3.0)
    too_close = lr.grade([{"value": {"w1": 0.5, "b1": 0.5, "w2": 1, "b2": 1}}], lr_case, {})
    assert too_close.diagnoses() == [PS4.RATIO]


def test_the_pretrained_source_is_trained_by_cnnlab_net_and_recognises_its_digits():
    source = NETWORK.pretrained_source()
    split = NETWORK._split(10, 0).source
    assert NETWORK.accuracy(source, split.x_test, split.y_test) > 0.9
    assert set(source) == set(NETWORK.PARAM_NAMES)
