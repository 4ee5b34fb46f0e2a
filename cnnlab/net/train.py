"""Mini-batch training, evaluation and prediction for a :class:`~cnnlab.net.Sequential`.

Training is deterministic: the only randomness is the model's seeded initialisation,
its Dropout generators and the ``seed`` that shuffles the mini-batches here.

Examples
--------
>>> import numpy as np
>>> from cnnlab.net import Dense, Flatten, SGD, Sequential
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(64, 1, 2, 2)).astype(np.float32)
>>> y = (x[:, 0, 0, 0] > 0).astype(np.int64)          # learnable from one pixel
>>> model = Sequential([Flatten(), Dense(4, 2)], seed=0)
>>> history = fit(model, SGD(model, lr=0.5), x, y, epochs=20, batch_size=16,
...               progress=False)
>>> len(history), history.loss[-1] < history.loss[0], history.accuracy[-1] > 0.9
(20, True, True)
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cnnlab import layers as F
from cnnlab.net._threads import limited_threads
from cnnlab.net.optim import SGD
from cnnlab.net.sequential import Sequential

__all__ = ["History", "evaluate", "fit", "predict", "predict_logits"]

#: A callback runs after each epoch as ``callback(epoch, history)``; returning ``True``
#: stops training (early stopping).
Callback = Callable[[int, "History"], Any]


@dataclass
class History:
    """Per-epoch metrics of :func:`fit`.

    Attributes
    ----------
    loss, accuracy : list of float
        Training mean cross-entropy and accuracy, averaged over the epoch's mini-batches
        as they were seen (training mode, weights still changing), as Keras reports.
    val_loss, val_accuracy : list of float
        Measured after each epoch in evaluation mode (empty without ``val``).
    lr : list of float
        The optimizer's base learning rate during each epoch.
    seconds : list of float
        Wall-clock time of each epoch.
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.loss)

    def extend(self, other: History) -> History:
        """Append another run's epochs (e.g. the fine-tuning stage after the head stage)."""
        for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"):
            getattr(self, key).extend(getattr(other, key))
        return self

    def plot(self, axes: Any = None, *, label: str | None = None) -> Any:
        """Plot loss and accuracy per epoch (training solid, validation dashed).

        Parameters
        ----------
        axes : pair of matplotlib Axes, optional
            Draw into these (loss, accuracy); by default a new figure with two panels.
        label : str, optional
            Prefix of the legend entries, to compare several histories on one figure.

        Returns
        -------
        matplotlib.figure.Figure
        """
        import matplotlib.pyplot as plt  # lazy: importing cnnlab.net stays fast

        if axes is None:
            fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained")
        else:
            fig = axes[0].figure
        prefix = f"{label} " if label else ""
        epochs = np.arange(1, len(self) + 1)
        for ax, key, title in ((axes[0], "loss", "cross-entropy loss"),
                               (axes[1], "accuracy", "accuracy")):
            (line,) = ax.plot(epochs, getattr(self, key), label=f"{prefix}train")
            val = getattr(self, f"val_{key}")
            if val:
                ax.plot(epochs, val, "--", color=line.get_color(), label=f"{prefix}validation")
            ax.set_xlabel("epoch")
            ax.set_title(title)
            ax.legend()
        return fig

    def __repr__(self) -> str:
        if not self.loss:
            return "History(0 epochs)"
        text = f"History({len(self)} epochs, loss {self.loss[-1]:.4f}, acc {self.accuracy[-1]:.3f}"
        if self.val_loss:
            text += f", val_loss {self.val_loss[-1]:.4f}, val_acc {self.val_accuracy[-1]:.3f}"
        return text + ")"


def _check_data(model: Sequential, x: Any, y: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(model, Sequential):
        raise TypeError(
            f"{where}: model must be a cnnlab.net.Sequential, found {type(model).__name__}"
        )
    if not isinstance(x, np.ndarray) or x.ndim != 4:
        raise ValueError(
            f"{where}: x must be a 4-D array (N, C, H, W), found "
            f"{getattr(x, 'shape', type(x).__name__)}"
        )
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"{where}: y must be a 1-D array of integer class labels, found dtype {y.dtype} "
            f"and shape {y.shape}"
        )
    if len(y) != len(x):
        raise ValueError(f"{where}: x has {len(x)} examples but y has {len(y)} labels")
    if len(y) and y.min() < 0:
        raise ValueError(f"{where}: class labels must be >= 0, found {int(y.min())}")
    return x, y.astype(np.int64, copy=False)


def _check_scores(scores: np.ndarray, y: np.ndarray, where: str) -> None:
    if scores.ndim != 2:
        raise ValueError(
            f"{where}: the model must output scores of shape (N, classes), found {scores.shape}; "
            "does it end with Flatten and Dense?"
        )
    if len(y) and int(y.max()) >= scores.shape[1]:
        raise ValueError(
            f"{where}: labels go up to {int(y.max())} but the model outputs {scores.shape[1]} "
            "class scores: the last Dense layer's out_features must equal the number of classes"
        )


def _batches(n: int, batch_size: int) -> range:
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, found {batch_size!r}")
    return range(0, n, int(batch_size))


def predict_logits(
    model: Sequential, x: np.ndarray, *, batch_size: int = 256, threads: int | None = 1
) -> np.ndarray:
    """Unnormalised class scores ``(N, K)`` in evaluation mode (mode restored after)."""
    was_training = model.training
    model.eval()
    try:
        with limited_threads(threads):
            outputs = [model.forward(x[i : i + batch_size]) for i in _batches(len(x), batch_size)]
    finally:
        model.train(was_training)
    return np.concatenate(outputs) if outputs else np.zeros((0, 0), model.dtype)


