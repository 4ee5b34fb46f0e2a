"""Softmax cross-entropy, the classification loss, with its gradient."""

from __future__ import annotations

import numpy as np

from cnnlab.layers._validate import as_float_array

__all__ = ["softmax_cross_entropy"]


def softmax_cross_entropy(scores: np.ndarray, y: np.ndarray) -> tuple[np.floating, np.ndarray]:
    """Mean cross-entropy of the softmax of ``scores`` against integer labels.

    Parameters
    ----------
    scores : ndarray, shape (N, K)
        Unnormalised class scores (logits), float32 or float64.
    y : ndarray of int, shape (N,)
        Correct class of each example, ``0 <= y[n] < K``.

    Returns
    -------
    loss : numpy scalar of the dtype of ``scores``
        Mean over the batch.
    dscores : ndarray, shape (N, K)
        Gradient of ``loss`` with respect to ``scores``.

    Raises
    ------
    TypeError, ValueError
        Non-integer or out-of-range labels, one-hot labels, shape mismatch.

    Notes
    -----
    Numerically stable: the row maximum is subtracted before exponentiating, which
    changes nothing mathematically::

        log p[n, k] = s[n, k] - max_k s[n, :] - log sum_k exp(s[n, k] - max_k s[n, :])
        loss        = -(1/N) sum_n log p[n, y[n]]
        dscores     = (p - onehot(y)) / N

    References
    ----------
    .. [1] CS231n, "Linear classification" notes, section "Softmax classifier".

    Examples
    --------
    >>> import numpy as np
    >>> loss, dscores = softmax_cross_entropy(np.zeros((2, 4)), np.array([0, 3]))
    >>> round(float(loss), 6), float(np.log(4)).__round__(6)
    (1.386294, 1.386294)
    >>> dscores[0]
    array([-0.375,  0.125,  0.125,  0.125])
    """
    where = "softmax_cross_entropy"
    scores = as_float_array(scores, "scores", 2, where)
    y = np.asarray(y)
    N, K = scores.shape
    if y.ndim == 2 and y.shape == scores.shape:
        raise ValueError(
            f"{where}: y has shape {y.shape} like the scores: it looks one-hot. Pass the "
            "class indices, y.argmax(axis=1), shape (N,)."
        )
    if y.dtype.kind not in "iu":
        raise TypeError(
            f"{where}: y must hold integer class indices, found dtype {y.dtype}; e.g. "
            "y.astype(np.int64) if the values are whole numbers."
        )
    if y.shape != (N,):
        raise ValueError(
            f"{where}: y must have one label per example, shape ({N},), found {y.shape}."
        )
    if y.min() < 0 or y.max() >= K:
        raise ValueError(
            f"{where}: labels must lie in 0..{K - 1} (one per column of scores {scores.shape}),"
            f" found values from {y.min()} to {y.max()}. Classes are numbered from 0."
        )
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(N)
    loss = -log_probs[rows, y].mean()
    dscores = np.exp(log_probs)
    dscores[rows, y] -= 1
    dscores /= N
    return scores.dtype.type(loss), dscores
