"""Tests of cnnlab.net.saliency against finite differences and PyTorch autograd."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.gradcheck import numerical_gradient, rel_error
from cnnlab.net import (
    AvgPool2d,
    Conv2d,
    Dense,
    Dropout,
    Flatten,
    MaxPool2d,
    ReLU,
    Sequential,
    class_score_gradient,
    pretrained,
    saliency_map,
)
from cnnlab.net._threads import limited_threads


@pytest.fixture(autouse=True)
def _one_thread():
    with limited_threads(1):
        yield


def colour_model(seed=0):
    """3 colour channels, so that the channel reduction matters; Dropout must be off."""
    return Sequential(
        [
            Conv2d(3, 4, 3, padding=1),
            ReLU(),
            MaxPool2d(2),
            Conv2d(4, 6, 3, stride=2, padding=1),
            ReLU(),
            AvgPool2d(2),
            Flatten(),
            Dropout(0.5),
            Dense(6, 4),
        ],
        seed=seed,
        dtype=np.float64,
        input_shape=(3, 8, 8),
    )


@pytest.fixture
def images():
    return np.random.default_rng(3).normal(size=(3, 3, 8, 8))


def test_gradient_of_the_logit_matches_finite_differences(images):
    model = colour_model()
    target = np.array([2, 0, 3])
    grad = class_score_gradient(model, images, target)
    model.eval()
    for n in range(3):
        x = images[n : n + 1].copy()

        def score(_, x=x, n=n):
            return model.forward(x)[0, target[n]]

        assert rel_error(grad[n : n + 1], numerical_gradient(score, x)) < 1e-7


def test_it_is_the_logit_not_the_softmax(images):
    model = colour_model()
    grad = class_score_gradient(model, images[:1], 1)
    model.eval()
    x = images[:1].copy()

    def probability(_):
        scores = model.forward(x)[0]
        e = np.exp(scores - scores.max())
        return e[1] / e.sum()

    assert rel_error(grad, numerical_gradient(probability, x)) > 0.1


def test_reductions_and_shapes(images):
    model = colour_model()
    grad = class_score_gradient(model, images, 1)
    full = saliency_map(model, images, 1, reduce=None)
    np.testing.assert_array_equal(full, np.abs(grad))
    np.testing.assert_array_equal(saliency_map(model, images, 1), np.abs(grad).max(axis=1))
    np.testing.assert_allclose(saliency_map(model, images, 1, reduce="mean"),
                               np.abs(grad).mean(axis=1))
    assert saliency_map(model, images, [1, 1, 1]).shape == (3, 8, 8)
    assert (full >= 0).all()
    assert full.any()


def test_one_target_per_image_equals_separate_runs(images):
    model = colour_model()
    batch = saliency_map(model, images, np.array([0, 3, 1]))
    for n, t in enumerate([0, 3, 1]):
        np.testing.assert_allclose(batch[n], saliency_map(model, images[n : n + 1], t)[0],
                                   rtol=1e-12)


def test_parameters_grads_and_mode_are_left_alone(images):
    model = colour_model()
    for p in model.parameters():
        p.grad[...] = 7.0
    model.train()
    saliency_map(model, images, 0)
    assert model.training
    assert all((p.grad == 7.0).all() for p in model.parameters())


def test_bad_targets_and_inputs(images):
    model = colour_model()
    with pytest.raises(ValueError, match=r"target classes must be in 0..3"):
        saliency_map(model, images, 4)
    with pytest.raises(ValueError, match="one int or 3 ints"):
        saliency_map(model, images, [0, 1])
    with pytest.raises(TypeError, match="must be an int"):
        saliency_map(model, images, 1.0)
    with pytest.raises(ValueError, match="use x\\[None\\]"):
        saliency_map(model, images[0], 1)
    with pytest.raises(ValueError, match="reduce must be"):
        saliency_map(model, images, 1, reduce="sum")


def test_pretrained_digits_saliency_concentrates_on_ink():
    from cnnlab.datasets import load_digits

    model = pretrained("digits_cnn")
    x, y = load_digits()
    maps = saliency_map(model, x[:50], y[:50])
    assert maps.shape == (50, 8, 8)
    assert maps.dtype == np.float32
    # the gradient is largest where the digit is drawn or could be: the blank left and
    # right border columns of the digits get much less of it than the centre
    centre = maps[:, :, 2:6].mean()
    border = maps[:, :, [0, 7]].mean()
    assert centre > 2 * border


@pytest.mark.torch
def test_matches_torch_autograd(images):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    model = colour_model(seed=4)
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, stride=2, padding=1), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(6, 4),
    ).double().eval()
    torch_layers = [m for m in net if isinstance(m, (nn.Conv2d, nn.Linear))]
    ours = [layer for layer in model if layer.parameters()]
    with torch.no_grad():
        for theirs, mine in zip(torch_layers, ours, strict=True):
            theirs.weight.copy_(torch.from_numpy(mine.weight.value))
            theirs.bias.copy_(torch.from_numpy(mine.bias.value))
    target = np.array([3, 1, 2])
    xt = torch.from_numpy(images).requires_grad_(True)
    scores = net(xt)
    np.testing.assert_allclose(scores.detach().numpy(), model.eval()(images), rtol=1e-12)
    scores[torch.arange(3), torch.from_numpy(target)].sum().backward()
    expected = xt.grad.abs().amax(dim=1).numpy()
    np.testing.assert_allclose(saliency_map(model, images, target), expected, rtol=1e-10,
                               atol=1e-14)
