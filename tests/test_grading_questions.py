"""cnnlab.grading: questions, reports, the in-kernel check, and the sample class graded here.

The sample submissions of ``autograder/samples`` are graded in this process, without
nbgrader or the sandbox: a small helper executes the release notebook's code cells (with
the sample's answers and the student's variant) in a fresh namespace, asks each question's
cases of that namespace, and grades the outcomes with ``Question.grade``. The scores must
equal ``autograder/samples/expected_scores.csv``, which the end-to-end test asserts through
real nbgrader and the sandbox too.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import signal
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autograder.tools.course import load_module_file
from cnnlab.grading import (
    ASSIGNMENTS,
    Case,
    Question,
    Report,
    Verdict,
    check,
    hidden_case_seed,
    question,
    questions_for,
    variant_for,
)
from cnnlab.grading.check import Score, cnnlab_use, run_case
from cnnlab.grading.questions import assignment_module, points_total

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "autograder"
SAMPLES = COURSE / "samples"
DEMO_SECRET = (COURSE / "demo_secret").read_text(encoding="utf-8").strip()

KEYS = {
    "ps1_shapes_params": {
        "output_size": 3,
        "same_padding": 2,
        "conv_params": 2,
        "dense_params": 1,
        "separable_params": 2,
        "stride_fits": 1,
        "doesnt_fit": 1,
        "padded": 1,
        "dilated": 1,
        "same": 1,
        "conv_layer_params": 1,
        "cs109b_params": 2,
        "alexnet": 1,
        "vgg16_params": 1,
        "separable": 2,
        "vgg16_memory": 1,
    },
    "ps2_conv": {"conv_forward": 4, "conv_backward": 6, "numerical_gradient": 2},
    "ps3_pooling": {
        "max_forward": 2,
        "max_backward": 4,
        "avg_forward": 2,
        "avg_backward": 3,
        "lecture_out": 1,
        "lecture_dx": 1,
    },
    "ps4_receptive_saliency_transfer": {
        "receptive_field": 3,
        "input_region": 2,
        "rf_vgg": 1,
        "rf_strided": 1,
        "rf_dilated": 1,
        "saliency": 4,
        "fine_tune": 4,
        "lr_scales": 1,
    },
}


# --- the registry ------------------------------------------------------------------------


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_registry_lists_each_assignments_questions_with_points(assignment):
    got = {q.key: q.points for q in questions_for(assignment)}
    assert got == {f"{assignment}-{name}": pts for name, pts in KEYS[assignment].items()}
    assert points_total(assignment) == sum(KEYS[assignment].values())


def test_question_lookup_accepts_the_dotted_alias_and_rejects_unknown_keys():
    assert question("ps2_conv.conv_forward") is question("ps2_conv-conv_forward")
    assert question("ps2_conv-conv_forward").target == "conv2d_out"
    with pytest.raises(KeyError, match="no question"):
        question("ps2_conv-nothing")
    with pytest.raises(KeyError, match="no question"):
        question("ps9-anything")


def test_question_rejects_a_malformed_key():
    with pytest.raises(ValueError, match="assignment"):
        Question("nodash", "f", "function", 1, visible=lambda v: [], judge=lambda *a: [])


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_cases_are_plain_data_and_hidden_draws_are_reproducible(assignment):
    from cnnlab.grading import plain

    variant = variant_for(assignment, "someone", DEMO_SECRET)
    for q in questions_for(assignment):
        visible = q.visible_cases(variant)
        one = q.hidden_cases(np.random.default_rng(5), variant)
        two = q.hidden_cases(np.random.default_rng(5), variant)
        assert all(not case.hidden for case in visible)
        assert all(case.hidden for case in one)
        if q.kind == "value":
            assert len(visible) == 1
            assert not visible[0].args
            assert one == []
        for a, b in zip(one, two, strict=True):
            assert plain.encode((a.args, dict(a.kwargs))) == plain.encode((b.args, dict(b.kwargs)))
        for case in visible + one:
            plain.encode((case.args, dict(case.kwargs)))  # raises if not plain


# --- grade and Report ----------------------------------------------------------------------


def _output_size_question() -> Question:
    return question("ps1_shapes_params-output_size")


def test_grade_gives_partial_credit_per_case_and_explains_failures():
    q = _output_size_question()
    cases = [Case((7, 3, 1, 0, 1), label="a"), Case((7, 3, 2, 0, 1), label="b")]
    report = q.grade([{"value": 5}, {"value": 2}], cases, {})
    assert report.score == 1.5
    assert [v.passed for v in report.verdicts] == [True, False]
    assert "expected 3, found 2" in report.verdicts[1].message
    assert "one short" in report.verdicts[1].diagnosis  # the missing +1
    text = report.text()
    assert text.splitlines()[0] == (
        "ps1_shapes_params-output_size (output_size(n, k, s, p, d)): 1.5 / 3 points"
    )
    assert "  [pass] a" in text
    assert "  [FAIL] b: the result: expected 3, found 2." in text
    assert "Likely mistake: the count is one short" in text


def test_hidden_cases_never_show_the_expected_answer():
    q = _output_size_question()
    case = Case((7, 3, 2, 0, 1), label="output_size(7, 3, 2, 0, 1)", hidden=True)
    report = q.grade([{"value": 4}], [case], {})
    message = report.verdicts[0].message
    assert message.startswith("hidden case 1 (output_size(7, 3, 2, 0, 1))")
    assert "found 4" in message
    assert "3" not in message.replace("output_size(7, 3, 2, 0, 1)", "")


def test_grade_reports_errors_timeouts_and_unsupported_values():
    q = _output_size_question()
    cases = [Case((7, 3, 1, 0, 1), label=str(i)) for i in range(4)]
    outcomes = [
        {"error": "ZeroDivisionError: integer division or modulo by zero"},
        {"timeout": 10.0},
        {"unsupported": "fractions.Fraction"},
        {"value": 5},
    ]
    report = q.grade(outcomes, cases, {})
    assert report.score == 0.75
    messages = [v.message for v in report.verdicts]
    assert messages[0] == "0: raised ZeroDivisionError: integer division or modulo by zero"
    assert "did not finish within 10 s" in messages[1]
    assert "returned a fractions.Fraction, which the grader cannot read" in messages[2]


def test_all_not_implemented_is_one_friendly_verdict():
    q = question("ps2_conv-conv_forward")
    cases = q.visible_cases(variant_for("ps2_conv"))
    report = q.grade([{"error": "NotImplementedError: "}] * len(cases), cases, {})
    assert report.score == 0.0
    assert len(report.verdicts) == 1
    assert report.verdicts[0].message.startswith("not implemented yet: `conv2d_out`")


def test_grade_requires_one_outcome_per_case():
    with pytest.raises(ValueError, match="one outcome per case"):
        _output_size_question().grade([], [Case((7, 3))], {})


def test_missing_report_names_the_expected_target():
    value = question("ps1_shapes_params-stride_fits").missing_report()
    assert value.score == 0.0
    assert value.verdicts[0].message.startswith("not answered yet: there is no variable")
    function = question("ps3_pooling-max_backward").missing_report()
    assert "no function named `max_pool_dx`" in function.verdicts[0].message


def test_report_lists_at_most_six_failures_and_counts_hidden_passes():
    failures = tuple(Verdict(False, f"case {i}: wrong") for i in range(8))
    verdicts = (*failures, Verdict(True, "hidden case 9"), Verdict(True, "hidden case 10"))
    text = Report("ps2_conv-conv_forward", 4.0, 0.8, verdicts).text()
    assert text.count("[FAIL]") == 6
    assert "... and 2 more failing cases" in text
    assert "[pass] 2 hidden cases" in text


def test_value_questions_do_not_reveal_the_answer():
    q = question("ps1_shapes_params-stride_fits")
    variant = variant_for("ps1_shapes_params")
    report = q.grade([{"value": 2}], q.visible_cases(variant), variant)
    assert report.score == 0.0
    assert report.verdicts[0].message == "`ans_stride_fits`: the output size: not right (found 2)."
    assert "one short" in report.verdicts[0].diagnosis


def test_tuple_value_questions_give_partial_credit_per_element():
    q = question("ps1_shapes_params-cs109b_params")
    variant = variant_for("ps1_shapes_params")
    good = (224, 3216, 2_097_664, 2052)
    assert q.grade([{"value": good}], q.visible_cases(variant), variant).score == 2.0
    half = (224 - 8, 3216 - 16, 2_097_664, 2052)
    report = q.grade([{"value": half}], q.visible_cases(variant), variant)
    assert report.score == 1.0
    assert "biases are missing" in report.verdicts[0].diagnosis
    wrong_type = q.grade([{"value": 2_103_156}], q.visible_cases(variant), variant)
    assert "should be a tuple of 4 numbers" in wrong_type.verdicts[0].message


# --- check(), in the student's kernel ------------------------------------------------------


def _correct_output_size(n, k, s=1, p=0, d=1):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def test_check_returns_the_score_and_prints_the_report(capsys):
    score = check("ps1_shapes_params-output_size", _correct_output_size, hidden=True)
    assert score == 3.0
    out = capsys.readouterr().out
    assert out.startswith("ps1_shapes_params-output_size (output_size(n, k, s, p, d)): 3 / 3")
    assert "[pass] 12 hidden cases" in out


def test_check_reports_not_implemented_without_raising(capsys):
    def stub(*args):
        raise NotImplementedError()

    assert check("ps1_shapes_params-output_size", stub) == 0.0
    assert "not implemented yet" in capsys.readouterr().out


def test_a_failing_check_prints_its_report_and_raises_nothing(capsys):
    def no_plus_one(n, k, s=1, p=0, d=1):
        print("debugging output is swallowed")
        return (n + 2 * p - d * (k - 1) - 1) // s

    score = check("ps1_shapes_params-output_size", no_plus_one)
    assert score == 0.0
    out = capsys.readouterr().out
    assert "debugging output" not in out
    assert out.count("[FAIL]") == 6
    assert "Likely mistake: the count is one short" in out


def test_the_score_is_plain_text_for_nbgrader_and_invisible_in_the_notebook(capsys):
    score = check("ps1_shapes_params-output_size", _correct_output_size)
    assert isinstance(score, Score)
    assert repr(score) == "3.0"  # nbgrader reads text/plain as partial credit
    assert score._repr_html_() == ""  # JupyterLab shows the (empty) richer form


def test_check_says_an_answer_calling_cnnlab_will_score_zero(capsys):
    import cnnlab.layers
    from cnnlab import shapes

    def conv2d_forward(x, w, b, stride=1, padding=0):
        return cnnlab.layers.conv2d_forward(x, w, b, stride=stride, padding=padding)

    def conv2d_out(x, w, b, stride, padding):  # the notebook's probe calls the student's
        return conv2d_forward(x, w, b, stride, padding)[0]

    assert cnnlab_use(conv2d_out) == "cnnlab"
    assert check("ps2_conv-conv_forward", conv2d_out) == 0.0
    out = capsys.readouterr().out
    assert "0 / 4 points" in out
    assert "uses cnnlab's own `cnnlab`" in out
    assert "scores 0 there" in out

    def output_size(n, k, s=1, p=0, d=1):
        return shapes.conv_output_size(n, k, stride=s, padding=p, dilation=d)

    assert cnnlab_use(output_size) == "cnnlab.shapes"
    assert cnnlab_use(shapes.conv_output_size) == "cnnlab.shapes.conv_output_size"
    assert cnnlab_use(_correct_output_size) is None
    assert cnnlab_use(lambda x: np.tanh(x)) is None


def test_grading_explains_a_missing_cnnlab_and_a_failing_forward():
    q = question("ps2_conv-conv_backward")
    cases = q.visible_cases({**variant_for("ps2_conv")})[:1]
    report = q.grade(
        [{"error": "ForwardFailed: ValueError: operands could not be broadcast"}], cases, {}
    )
    assert "your forward pass raised ValueError: operands could not be broadcast" in report.text()
    assert "fix the forward pass first" in report.text()
    report = q.grade([{"error": "NameError: name 'cnnlab' is not defined"}], cases, {})
    assert "without cnnlab" in report.text()


def test_check_looks_value_answers_up_in_main(monkeypatch, capsys):
    import __main__

    monkeypatch.delattr(__main__, "ans_stride_fits", raising=False)
    assert check("ps1_shapes_params-stride_fits") == 0.0
    assert "not answered yet" in capsys.readouterr().out
    monkeypatch.setattr(__main__, "ans_stride_fits", 3, raising=False)
    assert check("ps1_shapes_params-stride_fits", variant={"n_fit": 7}) == 1.0


def test_check_uses_the_variant_given():
    variant = dict(variant_for("ps1_shapes_params", "x", "y"))
    expected = _correct_output_size(variant["n_fit"], variant["k_fit"], variant["s_fit"])
    with contextlib.redirect_stdout(io.StringIO()):
        assert check("ps1_shapes_params-stride_fits", expected, variant=variant) == 1.0


def test_run_case_copies_arguments_and_converts_like_the_sandbox():
    q = question("ps3_pooling-max_forward")
    case = q.visible_cases({})[0]
    before = case.args[0].copy()

    def vandal(x, kernel, stride, padding):
        x[...] = 0.0
        return np.float64(1.5), [np.int32(2)]

    assert run_case(q, vandal, case) == {"value": (1.5, [2])}
    assert np.array_equal(case.args[0], before)
    assert run_case(q, lambda *a: object(), case) == {"unsupported": "object"}
    assert run_case(q, lambda *a: 1 / 0, case)["error"].startswith("ZeroDivisionError")


# --- the sample class, graded in this process -------------------------------------------------


class _Timeout(BaseException):
    """Raised by SIGALRM; a BaseException, so student code's `except Exception` misses it."""


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    def fire(signum, frame):
        raise _Timeout()

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _load(path: Path):
    return load_module_file(str(path))


