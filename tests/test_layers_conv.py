"""cnnlab.layers.conv: values, gradients, dtypes and error messages of conv2d.

Every case is checked against finite differences (float64); against
``torch.nn.functional.conv2d`` in float64 and float32 when PyTorch is installed; and
against the naive loops of :mod:`cnnlab.naive`, caches swapped both ways.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cnnlab import naive
from cnnlab.layers import conv2d_backward, conv2d_forward
from tests.layer_helpers import check_op, torch_conv2d

FAST = (conv2d_forward, conv2d_backward)
NAIVE = (naive.conv2d_forward, naive.conv2d_backward)

PADDINGS = [0, 1, (1, 2), ((0, 1), (2, 1)), "same", "valid"]
STRIDES = [1, 2, 3]
DILATIONS = [1, 2]
# C9: enough channels for the register-blocked kernel; depthwise-x2: two filters a channel
GROUPS = ["1", "2", "depthwise", "depthwise-x2", "C9"]


def _case(padding, stride, dilation, groups, seed=0):
    """Tiny non-square input and kernel for one combination of the options."""
    rng = np.random.default_rng(seed)
    C, F = {"1": (3, 2), "2": (4, 6), "depthwise": (3, 3), "depthwise-x2": (3, 6),
            "C9": (9, 5)}[groups]
    g = {"1": 1, "2": 2, "depthwise": 3, "depthwise-x2": 3, "C9": 1}[groups]
    x = rng.standard_normal((2, C, 7, 6))
    w = rng.standard_normal((F, C // g, 3, 2))
    b = rng.standard_normal(F)
    params = {"stride": stride, "padding": padding, "dilation": dilation, "groups": g}
    return {"x": x, "w": w, "b": b}, params


GRID = list(itertools.product(PADDINGS, STRIDES, DILATIONS, GROUPS))


def _ids(case):
    padding, stride, dilation, groups = case
    return f"pad{padding}-s{stride}-d{dilation}-g{groups}".replace(" ", "")


@pytest.mark.parametrize(("padding", "stride", "dilation", "groups"), GRID, ids=map(_ids, GRID))
def test_conv_matches_finite_differences_and_naive(padding, stride, dilation, groups):
    inputs, params = _case(padding, stride, dilation, groups)
    check_op(FAST, inputs, params, naive=NAIVE)


@pytest.mark.torch
@pytest.mark.parametrize(("padding", "stride", "dilation", "groups"), GRID, ids=map(_ids, GRID))
def test_conv_matches_torch(padding, stride, dilation, groups):
    pytest.importorskip("torch", reason="PyTorch is the optional cross-check (pip install torch)")
    inputs, params = _case(padding, stride, dilation, groups)
    check_op(FAST, inputs, params, torch_fn=torch_conv2d, finite_differences=False)


EDGE_CASES = {
    "N=1": ((1, 3, 5, 5), (2, 3, 3, 3), {}),
    "C=1": ((2, 1, 5, 4), (3, 1, 2, 3), {"padding": 1}),
    "F=1 1x1 kernel": ((2, 3, 4, 5), (1, 3, 1, 1), {}),
    "1x1 stride 2 (projection)": ((2, 4, 7, 6), (5, 4, 1, 1), {"stride": 2}),
    "1x1 stride (2, 3), dilation 2": (
        (2, 3, 7, 8), (4, 3, 1, 1), {"stride": (2, 3), "dilation": 2}
    ),
    "1x1 padded (not a plain product)": ((1, 3, 4, 4), (2, 3, 1, 1), {"padding": 1}),
    "kernel = whole input": ((2, 2, 4, 3), (3, 2, 4, 3), {}),
    "1-pixel output, stride larger than input": ((1, 2, 3, 3), (2, 2, 3, 3), {"stride": 5}),
    "pair stride and dilation": (
        (2, 2, 9, 8), (2, 2, 3, 2), {"stride": (2, 1), "dilation": (1, 3)}
    ),
    "even kernel, same": ((1, 2, 6, 5), (2, 2, 4, 2), {"padding": "same"}),
    "AlexNet-like k11 s4": ((1, 3, 23, 23), (2, 3, 11, 11), {"stride": 4}),
}


@pytest.mark.parametrize("name", list(EDGE_CASES))
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_conv_edge_cases(name, bias):
    x_shape, w_shape, params = EDGE_CASES[name]
    rng = np.random.default_rng(1)
    inputs = {
        "x": rng.standard_normal(x_shape),
        "w": rng.standard_normal(w_shape),
        "b": rng.standard_normal(w_shape[0]) if bias else None,
    }
    check_op(FAST, inputs, params, naive=NAIVE)
    try:
        import torch  # noqa: F401
    except ImportError:
        return
    check_op(FAST, inputs, params, torch_fn=torch_conv2d, finite_differences=False)


def test_conv_worked_example():
    # A 2x2 box filter, stride 2: each output is the sum of a 2x2 block plus the bias.
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    out, cache = conv2d_forward(x, np.ones((1, 1, 2, 2)), np.array([0.5]), stride=2)
    np.testing.assert_array_equal(out[0, 0], [[10.5, 18.5], [42.5, 50.5]])
    dx, dw, db = conv2d_backward(np.ones_like(out), cache)
    np.testing.assert_array_equal(dx, np.ones_like(x))  # windows do not overlap
    np.testing.assert_array_equal(dw[0, 0], [[20, 24], [36, 40]])
    np.testing.assert_array_equal(db, [4.0])


def test_conv_overlapping_windows_accumulate():
    # 3x3 filter, stride 1 on 5x5: the centre pixel is seen by all 9 output positions.
    out, cache = conv2d_forward(np.zeros((1, 1, 5, 5)), np.ones((1, 1, 3, 3)))
    dx, _, _ = conv2d_backward(np.ones_like(out), cache)
    assert dx[0, 0, 2, 2] == 9
    assert dx[0, 0, 0, 0] == 1
    assert dx.sum() == 81


def test_conv_same_padding_keeps_size_and_puts_extra_pixel_at_the_end():
    x = np.zeros((1, 1, 6, 6))
    x[0, 0, -1, -1] = 1.0  # bottom-right corner
    w = np.zeros((1, 1, 2, 2))
    w[0, 0, 0, 0] = 1.0  # picks the top-left tap of each window
    out, cache = conv2d_forward(x, w, padding="same")
    assert out.shape == (1, 1, 6, 6)
    assert cache.geometry.padding == ((0, 1), (0, 1))
    assert out[0, 0, -1, -1] == 1.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_keeps_dtype_and_accepts_non_contiguous_input(dtype):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 5, 4, 3)).astype(dtype).transpose(0, 3, 2, 1)  # a view
    w = rng.standard_normal((2, 3, 2, 2)).astype(dtype)
    out, cache = conv2d_forward(x, w, None)
    expected, _ = naive.conv2d_forward(np.ascontiguousarray(x), w, None)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    dx, dw, db = conv2d_backward(np.ones_like(out), cache)
    assert (dx.dtype, dw.dtype, db) == (dtype, dtype, None)


def test_conv_cache_repr_shows_geometry_not_arrays():
    _out, cache = conv2d_forward(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 2, 2)), padding=1)
    text = repr(cache)
    assert "padding=((1, 1), (1, 1))" in text
    assert "array" not in text


X = np.zeros((2, 3, 8, 8))
W = np.zeros((4, 3, 3, 3))
B = np.zeros(4)

BAD_INPUTS = {
    "single image": (
        {"x": np.zeros((3, 8, 8)), "w": W, "b": B}, ValueError, ["(3, 8, 8)", "x[None]"]
    ),
    "channels last": (
        {"x": np.zeros((2, 8, 8, 3)), "w": W, "b": B},
        ValueError,
        ["C=8", "(2, 8, 8, 3)", "transpose(0, 3, 1, 2)"],
    ),
    "weights swapped F and C": (
        {"x": np.zeros((2, 3, 8, 8)), "w": np.zeros((3, 4, 3, 3)), "b": np.zeros(3)},
        ValueError,
        ["w (3, 4, 3, 3)", "swapped"],
    ),
    "weights channels last": (
        {"x": np.zeros((2, 2, 8, 8)), "w": np.zeros((3, 3, 2, 4)), "b": None},
        ValueError,
        ["channels-last", "(F, C, KH, KW)"],
    ),
    "bias length": ({"x": X, "w": W, "b": np.zeros(3)}, ValueError, ["(4,)", "(3,)"]),
    "int image": ({"x": X.astype(np.uint8), "w": W, "b": B}, TypeError, ["uint8", "astype"]),
    "mixed dtypes": (
        {"x": X.astype(np.float32), "w": W, "b": B}, TypeError, ["float32", "float64"]
    ),
    "float16": ({"x": X.astype(np.float16), "w": W, "b": B}, TypeError, ["float16"]),
    "kernel larger than input": (
        {"x": np.zeros((1, 3, 2, 2)), "w": W, "b": B}, ValueError, ["does not fit", "(1, 3, 2, 2)"]
    ),
    "groups not dividing": (
        {"x": X, "w": np.zeros((4, 1, 3, 3)), "b": B, "groups": 2}, ValueError, ["groups=2", "C=3"]
    ),
    "groups weight shape": (
        {"x": np.zeros((2, 4, 8, 8)), "w": np.zeros((4, 4, 3, 3)), "b": B, "groups": 2},
        ValueError,
        ["(4, 2, 3, 3)"],
    ),
    "groups zero": ({"x": X, "w": W, "b": B, "groups": 0}, ValueError, ["groups"]),
    "stride zero": ({"x": X, "w": W, "b": B, "stride": 0}, ValueError, ["stride"]),
    "negative padding": ({"x": X, "w": W, "b": B, "padding": -1}, ValueError, ["padding"]),
    "unknown padding": ({"x": X, "w": W, "b": B, "padding": "full"}, ValueError, ["'full'"]),
    "float stride": ({"x": X, "w": W, "b": B, "stride": 1.5}, TypeError, ["stride"]),
    "empty batch": ({"x": np.zeros((0, 3, 8, 8)), "w": W, "b": B}, ValueError, ["empty"]),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
@pytest.mark.parametrize("forward", [conv2d_forward, naive.conv2d_forward], ids=["fast", "naive"])
def test_conv_bad_inputs_raise_before_any_kernel(name, forward):
    kwargs, error, fragments = BAD_INPUTS[name]
    with pytest.raises(error) as info:
        forward(**kwargs)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_conv_backward_checks_dout_and_cache():
    out, cache = conv2d_forward(X, W, B, padding=1)
    with pytest.raises(ValueError, match=r"dout has shape \(2, 4, 7, 8\).*\(2, 4, 8, 8\)"):
        conv2d_backward(np.zeros((2, 4, 7, 8)), cache)
    with pytest.raises(TypeError, match=r"float32.*float64"):
        conv2d_backward(out.astype(np.float32), cache)
    with pytest.raises(TypeError, match="Conv2dCache"):
        conv2d_backward(out, (X, W, B))


def test_conv_geometry_memo_keeps_every_check(monkeypatch):
    # A layer called again with the same shapes and options reuses the geometry it got
    # before; options that compare equal to a good one but are not plain ints must
    # still raise as on a first call, and other shapes get geometries of their own.
    from cnnlab.layers import _validate

    _validate._geometries.clear()
    _, cache = conv2d_forward(X, W, B, stride=1, padding=(1, 2), groups=1)
    _, again = conv2d_forward(X + 1, W, B, stride=1, padding=(1, 2), groups=1)
    assert again.geometry is cache.geometry
    assert len(_validate._geometries) == 1
    for bad, error in [({"stride": 1.0}, TypeError), ({"stride": True}, TypeError),
                       ({"padding": (1.0, 2)}, TypeError), ({"groups": True}, ValueError),
                       ({"groups": 1.0}, ValueError)]:
        options = {"stride": 1, "padding": (1, 2), "groups": 1, **bad}
        with pytest.raises(error):
            conv2d_forward(X, W, B, **options)
    with pytest.raises(ValueError, match="b must have one value per filter"):
        conv2d_forward(X, W, np.zeros(3), stride=1, padding=(1, 2), groups=1)
    out, other = conv2d_forward(X[:, :, :6], W, B, stride=1, padding=(1, 2), groups=1)
    assert other.geometry.out_shape == out.shape == (2, 4, 6, 10)
    # np.int64 options are checked in full every time, not memoised.
    conv2d_forward(X, W, B, stride=np.int64(1), padding=(1, 2), groups=np.int64(1))
    assert len(_validate._geometries) == 2
    monkeypatch.setattr(_validate, "GEOMETRY_MEMO_SIZE", 4)
    for H in range(8, 14):
        out, cache = conv2d_forward(np.zeros((1, 3, H, 3)), W, padding=1)
        assert out.shape == cache.geometry.out_shape == (1, 4, H, 3)
        assert len(_validate._geometries) <= 4


@pytest.mark.parametrize("chunk_bytes", [1, 3000])
@pytest.mark.parametrize(("stride", "padding"), [(1, 1), (2, 0), ((1, 2), "same")])
def test_conv_streams_the_batch_in_chunks(monkeypatch, chunk_bytes, stride, padding):
    # The im2col path (strides other than 1 with few filters; backward with any stride
    # but 1) unrolls a few images at a time; 1 byte forces one image per chunk, 3000
    # bytes a few images per chunk with a remainder. Results must not change.
    from cnnlab.layers import dispatch

    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((5, 2, 6, 7)), rng.standard_normal((3, 2, 3, 2)), None
    params = {"stride": stride, "padding": padding}
    monkeypatch.setattr(dispatch, "CHUNK_BYTES", chunk_bytes)
    check_op(FAST, {"x": x, "w": w, "b": b}, params, naive=NAIVE, finite_differences=False)


def _assert_matches_naive(x, w, b, params, dout, out, grads, dtype) -> None:
    """``out`` and ``grads`` (dx, dw, db) of a fast path against the naive loops in
    float64 (tolerance 1e-12 in float64, 1e-4 in float32; gradients 10x wider)."""
    expected, naive_cache = naive.conv2d_forward(
        x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), **params
    )
    tolerance = 1e-12 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(out, expected, rtol=tolerance, atol=tolerance)
    expected_grads = naive.conv2d_backward(dout.astype(np.float64), naive_cache)
    for name, got, want in zip(("dx", "dw", "db"), grads, expected_grads, strict=True):
        np.testing.assert_allclose(got, want, rtol=tolerance, atol=10 * tolerance, err_msg=name)


@pytest.mark.parametrize("run_length", [1, 300, 4096], ids=lambda n: f"run{n}")
@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("F", "groups", "KW", "dilation"),
    [(4, 1, 3, 1), (5, 1, 4, (1, 2)), (7, 1, 2, 1), (8, 2, 5, 2), (12, 3, 3, (2, 1)),
     (6, 2, 7, 1), (9, 1, 6, 1)],
)
def test_stride1_kernel_covers_every_block_of_filters(monkeypatch, F, groups, KW, dilation,
                                                      dtype, parallel, run_length):
    # The stride-1 kernel (groups, or fewer than 8 channels) works on tiles of 4 filters
    # (zero filters added to fill the last one) x 16 or 8 positions, on runs of one
    # image (run1), of two images and then one (run300: the 140-pixel padded planes,
    # 3 images) or of all three: every mix of full and partial tiles must give the
    # naive loops' result.
    from cnnlab.kernels import direct
    from cnnlab.layers import dispatch

    monkeypatch.setattr(direct, "RUN_LENGTH", run_length)
    if parallel:
        monkeypatch.setattr(dispatch, "PARALLEL_MIN_MACS", 0)
    rng = np.random.default_rng(F * KW)
    C = 2 * groups
    x = rng.standard_normal((3, C, 9, 11)).astype(dtype)
    w = rng.standard_normal((F, C // groups, 2, KW)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    params = {"padding": ((1, 0), (2, 1)), "dilation": dilation, "groups": groups}
    out, _ = conv2d_forward(x, w, b, **params)
    expected, _ = naive.conv2d_forward(
        x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), **params
    )
    tolerance = 1e-12 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(out, expected, rtol=tolerance, atol=tolerance)


#: The input layouts of the channel-last kernel, by the smallest channel count per group
#: that takes the padded planes (dispatch.PLANES_MIN_CHANNELS): never, or always.
LAYOUTS = {"channel_last": 1 << 30, "planes": 1}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("tile_bytes", [None, 1, 2000], ids=["tile", "tile1row", "tile2000"])
@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("C", "F", "W", "stride", "dilation", "padding"),
    [
        (8, 9, 9, 1, 1, 1),  # 9 filters in a block of 16 (in two of 8 in float64)
        (8, 16, 8, 1, 1, 0),  # exactly one float32 block (AVX); W_out = 6, 108 pixels
        (9, 17, 10, (1, 2), 1, ((0, 1), (2, 0))),  # one filter past a block; W_out = 6
        (12, 33, 11, 2, (1, 2), "same"),  # dilation in width: the taps' outer loop
        (8, 24, 13, (2, 3), (2, 1), 1),  # W_out = 4 (one block), stride larger than 1
        (10, 8, 7, 1, 1, ((1, 1), (0, 3))),  # W_out = 9: a block of 1 pixel at the end
        (3, 8, 15, 2, 1, 0),  # few channels, stride 2: one run of KW*C = 6 taps per row
        (1, 20, 23, 4, (1, 3), 2),  # one channel, stride 4, dilation in width
        (8, 70, 9, 1, 1, 1),  # several blocks of filters, split among the threads
        (9, 40, 12, 1, 2, 5),  # padding wider than the dilated kernel, two blocks
    ],
)
def test_channel_last_kernel_covers_every_block(monkeypatch, C, F, W, stride, dilation,
                                                padding, dtype, parallel, tile_bytes, layout):
    # The register-blocked kernel works on blocks of 8 pixels x 2 vectors of filters:
    # partial blocks of filters (zero filters padded in), blocks of pixels that run on
    # into the next row or image, and the last block (which repeats the last pixel)
    # must not change the result or read outside the input copy. Rows go in tiles
    # (tile2000: 2 to 5 rows, across images; tile1row: one row each), and the parallel
    # kernel splits rows and blocks of filters among the threads. Both input layouts,
    # channel last and padded planes (an odd number of cache lines each), read the
    # same windows.
    from cnnlab.kernels import blocked
    from cnnlab.layers import dispatch

    assert C >= dispatch.BLOCKED_MIN_CHANNELS or stride != 1
    monkeypatch.setattr(dispatch, "PLANES_MIN_CHANNELS", LAYOUTS[layout])
    if parallel:
        monkeypatch.setattr(dispatch, "PARALLEL_MIN_MACS", 0)
    if tile_bytes is not None:
        monkeypatch.setattr(blocked, "TILE_BYTES", tile_bytes)
    rng = np.random.default_rng(C * F + W)
    x = rng.standard_normal((3, C, 6, W)).astype(dtype)
    w = rng.standard_normal((F, C, 3, 2)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    params = {"stride": stride, "padding": padding, "dilation": dilation}
    with dispatch.force(conv_forward="blocked"):
        out, cache = conv2d_forward(x, w, b, **params)
    # With stride 1, dx is itself a convolution with 8 or more channels and filters,
    # so the backward pass runs the same kernel (forced here: with AVX-512 the wide-grid
    # kernel is the default below 24 filters).
    dout = rng.standard_normal(out.shape).astype(dtype)
    with dispatch.force(conv_forward="blocked"):
        grads = conv2d_backward(dout, cache)
    _assert_matches_naive(x, w, b, params, dout, out, grads, dtype)


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("C", "F", "groups", "stride", "dilation", "padding"),
    [
        (16, 80, 2, 1, 1, 1),  # 40 filters a group: a whole block and part of one each
        (24, 24, 3, 2, (2, 1), "same"),  # 8 channels and filters a group, strided
        (36, 99, 3, 1, 2, ((3, 0), (1, 4))),  # 33 filters a group, padding past the kernel
    ],
)
def test_channel_last_kernel_runs_each_group(monkeypatch, C, F, groups, stride, dilation,
                                             padding, dtype, parallel, layout):
    # A grouped layer reads each group's channels of one channel-last copy, with each
    # group's filters padded to whole blocks of their own: every group's outputs must
    # be the naive loops', whichever blocks the threads share out.
    from cnnlab.layers import dispatch

    monkeypatch.setattr(dispatch, "PLANES_MIN_CHANNELS", LAYOUTS[layout])
    if parallel:
        monkeypatch.setattr(dispatch, "PARALLEL_MIN_MACS", 0)
    rng = np.random.default_rng(C + F)
    x = rng.standard_normal((2, C, 7, 9)).astype(dtype)
    w = rng.standard_normal((F, C // groups, 3, 2)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    params = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    with dispatch.force(conv_forward="blocked"), dispatch.trace() as log:
        out, cache = conv2d_forward(x, w, b, **params)
        grads = conv2d_backward(dout := rng.standard_normal(out.shape).astype(dtype), cache)
    assert log[0] == ("conv2d_forward", "blocked", parallel)
    _assert_matches_naive(x, w, b, params, dout, out, grads, dtype)


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("C", "kernel", "stride", "groups"),
    [(17, (1, 1), (2, 1), 1), (16, (2, 1), 1, 1), (18, (1, 3), 1, 2), (16, (1, 1), 1, 1)],
)
def test_channel_last_kernel_takes_one_column_kernels(monkeypatch, C, kernel, stride, groups,
                                                      dtype, layout):
    # A kernel one tap wide runs through a window row's channels in one loop either
    # way; the step from one channel to the next is the layout's (1 or a plane).
    from cnnlab.layers import dispatch

    monkeypatch.setattr(dispatch, "PLANES_MIN_CHANNELS", LAYOUTS[layout])
    rng = np.random.default_rng(C)
    x = rng.standard_normal((2, C, 7, 9)).astype(dtype)
    w = rng.standard_normal((24, C // groups, *kernel)).astype(dtype)
    b = rng.standard_normal(24).astype(dtype)
    params = {"stride": stride, "padding": 1, "groups": groups}
    with dispatch.force(conv_forward="blocked"):
        out, _ = conv2d_forward(x, w, b, **params)
    expected, _ = naive.conv2d_forward(
        x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), **params
    )
    tolerance = 1e-12 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(out, expected, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("itemsize", [4, 8])
def test_planes_take_an_odd_number_of_cache_lines(itemsize):
    from cnnlab.kernels import blocked

    line = 64 // itemsize
    for pixels in [1, line - 1, line, line + 1, 2 * line, 58 * 58, 64 * 64, 9 * 9]:
        plane = blocked.plane_stride(pixels, itemsize)
        assert pixels <= plane < pixels + 2 * line
        assert plane % line == 0
        assert (plane // line) % 2 == 1


@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("N", "C", "M", "H", "W", "kernel", "stride", "dilation", "padding"),
    [
        (2, 3, 1, 9, 37, 3, 1, 1, 1),  # odd width, past a vector: the last one moved back
        (1, 2, 1, 6, 9, 3, 1, 1, 1),  # W_out under a vector: through the row buffer
        (2, 3, 1, 3, 40, 3, 1, 1, 1),  # H_out under a block of rows
        (1, 4, 1, 29, 35, 3, 2, 1, 1),  # stride 2, odd H and W: dx in four phases
        (2, 2, 1, 20, 23, 3, 1, 2, 2),  # dilation 2, stride 1
        (1, 3, 2, 19, 21, 3, 2, 2, (2, 1)),  # M=2, stride and dilation 2 (phases without taps)
        (1, 2, 2, 40, 18, (2, 5), (3, 1), (1, 2), ((0, 2), (3, 1))),  # stride 3, 2x5 kernel
        (1, 2, 1, 16, 64, 1, 2, 1, 0),  # 1x1: fewer taps than dw's three at a time
    ],
)
def test_depthwise_kernel_covers_every_block(monkeypatch, N, C, M, H, W, kernel, stride,
                                             dilation, padding, dtype, parallel):
    # The depthwise kernels compute blocks of rows by vectors of columns, the last ones
    # moved back to end at the plane's edge or, on a smaller plane, through a buffer;
    # dx gathers by stride phase. Every output and gradient must be the naive loops'.
    from cnnlab.layers import dispatch

    monkeypatch.setattr(dispatch, "DEPTHWISE_PARALLEL_MIN_MACS", 0 if parallel else 1 << 62)
    rng = np.random.default_rng(H * W + C)
    KH, KW = (kernel, kernel) if isinstance(kernel, int) else kernel
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((C * M, 1, KH, KW)).astype(dtype)
    b = rng.standard_normal(C * M).astype(dtype)
    params = {"stride": stride, "padding": padding, "dilation": dilation, "groups": C}
    with dispatch.trace() as log:
        out, cache = conv2d_forward(x, w, b, **params)
        grads = conv2d_backward(dout := rng.standard_normal(out.shape).astype(dtype), cache)
    assert [entry[1:] for entry in log] == [("depthwise", parallel)] * 2
    _assert_matches_naive(x, w, b, params, dout, out, grads, dtype)


def test_channel_last_kernel_is_used_from_enough_channels_and_filters(monkeypatch):
    # Which kernel runs is a speed choice, but the choice itself must work as
    # documented: BLOCKED_MIN_FILTERS filters in one group (8 with AVX, 24 with
    # AVX-512) take the register-blocked kernel if there are 8 channels or the stride
    # is not 1; fewer filters, or groups, take another.
    from cnnlab.kernels import blocked
    from cnnlab.kernels.simd import VECTOR_BYTES
    from cnnlab.layers import dispatch

    assert dispatch.BLOCKED_MIN_CHANNELS == 8
    assert (24 if VECTOR_BYTES == 64 else 8) == dispatch.BLOCKED_MIN_FILTERS
    F = dispatch.BLOCKED_MIN_FILTERS
    calls = []
    monkeypatch.setattr(blocked, "conv_rows", lambda *args: calls.append(args[-3:]))
    rng = np.random.default_rng(0)
    conv2d_forward(rng.standard_normal((1, 8, 7, 7)), rng.standard_normal((F, 8, 3, 3)))
    conv2d_forward(rng.standard_normal((1, 7, 7, 7)), rng.standard_normal((F, 7, 3, 3)))
    conv2d_forward(
        rng.standard_normal((1, 8, 7, 7)), rng.standard_normal((F, 4, 3, 3)), groups=2
    )
    conv2d_forward(rng.standard_normal((1, 8, 7, 7)), rng.standard_normal((F - 1, 8, 3, 3)))
    conv2d_forward(rng.standard_normal((1, 9, 7, 7)), rng.standard_normal((F + 9, 9, 3, 3)))
    conv2d_forward(
        rng.standard_normal((1, 3, 11, 11)), rng.standard_normal((F, 3, 3, 3)), stride=2
    )
    conv2d_forward(
        rng.standard_normal((1, 3, 11, 11)), rng.standard_normal((F - 1, 3, 3, 3)), stride=2
    )
    assert len(calls) == 3
    # At most TINY_OUTPUT_PIXELS output pixels per image (5x5 input, 3x3 output): im2col.
    assert dispatch.TINY_OUTPUT_PIXELS == 16
    with dispatch.trace() as log:
        conv2d_forward(rng.standard_normal((1, 8, 5, 5)), rng.standard_normal((F, 8, 3, 3)))
    assert len(calls) == 3
    assert log == [("conv2d_forward", "im2col", False)]


@pytest.mark.parametrize("split", ["rows", "items"])
@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
@pytest.mark.parametrize("pass_bytes", [1, 3000, 1 << 20], ids=lambda n: f"pass{n}")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("C", "F", "groups", "stride", "dilation", "padding"),
    [
        (9, 10, 1, 1, 1, 1),  # one channel past a block of 8, a partial block of filters
        (3, 33, 1, 2, (1, 2), ((0, 1), (2, 0))),  # few channels, a filter past a block
        (16, 16, 1, (2, 3), 2, 2),  # a whole block of channels; stride larger than dilation
        (64, 8, 1, 1, 1, 0),  # 256 bytes a pixel in float32, 512 in float64 (a line more)
        (128, 40, 1, 3, 1, 1),  # 8 cache lines a pixel in float32: spread to 9
        (16, 80, 2, 1, 1, 1),  # 8 channels, 40 filters a group: a block and part of one
        (6, 9, 3, 2, 1, "same"),  # 2 channels a group: a run per tap, reading the next's
    ],
)
def test_weight_gradient_kernel_covers_every_block_and_split(monkeypatch, C, F, groups, stride,
                                                             dilation, padding, dtype,
                                                             pass_bytes, parallel, split):
    # dw by the register-blocked kernel (the by_convolution and by_phases paths), each
    # group reading its channels and filters of one copy: passes of one row (pass1), of
    # a few rows with a remainder (pass3000) or of all rows; blocks of channels and
    # filters padded at the end; the work shared out by rows (each thread into its own
    # copy of dw) or by runs and blocks of filters (past dispatch.WEIGHT_GRAD_SPLIT_BYTES).
    # Same values as the naive loops.
    from cnnlab.kernels import weight_grad
    from cnnlab.layers import dispatch

    monkeypatch.setattr(weight_grad, "PASS_BYTES", pass_bytes)
    monkeypatch.setattr(dispatch, "WEIGHT_GRAD_SPLIT_BYTES", 0 if split == "items" else 1 << 40)
    rng = np.random.default_rng(C + F)
    x = rng.standard_normal((3, C, 7, 8)).astype(dtype)
    w = rng.standard_normal((F, C // groups, 3, 2)).astype(dtype)
    params = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    out, cache = conv2d_forward(x, w, None, **params)
    dout = rng.standard_normal(out.shape).astype(dtype)
    _, naive_cache = naive.conv2d_forward(x.astype(np.float64), w.astype(np.float64), None,
                                          **params)
    _, expected, _ = naive.conv2d_backward(dout.astype(np.float64), naive_cache)
    tolerance = 1e-12 if dtype == np.float64 else 1e-4
    from cnnlab.layers import _conv_paths

    dw = _conv_paths.weight_gradient(x, dout, w.shape, cache.geometry, parallel)
    np.testing.assert_allclose(dw, expected, rtol=tolerance, atol=10 * tolerance)


PHASE_CASES = {
    # (x shape, w shape, params): strided one-group layers for the phase path
    "s2 3x3 p1, odd size": ((2, 9, 7, 9), (10, 9, 3, 3), {"stride": 2, "padding": 1}),
    "s2 3x3 p0, last row and column unread": ((2, 8, 8, 8), (5, 8, 3, 3), {"stride": 2}),
    "s3 3x2 p2, rectangular": ((1, 8, 11, 10), (6, 8, 3, 2), {"stride": 3, "padding": 2}),
    "s(2,3) 5x3 per-side": (
        (2, 12, 13, 11), (7, 12, 5, 3), {"stride": (2, 3), "padding": ((0, 1), (2, 1))}
    ),
    "s3 2x2 p1, phases without taps": ((2, 8, 9, 10), (4, 8, 2, 2), {"stride": 3, "padding": 1}),
    "s2 same, N=1": ((1, 33, 6, 5), (40, 33, 3, 3), {"stride": 2, "padding": "same"}),
    "s4 1x3 p(0, 1)": ((2, 8, 9, 9), (3, 8, 1, 3), {"stride": (4, 2), "padding": (0, 1)}),
    "s2 4x4 p2, one output row": ((2, 9, 4, 7), (8, 9, 4, 4), {"stride": 2, "padding": 2}),
}


@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
@pytest.mark.parametrize("case", PHASE_CASES)
def test_phase_path_of_one_group_matches_naive_and_finite_differences(monkeypatch, case,
                                                                         parallel):
    # dx of a strided one-group layer a stride phase at a time from one channel-last
    # copy of dout (cnnlab.layers._conv_paths.phase_input_gradient): phases with fewer
    # taps, phases with no taps (stride larger than the kernel), rows and columns of x
    # that no window reads, partial blocks of channels; serial and parallel kernels.
    from cnnlab.layers import dispatch

    x_shape, w_shape, params = PHASE_CASES[case]
    rng = np.random.default_rng(len(case))
    inputs = {"x": rng.standard_normal(x_shape), "w": rng.standard_normal(w_shape),
              "b": rng.standard_normal(w_shape[0])}
    with dispatch.force(conv_backward="by_phases", parallel=parallel), dispatch.trace() as log:
        check_op(FAST, inputs, params, naive=NAIVE)
    assert ("conv2d_backward", "by_phases", parallel) in log
    assert {path for op, path, _ in log if op == "conv2d_backward"} == {"by_phases"}


@pytest.mark.torch
@pytest.mark.parametrize("case", PHASE_CASES)
def test_phase_path_of_one_group_matches_torch(case):
    pytest.importorskip("torch", reason="PyTorch is the optional cross-check (pip install torch)")
    from cnnlab.layers import dispatch

    x_shape, w_shape, params = PHASE_CASES[case]
    rng = np.random.default_rng(len(case))
    inputs = {"x": rng.standard_normal(x_shape), "w": rng.standard_normal(w_shape),
              "b": rng.standard_normal(w_shape[0])}
    with dispatch.force(conv_backward="by_phases"):
        check_op(FAST, inputs, params, torch_fn=torch_conv2d, finite_differences=False)


def test_strided_one_group_backward_path_by_channels():
    # Strided one-group layers take the phases from 8 channels on; fewer channels
    # (AlexNet's conv1), dilation with stride, and outputs of at most
    # TINY_STRIDED_OUTPUT_PIXELS keep im2col; the
    # forced phase path refuses dilation by name.
    from cnnlab.layers import dispatch

    assert dispatch.TINY_STRIDED_OUTPUT_PIXELS == 4
    rng = np.random.default_rng(1)
    layers_and_paths = [
        ((2, 8, 9, 9), (16, 8, 3, 3), {"stride": 2, "padding": 1}, "by_phases"),
        ((2, 7, 9, 9), (16, 7, 3, 3), {"stride": 2, "padding": 1}, "im2col"),
        ((2, 8, 9, 9), (16, 8, 3, 3), {"stride": 2, "padding": 2, "dilation": 2}, "im2col"),
        ((1, 64, 7, 7), (64, 64, 3, 3), {"stride": 2, "padding": 1}, "by_phases"),  # 4x4
        ((1, 64, 4, 4), (64, 64, 3, 3), {"stride": 2, "padding": 1}, "im2col"),  # 2x2 out
    ]
    for x_shape, w_shape, params, expected in layers_and_paths:
        out, cache = conv2d_forward(rng.standard_normal(x_shape), rng.standard_normal(w_shape),
                                    **params)
        with dispatch.trace() as log:
            conv2d_backward(out, cache)
        assert log[-1][1] == expected, (x_shape, w_shape, params)
    out, cache = conv2d_forward(rng.standard_normal((1, 8, 9, 9)),
                                rng.standard_normal((8, 8, 3, 3)), stride=2, dilation=2)
    with dispatch.force(conv_backward="by_phases"), pytest.raises(ValueError, match="dilation 1"):
        conv2d_backward(out, cache)
