"""cnnlab.layers.residual: ResNet's BasicBlock with identity and projection shortcuts,
against finite differences, the naive layers and PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab import naive
from cnnlab.layers import basic_block_backward, basic_block_forward
from tests.layer_helpers import check_op

FAST = (basic_block_forward, basic_block_backward)
NAIVE = (naive.basic_block_forward, naive.basic_block_backward)

CASES = {
    "identity": ((2, 4, 5, 5), 4, 1),
    "projection-stride2": ((2, 3, 6, 5), 5, 2),
    "projection-channels": ((3, 2, 4, 4), 4, 1),
}


def _inputs(x_shape, F, stride, seed=11):
    rng = np.random.default_rng(seed)
    C = x_shape[1]
    projection = stride != 1 or C != F
    gamma = lambda: 1 + 0.3 * rng.standard_normal(F)  # noqa: E731
    return {
        "x": rng.standard_normal(x_shape),
        "w1": rng.standard_normal((F, C, 3, 3)) / 3,
        "gamma1": gamma(),
        "beta1": rng.standard_normal(F),
        "w2": rng.standard_normal((F, F, 3, 3)) / 3,
        "gamma2": gamma(),
        "beta2": rng.standard_normal(F),
        "w_skip": rng.standard_normal((F, C, 1, 1)) if projection else None,
        "gamma_skip": gamma() if projection else None,
        "beta_skip": rng.standard_normal(F) if projection else None,
    }


def _torch_block(x, w1, gamma1, beta1, w2, gamma2, beta2, w_skip, gamma_skip, beta_skip,
                 *, stride):
    import torch.nn.functional as F

    def bn(t, g, b):
        return F.batch_norm(t, None, None, g, b, training=True, eps=1e-5)

    out = F.relu(bn(F.conv2d(x, w1, stride=stride, padding=1), gamma1, beta1))
    out = bn(F.conv2d(out, w2, padding=1), gamma2, beta2)
    skip = x if w_skip is None else bn(F.conv2d(x, w_skip, stride=stride), gamma_skip, beta_skip)
    return F.relu(out + skip)


@pytest.mark.parametrize("case", CASES)
def test_block_against_finite_differences_and_naive(case):
    x_shape, F, stride = CASES[case]
    check_op(FAST, _inputs(x_shape, F, stride), {"stride": stride}, naive=NAIVE)


@pytest.mark.torch
@pytest.mark.parametrize("case", CASES)
def test_block_matches_torch(case):
    pytest.importorskip("torch", reason="PyTorch is the optional cross-check (pip install torch)")
    x_shape, F, stride = CASES[case]
    check_op(FAST, _inputs(x_shape, F, stride), {"stride": stride}, torch_fn=_torch_block,
             finite_differences=False)


def test_identity_shortcut_passes_the_gradient_on():
    # Zero the main path's last scale: the block is relu(x) and dx = dout * (x > 0),
    # whatever the convolutions do.
    inputs = _inputs((2, 4, 5, 5), 4, 1)
    inputs["gamma2"] = np.zeros(4)
    inputs["beta2"] = np.zeros(4)
    out, cache = basic_block_forward(**inputs)
    np.testing.assert_allclose(out, np.maximum(inputs["x"], 0))
    dout = np.random.default_rng(0).standard_normal(out.shape)
    dx = basic_block_backward(dout, cache)[0]
    np.testing.assert_allclose(dx, dout * (inputs["x"] > 0), atol=1e-12)


def test_a_shape_change_needs_a_projection():
    inputs = _inputs((2, 3, 6, 6), 5, 2)
    for key in ("w_skip", "gamma_skip", "beta_skip"):
        inputs[key] = None
    with pytest.raises(ValueError, match="pass a projection shortcut"):
        basic_block_forward(**inputs, stride=2)
    inputs = _inputs((2, 3, 6, 6), 5, 2)
    inputs["beta_skip"] = None
    with pytest.raises(ValueError, match="needs all of w_skip, gamma_skip and beta_skip"):
        basic_block_forward(**inputs, stride=2)
    with pytest.raises(TypeError, match="BasicBlockCache"):
        basic_block_backward(np.ones(3), object())
