"""cnnlab.layers.dispatch: one table of paths, each reached by its warm-up example,
forced paths that agree with each other and with the naive loops."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab import naive
from cnnlab.layers import conv2d_backward, conv2d_forward, dispatch
from cnnlab.precompile import _run_path

PATH_IDS = [f"{p.op}-{p.path}-{'par' if p.parallel else 'one'}" for p in dispatch.PATHS]


@pytest.mark.parametrize("path", dispatch.PATHS, ids=PATH_IDS)
def test_each_warmup_example_takes_its_path(path):
    with dispatch.trace() as log:
        _run_path(path, "float64")
    if path.op == "conv2d":
        forward, backward = path.path.split("/")
        first = log[0]
        blas = dispatch.BLAS_ONLY
        assert first == ("conv2d_forward", forward, path.parallel and forward not in blas)
        assert ("conv2d_backward", backward, path.parallel and backward not in blas) in log
    else:
        assert log == [
            (f"{path.op}_forward", path.path, path.parallel),
            (f"{path.op}_backward", path.path, path.parallel),
        ]


def test_the_table_covers_every_path_and_thread_mode():
    conv = {(*tuple(p.path.split("/")), p.parallel) for p in dispatch.PATHS if p.op == "conv2d"}
    for forward in dispatch.CONV_FORWARD_PATHS:
        threaded = (False,) if forward in dispatch.BLAS_ONLY else (False, True)
        for parallel in threaded:
            assert any(f == forward and par == parallel for f, _, par in conv), forward
    for backward in dispatch.CONV_BACKWARD_PATHS:
        assert any(b == backward for _, b, _ in conv), backward
    others = {(p.op, p.parallel) for p in dispatch.PATHS if p.op != "conv2d"}
    ops = ("max_pool2d", "avg_pool2d", "batchnorm2d")
    assert others == {(op, par) for op in ops for par in (False, True)}


@pytest.mark.parametrize(
    ("channels", "filters", "groups", "stride", "expected"),
    [
        (64, 64, 1, (1, 1), "blocked"),
        (3, 64, 1, (1, 1), "direct"),  # few channels, stride 1
        (3, 64, 1, (2, 2), "blocked"),  # few channels, but strided
        (64, 7, 1, (1, 1), "direct"),  # fewer than 8 filters
        (64, 64, 64, (1, 1), "depthwise"),  # depthwise, stride 1
        (64, 128, 64, (2, 2), "depthwise"),  # depthwise, strided, two filters a channel
        (64, 64, 16, (1, 1), "direct"),  # grouped, 4 filters a group, stride 1
        (64, 64, 16, (2, 2), "im2col"),  # grouped, 4 filters a group, strided
        (128, 128, 4, (1, 1), "blocked"),  # grouped, 32 channels and filters a group
        (128, 128, 4, (2, 2), "blocked"),  # the same, strided
    ],
)
def test_unforced_choice(channels, filters, groups, stride, expected):
    got = dispatch.conv_forward_path(
        channels=channels, filters=filters, groups=groups, stride=stride
    )
    assert got == expected


@pytest.mark.parametrize(
    ("w_shape", "params", "pointwise"),
    [
        ((8, 4, 1, 1), {}, True),
        ((8, 4, 1, 1), {"stride": 2}, True),
        ((8, 4, 1, 1), {"padding": 1}, False),  # padding: the border is bias only
        ((8, 2, 1, 1), {"groups": 2}, False),
        ((8, 4, 3, 3), {"padding": 1}, False),
    ],
)
def test_pointwise_layers_take_the_product_path_and_others_cannot(w_shape, params, pointwise):
    x = np.ones((1, 4, 5, 5))
    with dispatch.trace() as log:
        out, cache = conv2d_forward(x, np.ones(w_shape), **params)
        conv2d_backward(out, cache)
    assert (log[0][1] == "pointwise") == pointwise
    assert (log[-1][1] == "pointwise") == pointwise
    if not pointwise:
        with dispatch.force(conv_forward="pointwise"), pytest.raises(ValueError, match="1x1"):
            conv2d_forward(x, np.ones(w_shape), **params)
        with dispatch.force(conv_backward="pointwise"), pytest.raises(ValueError, match="1x1"):
            conv2d_backward(out, cache)


def test_force_restores_and_rejects_paths_that_cannot_run():
    with dispatch.force(conv_forward="im2col", parallel=True):
        assert dispatch.conv_parallel(1)
        path = dispatch.conv_forward_path(channels=8, filters=8, groups=1, stride=(1, 1))
        assert path == "im2col"
    assert not dispatch.conv_parallel(1)
    with dispatch.force(conv_forward="direct"), pytest.raises(ValueError, match="stride 1"):
        conv2d_forward(np.ones((1, 2, 5, 5)), np.ones((2, 2, 3, 3)), stride=2)
    out, cache = conv2d_forward(np.ones((1, 2, 5, 5)), np.ones((2, 2, 3, 3)), stride=2)
    with dispatch.force(conv_backward="by_convolution"), pytest.raises(ValueError, match="stride"):
        conv2d_backward(out, cache)
    with pytest.raises(ValueError, match="conv_forward must be one of"), dispatch.force(
        conv_forward="winograd"
    ):
        pass


GEOMETRIES = {
    "dilated": ({"padding": 1, "dilation": (1, 2)}, 3),
    "stride2": ({"padding": 1, "stride": 2}, 3),
    "stride2x3-per-side": ({"padding": ((0, 1), (2, 1)), "stride": (2, 3)}, (3, 4)),
    "1x1-stride2": ({"stride": 2}, 1),
    "k5-stride3": ({"padding": 2, "stride": 3}, 5),
}


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize(("groups", "F"), [(1, 9), (2, 6), (8, 8), (8, 16)],
                         ids=["one-group", "groups2", "depthwise", "depthwise-x2"])
@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forced_paths_agree_with_naive(dtype, parallel, groups, F, geometry):
    # Every path that can run the layer gives the naive loops' values and gradients.
    params, kernel = GEOMETRIES[geometry]
    KH, KW = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 8, 7, 9)).astype(dtype)
    w = rng.standard_normal((F, 8 // groups, KH, KW)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    params = {**params, "groups": groups}
    out_n, cache_n = naive.conv2d_forward(*(a.astype(np.float64) for a in (x, w, b)), **params)
    dout = rng.standard_normal(out_n.shape)
    expected = naive.conv2d_backward(dout, cache_n)
    tolerance = 1e-12 if dtype == np.float64 else 2e-5
    ran = set()
    for forward in dispatch.CONV_FORWARD_PATHS:
        for backward in dispatch.CONV_BACKWARD_PATHS:
            with dispatch.force(conv_forward=forward, conv_backward=backward, parallel=parallel):
                try:
                    out, cache = conv2d_forward(x, w, b, **params)
                    grads = conv2d_backward(dout.astype(dtype), cache)
                except ValueError as error:
                    if "the forced" not in str(error):
                        raise
                    continue
            ran.add(backward)
            np.testing.assert_allclose(out, out_n, rtol=tolerance, atol=tolerance)
            for got, want in zip(grads, expected, strict=True):
                np.testing.assert_allclose(got, want, rtol=tolerance, atol=10 * tolerance)
    strided = params.get("stride", 1) != 1
    expected_paths = {"by_phases", "im2col"} if strided else {"by_convolution", "im2col"}
    if groups == 8:  # depthwise
        expected_paths.add("depthwise")
    if kernel == 1 and groups == 1 and "padding" not in params:
        expected_paths.add("pointwise")
    assert ran == expected_paths


def test_narrow_and_one_channel_layers_keep_the_wide_grid_kernel():
    # The tiny-output rule is for layers wide enough for the channel-last kernel, and a
    # one-channel layer (the digits CNN's first) is an ordinary convolution, not depthwise.
    rng = np.random.default_rng(0)
    with dispatch.trace() as log:
        out1, cache1 = conv2d_forward(rng.standard_normal((4, 1, 8, 8)),
                                      rng.standard_normal((8, 1, 3, 3)), padding=1)
        out2, cache2 = conv2d_forward(rng.standard_normal((4, 8, 4, 4)),
                                      rng.standard_normal((16, 8, 3, 3)), padding=1)
        conv2d_backward(out1, cache1)
        conv2d_backward(out2, cache2)
    assert [path for _, path, _ in log[:2]] == ["direct", "direct"]  # the two forwards
    assert "im2col" not in [path for _, path, _ in log]
    assert "depthwise" not in [path for _, path, _ in log]
    x, w = rng.standard_normal((2, 1, 6, 6)), rng.standard_normal((3, 1, 3, 3))
    with dispatch.force(conv_forward="depthwise"):  # still reachable by force
        out, _ = conv2d_forward(x, w, padding=1)
    np.testing.assert_allclose(out, naive.conv2d_forward(x, w, padding=1)[0], rtol=1e-12)
