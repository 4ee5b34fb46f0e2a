"""cnnlab.layers.global_pool: global average pooling against finite differences, the
naive loops and PyTorch's adaptive average pooling."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab import naive
from cnnlab.layers import global_avg_pool2d_backward, global_avg_pool2d_forward
from tests.layer_helpers import check_op

FAST = (global_avg_pool2d_forward, global_avg_pool2d_backward)
NAIVE = (naive.global_avg_pool2d_forward, naive.global_avg_pool2d_backward)
SHAPES = [(2, 3, 4, 5), (1, 1, 1, 1), (3, 2, 7, 1)]


def _torch_global(x):
    import torch

    return torch.nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)


@pytest.mark.parametrize("shape", SHAPES)
def test_against_finite_differences_and_naive(shape):
    x = np.random.default_rng(3).standard_normal(shape)
    check_op(FAST, {"x": x}, naive=NAIVE)


@pytest.mark.torch
@pytest.mark.parametrize("shape", SHAPES)
def test_matches_torch(shape):
    pytest.importorskip("torch", reason="PyTorch is the optional cross-check (pip install torch)")
    x = np.random.default_rng(3).standard_normal(shape)
    check_op(FAST, {"x": x}, torch_fn=_torch_global, finite_differences=False)


def test_values_by_hand_and_errors():
    out, cache = global_avg_pool2d_forward(np.arange(12.0).reshape(1, 3, 2, 2))
    np.testing.assert_array_equal(out, [[1.5, 5.5, 9.5]])
    dx = global_avg_pool2d_backward(np.array([[4.0, 8.0, 0.0]]), cache)
    np.testing.assert_array_equal(dx[0, :, 0, 0], [1.0, 2.0, 0.0])
    with pytest.raises(ValueError, match="4-D"):
        global_avg_pool2d_forward(np.ones((3, 2, 2)))
    with pytest.raises(ValueError, match=r"forward output had shape \(1, 3\)"):
        global_avg_pool2d_backward(np.ones((1, 3, 1, 1)), cache)
