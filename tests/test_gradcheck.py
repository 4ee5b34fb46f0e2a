"""cnnlab.gradcheck: finite differences, rel_error and the layer report."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.gradcheck import GradCheckReport, check_layer, numerical_gradient, rel_error
from cnnlab.layers import conv2d_backward, conv2d_forward, relu_backward, relu_forward


def test_numerical_gradient_of_known_functions():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    np.testing.assert_allclose(numerical_gradient(lambda v: v**2, x), 2 * x, rtol=1e-8)
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(v**3), x), 3 * x**2, rtol=1e-8)
    dout = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(numerical_gradient(np.sin, x, dout), np.cos(x) * dout, rtol=1e-8)


def test_numerical_gradient_restores_x_and_rejects_float32():
    x = np.array([0.1, 0.2, 0.3])
    before = x.copy()
    numerical_gradient(np.exp, x)
    np.testing.assert_array_equal(x, before)
    with pytest.raises(TypeError, match=r"float64.*float32"):
        numerical_gradient(np.exp, x.astype(np.float32))
    with pytest.raises(ValueError, match="dout has shape"):
        numerical_gradient(np.exp, x, np.ones(4))


def test_rel_error_formula():
    assert rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    # max |a - b| / max(|a| + |b|): 1 / (100 + 101)
    assert rel_error([1.0, 100.0], [1.0, 101.0]) == pytest.approx(1 / 201)
    # A tiny entry that differs a lot relative to itself does not dominate.
    assert rel_error([1e-12, 1.0], [3e-12, 1.0]) < 1e-11
    assert rel_error([1.0], [-1.0]) == 1.0
    with pytest.raises(ValueError, match="shapes differ"):
        rel_error(np.zeros(2), np.zeros(3))


def test_check_layer_passes_a_correct_layer_and_prints_a_report():
    rng = np.random.default_rng(0)
    inputs = {"x": rng.standard_normal((2, 2, 5, 5)), "w": rng.standard_normal((3, 2, 3, 3)),
              "b": rng.standard_normal(3)}
    before = {k: v.copy() for k, v in inputs.items()}
    report = check_layer(conv2d_forward, conv2d_backward, inputs, params={"stride": 2})
    assert isinstance(report, GradCheckReport)
    assert report.passed
    assert set(report.errors) == {"x", "w", "b"}
    assert report.worst < 1e-8
    assert "dx" in str(report)
    assert "ok" in str(report)
    for k in inputs:
        np.testing.assert_array_equal(inputs[k], before[k])


def test_check_layer_catches_a_wrong_backward():
    def overwriting_relu_backward(dout, cache):  # the classic bug: forgets the mask
        return dout

    report = check_layer(
        relu_forward, overwriting_relu_backward, {"x": np.array([[-1.0, 2.0, -3.0]])}
    )
    assert not report.passed
    assert report.errors["x"] > 0.1
    assert "WRONG" in str(report)


def test_check_layer_skips_none_inputs_and_checks_gradient_count():
    rng = np.random.default_rng(1)
    inputs = {"x": rng.standard_normal((1, 1, 4, 4)), "w": rng.standard_normal((1, 1, 2, 2)),
              "b": None}
    report = check_layer(conv2d_forward, conv2d_backward, inputs)
    assert set(report.errors) == {"x", "w"}
    with pytest.raises(ValueError, match="one per input"):
        check_layer(relu_forward, lambda dout, cache: (dout, dout), {"x": np.ones(3)})
    with pytest.raises(TypeError, match="float64"):
        check_layer(relu_forward, relu_backward, {"x": np.ones(3, dtype=np.float32)})


def test_numerical_gradient_copes_with_f_returning_a_view_of_x():
    # flatten returns x.reshape(...), a view: the difference must not read x after
    # it has been nudged back.
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(numerical_gradient(lambda v: v.reshape(-1), x), np.ones((2, 3)))
