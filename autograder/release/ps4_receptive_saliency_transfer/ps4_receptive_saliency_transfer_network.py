"""The small CNN of ps4_receptive_saliency_transfer, as a cnnlab.net model, and its data.

The notebook gives students this network in plain NumPy (a read-only cell, because the
grading sandbox cannot import cnnlab)::

    conv 3x3 pad 1 (w1 (F, C, 3, 3), b1 (F,)) -> ReLU -> flatten -> dense (w2 (K, F*H*W), b2 (K,))

Parameters are the notebook's dict ``{"w1", "b1", "w2", "b2"}`` of float64 arrays;
:func:`tiny_cnn` puts them into a :class:`cnnlab.net.Sequential`, so the grader's
gradients, accuracies and the source network handed to ``fine_tune`` all come from
cnnlab.net. Released beside the notebook with the questions file, which imports it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import numpy as np

from cnnlab import net

#: Source task digits, target task digits (the notebook's too).
SOURCE_CLASSES = (0, 1, 2, 3, 4)
TARGET_CLASSES = (5, 6, 7, 8, 9)
FILTERS = 8
#: The centred 8x8 digits, as the notebook loads them from scikit-learn.
CANVAS = 8
PARAM_NAMES = ("w1", "b1", "w2", "b2")


def init_params(C: int, H: int, W: int, F: int, K: int, seed: int) -> dict[str, np.ndarray]:
    """The notebook's ``init_params``: He-initialised filters, small dense weights, zero
    biases (the same numbers for the same seed)."""
    rng = np.random.default_rng(seed)
    return {
        "w1": rng.normal(0.0, np.sqrt(2.0 / (C * 9)), (F, C, 3, 3)),
        "b1": np.zeros(F),
        "w2": rng.normal(0.0, np.sqrt(1.0 / (F * H * W)), (K, F * H * W)),
        "b2": np.zeros(K),
    }


def tiny_cnn(params: Mapping[str, Any]) -> net.Sequential:
    """``conv 3x3 pad 1 (w1, b1) -> ReLU -> flatten -> dense (w2, b2)`` holding ``params``
    (float64), the network the notebook writes in NumPy."""
    F, C = np.shape(params["w1"])[:2]
    K, D = np.shape(params["w2"])
    model = net.Sequential(
        [net.Conv2d(C, F, 3, padding=1), net.ReLU(), net.Flatten(), net.Dense(D, K)],
        seed=None,
        dtype=np.float64,
    )
    for name, param in zip(PARAM_NAMES, model.parameters(), strict=True):
        param.value = np.array(params[name], dtype=np.float64)
    return model


def params_of(model: net.Sequential) -> dict[str, np.ndarray]:
    """The model's parameters as the notebook's dict ``{"w1", "b1", "w2", "b2"}``."""
    return {name: p.value.copy() for name, p in zip(PARAM_NAMES, model.parameters(), strict=True)}


def input_gradient(params, x, dscores_of: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Gradient w.r.t. ``x`` of ``sum(scores * dscores_of(scores))``, ``(N, C, H, W)``."""
    model = tiny_cnn(params).eval()
    with np.errstate(all="ignore"):
        scores = model.forward(np.asarray(x, dtype=np.float64))
        return model.backward(dscores_of(scores))


def saliency_reference(params, x, target) -> np.ndarray:
    """Simonyan et al., by :func:`cnnlab.net.saliency_map`: ``max_c |d score_target / dx|``."""
    return net.saliency_map(tiny_cnn(params), np.asarray(x, dtype=np.float64), target)


def one_hot(scores: np.ndarray, target) -> np.ndarray:
    onehot = np.zeros_like(scores)
    onehot[np.arange(len(scores)), np.asarray(target, dtype=np.int64)] = 1.0
    return onehot


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _split(shots: int, seed: int):
    from cnnlab.datasets import transfer_split

    return transfer_split(
        source_classes=SOURCE_CLASSES,
        target_classes=TARGET_CLASSES,
        shots=shots,
        canvas=CANVAS,
        seed=seed,
        dtype=np.float64,
    )


@lru_cache(maxsize=1)
def _source() -> tuple[tuple[str, np.ndarray], ...]:
    source = _split(10, 0).source
    model = tiny_cnn(init_params(1, CANVAS, CANVAS, FILTERS, len(SOURCE_CLASSES), seed=0))
    optimizer = net.SGD(model, lr=0.1)
    net.fit(model, optimizer, source.x_train, source.y_train, epochs=6, batch_size=32,
            seed=0, progress=False)
    return tuple(params_of(model).items())


def pretrained_source() -> dict[str, np.ndarray]:
    """The network trained on the source digits 0-4 by :func:`cnnlab.net.fit` (plain SGD,
    deterministic, cached)."""
    return {name: value.copy() for name, value in _source()}


def target_task(shots: int, seed: int):
    """``(x_train, y_train, x_test, y_test)`` of the few-shot target task (digits 5-9)."""
    t = _split(shots, seed).target
    return t.x_train, t.y_train, t.x_test, t.y_test


def accuracy(params: Mapping[str, Any], x, y) -> float:
    """Fraction of ``x`` that the network with ``params`` classifies as ``y``."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        predicted = net.predict(tiny_cnn(params), np.asarray(x, dtype=np.float64))
    return float(np.mean(predicted == np.asarray(y)))
