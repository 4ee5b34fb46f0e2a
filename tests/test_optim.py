"""Tests of cnnlab.net.optim: SGD updates against hand computations and PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.net import SGD, Dense, Flatten, Parameter, Sequential, StepDecay


def make_params():
    weight = Parameter("dense1.weight", np.array([[1.0, -2.0], [0.5, 3.0]]))
    bias = Parameter("dense1.bias", np.array([0.1, -0.1]), regularized=False)
    return weight, bias


GRADS = [
    (np.array([[0.2, 0.4], [-0.6, 0.0]]), np.array([1.0, -1.0])),
    (np.array([[-0.1, 0.3], [0.2, 0.5]]), np.array([0.5, 0.5])),
    (np.array([[0.0, -0.2], [0.4, -0.3]]), np.array([-1.0, 2.0])),
]


def run(optimizer, params):
    for grads in GRADS:
        for p, g in zip(params, grads[: len(params)], strict=True):
            p.grad[...] = g
        optimizer.step()
    return [p.value for p in params]


def test_plain_sgd():
    w, b = make_params()
    run(SGD([w, b], lr=0.1), (w, b))
    total_w = sum(g for g, _ in GRADS)
    total_b = sum(g for _, g in GRADS)
    np.testing.assert_allclose(w.value, [[1.0, -2.0], [0.5, 3.0]] - 0.1 * total_w)
    np.testing.assert_allclose(b.value, [0.1, -0.1] - 0.1 * total_b)


def test_momentum_and_weight_decay_by_hand():
    w, b = make_params()
    lr, mu, lam = 0.1, 0.9, 0.01
    run(SGD([w, b], lr=lr, momentum=mu, weight_decay=lam), (w, b))
    # hand computation: g <- g + lam*w (weights only); v <- mu*v + g; w <- w - lr*v
    w_ref, b_ref = make_params()
    ww, bb = w_ref.value.copy(), b_ref.value.copy()
    vw, vb = np.zeros_like(ww), np.zeros_like(bb)
    for gw, gb in GRADS:
        vw = mu * vw + (gw + lam * ww)
        vb = mu * vb + gb  # no decay on the bias
        ww, bb = ww - lr * vw, bb - lr * vb
    np.testing.assert_allclose(w.value, ww, rtol=1e-14)
    np.testing.assert_allclose(b.value, bb, rtol=1e-14)
    # the first step by hand, as numbers: v = g + lam*w
    w1, _ = make_params()
    w1.grad[...] = GRADS[0][0]
    SGD([w1], lr=lr, momentum=mu, weight_decay=lam).step()
    np.testing.assert_allclose(w1.value, [[0.979, -2.038], [0.5595, 2.997]], rtol=1e-12)


def test_nesterov_by_hand():
    w, _ = make_params()
    run(SGD([w], lr=0.05, momentum=0.5, nesterov=True), (w,))
    ww, v = make_params()[0].value.copy(), 0.0
    for gw, _ in GRADS:
        v = 0.5 * v + gw
        ww = ww - 0.05 * (gw + 0.5 * v)
    np.testing.assert_allclose(w.value, ww, rtol=1e-14)


def test_frozen_and_lr_scaled_parameters():
    w, b = make_params()
    b.trainable = False
    w.lr_scale = 0.1
    before = b.value.copy()
    run(SGD([w, b], lr=1.0, momentum=0.9), (w, b))
    np.testing.assert_array_equal(b.value, before)
    w_ref = make_params()[0]
    run(SGD([w_ref], lr=0.1, momentum=0.9), (w_ref,))  # same as lr 1 with scale 0.1
    np.testing.assert_allclose(w.value, w_ref.value, rtol=1e-14)


def test_optimizer_reads_model_parameters_at_each_step():
    model = Sequential([Flatten(), Dense(2, 2)], seed=0, dtype=np.float64)
    opt = SGD(model, lr=0.5)
    model.freeze("dense1.bias")  # frozen after the optimizer was created
    for p in model.parameters():
        p.grad[...] = 1.0
    bias = model[1].bias.value.copy()
    weight = model[1].weight.value.copy()
    opt.step()
    np.testing.assert_array_equal(model[1].bias.value, bias)
    np.testing.assert_allclose(model[1].weight.value, weight - 0.5)
    opt.zero_grad()
    assert not model[1].weight.grad.any()
    assert model[1].weight.value.dtype == np.float64


def test_float32_stays_float32():
    p = Parameter("w", np.ones(3, np.float32))
    p.grad[...] = 1
    SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1).step()
    assert p.value.dtype == np.float32
    np.testing.assert_allclose(p.value, 1 - 0.1 * 1.1, rtol=1e-6)


def test_bad_settings_are_explained():
    w, _ = make_params()
    with pytest.raises(ValueError, match="lr must be > 0"):
        SGD([w], lr=0)
    with pytest.raises(ValueError, match="momentum must be in"):
        SGD([w], lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match="nesterov=True needs momentum"):
        SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(TypeError, match="Parameter objects"):
        SGD([np.zeros(3)], lr=0.1)
    assert repr(SGD([w], lr=0.1, momentum=0.9)) == "SGD(lr=0.1, momentum=0.9)"


def test_step_decay():
    opt = SGD([make_params()[0]], lr=0.2)
    schedule = StepDecay(opt, every=3, factor=0.5)
    rates = []
    for epoch in range(7):
        rates.append(opt.lr)
        schedule(epoch, None)
    assert rates == [0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.05]
    with pytest.raises(ValueError, match="factor must be in"):
        StepDecay(opt, every=1, factor=2)


@pytest.mark.torch
@pytest.mark.parametrize(("momentum", "nesterov"), [(0.0, False), (0.9, False), (0.9, True)])
def test_matches_torch_sgd(momentum, nesterov):
    torch = pytest.importorskip("torch")
    w, b = make_params()
    run(SGD([w, b], lr=0.1, momentum=momentum, nesterov=nesterov, weight_decay=0.01), (w, b))
    w0, b0 = make_params()
    tw = torch.tensor(w0.value, requires_grad=True)
    tb = torch.tensor(b0.value, requires_grad=True)
    opt = torch.optim.SGD(
        [{"params": [tw], "weight_decay": 0.01}, {"params": [tb], "weight_decay": 0.0}],
        lr=0.1, momentum=momentum, nesterov=nesterov,
    )
    for gw, gb in GRADS:
        tw.grad, tb.grad = torch.tensor(gw), torch.tensor(gb)
        opt.step()
    np.testing.assert_allclose(w.value, tw.detach().numpy(), rtol=1e-13)
    np.testing.assert_allclose(b.value, tb.detach().numpy(), rtol=1e-13)