def _run_notebook(assignment: str, answers: dict[str, str], variant: dict) -> dict[str, Any]:
    """Execute the release notebook's non-test code cells, as the sandbox does."""
    path = COURSE / "release" / assignment / f"{assignment}.ipynb"
    namespace: dict[str, Any] = {"__name__": "__cnnlab_sample__"}
    for index, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
        if cell["cell_type"] != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade"):
            continue  # test cells are never run
        source = "".join(cell["source"])
        if "cnnlab-variant" in cell.get("metadata", {}).get("tags", []):
            source = f"VARIANT = {variant!r}"
        elif meta.get("solution") and meta["grade_id"] in answers:
            source = answers[meta["grade_id"]]
        with contextlib.suppress(Exception, _Timeout), _time_limit(20.0):
            exec(compile(source, f"<cell {index}>", "exec"), namespace)
    return namespace


def grade_sample(assignment: str, student: str, answers: dict[str, str]) -> dict[str, float]:
    """Scores of one sample submission, by question key."""
    variant = variant_for(assignment, student, DEMO_SECRET)
    rng = np.random.default_rng(hidden_case_seed(assignment, student, DEMO_SECRET))
    scores = {}
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        namespace = _run_notebook(assignment, answers, variant)
        for q in questions_for(assignment):
            cases = q.visible_cases(variant) + q.hidden_cases(rng, variant)
            if q.target not in namespace:
                scores[q.key] = q.missing_report().score
                continue
            outcomes: list[dict[str, Any]] = []
            for case in cases:
                if outcomes and "timeout" in outcomes[-1]:
                    outcomes.append({"timeout": 1.0})  # it loops: no need to wait again
                    continue
                try:
                    with _time_limit(1.0):
                        outcomes.append(run_case(q, namespace[q.target], case))
                except _Timeout:
                    outcomes.append({"timeout": 1.0})
            scores[q.key] = q.grade(outcomes, cases, variant).score
    return scores


