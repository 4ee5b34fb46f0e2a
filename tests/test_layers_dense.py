"""cnnlab.layers: dense, ReLU, flatten and softmax cross-entropy."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.gradcheck import numerical_gradient, rel_error
from cnnlab.layers import (
    dense_backward,
    dense_forward,
    flatten,
    flatten_backward,
    relu_backward,
    relu_forward,
    softmax_cross_entropy,
)
from tests.layer_helpers import check_op

DENSE = (dense_forward, dense_backward)
RELU = (relu_forward, relu_backward)
FLATTEN = (flatten, flatten_backward)


def _torch_or_none():
    try:
        import torch
    except ImportError:
        return None
    return torch


@pytest.mark.parametrize(("N", "D", "F"), [(1, 1, 1), (3, 5, 4), (4, 7, 1)])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_dense(N, D, F, bias):
    rng = np.random.default_rng(N + D + F)
    inputs = {
        "x": rng.standard_normal((N, D)),
        "w": rng.standard_normal((F, D)),
        "b": rng.standard_normal(F) if bias else None,
    }
    torch = _torch_or_none()
    torch_fn = None
    if torch is not None:
        def torch_fn(x, w, b):
            return torch.nn.functional.linear(x, w, b)
    check_op(DENSE, inputs, torch_fn=torch_fn)


def test_dense_is_a_conv_whose_kernel_covers_the_input():
    from cnnlab.layers import conv2d_forward

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 5))
    w = rng.standard_normal((6, 3, 4, 5))
    b = rng.standard_normal(6)
    conv, _ = conv2d_forward(x, w, b)
    dense, _ = dense_forward(flatten(x)[0], w.reshape(6, -1), b)
    np.testing.assert_allclose(conv[:, :, 0, 0], dense, rtol=1e-12)


def test_relu():
    x = np.array([[-2.0, -0.5, 0.25, 3.0], [1.0, -1.0, 2.0, -3.0]])
    torch = _torch_or_none()
    check_op(RELU, {"x": x}, torch_fn=torch and (lambda x: torch.nn.functional.relu(x)))
    _, cache = relu_forward(np.array([0.0, 1.0]))
    np.testing.assert_array_equal(relu_backward(np.array([7.0, 7.0]), cache), [0.0, 7.0])


def test_flatten_round_trip():
    x = np.arange(24.0).reshape(2, 3, 2, 2)
    check_op(FLATTEN, {"x": x})
    out, cache = flatten(x)
    np.testing.assert_array_equal(out[1], np.arange(12.0, 24.0))  # C, then H, then W
    np.testing.assert_array_equal(flatten_backward(out, cache), x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_cross_entropy_matches_finite_differences_and_torch(dtype):
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((5, 4)) * 3
    y = np.array([0, 3, 1, 1, 2])
    loss, dscores = softmax_cross_entropy(scores.astype(dtype), y)
    assert loss.dtype == dtype
    assert dscores.dtype == dtype
    numeric = numerical_gradient(lambda s: softmax_cross_entropy(s, y)[0], scores.copy())
    tol = 1e-7 if dtype == np.float64 else 1e-6
    assert rel_error(dscores, numeric) < tol
    torch = _torch_or_none()
    if torch is not None:
        t = torch.tensor(scores, requires_grad=True)
        expected = torch.nn.functional.cross_entropy(t, torch.tensor(y))
        expected.backward()
        expected = expected.detach()
        assert float(loss) == pytest.approx(expected.item(), rel=tol)
        assert rel_error(dscores, t.grad.numpy()) < tol


def test_softmax_cross_entropy_is_numerically_stable():
    scores = np.array([[1000.0, 0.0, -1000.0], [-1e4, 1e4, 0.0]])
    loss, dscores = softmax_cross_entropy(scores, np.array([0, 1]))
    assert np.isfinite(loss)
    assert loss == pytest.approx(0.0, abs=1e-12)
    assert np.all(np.isfinite(dscores))


def test_softmax_cross_entropy_uniform_scores():
    loss, dscores = softmax_cross_entropy(np.zeros((2, 10)), np.array([3, 7]))
    assert loss == pytest.approx(np.log(10))
    np.testing.assert_allclose(dscores.sum(axis=1), 0.0, atol=1e-15)


BAD = {
    "dense x not flat": (
        lambda: dense_forward(np.zeros((2, 3, 4, 4)), np.zeros((5, 48))),
        ValueError,
        ["flatten"],
    ),
    "dense w transposed": (
        lambda: dense_forward(np.zeros((2, 6)), np.zeros((6, 5))),
        ValueError,
        ["(F, 6)", "w.T"],
    ),
    "dense bias": (
        lambda: dense_forward(np.zeros((2, 6)), np.zeros((5, 6)), np.zeros(6)),
        ValueError,
        ["(5,)"],
    ),
    "dense mixed dtypes": (
        lambda: dense_forward(np.zeros((2, 6), np.float32), np.zeros((5, 6))),
        TypeError,
        ["mixed dtypes"],
    ),
    "relu int": (lambda: relu_forward(np.arange(3)), TypeError, ["int64"]),
    "flatten 1-D": (lambda: flatten(np.zeros(3)), ValueError, ["x[None]"]),
    "one-hot labels": (
        lambda: softmax_cross_entropy(np.zeros((2, 3)), np.eye(3)[[0, 1]]),
        ValueError,
        ["one-hot", "argmax"],
    ),
    "float labels": (
        lambda: softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0])),
        TypeError,
        ["integer"],
    ),
    "label out of range": (
        lambda: softmax_cross_entropy(np.zeros((2, 3)), np.array([1, 3])),
        ValueError,
        ["0..2", "from 0"],
    ),
    "label count": (
        lambda: softmax_cross_entropy(np.zeros((2, 3)), np.array([1, 2, 0])),
        ValueError,
        ["(2,)"],
    ),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_inputs(name):
    call, error, fragments = BAD[name]
    with pytest.raises(error) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_backward_checks_dout_and_cache():
    out, cache = dense_forward(np.zeros((2, 6)), np.zeros((5, 6)))
    with pytest.raises(ValueError, match="dout has shape"):
        dense_backward(np.zeros((2, 6)), cache)
    with pytest.raises(TypeError, match="DenseCache"):
        dense_backward(out, None)
    out, cache = relu_forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="dout has shape"):
        relu_backward(np.zeros((3, 2)), cache)
    out, cache = flatten(np.zeros((2, 3, 2)))
    with pytest.raises(ValueError, match="flatten produced"):
        flatten_backward(np.zeros((2, 5)), cache)
