"""cnnlab.layers.pool: max and average pooling, values, gradients, ties, messages.

The grid covers mode x padding x stride x ceil_mode x kernel shape on a non-square
input. Gradients are checked against finite differences on inputs without ties (max
pooling is not differentiable at a tie); ties are checked against PyTorch and the naive
loops, which must pick the same winner (the first maximum in row-major order).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cnnlab import naive
from cnnlab.examples import (
    MAXPOOL_DOUT,
    MAXPOOL_DX,
    MAXPOOL_INPUT,
    MAXPOOL_KERNEL,
    MAXPOOL_OUTPUT,
    MAXPOOL_STRIDE,
)
from cnnlab.layers import (
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)
from tests.layer_helpers import check_op, is_symmetric, torch_avg_pool2d, torch_max_pool2d

LAYERS = {
    "max": (max_pool2d_forward, max_pool2d_backward),
    "avg": (avg_pool2d_forward, avg_pool2d_backward),
}
NAIVE = {
    "max": (naive.max_pool2d_forward, naive.max_pool2d_backward),
    "avg": (naive.avg_pool2d_forward, naive.avg_pool2d_backward),
}
TORCH = {"max": torch_max_pool2d, "avg": torch_avg_pool2d}

MODES = ["max", "avg"]
KERNELS = [3, (3, 2)]
PADDINGS = [0, 1, (1, 0), "same", "valid"]
STRIDES = [1, 2, 3]
CEIL = [False, True]
SHAPE = (2, 3, 7, 8)
GRID = list(itertools.product(MODES, KERNELS, PADDINGS, STRIDES, CEIL))


def _id(case):
    mode, kernel, padding, stride, ceil = case
    return f"{mode}-k{kernel}-pad{padding}-s{stride}-{'ceil' if ceil else 'floor'}".replace(
        " ", ""
    )


def _distinct(shape, seed=0):
    """Values at least 1/size apart: no ties, and no tie within a finite-difference step."""
    size = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(size).reshape(shape) / size - 0.5


def _with_ties(shape, seed=0):
    """Few distinct values (multiples of 0.5 in -1..1), so most windows hold ties."""
    return np.random.default_rng(seed).integers(-2, 3, size=shape) / 2.0


def _params(kernel, padding, stride, ceil):
    return {"kernel": kernel, "stride": stride, "padding": padding, "ceil_mode": ceil}


@pytest.mark.parametrize(("mode", "kernel", "padding", "stride", "ceil"), GRID, ids=map(_id, GRID))
def test_pool_matches_finite_differences_and_naive(mode, kernel, padding, stride, ceil):
    params = _params(kernel, padding, stride, ceil)
    check_op(LAYERS[mode], {"x": _distinct(SHAPE)}, params, naive=NAIVE[mode])


@pytest.mark.parametrize(("mode", "kernel", "padding", "stride", "ceil"), GRID, ids=map(_id, GRID))
def test_pool_with_ties_matches_naive(mode, kernel, padding, stride, ceil):
    params = _params(kernel, padding, stride, ceil)
    check_op(
        LAYERS[mode], {"x": _with_ties(SHAPE)}, params, naive=NAIVE[mode], finite_differences=False
    )


@pytest.mark.torch
@pytest.mark.parametrize(("mode", "kernel", "padding", "stride", "ceil"), GRID, ids=map(_id, GRID))
def test_pool_with_ties_matches_torch(mode, kernel, padding, stride, ceil):
    pytest.importorskip("torch", reason="PyTorch is the optional cross-check (pip install torch)")
    if ceil and not is_symmetric(SHAPE, kernel, stride, padding):
        pytest.skip("PyTorch has no ceil_mode pooling with asymmetric padding to compare with")
    params = _params(kernel, padding, stride, ceil)
    check_op(
        LAYERS[mode], {"x": _with_ties(SHAPE)}, params, torch_fn=TORCH[mode],
        finite_differences=False,
    )


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize(
    ("padding", "ceil"), [(1, False), (1, True), ((1, 0), False), ("same", False)]
)
def test_avg_pool_count_include_pad(count_include_pad, padding, ceil):
    params = {**_params(3, padding, 2, ceil), "count_include_pad": count_include_pad}
    inputs = {"x": _distinct(SHAPE)}
    check_op(LAYERS["avg"], inputs, params, naive=NAIVE["avg"])
    try:
        import torch  # noqa: F401
    except ImportError:
        return
    check_op(LAYERS["avg"], inputs, params, torch_fn=torch_avg_pool2d, finite_differences=False)


def test_avg_pool_divisor_convention_by_hand():
    # 3x3 window, padding 1, on a 2x2 input of ones: the top-left window holds 4 real
    # pixels and 5 padded zeros. PyTorch's default counts the padding: 4/9.
    x = np.ones((1, 1, 2, 2))
    out, _ = avg_pool2d_forward(x, kernel=3, stride=1, padding=1)
    np.testing.assert_allclose(out[0, 0], np.full((2, 2), 4 / 9))
    out, _ = avg_pool2d_forward(x, kernel=3, stride=1, padding=1, count_include_pad=False)
    np.testing.assert_allclose(out[0, 0], np.ones((2, 2)))


# --- The lecture's worked example: 5x5 input, 3x3 window, stride 1 --------------------


@pytest.mark.parametrize("layer", [LAYERS["max"], NAIVE["max"]], ids=["fast", "naive"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_maxpool_seed_example_forward_and_backward(layer, dtype):
    forward, backward = layer
    x = MAXPOOL_INPUT.astype(dtype)[None, None]
    out, cache = forward(x, kernel=MAXPOOL_KERNEL, stride=MAXPOOL_STRIDE)
    np.testing.assert_array_equal(out[0, 0], MAXPOOL_OUTPUT)
    dx = backward(MAXPOOL_DOUT.astype(dtype)[None, None], cache)
    np.testing.assert_array_equal(dx[0, 0], MAXPOOL_DX)
    # The 8 at (0, 2) wins two overlapping windows and collects 3 + 1: gradients add up.
    assert dx[0, 0, 0, 2] == 4
    assert dx.sum() == MAXPOOL_DOUT.sum()


def test_maxpool_seed_example_matches_torch():
    torch = pytest.importorskip("torch", reason="PyTorch is the optional cross-check")
    x = torch.tensor(MAXPOOL_INPUT[None, None], requires_grad=True)
    out = torch.nn.functional.max_pool2d(x, MAXPOOL_KERNEL, MAXPOOL_STRIDE)
    out.backward(torch.tensor(MAXPOOL_DOUT[None, None]))
    np.testing.assert_array_equal(out.detach().numpy()[0, 0], MAXPOOL_OUTPUT)
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], MAXPOOL_DX)


# --- Tie rule, padding, overlapping windows ------------------------------------------


@pytest.mark.parametrize("layer", [LAYERS["max"], NAIVE["max"]], ids=["fast", "naive"])
def test_tie_goes_to_first_maximum_in_row_major_order(layer):
    forward, backward = layer
    x = np.zeros((1, 1, 2, 2))  # one window, four equal values
    out, cache = forward(x, kernel=2)
    dx = backward(np.ones_like(out), cache)
    np.testing.assert_array_equal(dx[0, 0], [[1, 0], [0, 0]])
    # A tie between (0, 1) and (1, 0): (0, 1) comes first in row-major order.
    x = np.array([[[[0.0, 5.0], [5.0, 1.0]]]])
    out, cache = forward(x, kernel=2)
    np.testing.assert_array_equal(backward(np.ones_like(out), cache)[0, 0], [[0, 1], [0, 0]])


@pytest.mark.parametrize("layer", [LAYERS["max"], NAIVE["max"]], ids=["fast", "naive"])
def test_padding_never_wins_even_against_minus_infinity(layer):
    forward, backward = layer
    x = np.full((1, 1, 3, 3), -np.inf)
    out, cache = forward(x, kernel=3, stride=1, padding=1)
    assert np.all(out == -np.inf)
    dx = backward(np.ones_like(out), cache)
    assert dx.sum() == 9  # every gradient landed on a real pixel
    # The top-left window covers x[0:2, 0:2]; its first real pixel (0, 0) wins.
    assert dx[0, 0, 0, 0] >= 1


def test_padding_never_wins_matches_torch():
    torch = pytest.importorskip("torch", reason="PyTorch is the optional cross-check")
    x = np.full((1, 1, 3, 4), -np.inf)
    x[0, 0, 1, 2] = -1.0
    out, cache = max_pool2d_forward(x, kernel=3, stride=1, padding=1)
    dx = max_pool2d_backward(np.ones_like(out), cache)
    xt = torch.tensor(x, requires_grad=True)
    ot = torch.nn.functional.max_pool2d(xt, 3, 1, 1)
    ot.backward(torch.ones_like(ot))
    np.testing.assert_array_equal(out, ot.detach().numpy())
    np.testing.assert_array_equal(dx, xt.grad.numpy())


@pytest.mark.parametrize(("kernel", "stride"), [(3, 1), (3, 2), ((2, 3), (1, 2))])
@pytest.mark.parametrize("mode", MODES)
def test_overlapping_windows_accumulate(mode, kernel, stride):
    # A constant input: every window ties everywhere (max) or shares evenly (avg).
    # The gradient reaching each pixel is the number of windows that send it one.
    x = np.ones((1, 1, 7, 7))
    forward, backward = LAYERS[mode]
    out, cache = forward(x, kernel=kernel, stride=stride)
    dx = backward(np.ones_like(out), cache)
    assert dx.sum() == pytest.approx(out.size)  # nothing lost, nothing overwritten
    _, naive_cache = NAIVE[mode][0](x, kernel=kernel, stride=stride)
    expected = NAIVE[mode][1](np.ones_like(out), naive_cache)
    np.testing.assert_allclose(dx, expected)
    if mode == "max" and kernel == 3 and stride == 2:
        # The first pixel of each window wins; windows start every 2 pixels.
        assert dx[0, 0, 0, 0] == 1
        assert dx[0, 0, 0, 1] == 0
        assert dx[0, 0, 2, 2] == 1


@pytest.mark.parametrize(("kernel", "dtype"), [(16, np.uint8), (17, np.int32)])
def test_max_pool_winners_fit_their_window(kernel, dtype):
    # The cache keeps each window's winning tap: one byte while the window has at most
    # 256 taps, four beyond. Both route the gradient to the winner, padding included.
    x = np.random.default_rng(3).standard_normal((2, 2, 19, 18))
    params = {"kernel": kernel, "stride": (2, 1), "padding": kernel // 2, "ceil_mode": True}
    out, cache = max_pool2d_forward(x, **params)
    assert cache.argmax.dtype == dtype
    dout = np.random.default_rng(4).standard_normal(out.shape)
    _, naive_cache = naive.max_pool2d_forward(x, **params)
    np.testing.assert_array_equal(out, naive.max_pool2d_forward(x, **params)[0])
    np.testing.assert_allclose(
        max_pool2d_backward(dout, cache), naive.max_pool2d_backward(dout, naive_cache),
        rtol=1e-12, atol=1e-12,
    )


def test_nan_propagates_like_pytorch():
    x = np.zeros((1, 1, 2, 4))
    x[0, 0, 1, 1] = np.nan
    out, cache = max_pool2d_forward(x, kernel=2)
    assert np.isnan(out[0, 0, 0, 0])
    assert out[0, 0, 0, 1] == 0
    dx = max_pool2d_backward(np.ones_like(out), cache)
    assert dx[0, 0, 1, 1] == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", MODES)
def test_pool_keeps_dtype(mode, dtype):
    forward, backward = LAYERS[mode]
    out, cache = forward(np.ones((1, 2, 4, 4), dtype=dtype), kernel=2)
    assert out.dtype == dtype
    assert backward(np.ones_like(out), cache).dtype == dtype


def test_stride_defaults_to_kernel_and_same_padding_gives_ceil():
    out, cache = max_pool2d_forward(np.zeros((1, 1, 7, 7)), kernel=2)
    assert out.shape == (1, 1, 3, 3)
    out, cache = max_pool2d_forward(np.zeros((1, 1, 7, 7)), kernel=2, padding="same")
    assert out.shape == (1, 1, 4, 4)
    assert cache.geometry.padding == ((0, 1), (0, 1))


X = np.zeros((2, 3, 8, 8))

BAD_INPUTS = {
    "single image": ({"x": np.zeros((3, 8, 8)), "kernel": 2}, ValueError, ["x[None]"]),
    "int image": ({"x": X.astype(np.int64), "kernel": 2}, TypeError, ["int64"]),
    "padding over half the window": (
        {"x": X, "kernel": 2, "padding": 2}, ValueError, ["half the kernel", "(2, 3, 8, 8)"]
    ),
    "window larger than input": (
        {"x": np.zeros((1, 1, 2, 2)), "kernel": 3}, ValueError, ["does not fit"]
    ),
    "kernel zero": ({"x": X, "kernel": 0}, ValueError, ["kernel"]),
    "stride zero": ({"x": X, "kernel": 2, "stride": 0}, ValueError, ["stride"]),
    "ceil_mode not bool": ({"x": X, "kernel": 2, "ceil_mode": 1}, TypeError, ["ceil_mode"]),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
@pytest.mark.parametrize("forward", [
    max_pool2d_forward, avg_pool2d_forward, naive.max_pool2d_forward, naive.avg_pool2d_forward
], ids=["max", "avg", "naive-max", "naive-avg"])
def test_pool_bad_inputs_raise_before_any_kernel(name, forward):
    kwargs, error, fragments = BAD_INPUTS[name]
    with pytest.raises(error) as info:
        forward(**kwargs)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


@pytest.mark.parametrize("mode", MODES)
def test_pool_backward_checks_dout_and_cache(mode):
    forward, backward = LAYERS[mode]
    out, cache = forward(X, kernel=2)
    with pytest.raises(ValueError, match=r"dout has shape \(2, 3, 8, 8\)"):
        backward(X, cache)  # the input passed where the output gradient belongs
    with pytest.raises(TypeError, match="float32"):
        backward(out.astype(np.float32), cache)
    other = LAYERS["avg" if mode == "max" else "max"][0](X, kernel=2)[1]
    with pytest.raises(TypeError, match="cache must be"):
        backward(out, other)


def test_avg_count_include_pad_must_be_bool():
    with pytest.raises(TypeError, match="count_include_pad"):
        avg_pool2d_forward(X, kernel=2, count_include_pad="yes")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "ceil"),
    [(3, 1, 1, False), (3, 2, "same", True), ((2, 3), (1, 2), 0, False)],
)
def test_parallel_kernels_agree_with_naive(monkeypatch, mode, kernel, stride, padding, ceil):
    # Small inputs run the serial kernels; force the parallel ones (the plane ranges in parallel).
    from cnnlab.layers import dispatch

    monkeypatch.setattr(dispatch, "POOL_PARALLEL_MIN_SIZE", 0)
    params = _params(kernel, padding, stride, ceil)
    check_op(
        LAYERS[mode], {"x": _with_ties(SHAPE)}, params, naive=NAIVE[mode],
        finite_differences=False,
    )


def _random_geometry(seed):
    """A valid random pooling set-up: odd sizes, unequal strides up to 4, padding per
    side, ceil_mode, either dtype, ties, and now and then a plane of -inf or a NaN."""
    rng = np.random.default_rng(seed)
    H, W = (int(v) for v in rng.integers(2, 13, size=2))
    KH, KW = int(rng.integers(1, min(H, 4) + 1)), int(rng.integers(1, min(W, 4) + 1))
    stride = tuple(int(v) for v in rng.integers(1, 5, size=2))
    padding = (
        tuple(int(v) for v in rng.integers(0, KH // 2 + 1, size=2)),
        tuple(int(v) for v in rng.integers(0, KW // 2 + 1, size=2)),
    )
    dtype = [np.float32, np.float64][seed % 2]
    x = _with_ties((int(rng.integers(1, 3)), int(rng.integers(1, 4)), H, W), seed).astype(dtype)
    if seed % 5 == 0:
        x[0, 0] = -np.inf
    if seed % 7 == 0:
        x[0, -1, H // 2, W // 2] = np.nan
    params = {"kernel": (KH, KW), "stride": stride, "padding": padding,
              "ceil_mode": bool(seed % 3 == 0)}
    return x, params


@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
@pytest.mark.parametrize("seed", range(40))
def test_random_geometries_agree_with_naive(monkeypatch, seed, parallel):
    # The fast kernels reorder the loops (taps outside, windows inside, strided runs
    # split into phases, padded planes copied): every layout must give the naive
    # loops' values, winners and gradients exactly (max) or to rounding (average).
    from cnnlab.layers import dispatch

    if parallel:
        monkeypatch.setattr(dispatch, "POOL_PARALLEL_MIN_SIZE", 0)
    x, params = _random_geometry(seed)
    out, cache = max_pool2d_forward(x, **params)
    expected, naive_cache = naive.max_pool2d_forward(x, **params)
    np.testing.assert_array_equal(out, expected)
    dout = _distinct(out.shape, seed).astype(x.dtype)
    np.testing.assert_array_equal(
        max_pool2d_backward(dout, cache), naive.max_pool2d_backward(dout, naive_cache)
    )
    finite = np.nan_to_num(x, neginf=-3.0)
    for include in (True, False):
        out, cache = avg_pool2d_forward(finite, **params, count_include_pad=include)
        expected, naive_cache = naive.avg_pool2d_forward(
            finite, **params, count_include_pad=include
        )
        tolerance = {"rtol": 1e-5, "atol": 1e-6}
        np.testing.assert_allclose(out, expected, **tolerance)
        np.testing.assert_allclose(
            avg_pool2d_backward(dout, cache), naive.avg_pool2d_backward(dout, naive_cache),
            **tolerance,
        )


def _ceil_settings(count, seed=14):
    """Random ceil_mode pools, many with a window larger than the padded input."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        H, W = (int(v) for v in rng.integers(1, 7, size=2))
        kernel = tuple(int(v) for v in rng.integers(1, 6, size=2))
        stride = tuple(int(v) for v in rng.integers(1, 5, size=2))
        padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
        yield (H, W), kernel, stride, padding


