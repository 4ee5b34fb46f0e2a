"""cnnlab.layers.norm: batch normalisation in training and evaluation mode, against
finite differences, the naive graph-walking backward pass and PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab import naive
from cnnlab.layers import batchnorm2d_backward, batchnorm2d_forward, dispatch
from tests.layer_helpers import check_op

FAST = (batchnorm2d_forward, batchnorm2d_backward)
NAIVE = (naive.batchnorm2d_forward, naive.batchnorm2d_backward)


def _inputs(shape, seed=0):
    # Not seed 0: check_op draws dout from default_rng(0), and a dout proportional to
    # x is exactly what batch normalisation projects out (dx = 0).
    rng = np.random.default_rng(100 + seed)
    C = shape[1]
    return {
        "x": 2.0 + 3.0 * rng.standard_normal(shape),
        "gamma": 1.0 + 0.5 * rng.standard_normal(C),
        "beta": rng.standard_normal(C),
    }


def _torch_train(x, gamma, beta, eps=1e-5):
    import torch.nn.functional as F

    return F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)


# (3, 4, 9, 9): planes longer than the kernels' eight running sums, with a remainder.
SHAPES = [(4, 3, 5, 6), (1, 2, 3, 1), (7, 1, 1, 1), (2, 5, 2, 3), (3, 4, 9, 9)]
THREADS = pytest.mark.parametrize("parallel", [False, True], ids=["one-thread", "parallel"])
TORCH = "PyTorch is the optional cross-check (pip install torch)"


@THREADS
@pytest.mark.parametrize("shape", SHAPES)
def test_training_mode_against_finite_differences_and_naive(shape, parallel):
    with dispatch.force(parallel=parallel):
        check_op(FAST, _inputs(shape), {"eps": 1e-5}, naive=NAIVE)


@pytest.mark.torch
@THREADS
@pytest.mark.parametrize("shape", SHAPES)
def test_training_mode_matches_torch(shape, parallel):
    pytest.importorskip("torch", reason=TORCH)
    with dispatch.force(parallel=parallel):
        check_op(FAST, _inputs(shape), {"eps": 1e-5}, torch_fn=_torch_train,
                 finite_differences=False)


def _eval_layers(running_mean, running_var):
    """Evaluation mode as a layer of (x, gamma, beta), the statistics held fixed."""

    def layer(module):
        def forward(x, gamma, beta):
            stats = {k: v.astype(x.dtype) for k, v in
                     (("running_mean", running_mean), ("running_var", running_var))}
            return module.batchnorm2d_forward(x, gamma, beta, training=False, **stats)

        return forward, module.batchnorm2d_backward

    import cnnlab.layers as fast

    return layer(fast), layer(naive)


@THREADS
@pytest.mark.parametrize("with_torch", [False, True], ids=["fd-naive", "torch"])
def test_evaluation_mode_against_everything(with_torch, parallel):
    if with_torch:
        pytest.importorskip("torch", reason=TORCH)
    rng = np.random.default_rng(1)
    running_mean, running_var = rng.standard_normal(3), rng.uniform(0.5, 2.0, 3)
    fast, slow = _eval_layers(running_mean, running_var)

    def torch_eval(x, gamma, beta):
        import torch
        import torch.nn.functional as F

        stats = [torch.tensor(s, dtype=x.dtype) for s in (running_mean, running_var)]
        return F.batch_norm(x, *stats, gamma, beta, training=False, eps=1e-5)

    with dispatch.force(parallel=parallel):
        check_op(fast, _inputs((3, 3, 4, 4)), naive=slow,
                 torch_fn=torch_eval if with_torch else None)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_running_statistics_follow_pytorch(dtype):
    x = _inputs((6, 4, 3, 5))["x"].astype(dtype)
    gamma, beta = np.ones(4, dtype), np.zeros(4, dtype)
    running_mean, running_var = np.zeros(4, dtype), np.ones(4, dtype)
    naive_mean, naive_var = running_mean.copy(), running_var.copy()
    for step in range(3):
        batch = x + step
        batchnorm2d_forward(batch, gamma, beta, running_mean=running_mean,
                            running_var=running_var, momentum=0.2)
        naive.batchnorm2d_forward(batch, gamma, beta, running_mean=naive_mean,
                                  running_var=naive_var, momentum=0.2)
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(running_mean, naive_mean, rtol=tolerance)
    np.testing.assert_allclose(running_var, naive_var, rtol=tolerance)
    # By hand, one step from zeros/ones: mean*m, var*m/(m-1) (the unbiased variance).
    m0, v0 = np.zeros(4), np.ones(4)
    batchnorm2d_forward(x.astype(np.float64), np.ones(4), np.zeros(4), running_mean=m0,
                        running_var=v0)
    m = 6 * 3 * 5
    expected_var = 0.9 + 0.1 * x.astype(np.float64).var(axis=(0, 2, 3)) * m / (m - 1)
    np.testing.assert_allclose(m0, 0.1 * x.astype(np.float64).mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(v0, expected_var)
    torch = pytest.importorskip("torch", reason=TORCH)
    bn = torch.nn.BatchNorm2d(4, momentum=0.2).to(getattr(torch, np.dtype(dtype).name))
    for step in range(3):
        bn(torch.tensor(x + step))
    np.testing.assert_allclose(running_mean, bn.running_mean.numpy(), rtol=tolerance)
    np.testing.assert_allclose(running_var, bn.running_var.numpy(), rtol=tolerance)


def test_normalised_output_has_zero_mean_unit_variance():
    out, _ = batchnorm2d_forward(_inputs((8, 3, 4, 4))["x"], np.ones(3), np.zeros(3), eps=0.0)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1, atol=1e-12)


def test_bad_inputs_are_named():
    x, g, b = np.ones((2, 3, 4, 4)), np.ones(3), np.zeros(3)
    with pytest.raises(ValueError, match=r"gamma must have one value per channel, shape \(3,\)"):
        batchnorm2d_forward(x, np.ones(4), b)
    with pytest.raises(ValueError, match="running_mean is required"):
        batchnorm2d_forward(x, g, b, training=False)
    with pytest.raises(ValueError, match="float64 array of shape"):
        batchnorm2d_forward(x, g, b, running_mean=np.zeros(3, np.float32), running_var=None)
    with pytest.raises(ValueError, match="more than one value per channel"):
        batchnorm2d_forward(np.ones((1, 3, 1, 1)), g, b)
    with pytest.raises(ValueError, match="momentum"):
        batchnorm2d_forward(x, g, b, momentum=2)
    with pytest.raises(TypeError, match="mixed dtypes"):
        batchnorm2d_forward(x.astype(np.float32), g, b)
    _, cache = batchnorm2d_forward(x, g, b)
    with pytest.raises(ValueError, match="dout has shape"):
        batchnorm2d_backward(np.ones((2, 3, 4, 3)), cache)
    with pytest.raises(TypeError, match="BatchNorm2dCache"):
        batchnorm2d_backward(np.ones_like(x), object())
