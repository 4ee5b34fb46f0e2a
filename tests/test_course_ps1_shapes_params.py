"""ps1_shapes_params's questions file: every misconception caught on a student who makes it.

Each test writes the mistake the way a student would, runs it through the question's
own cases and ``grade`` (visible and hidden cases), and checks that the report names
the mistake, and that the correct implementation is never diagnosed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cnnlab.grading import question, variant_for
from cnnlab.grading.check import run_case
from cnnlab.grading.questions import assignment_module
from tests.course_helpers import assert_fixed_sentences, diagnoses

MODULE = assignment_module("ps1_shapes_params")
#: A phrase of each misconception's sentence, by the name the tests use.
PHRASES = {
    "missing_plus_one": "the count is one short",
    "one_side_padding": "padding was counted on one side only",
    "ceil": "you rounded up",
    "true_division": "`/` gives a fraction",
    "dilation_ignored": "dilation was ignored",
    "dilation_times_kernel": "not d*k",
    "stride_ignored": "with stride s the window moves",
    "padding_ignored": "the padding was left out",
    "extra_pixel_first": "the odd padding pixel",
    "same_stride_ignored": "that is the stride-1 rule",
    "no_bias": "every filter (or output unit) has one bias",
    "no_input_channels": "the input channels are missing",
    "kernel_not_squared": "k*k weights per input channel, not k",
    "bias_per_channel": "not one per input channel",
    "bias_per_weight": "not one per weight",
    "bias_on_inputs": "not to the inputs",
    "separable_no_biases": "the depthwise step has one per channel",
    "separable_no_depthwise_bias": "the depthwise step's biases",
    "separable_no_pointwise_bias": "the pointwise step's biases",
    "separable_full_depthwise": "counted as a full convolution",
    "separable_is_standard": "count of a standard convolution",
    "activations_slide_total": "the slide's total",
    "mb_not_mib": "that is in MB",
    "activations_no_input": "the input image is an activation",
    "macs_input_positions": "counted at the input's positions",
    "flatten_wrong_size": "the flattened length",
}


def test_sentences_are_short_fixed_text():
    assert_fixed_sentences(MODULE)


def _named(found: list[str], mistake: str) -> bool:
    return any(PHRASES[mistake] in sentence for sentence in found)


def _only(found: list[str], mistake: str) -> bool:
    return len(found) == 1 and PHRASES[mistake] in found[0]


def _diagnosed(key: str, target, mistake: str, variant=None) -> None:
    found = diagnoses(key, target, variant)
    assert _named(found, mistake), found


# --- ps1 --------------------------------------------------------------------------------------

OUTPUT_SIZE = "ps1_shapes_params-output_size"


def test_correct_arithmetic_is_never_diagnosed():
    def output_size(n, k, s=1, p=0, d=1):
        return (n + 2 * p - d * (k - 1) - 1) // s + 1

    q = question(OUTPUT_SIZE)
    cases = q.hidden_cases(np.random.default_rng(0), {})
    report = q.grade([run_case(q, output_size, c) for c in cases], cases, {})
    assert report.score == report.points
    assert report.diagnoses() == []


@pytest.mark.parametrize(
    ("mistake", "wrong"),
    [
        ("missing_plus_one", lambda n, k, s=1, p=0, d=1: (n + 2 * p - d * (k - 1) - 1) // s),
        ("one_side_padding", lambda n, k, s=1, p=0, d=1: (n + p - d * (k - 1) - 1) // s + 1),
        ("ceil", lambda n, k, s=1, p=0, d=1: math.ceil((n + 2 * p - d * (k - 1) - 1) / s) + 1),
        ("true_division", lambda n, k, s=1, p=0, d=1: (n + 2 * p - d * (k - 1) - 1) / s + 1),
        ("dilation_ignored", lambda n, k, s=1, p=0, d=1: (n + 2 * p - k) // s + 1),
        ("dilation_times_kernel", lambda n, k, s=1, p=0, d=1: (n + 2 * p - d * k) // s + 1),
        ("stride_ignored", lambda n, k, s=1, p=0, d=1: n + 2 * p - d * (k - 1)),
        ("padding_ignored", lambda n, k, s=1, p=0, d=1: (n - d * (k - 1) - 1) // s + 1),
    ],
)
def test_output_size_mistakes(mistake, wrong):
    _diagnosed(OUTPUT_SIZE, wrong, mistake)


def test_same_padding_mistakes():
    def extra_first(n, k, s):
        total = max((-(-n // s) - 1) * s + k - n, 0)
        return (total - total // 2, total // 2)

    def stride_one_rule(n, k, s):
        return ((k - 1) // 2, k - 1 - (k - 1) // 2)

    _diagnosed("ps1_shapes_params-same_padding", extra_first, "extra_pixel_first")
    _diagnosed("ps1_shapes_params-same_padding", stride_one_rule, "same_stride_ignored")


@pytest.mark.parametrize(
    ("mistake", "wrong"),
    [
        ("no_bias", lambda c_in, c_out, k: c_out * k * k * c_in),
        ("no_input_channels", lambda c_in, c_out, k: c_out * (k * k + 1)),
        ("kernel_not_squared", lambda c_in, c_out, k: c_out * (k * c_in + 1)),
        ("bias_per_channel", lambda c_in, c_out, k: c_out * c_in * (k * k + 1)),
    ],
)
def test_conv_params_mistakes(mistake, wrong):
    _diagnosed("ps1_shapes_params-conv_params", wrong, mistake)


def test_dense_params_mistakes():
    _diagnosed("ps1_shapes_params-dense_params", lambda n_in, n_out: n_in * n_out, "no_bias")
    _diagnosed(
        "ps1_shapes_params-dense_params",
        lambda n_in, n_out: n_in * n_out + n_in,
        "bias_on_inputs",
    )


@pytest.mark.parametrize(
    ("mistake", "wrong"),
    [
        ("separable_no_biases", lambda c, f, k: k * k * c + c * f),
        ("separable_no_depthwise_bias", lambda c, f, k: k * k * c + c * f + f),
        ("separable_no_pointwise_bias", lambda c, f, k: k * k * c + c + c * f),
        ("separable_full_depthwise", lambda c, f, k: k * k * c * c + c + c * f + f),
        ("separable_is_standard", lambda c, f, k: k * k * c * f + f),
    ],
)
def test_separable_params_mistakes(mistake, wrong):
    _diagnosed("ps1_shapes_params-separable_params", wrong, mistake)


def test_value_answer_mistakes_of_the_lecture_slides():
    variant = variant_for("ps1_shapes_params")
    memory = question("ps1_shapes_params-vgg16_memory")
    case = memory.visible_cases(variant)
    slide = memory.grade([{"value": (24_000_000, 93.0)}], case, variant)
    assert _only(slide.diagnoses(), "activations_slide_total")
    decimal = memory.grade([{"value": (15_237_608, 60.95)}], case, variant)
    assert decimal.score == 0.5
    assert _only(decimal.diagnoses(), "mb_not_mib")
    no_input = memory.grade([{"value": (15_237_608 - 150_528, 58.13)}], case, variant)
    assert _only(no_input.diagnoses(), "activations_no_input")
    separable = question("ps1_shapes_params-separable")
    slide_macs = (19456, 1102, 5 * 5 * 3 * 256 * 12 * 12, 5 * 5 * 3 * 12 * 12 + 3 * 256 * 64)
    report = separable.grade([{"value": slide_macs}], separable.visible_cases(variant), variant)
    assert report.score == 1.0
    assert _only(report.diagnoses(), "macs_input_positions")
    alexnet = question("ps1_shapes_params-alexnet")
    report = alexnet.grade(
        [{"value": (55, 27, 34_848, 0)}], alexnet.visible_cases(variant), variant
    )
    assert report.score == 0.75
    assert _only(report.diagnoses(), "no_bias")
    cs109b = question("ps1_shapes_params-cs109b_params")
    flat_32 = (224, 3216, 32 * 32 * 16 * 512 + 512, 2052)
    report = cs109b.grade([{"value": flat_32}], cs109b.visible_cases(variant), variant)
    assert _only(report.diagnoses(), "flatten_wrong_size")


def test_values_the_mistakes_cannot_read_are_never_diagnosed():
    q = question(OUTPUT_SIZE)
    cases = q.visible_cases({})[:1]
    assert q.grade([{"value": "three"}], cases, {}).diagnoses() == []
    assert not MODULE.NO_BIAS.explains(None, 1, 3, 16, 3)


def test_one_bias_per_weight_is_named_even_on_1x1_kernels():
    def conv_params(c_in, c_out, k):
        return 2 * c_out * c_in * k * k  # a bias next to every weight

    found = diagnoses("ps1_shapes_params-conv_params", conv_params)
    assert _only(found, "bias_per_weight")
    q = question("ps1_shapes_params-conv_params")
    hidden = q.hidden_cases(np.random.default_rng(11), {})  # the cases diagnoses() drew
    one_by_one = [c for c in hidden if c.args[2] == 1]
    outcomes = [run_case(q, conv_params, c) for c in one_by_one]
    report = q.grade(outcomes, one_by_one, {})
    if one_by_one:  # on 1x1 kernels alone both readings fit; the full run decided above
        assert _named(report.verdicts[0].explains, "bias_per_weight")