def test_ceil_mode_window_larger_than_the_input_matches_torch():
    # PyTorch keeps one window that hangs past the padded input when ceil_mode is on
    # (MaxPool2d(3, 2, ceil_mode=True) on 2x2 gives 1x1) and refuses the layer only if
    # no window would start inside it; cnnlab must accept and refuse exactly the same.
    torch = pytest.importorskip("torch", reason="PyTorch is the optional cross-check")
    out, _ = max_pool2d_forward(np.arange(4.0).reshape(1, 1, 2, 2), kernel=3, stride=2,
                                ceil_mode=True)
    assert out.shape == (1, 1, 1, 1)
    assert out[0, 0, 0, 0] == 3.0
    accepted = 0
    for (H, W), kernel, stride, padding in _ceil_settings(400):
        x = _distinct((1, 2, H, W))
        t = torch.tensor(x, requires_grad=True)
        try:
            expected = torch.nn.functional.max_pool2d(t, kernel, stride, padding, ceil_mode=True)
        except RuntimeError:
            with pytest.raises(ValueError, match="does not fit"):
                max_pool2d_forward(x, kernel=kernel, stride=stride, padding=padding,
                                   ceil_mode=True)
            continue
        accepted += 1
        params = {"kernel": kernel, "stride": stride, "padding": padding, "ceil_mode": True}
        for mode in MODES:
            reference = (torch.nn.functional.max_pool2d if mode == "max"
                         else torch.nn.functional.avg_pool2d)
            t = torch.tensor(x, requires_grad=True)
            expected = reference(t, kernel, stride, padding, ceil_mode=True)
            out, cache = LAYERS[mode][0](x, **params)
            np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-12, atol=1e-12)
            dout = _distinct(out.shape, 1)
            expected.backward(torch.tensor(dout))
            np.testing.assert_allclose(
                LAYERS[mode][1](dout, cache), t.grad.numpy(), rtol=1e-12, atol=1e-12
            )
            naive_out, _ = NAIVE[mode][0](x, **params)
            np.testing.assert_allclose(naive_out, out, rtol=1e-12, atol=1e-12)
    assert accepted > 100


