"""cnnlab.layers._recycled: a large array's memory is handed out again only once no
array, view or tensor refers to it any more."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.layers import (
    _recycled,
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)

LARGE = (_recycled.MIN_BYTES // 4 // 64, 64)  # float32: exactly MIN_BYTES


@pytest.fixture(autouse=True)
def no_kept_buffers(monkeypatch):
    monkeypatch.setattr(_recycled, "_buffers", [])


def test_a_dropped_array_is_handed_out_again():
    a = _recycled.empty(LARGE, np.float32)
    assert a.shape == LARGE
    assert a.dtype == np.float32
    assert a.flags.c_contiguous
    address = a.ctypes.data
    del a
    b = _recycled.empty(LARGE, np.float32)
    assert b.ctypes.data == address
    # the same bytes serve another dtype and shape of the same size
    del b
    c = _recycled.empty((LARGE[0] // 2, LARGE[1]), np.float64)
    assert c.ctypes.data == address
    assert c.dtype == np.float64


@pytest.mark.parametrize(
    "keep",
    [
        lambda a: a,
        lambda a: a[1:, ::2],  # a view
        lambda a: a.reshape(-1),
        lambda a: memoryview(a),
    ],
    ids=["array", "slice", "reshape", "memoryview"],
)
def test_memory_in_use_is_never_handed_out(keep):
    a = _recycled.empty(LARGE, np.float32)
    a[:] = 1.0
    kept = keep(a)
    del a
    b = _recycled.empty(LARGE, np.float32)
    b[:] = 2.0
    assert np.all(np.asarray(kept) == 1.0)
    assert not np.shares_memory(np.asarray(kept), b)


def test_memory_shared_with_a_torch_tensor_is_never_handed_out():
    torch = pytest.importorskip("torch", reason="PyTorch is the optional cross-check")
    a = _recycled.empty(LARGE, np.float32)
    a[:] = 1.0
    tensor = torch.from_numpy(a)
    del a
    b = _recycled.empty(LARGE, np.float32)
    b[:] = 2.0
    assert bool((tensor == 1.0).all())


def test_small_arrays_are_new_and_few_buffers_are_kept():
    small = _recycled.empty((4, 4), np.float64)
    assert small.base is None
    assert small.shape == (4, 4)
    arrays = [_recycled.empty(LARGE, np.float32) for _ in range(_recycled.KEEP + 1)]
    assert len(_recycled._buffers) == _recycled.KEEP
    addresses = {a.ctypes.data for a in arrays}
    assert len(addresses) == len(arrays)  # every array in use has memory of its own


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pool_backward_keeps_earlier_gradients_intact(mode):
    # 4 x 4 x 512 x 1024 float32 = 32 MB: dx is recycled. A gradient the caller still
    # holds must not change when backward runs again; a dropped one's memory is reused
    # and every value of it rewritten.
    layers = {"max": (max_pool2d_forward, max_pool2d_backward),
              "avg": (avg_pool2d_forward, avg_pool2d_backward)}
    forward, backward = layers[mode]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 4, 512, 1024), dtype=np.float32)
    assert x.nbytes >= _recycled.MIN_BYTES
    out, cache = forward(x, kernel=3, stride=1)
    dout1 = rng.standard_normal(out.shape, dtype=np.float32)
    dout2 = rng.standard_normal(out.shape, dtype=np.float32)
    first = backward(dout1, cache)
    expected1 = first.copy()
    second = backward(dout2, cache)
    np.testing.assert_array_equal(first, expected1)
    assert not np.shares_memory(first, second)
    expected2, address = second.copy(), second.ctypes.data
    del second
    third = backward(dout2, cache)
    assert third.ctypes.data == address
    np.testing.assert_array_equal(third, expected2)
    np.testing.assert_array_equal(first, expected1)
