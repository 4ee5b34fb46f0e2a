"""Image-specific class saliency maps (Simonyan, Vedaldi and Zisserman, 2014).

Which pixels, changed a little, would change the score of class ``c`` the most? The
answer is the gradient of that class's *unnormalised* score (the logit) with respect
to the input image, which one backward pass computes: set the upstream gradient to 1
for class ``c`` and 0 for every other class, and backpropagate to the pixels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnlab.net._threads import limited_threads
from cnnlab.net.sequential import Sequential

__all__ = ["class_score_gradient", "saliency_map"]


def _one_hot_targets(target: Any, n: int, n_classes: int) -> np.ndarray:
    t = np.asarray(target)
    if not np.issubdtype(t.dtype, np.integer):
        raise TypeError(f"saliency_map: target must be an int or ints, found dtype {t.dtype}")
    if t.ndim == 0:
        t = np.full(n, int(t))
    if t.shape != (n,):
        raise ValueError(
            f"saliency_map: target must be one int or {n} ints (one per image), found shape "
            f"{t.shape}"
        )
    if t.min() < 0 or t.max() >= n_classes:
        raise ValueError(
            f"saliency_map: target classes must be in 0..{n_classes - 1} (the model has "
            f"{n_classes} class scores), found {t.min()}..{t.max()}"
        )
    return t.astype(np.int64)


def class_score_gradient(model: Sequential, x: np.ndarray, target: Any) -> np.ndarray:
    """Gradient of the class score ``S_target(x)`` w.r.t. the input, ``(N, C, H, W)``.

    The model runs in evaluation mode (its mode is restored), and the parameters'
    ``grad`` arrays are left exactly as they were.

    Parameters
    ----------
    model : Sequential
        Outputs class scores (logits) ``(N, K)``.
    x : ndarray, shape (N, C, H, W)
    target : int or array of N ints
        The class whose score is differentiated, for all images or per image.

    Returns
    -------
    ndarray, shape (N, C, H, W)
        Signed gradient, in the model's dtype. Images in a batch do not interact in
        evaluation mode, so the gradient of the sum of the selected scores is each
        image's own gradient.
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"saliency_map: expected a Sequential, found {type(model).__name__}")
    if not isinstance(x, np.ndarray) or x.ndim != 4:
        raise ValueError(
            "saliency_map: x must be a batch of images (N, C, H, W), found "
            f"{getattr(x, 'shape', type(x).__name__)}; for one image use x[None]"
        )
    was_training = model.training
    saved = [(p, p.grad.copy()) for p in model.parameters()]
    model.eval()
    try:
        with limited_threads(1):  # small batches: see cnnlab.net._threads
            scores = model.forward(x)
            if scores.ndim != 2:
                raise ValueError(
                    "saliency_map: the model must output class scores (N, K), found "
                    f"{scores.shape}"
                )
            t = _one_hot_targets(target, len(x), scores.shape[1])
            dscores = np.zeros_like(scores)
            dscores[np.arange(len(x)), t] = 1.0  # d S_t / d scores: 1 for class t, else 0
            dx = model.backward(dscores)
    finally:
        for param, grad in saved:
            param.grad = grad
        model.train(was_training)
    return dx


def saliency_map(
    model: Sequential, x: np.ndarray, target: Any, *, reduce: str | None = "max"
) -> np.ndarray:
    """Saliency map of class ``target`` for each image.

    Parameters
    ----------
    model : Sequential
        Outputs class scores (logits) ``(N, K)``; no softmax, no loss.
    x : ndarray, shape (N, C, H, W)
    target : int or array of N ints
        Class to explain: usually the true or the predicted class.
    reduce : {"max", "mean", None}, default "max"
        How to combine the channels of a colour image: the maximum (Simonyan et al.),
        the mean, or None to keep all channels.

    Returns
    -------
    ndarray, shape (N, H, W), or (N, C, H, W) if ``reduce`` is None
        Non-negative.

    Notes
    -----
    With :math:`S_c(x)` the score of class :math:`c` before the softmax,

    .. math:: M_{ij} = \\max_{k} \\left| \\frac{\\partial S_c}{\\partial x_{k,i,j}} \\right|

    The softmax probability is not used: it can rise because *other* classes'
    scores fall, which says less about the evidence for :math:`c`.

    References
    ----------
    Simonyan, Vedaldi, Zisserman. "Deep Inside Convolutional Networks: Visualising
    Image Classification Models and Saliency Maps." ICLR workshop, 2014.
    arXiv:1312.6034.

    Examples
    --------
    >>> import numpy as np
    >>> from cnnlab.net import Dense, Flatten, Sequential
    >>> model = Sequential([Flatten(), Dense(4, 2)], seed=0, dtype=np.float64)
    >>> m = saliency_map(model, np.ones((1, 1, 2, 2)), target=1)
    >>> bool(np.allclose(m[0].ravel(), np.abs(model[1].weight.value[1])))
    True
    """
    if reduce not in ("max", "mean", None):
        raise ValueError(f'saliency_map: reduce must be "max", "mean" or None, found {reduce!r}')
    magnitude = np.abs(class_score_gradient(model, x, target))
    if reduce == "max":
        return magnitude.max(axis=1)
    if reduce == "mean":
        return magnitude.mean(axis=1)
    return magnitude
