"""One helper to check a layer, in the spirit of tinygrad's ``helper_test_op``.

``check_op`` runs a cnnlab layer forward and backward and checks, for each thing that
is available:

- shapes and dtypes: float32 in gives float32 out (and float64 likewise), gradients
  have the shapes of their inputs;
- finite differences (float64, :func:`cnnlab.gradcheck.check_layer`);
- PyTorch (``torch.nn.functional``), values and autograd gradients, float64 and float32;
- the naive loop version, values and gradients, and the naive/fast caches swapped.

Tolerances (``rel_error``: worst difference over the largest magnitude, see
:func:`cnnlab.gradcheck.rel_error`): 1e-7 against finite differences, 1e-12 in float64
and 2e-6 in float32 against PyTorch and against the naive loops (float32 sums of up to a
few hundred terms in a different order).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from cnnlab.gradcheck import check_layer, rel_error
from cnnlab.shapes import resolve_padding

TOL_FINITE_DIFF = 1e-7
TOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 2e-6}

Layer = tuple[Callable[..., Any], Callable[..., Any]]


def _as_tuple(grads: Any) -> tuple:
    return grads if isinstance(grads, tuple) else (grads,)


def _cast(inputs: Mapping[str, Any], dtype: Any) -> dict[str, Any]:
    return {k: None if v is None else np.asarray(v, dtype=dtype) for k, v in inputs.items()}


def run_layer(layer: Layer, inputs: Mapping[str, Any], params: Mapping[str, Any], dout: Any):
    """``(out, grads, cache)`` of one forward and backward pass."""
    forward, backward = layer
    out, cache = forward(**inputs, **params)
    grads = _as_tuple(backward(np.asarray(dout, dtype=out.dtype), cache))
    return out, grads, cache


def assert_close(actual: Any, expected: Any, dtype: Any, what: str) -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    error = rel_error(actual, expected)
    assert error <= TOL[np.dtype(dtype)], f"{what}: rel_error {error:.2e} ({np.dtype(dtype)})"


def check_op(
    layer: Layer,
    inputs: Mapping[str, Any],
    params: Mapping[str, Any] | None = None,
    *,
    torch_fn: Callable[..., Any] | None = None,
    naive: Layer | None = None,
    finite_differences: bool = True,
    dtypes: tuple[Any, ...] = (np.float64, np.float32),
    seed: int = 0,
) -> None:
    """Check one layer on one set of inputs against everything available.

    ``inputs`` are float64 arrays (or None, e.g. no bias) named as the forward takes
    them; ``params`` are keyword arguments. ``torch_fn(**tensors, **params)`` is the
    PyTorch reference (pass it only when torch is importable).
    """
    params = dict(params or {})
    if finite_differences:
        report = check_layer(*layer, _cast(inputs, np.float64), params=params, seed=seed)
        assert report.passed, str(report)

    for dtype in dtypes:
        typed = _cast(inputs, dtype)
        out0, _ = layer[0](**typed, **params)
        dout = np.random.default_rng(seed).standard_normal(out0.shape).astype(dtype)
        out, grads, cache = run_layer(layer, typed, params, dout)
        assert out.dtype == np.dtype(dtype), f"output dtype {out.dtype}, input {dtype}"
        for (name, value), grad in zip(typed.items(), grads, strict=True):
            if value is None:
                assert grad is None, f"d{name} should be None when {name} is None"
                continue
            assert grad.shape == value.shape, f"d{name} shape {grad.shape} != {value.shape}"
            assert grad.dtype == np.dtype(dtype), f"d{name} dtype {grad.dtype} != {dtype}"

        if torch_fn is not None:
            expected_out, expected_grads = _torch_reference(torch_fn, typed, params, dout)
            assert_close(out, expected_out, dtype, "forward vs torch")
            for name, grad in zip(typed, grads, strict=True):
                if grad is not None:
                    assert_close(grad, expected_grads[name], dtype, f"d{name} vs torch")

        if naive is not None:
            naive_out, naive_grads, naive_cache = run_layer(naive, typed, params, dout)
            assert_close(out, naive_out, dtype, "forward vs naive")
            # The caches are interchangeable: naive backward on the fast cache and
            # fast backward on the naive cache give the same gradients.
            swapped_fast = _as_tuple(layer[1](dout, naive_cache))
            swapped_naive = _as_tuple(naive[1](dout, cache))
            for name, g, gn, g1, g2 in zip(
                typed, grads, naive_grads, swapped_fast, swapped_naive, strict=True
            ):
                if g is None:
                    continue
                assert_close(g, gn, dtype, f"d{name} vs naive")
                assert_close(g1, gn, dtype, f"d{name}: fast backward, naive cache")
                assert_close(g2, gn, dtype, f"d{name}: naive backward, fast cache")


def _torch_reference(torch_fn, inputs, params, dout):
    import torch

    tensors = {
        k: None if v is None else torch.tensor(v, requires_grad=True) for k, v in inputs.items()
    }
    out = torch_fn(**tensors, **params)
    out.backward(torch.tensor(dout))
    grads = {k: None if t is None else t.grad.numpy() for k, t in tensors.items()}
    return out.detach().numpy(), grads


# --- PyTorch references for the conventions cnnlab adds (per-side and 'same' padding) --


def torch_conv2d(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    """``F.conv2d`` with cnnlab's padding forms (per side, 'same' for any stride)."""
    import torch.nn.functional as F

    (top, bottom), (left, right) = resolve_padding(
        tuple(x.shape[2:]), tuple(w.shape[2:]), stride, padding, dilation
    )
    x = F.pad(x, (left, right, top, bottom))
    return F.conv2d(x, w, b, stride=stride, padding=0, dilation=dilation, groups=groups)


