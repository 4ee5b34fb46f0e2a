"""The small CNN of ``ps4_receptive_saliency_transfer``, built from cnnlab's layers.

Built from :mod:`cnnlab.layers`; saliency uses :mod:`cnnlab.naive`'s convolution (the
loop version answers tiny inputs at once, with no Numba kernel to load), training and
accuracy the fast one. The assignment gives students the same network written in
plain NumPy (a read-only cell, because the grading sandbox cannot import cnnlab)::

    conv 3x3 pad 1 (w1 (F, C, 3, 3), b1 (F,)) -> ReLU -> flatten -> dense (w2 (K, F*H*W), b2 (K,))

Parameters are a dict ``{"w1", "b1", "w2", "b2"}`` of float64 arrays. This module is
the grader's reference for that network: its class-score gradients (saliency), its
accuracy (transfer learning), and the source-task training that produces the
pretrained weights handed to ``fine_tune`` at grading time. A test checks that the
notebook's NumPy network and this one agree.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from cnnlab.grading.reference import quiet

__all__ = [
    "PARAM_NAMES",
    "accuracy",
    "forward",
    "init_params",
    "pretrained_source",
    "score_gradient",
    "target_task",
]

PARAM_NAMES = ("w1", "b1", "w2", "b2")
#: Source task digits, target task digits, shots per target class (the notebook's too).
SOURCE_CLASSES = (0, 1, 2, 3, 4)
TARGET_CLASSES = (5, 6, 7, 8, 9)
FILTERS = 8
#: The centred 8x8 digits, as the notebook loads them from scikit-learn.
CANVAS = 8


def init_params(C: int, H: int, W: int, F: int, K: int, seed: int) -> dict[str, np.ndarray]:
    """He-initialised conv filters, small random dense weights, zero biases."""
    rng = np.random.default_rng(seed)
    return {
        "w1": rng.normal(0.0, np.sqrt(2.0 / (C * 9)), (F, C, 3, 3)),
        "b1": np.zeros(F),
        "w2": rng.normal(0.0, np.sqrt(1.0 / (F * H * W)), (K, F * H * W)),
        "b2": np.zeros(K),
    }


def _arrays(params: Any) -> dict[str, np.ndarray]:
    return {name: np.asarray(params[name], dtype=np.float64) for name in PARAM_NAMES}


def _forward(params: dict[str, np.ndarray], x: np.ndarray, *, naive: bool = False):
    from cnnlab import layers
    from cnnlab import naive as loops

    conv = loops.conv2d_forward if naive else layers.conv2d_forward
    a, conv_cache = conv(x, params["w1"], params["b1"], stride=1, padding=1)
    h, relu_cache = layers.relu_forward(a)
    flat, flat_cache = layers.flatten(h)
    scores, dense_cache = layers.dense_forward(flat, params["w2"], params["b2"])
    return scores, (conv_cache, relu_cache, flat_cache, dense_cache, naive)


def _backward(dscores: np.ndarray, caches) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    from cnnlab import layers
    from cnnlab import naive as loops

    conv_cache, relu_cache, flat_cache, dense_cache, naive = caches
    conv_backward = loops.conv2d_backward if naive else layers.conv2d_backward
    dflat, dw2, db2 = layers.dense_backward(dscores, dense_cache)
    da = layers.relu_backward(layers.flatten_backward(dflat, flat_cache), relu_cache)
    dx, dw1, db1 = conv_backward(da, conv_cache)
    return dx, {"w1": dw1, "b1": db1, "w2": dw2, "b2": db2}


def forward(params: Any, x: Any) -> np.ndarray:
    """Class scores (N, K) of images ``x`` (N, C, H, W)."""
    scores, _ = quiet(_forward, _arrays(params), np.asarray(x, dtype=np.float64))
    return scores


def score_gradient(params: Any, x: Any, target: Any, *, kind: str = "score") -> np.ndarray:
    """Gradient with respect to ``x`` of a function of the scores.

    ``kind``: ``"score"`` the target's raw score (saliency, correct), ``"probability"``
    its softmax probability, ``"loss"`` the summed cross-entropy, ``"all"`` the sum of
    every class score.
    """
    params = _arrays(params)
    x = np.asarray(x, dtype=np.float64)
    target = np.asarray(target, dtype=np.int64)
    scores, caches = quiet(_forward, params, x, naive=True)
    n = np.arange(len(x))
    onehot = np.zeros_like(scores)
    onehot[n, target] = 1.0
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    prob = shifted / shifted.sum(axis=1, keepdims=True)
    if kind == "score":
        dscores = onehot
    elif kind == "probability":
        p_t = prob[n, target][:, None]
        dscores = p_t * (onehot - prob)
    elif kind == "loss":
        dscores = prob - onehot
    elif kind == "all":
        dscores = np.ones_like(scores)
    else:
        raise ValueError(f"unknown kind {kind!r}")
    dx, _ = quiet(_backward, dscores, caches)
    return dx


def saliency(params: Any, x: Any, target: Any) -> np.ndarray:
    """Simonyan et al.: ``max over channels of |d score_target / d x|``, shape (N, H, W)."""
    return np.abs(score_gradient(params, x, target)).max(axis=1)


def accuracy(params: Any, x: Any, y: Any) -> float:
    """Fraction of ``x`` classified as ``y``."""
    return float(np.mean(forward(params, x).argmax(axis=1) == np.asarray(y)))


def _sgd(params, x, y, *, lr: float, epochs: int, batch_size: int, seed: int):
    from cnnlab.layers import softmax_cross_entropy

    rng = np.random.default_rng(seed)
    params = {name: value.copy() for name, value in params.items()}
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            batch = order[start : start + batch_size]
            scores, caches = _forward(params, x[batch])
            _, dscores = softmax_cross_entropy(scores, y[batch])
            _, grads = _backward(dscores, caches)
            for name in PARAM_NAMES:
                params[name] -= lr * grads[name]
    return params


@lru_cache(maxsize=1)
def _source() -> tuple[tuple[str, np.ndarray], ...]:
    from cnnlab.datasets import transfer_split

    split = transfer_split(
        source_classes=SOURCE_CLASSES,
        target_classes=TARGET_CLASSES,
        canvas=CANVAS,
        seed=0,
        dtype=np.float64,
    )
    x, y = split.source.x_train, split.source.y_train
    start = init_params(1, 8, 8, FILTERS, len(SOURCE_CLASSES), seed=0)
    trained = quiet(_sgd, start, x, y, lr=0.1, epochs=6, batch_size=32, seed=0)
    return tuple((name, trained[name]) for name in PARAM_NAMES)


def pretrained_source() -> dict[str, np.ndarray]:
    """The network trained on the source digits 0-4 (deterministic; cached)."""
    return {name: value.copy() for name, value in _source()}


def target_task(shots: int, seed: int):
    """``(x_train, y_train, x_test, y_test)`` of the few-shot target task (digits 5-9)."""
    from cnnlab.datasets import transfer_split

    split = transfer_split(
        source_classes=SOURCE_CLASSES,
        target_classes=TARGET_CLASSES,
        shots=shots,
        canvas=CANVAS,
        seed=seed,
        dtype=np.float64,
    )
    t = split.target
    return t.x_train, t.y_train, t.x_test, t.y_test