@pytest.mark.parametrize(
    ("kernel", "stride", "padding"),
    [(2, 2, 0), (3, 1, 1), (3, 2, 1), ((2, 3), (1, 2), ((1, 0), (0, 1)))],
)
def test_max_pool_winners_are_the_input_cells_holding_each_window_maximum(kernel, stride, padding):
    rng = np.random.default_rng(7)
    x = rng.integers(0, 4, size=(2, 3, 7, 6)).astype(np.float64)  # many ties: the first wins
    out, cache = max_pool2d_forward(x, kernel=kernel, stride=stride, padding=padding)
    rows, cols = cache.winners()
    assert rows.shape == cols.shape == out.shape
    n, c = np.indices(out.shape[:2])
    np.testing.assert_array_equal(x[n[..., None, None], c[..., None, None], rows, cols], out)
    # the first maximum in row-major order of the window, as the naive loops route it
    dout = np.zeros_like(out)
    dout[0, 0, 0, 0] = 1.0
    dx = naive.max_pool2d_backward(dout, naive.max_pool2d_forward(
        x, kernel=kernel, stride=stride, padding=padding)[1])
    assert dx[0, 0, rows[0, 0, 0, 0], cols[0, 0, 0, 0]] == 1.0


def test_max_pool_winners_need_the_fast_cache():
    _, cache = naive.max_pool2d_forward(np.zeros((1, 1, 4, 4)), kernel=2)
    with pytest.raises(ValueError, match="keeps no winners"):
        cache.winners()
