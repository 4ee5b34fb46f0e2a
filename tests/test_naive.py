"""cnnlab.naive: the lecture's loops agree with the fast layers on random cases."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab import layers, naive
from tests.layer_helpers import assert_close

RNG_CASES = range(6)


def _random_conv(seed):
    """A random small convolution: shapes, stride, padding, dilation and groups."""
    rng = np.random.default_rng(seed)
    groups = int(rng.choice([1, 1, 2]))
    C = groups * int(rng.integers(1, 3))
    F = groups * int(rng.integers(1, 3))
    KH, KW = (int(k) for k in rng.integers(1, 4, size=2))
    dilation = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    padding = [0, 1, (1, 2), "same", "valid"][int(rng.integers(0, 5))]
    H = int(rng.integers(dilation[0] * (KH - 1) + 1, 9))
    W = int(rng.integers(dilation[1] * (KW - 1) + 1, 9))
    N = int(rng.integers(1, 3))
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((F, C // groups, KH, KW))
    b = rng.standard_normal(F)
    params = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    return x, w, b, params


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", RNG_CASES)
def test_naive_conv_agrees_with_fast(seed, dtype):
    x, w, b, params = _random_conv(seed)
    x, w, b = (a.astype(dtype) for a in (x, w, b))
    out, cache = layers.conv2d_forward(x, w, b, **params)
    out_n, cache_n = naive.conv2d_forward(x, w, b, **params)
    assert_close(out, out_n, dtype, f"forward {params}")
    dout = np.random.default_rng(seed).standard_normal(out.shape).astype(dtype)
    for fast, slow, name in zip(
        layers.conv2d_backward(dout, cache), naive.conv2d_backward(dout, cache_n), "xwb",
        strict=True,
    ):
        assert_close(fast, slow, dtype, f"d{name} {params}")


def _random_pool(seed):
    rng = np.random.default_rng(100 + seed)
    kernel = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    padding = [0, (kernel[0] // 2, kernel[1] // 2), "same", "valid"][int(rng.integers(0, 4))]
    x = rng.integers(-3, 4, size=(2, 2, int(rng.integers(4, 9)), int(rng.integers(4, 9))))
    params = {"kernel": kernel, "stride": stride, "padding": padding,
              "ceil_mode": bool(rng.integers(0, 2))}
    return x.astype(np.float64), params


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("seed", RNG_CASES)
def test_naive_pool_agrees_with_fast(seed, mode):
    x, params = _random_pool(seed)
    fast = getattr(layers, f"{mode}_pool2d_forward"), getattr(layers, f"{mode}_pool2d_backward")
    slow = getattr(naive, f"{mode}_pool2d_forward"), getattr(naive, f"{mode}_pool2d_backward")
    out, cache = fast[0](x, **params)
    out_n, cache_n = slow[0](x, **params)
    assert_close(out, out_n, np.float64, f"forward {params}")
    dout = np.random.default_rng(seed).standard_normal(out.shape)
    assert_close(fast[1](dout, cache), slow[1](dout, cache_n), np.float64, f"dx {params}")


def test_naive_conv_by_hand():
    # One 3x3 image, one 2x2 filter of ones, padding 0: sums of the four 2x2 blocks.
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    out, cache = naive.conv2d_forward(x, np.ones((1, 1, 2, 2)), np.array([1.0]))
    np.testing.assert_array_equal(out[0, 0], [[9, 13], [21, 25]])
    dx, dw, db = naive.conv2d_backward(np.ones_like(out), cache)
    np.testing.assert_array_equal(dx[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])
    np.testing.assert_array_equal(dw[0, 0], [[8, 12], [20, 24]])
    np.testing.assert_array_equal(db, [4])


def test_naive_validates_like_fast():
    with pytest.raises(ValueError, match="channel mismatch"):
        naive.conv2d_forward(np.zeros((1, 3, 5, 5)), np.zeros((2, 4, 3, 3)))
    _, cache = naive.max_pool2d_forward(np.zeros((1, 1, 4, 4)), kernel=2)
    with pytest.raises(ValueError, match="dout has shape"):
        naive.max_pool2d_backward(np.zeros((1, 1, 4, 4)), cache)