def _expected() -> dict[tuple[str, str], dict[str, float]]:
    table: dict[tuple[str, str], dict[str, float]] = {}
    with (SAMPLES / "expected_scores.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            key = (row["assignment"], row["student"])
            table.setdefault(key, {})[row["question"]] = float(row["expected_score"])
    return table


SAMPLE_FILES = sorted(
    (path.parent.name, path.stem)
    for path in SAMPLES.glob("*/*.py")
    if not path.name.startswith("_")
)


@pytest.mark.parametrize(("assignment", "student"), SAMPLE_FILES)
def test_sample_scores_match_expected_scores_csv(assignment, student):
    answers = _load(SAMPLES / assignment / f"{student}.py").ANSWERS
    got = grade_sample(assignment, student, answers)
    expected = _expected()[(assignment, student)]
    assert set(expected) == set(got)
    mismatches = {k: (got[k], v) for k, v in expected.items() if abs(got[k] - v) > 1e-9}
    assert mismatches == {}


def test_every_sample_file_has_expected_scores_and_nothing_else():
    assert set(_expected()) == {(a, s) for a, s in SAMPLE_FILES}
    assert {s for _, s in SAMPLE_FILES} >= {"correct", "blank", "raises", "loops"}
    for assignment in ASSIGNMENTS:
        assert (assignment, "correct") in SAMPLE_FILES


# --- fair tolerances -------------------------------------------------------------------------


def _full_run(key: str, target, variant=None, seed: int = 5):
    q = question(key)
    variant = variant or variant_for(q.assignment)
    cases = q.visible_cases(variant) + q.hidden_cases(np.random.default_rng(seed), variant)
    return q.grade([run_case(q, target, c) for c in cases], cases, variant)


def test_float32_answers_are_judged_at_float32_precision():
    ref = assignment_module("ps2_conv")

    def conv2d_out(x, w, b, stride, padding):
        x32, w32, b32 = (a.astype(np.float32) for a in (x, w, b))
        xp = np.pad(x32, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
        F, _, KH, KW = w32.shape
        H_out = (xp.shape[2] - KH) // stride + 1
        W_out = (xp.shape[3] - KW) // stride + 1
        out = np.zeros((x.shape[0], F, H_out, W_out), dtype=np.float32)
        for i in range(H_out):
            for j in range(W_out):
                window = xp[:, :, i * stride : i * stride + KH, j * stride : j * stride + KW]
                out[:, :, i, j] = np.tensordot(window, w32, axes=([1, 2, 3], [1, 2, 3]))
        return out + b32[None, :, None, None]

    assert _full_run("ps2_conv-conv_forward", conv2d_out).score == 4.0

    def conv2d_grads(x, w, b, dout, stride, padding):
        return tuple(g.astype(np.float32) for g in ref.conv_grads(x, w, b, dout, stride, padding))

    assert _full_run("ps2_conv-conv_backward", conv2d_grads).score == 6.0


def test_a_wrong_float32_value_shows_enough_digits_to_see_the_difference():
    from cnnlab.grading.compare import array_check, pair_text

    assert pair_text(-0.23672501, -0.23672509) == ("-0.236725", "-0.2367251")
    expected = np.array([1.0, -0.236725])
    found = (expected * (1 + 3e-3)).astype(np.float32)  # beyond float32 rounding
    result = array_check("out", found, expected, reveal=True)
    assert not result.passed
    assert "expected 1, found 1.003" in result.problem
    assert array_check("out", expected.astype(np.float32), expected, reveal=True).passed
    # float64 answers keep the question's own tolerance
    assert not array_check("out", expected * (1 + 1e-5), expected, reveal=True).passed


def test_arrays_lists_and_tuples_with_the_same_values_are_interchangeable():
    def same_padding(n, k, s):
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        return np.array([total // 2, total - total // 2])

    assert _full_run("ps1_shapes_params-same_padding", same_padding).score == 2.0

    from cnnlab import receptive as R  # noqa: F401  (the reference; not used by the answer)

    def receptive_field(layers):
        size, jump = 1, 1
        for k, s, _p, d in layers:
            size += d * (k - 1) * jump
            jump *= s
        return np.array([size, jump])

    assert _full_run("ps4_receptive_saliency_transfer-receptive_field", receptive_field).score == 3
    assert (
        _full_run(
            "ps4_receptive_saliency_transfer-receptive_field",
            lambda layers: [float(v) for v in receptive_field(layers)],
        ).score
        == 3
    )


def test_partial_credit_for_a_mistake_does_not_depend_on_the_variant():
    ref = assignment_module("ps2_conv")

    def uncropped(x, w, b, dout, stride, padding):
        xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
        return ref.conv_grads(xp, w, b, dout, stride, 0)[0], *ref.conv_grads(
            x, w, b, dout, stride, padding
        )[1:]

    scores = {
        _full_run(
            "ps2_conv-conv_backward", uncropped, variant_for("ps2_conv", f"s{i}", "k"), seed=i
        ).score
        for i in range(8)
    }
    assert len(scores) == 1
    assert 0 < scores.pop() < 6


def test_a_partial_score_explains_its_split():
    def conv2d_grads(x, w, b, dout, stride, padding):
        dx, dw, db = assignment_module("ps2_conv").conv_grads(x, w, b, dout, stride, padding)
        return dx, dw, db * 2

    report = _full_run("ps2_conv-conv_backward", conv2d_grads)
    assert report.score == 4.0
    assert (
        "How the score adds up: 11 scored cases, 0.545 points each: 11 cases earned 2/3 "
        "of their share (db wrong); 1 example shown, not scored." in report.text()
    )


def test_lr_scales_checks_the_rule_it_states():
    lr = question("ps4_receptive_saliency_transfer-lr_scales")
    cases = lr.visible_cases({})
    for w1, b1 in ((0.1, 0.25), (1 / 3, 0.1), (0.2, 0.2)):
        value = {"w1": w1, "b1": b1, "w2": 1, "b2": 1}
        assert lr.grade([{"value": value}], cases, {}).score == 1.0, value
    half = lr.grade([{"value": {"w1": 0.5, "b1": 0.25, "w2": 1, "b2": 1}}], cases, {})
    assert half.score == 0.75
    assert "w1's scale 0.5 is not 3x to 10x below the head's" in half.text()


def test_hidden_labels_describe_cases_without_their_inputs():
    for key in (
        "ps1_shapes_params-output_size",
        "ps1_shapes_params-same_padding",
        "ps1_shapes_params-conv_params",
        "ps4_receptive_saliency_transfer-receptive_field",
        "ps4_receptive_saliency_transfer-input_region",
    ):
        q = question(key)
        for case in q.hidden_cases(np.random.default_rng(9), {}):
            numbers = [a for a in case.args if type(a) is int and a > 1]
            assert q.target not in case.label, case.label
            assert "(" not in case.label, case.label
            assert "[" not in case.label, case.label  # no layer stack
            assert not any(f" {n}," in f" {case.label}," for n in numbers), case.label