def _torch_pool_padding(x, kernel, stride, padding):
    stride = kernel if stride is None else stride
    (top, bottom), (left, right) = resolve_padding(tuple(x.shape[2:]), kernel, stride, padding)
    return stride, (top, bottom, left, right)


def torch_max_pool2d(x, *, kernel, stride=None, padding=0, ceil_mode=False):
    """``F.max_pool2d``; asymmetric padding is done by ``F.pad`` with ``-inf``."""
    import torch.nn.functional as F

    stride, (top, bottom, left, right) = _torch_pool_padding(x, kernel, stride, padding)
    if top == bottom and left == right:
        return F.max_pool2d(x, kernel, stride, (top, left), ceil_mode=ceil_mode)
    assert not ceil_mode, "ceil_mode with asymmetric padding has no PyTorch equivalent"
    x = F.pad(x, (left, right, top, bottom), value=float("-inf"))
    return F.max_pool2d(x, kernel, stride, 0)


def torch_avg_pool2d(
    x, *, kernel, stride=None, padding=0, ceil_mode=False, count_include_pad=True
):
    """``F.avg_pool2d``; asymmetric padding is done by ``F.pad`` with zeros."""
    import torch
    import torch.nn.functional as F

    stride, (top, bottom, left, right) = _torch_pool_padding(x, kernel, stride, padding)
    if top == bottom and left == right:
        return F.avg_pool2d(
            x, kernel, stride, (top, left), ceil_mode=ceil_mode,
            count_include_pad=count_include_pad,
        )
    assert not ceil_mode, "ceil_mode with asymmetric padding has no PyTorch equivalent"
    pad = (left, right, top, bottom)
    total = F.avg_pool2d(F.pad(x, pad), kernel, stride, 0)
    if count_include_pad:
        return total
    real = F.avg_pool2d(F.pad(torch.ones_like(x), pad), kernel, stride, 0)
    return total / real


def is_symmetric(x_shape, kernel, stride, padding) -> bool:
    stride = kernel if stride is None else stride
    (top, bottom), (left, right) = resolve_padding(tuple(x_shape[2:]), kernel, stride, padding)
    return top == bottom and left == right