def predict(
    model: Sequential, x: np.ndarray, *, batch_size: int = 256, threads: int | None = 1
) -> np.ndarray:
    """Predicted class labels ``(N,)``: the arg-max of the class scores."""
    return predict_logits(model, x, batch_size=batch_size, threads=threads).argmax(axis=1)


def evaluate(
    model: Sequential,
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int = 256,
    threads: int | None = 1,
) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy on ``(x, y)`` in evaluation mode.

    Returns
    -------
    loss : float
        Mean softmax cross-entropy over all examples.
    accuracy : float
        Fraction of examples whose highest score is the true class.
    """
    x, y = _check_data(model, x, y, "evaluate")
    scores = predict_logits(model, x, batch_size=batch_size, threads=threads)
    _check_scores(scores, y, "evaluate")
    loss, _ = F.softmax_cross_entropy(scores, y)
    return float(loss), float(np.mean(scores.argmax(axis=1) == y))


def fit(
    model: Sequential,
    optimizer: SGD,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int = 32,
    val: tuple[np.ndarray, np.ndarray] | None = None,
    seed: int = 0,
    progress: bool = True,
    callbacks: Sequence[Callback] | None = None,
    threads: int | None = 1,
) -> History:
    """Train ``model`` by mini-batch gradient descent on the softmax cross-entropy.

    Parameters
    ----------
    model : Sequential
        Ends in class scores (logits) ``(N, K)``.
    optimizer : SGD
        Updates the model's trainable parameters.
    x : ndarray, shape (N, C, H, W)
    y : ndarray of int, shape (N,)
        Class labels ``0 .. K-1``.
    epochs : int
        Passes over the data.
    batch_size : int, default 32
        The last mini-batch of an epoch may be smaller.
    val : (x_val, y_val), optional
        Evaluated after every epoch.
    seed : int, default 0
        Seeds the shuffling; with the model's seed it fixes the whole run.
    progress : bool, default True
        Show a progress bar (a widget in Jupyter, text on stderr in a terminal). Use
        ``progress=False`` in nbgrader grade cells: anything on stderr scores zero.
    callbacks : list of callables, optional
        Each runs after every epoch as ``callback(epoch, history)``; one returning
        ``True`` stops training (e.g. :class:`~cnnlab.net.StepDecay`).
    threads : int or None, default 1
        Threads for the Numba kernels and BLAS during training. Course-sized batches
        run fastest on one (thread start-up costs more than the arithmetic); None
        keeps the libraries' defaults.

    Returns
    -------
    History

    Notes
    -----
    Each step: ``zero_grad``; ``scores = model(x_batch)``;
    ``loss, dscores = softmax_cross_entropy(scores, y_batch)``;
    ``model.backward(dscores)``; ``optimizer.step()``. The model's train/eval mode is
    restored afterwards.
    """
    x, y = _check_data(model, x, y, "fit")
    if not isinstance(optimizer, SGD):
        raise TypeError(
            f"fit: optimizer must be a cnnlab.net.SGD, found {type(optimizer).__name__}"
        )
    if not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative int, found {epochs!r}")
    if val is not None:
        val = _check_data(model, val[0], val[1], "fit (val)")
    starts = _batches(len(x), batch_size)
    rng = np.random.default_rng(seed)
    history = History()
    was_training = model.training
    bar = _progress_bar(int(epochs) * len(starts), progress)
    with contextlib.ExitStack() as stack:
        stack.enter_context(limited_threads(threads))
        stack.callback(model.train, was_training)
        stack.callback(bar.close)
        for epoch in range(int(epochs)):
            tic = time.perf_counter()
            model.train()
            order = rng.permutation(len(x))
            loss_sum, correct = 0.0, 0
            for start in starts:
                idx = order[start : start + batch_size]
                x_batch, y_batch = x[idx], y[idx]
                optimizer.zero_grad()
                scores = model.forward(x_batch)
                _check_scores(scores, y_batch, "fit")
                loss, dscores = F.softmax_cross_entropy(scores, y_batch)
                model.backward(dscores, input_grad=False)
                optimizer.step()
                loss_sum += float(loss) * len(idx)
                correct += int(np.sum(scores.argmax(axis=1) == y_batch))
                bar.update(1)
            history.loss.append(loss_sum / len(x))
            history.accuracy.append(correct / len(x))
            history.lr.append(optimizer.lr)
            if val is not None:
                val_loss, val_acc = evaluate(model, *val)
                history.val_loss.append(val_loss)
                history.val_accuracy.append(val_acc)
            history.seconds.append(time.perf_counter() - tic)
            bar.set_postfix_str(_postfix(history, epoch, int(epochs)), refresh=True)
            stop = [callback(epoch, history) for callback in (callbacks or ())]
            if any(s is True for s in stop):
                break
    return history


def _postfix(history: History, epoch: int, epochs: int) -> str:
    text = f"epoch {epoch + 1}/{epochs} loss {history.loss[-1]:.3f} acc {history.accuracy[-1]:.3f}"
    if history.val_loss:
        text += f" val_acc {history.val_accuracy[-1]:.3f}"
    return text


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int, progress: bool) -> Any:
    if not progress:
        return _NoBar()
    from tqdm.auto import tqdm  # widget in Jupyter, text in a terminal

    return tqdm(total=total, unit="batch", leave=True)
