"""conv2d on seeded random layers, every path that fits, against PyTorch.

The other conv tests pick their shapes by hand, each to reach one corner of one kernel.
Here the layers are drawn at random (a fixed seed per case, so a failure names a
reproducible layer): channels and filters per group from 1 to past two vectors, any
groups (one, several, depthwise with one or two filters a channel), kernels from 1x1 to
5x5 and rectangular, strides 1-3 and dilations 1-2 per axis, padding per side, planes
from 1 pixel up, batches of 1-3. Each layer runs on every forward and backward path
that accepts it (:data:`cnnlab.layers.dispatch.CONV_FORWARD_PATHS`,
:data:`~cnnlab.layers.dispatch.CONV_BACKWARD_PATHS`), serial and in parallel, and must
give PyTorch's output and gradients in float64 (and float32 on a subset).
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.layers import conv2d_backward, conv2d_forward, dispatch

torch = pytest.importorskip("torch")

CASES = 48
FLOAT32_EVERY = 4  # one case in four also runs in float32


def _layer(seed: int) -> dict:
    """A random valid layer: arrays and options."""
    rng = np.random.default_rng(seed)
    kind = rng.choice(["one", "groups", "depthwise", "depthwise-x2"], p=[0.45, 0.2, 0.2, 0.15])
    per_channels = int(rng.choice([1, 3, 8, 17, 33]))
    per_filters = int(rng.choice([1, 5, 24, 33, 40]))
    if kind == "one":
        groups, C, F = 1, per_channels, per_filters
    elif kind == "groups":
        groups = int(rng.choice([2, 3, 4]))
        C, F = groups * min(per_channels, 9), groups * min(per_filters, 24)
    else:
        C = int(rng.choice([2, 3, 16, 33]))
        groups, F = C, C * (2 if kind == "depthwise-x2" else 1)
    KH, KW = (int(k) for k in rng.choice([1, 2, 3, 5], size=2))
    stride = tuple(int(s) for s in rng.choice([1, 1, 2, 3], size=2))
    dilation = tuple(int(d) for d in rng.choice([1, 1, 2], size=2))
    padding = tuple((int(a), int(b)) for a, b in rng.integers(0, 3, size=(2, 2)))
    if kind == "one" and rng.random() < 0.3:  # a 1x1 layer without padding (pointwise)
        KH = KW = 1
        padding = ((0, 0), (0, 0))
    reach = ((KH - 1) * dilation[0] + 1, (KW - 1) * dilation[1] + 1)
    H = int(rng.integers(max(1, reach[0] - sum(padding[0])), reach[0] + 18))
    W = int(rng.integers(max(1, reach[1] - sum(padding[1])), reach[1] + 18))
    N = int(rng.integers(1, 4))
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((F, C // groups, KH, KW))
    b = rng.standard_normal(F) if rng.random() < 0.7 else None
    options = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    return {"x": x, "w": w, "b": b, "options": options}


def _torch(layer: dict, dout: np.ndarray):
    """PyTorch's output and (dx, dw, db), float64."""
    o = layer["options"]
    (top, bottom), (left, right) = o["padding"]
    x = torch.tensor(layer["x"], requires_grad=True)
    w = torch.tensor(layer["w"], requires_grad=True)
    b = None if layer["b"] is None else torch.tensor(layer["b"], requires_grad=True)
    padded = torch.nn.functional.pad(x, (left, right, top, bottom))
    out = torch.nn.functional.conv2d(padded, w, b, stride=o["stride"],
                                     dilation=o["dilation"], groups=o["groups"])
    out.backward(torch.tensor(dout))
    return (out.detach().numpy(), x.grad.numpy(), w.grad.numpy(),
            None if b is None else b.grad.numpy())


def _forced(direction: str, path: str, parallel: bool | None, call, *args, **kwargs):
    """``call(*args, **kwargs)`` with ``path`` forced for ``direction`` ("forward" or
    "backward"); None when the forced path refuses this layer."""
    option = {"forward": "conv_forward", "backward": "conv_backward"}[direction]
    try:
        with dispatch.force(**{option: path}, parallel=parallel):
            return call(*args, **kwargs)
    except ValueError as error:
        if "the forced" in str(error):
            return None
        raise


def _assert_gradients(grads, expected, dtype, tolerance, where: str) -> None:
    for name, got, want in zip(("dx", "dw", "db"), grads, expected, strict=True):
        if want is None:
            assert got is None, (where, name)
            continue
        assert got.shape == want.shape, (where, name)
        assert got.dtype == dtype, (where, name)
        np.testing.assert_allclose(got, want, **tolerance, err_msg=f"{name} {where}")


@pytest.mark.parametrize("seed", range(CASES), ids=lambda s: f"layer{s}")
def test_every_path_matches_torch_on_a_random_layer(seed):
    layer = _layer(seed)
    x, w, b, options = layer["x"], layer["w"], layer["b"], layer["options"]
    reference_out, _ = conv2d_forward(x, w, b, **options)
    dout = np.random.default_rng(seed + 1000).standard_normal(reference_out.shape)
    expected = _torch(layer, dout)
    dtypes = [np.float64] + ([np.float32] if seed % FLOAT32_EVERY == 0 else [])
    ran = set()
    for dtype in dtypes:
        tolerance = ({"rtol": 1e-9, "atol": 1e-9} if dtype == np.float64
                     else {"rtol": 2e-3, "atol": 2e-3})
        xs, ws = x.astype(dtype), w.astype(dtype)
        bs = None if b is None else b.astype(dtype)
        for parallel in (False, True):
            for path in dispatch.CONV_FORWARD_PATHS:
                result = _forced("forward", path, parallel, conv2d_forward, xs, ws, bs,
                                 **options)
                if result is None:
                    continue
                ran.add(("forward", path))
                out, cache = result
                assert out.dtype == dtype, (path, parallel)
                np.testing.assert_allclose(out, expected[0], **tolerance,
                                           err_msg=f"forward {path} parallel={parallel}")
                for back in dispatch.CONV_BACKWARD_PATHS:
                    grads = _forced("backward", back, parallel, conv2d_backward,
                                    dout.astype(dtype), cache)
                    if grads is not None:
                        ran.add(("backward", back))
                        _assert_gradients(grads, expected[1:], dtype, tolerance,
                                          f"by {back} (forward {path}) parallel={parallel}")
    assert ("forward", "im2col") in ran  # im2col takes any layer
    assert ("backward", "im2col") in ran


def test_the_random_layers_reach_every_path():
    """The draw is wide enough that each path runs on some layer (else the test above
    would check less than it says)."""
    reached = set()
    for seed in range(CASES):
        layer = _layer(seed)
        arrays = (layer["x"], layer["w"], layer["b"])
        for path in dispatch.CONV_FORWARD_PATHS:
            if _forced("forward", path, None, conv2d_forward, *arrays, **layer["options"]):
                reached.add(("forward", path))
        out, cache = conv2d_forward(*arrays, **layer["options"])
        for back in dispatch.CONV_BACKWARD_PATHS:
            if _forced("backward", back, None, conv2d_backward, np.ones_like(out), cache):
                reached.add(("backward", back))
    every = {("forward", p) for p in dispatch.CONV_FORWARD_PATHS}
    every |= {("backward", p) for p in dispatch.CONV_BACKWARD_PATHS}
    assert reached == every, sorted(every - reached)
