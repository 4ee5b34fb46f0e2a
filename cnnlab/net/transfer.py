"""Transfer learning: reuse a trained network's features for a new, small task.

The recipe of the lecture (CS109B lecture 11, "Transfer learning" and "Fine-tuning"):

1. take a network trained on a large *source* data set;
2. replace its classification head by a new one for the *target* classes and freeze
   everything else, so only the head learns (the base is a fixed feature extractor);
3. then unfreeze later layers too and fine-tune them with smaller learning rates, each
   earlier layer group 3x-10x slower than the next later one (earlier layers hold
   generic features such as edges, which need little change).

:func:`scratch_vs_transfer` runs the experiment that motivates it all: the same few
target examples, one network trained from random weights and one transferred.

References
----------
Yosinski, Clune, Bengio, Lipson. "How transferable are features in deep neural
networks?" NeurIPS 2014. arXiv:1411.1792.

Howard, Ruder. "Universal Language Model Fine-tuning for Text Classification." ACL
2018 (discriminative fine-tuning: a learning rate per layer group).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from cnnlab.net.modules import Dense
from cnnlab.net.optim import SGD
from cnnlab.net.sequential import Selector, Sequential
from cnnlab.net.train import History, fit

__all__ = [
    "TransferComparison",
    "discriminative_lr",
    "fine_tune",
    "layer_groups",
    "scratch_vs_transfer",
    "transfer_model",
]


def layer_groups(model: Sequential) -> list[str]:
    """Names of the layers that have parameters, first to last (one group each).

    Examples
    --------
    >>> from cnnlab.net import digits_cnn
    >>> layer_groups(digits_cnn())
    ['conv1', 'conv2', 'dense1']
    """
    return [layer.name for layer in model if layer.parameters()]


def discriminative_lr(
    model: Sequential, groups: Sequence[Selector] | None = None, *, factor: float = 3.0
) -> Sequential:
    """Give each earlier layer group a ``factor`` times smaller learning rate.

    Parameters
    ----------
    model : Sequential
    groups : sequence of selectors, optional
        Layer groups from the *earliest* to the *latest* (each an index, slice, name
        or list of these). Default: :func:`layer_groups`, one group per layer with
        parameters.
    factor : float, default 3
        Ratio between the rates of neighbouring groups; the lecture suggests 3 to 10.

    Returns
    -------
    Sequential
        ``model``, whose parameters now have ``lr_scale = factor ** -k`` for the group
        ``k`` places before the last one (the last group keeps 1).

    Examples
    --------
    >>> from cnnlab.net import digits_cnn
    >>> model = discriminative_lr(digits_cnn(), factor=10)
    >>> [round(model[name].weight.lr_scale, 4) for name in layer_groups(model)]
    [0.01, 0.1, 1.0]
    """
    if not float(factor) >= 1.0:
        raise ValueError(
            f"discriminative_lr: factor must be >= 1 (earlier layers learn more slowly), "
            f"found {factor!r}"
        )
    groups = layer_groups(model) if groups is None else list(groups)
    for k, group in enumerate(reversed(groups)):
        model.set_lr_scale(group, float(factor) ** -k)
    return model


def transfer_model(
    source: Sequential, num_classes: int, *, seed: int = 0, freeze_base: bool = True
) -> Sequential:
    """A copy of ``source`` with a new, randomly initialised Dense head.

    Parameters
    ----------
    source : Sequential
        A trained network ending in a Dense layer; it is not modified.
    num_classes : int
        Outputs of the new head.
    seed : int
        Initialises the new head.
    freeze_base : bool, default True
        Freeze every layer but the new head.

    Returns
    -------
    Sequential
        All learning-rate scales reset to 1.
    """
    head = source.layers[-1]
    if not isinstance(head, Dense):
        raise ValueError(
            f"transfer_model: the source network must end in a Dense layer (its head), "
            f"found {type(head).__name__} {head.name!r}"
        )
    model = source.copy()
    model.replace_head(Dense(head.in_features, num_classes), seed=seed)
    model.unfreeze().set_lr_scale(None, 1.0)
    if freeze_base:
        model.freeze(slice(0, -1))
    return model


def fine_tune(
    model: Sequential,
    x: np.ndarray,
    y: np.ndarray,
    *,
    head_epochs: int,
    finetune_epochs: int,
    lr: float = 0.05,
    finetune_lr: float | None = None,
    factor: float = 3.0,
    unfreeze: Sequence[Selector] | None = None,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    batch_size: int = 32,
    val: tuple[np.ndarray, np.ndarray] | None = None,
    seed: int = 0,
    progress: bool = False,
) -> History:
    """Two-stage transfer: train the head on a frozen base, then fine-tune.

    Parameters
    ----------
    model : Sequential
        Usually from :func:`transfer_model`. Modified in place.
    x, y : arrays
        Target training data.
    head_epochs : int
        Stage 1: everything but the last layer frozen.
    finetune_epochs : int
        Stage 2: the groups in ``unfreeze`` are trained too, at rates decreasing by
        ``factor`` per group toward the input (:func:`discriminative_lr`).
    lr : float
        Learning rate of stage 1.
    finetune_lr : float, optional
        Base rate of stage 2 (that of the last group); defaults to ``lr``.
    factor : float, default 3
    unfreeze : sequence of selectors, optional
        Layer groups trained in stage 2, earliest first; default all of
        :func:`layer_groups`. Layers not listed stay frozen.
    momentum, weight_decay, batch_size, val, seed, progress
        As in :class:`~cnnlab.net.SGD` and :func:`~cnnlab.net.fit`.

    Returns
    -------
    History
        Both stages, one after the other (stage 2 starts at epoch ``head_epochs``).
    """
    model.freeze(slice(0, -1)).unfreeze(-1).set_lr_scale(None, 1.0)
    optimizer = SGD(model, lr=lr, momentum=momentum, weight_decay=weight_decay)
    history = fit(model, optimizer, x, y, epochs=head_epochs, batch_size=batch_size,
                  val=val, seed=seed, progress=progress)
    groups = layer_groups(model) if unfreeze is None else list(unfreeze)
    model.unfreeze(groups)
    discriminative_lr(model, groups, factor=factor)
    optimizer = SGD(model, lr=lr if finetune_lr is None else finetune_lr, momentum=momentum,
                    weight_decay=weight_decay)
    stage2 = fit(model, optimizer, x, y, epochs=finetune_epochs, batch_size=batch_size,
                 val=val, seed=seed + 1, progress=progress)
    return history.extend(stage2)


class TransferComparison(NamedTuple):
    """Result of :func:`scratch_vs_transfer`: a history and a model for each run."""

    scratch: History
    transfer: History
    scratch_model: Sequential
    transfer_model: Sequential

    def plot(self, axes: Any = None) -> Any:
        """Both histories on one figure (loss and accuracy panels)."""
        fig = self.scratch.plot(axes, label="from scratch")
        return self.transfer.plot(fig.axes[:2], label="transfer")


def scratch_vs_transfer(
    source: Sequential,
    x: np.ndarray,
    y: np.ndarray,
    *,
    val: tuple[np.ndarray, np.ndarray] | None = None,
    num_classes: int | None = None,
    epochs: int = 40,
    head_epochs: int | None = None,
    lr: float = 0.05,
    factor: float = 3.0,
    momentum: float = 0.9,
    batch_size: int = 16,
    seed: int = 0,
    progress: bool = False,
) -> TransferComparison:
    """Train on the same few target examples from scratch and by transfer.

    Both runs see the same data, for the same number of epochs, with the same
    optimizer settings and shuffling seed:

    * *scratch*: ``source``'s architecture with fresh random weights (``seed``) and a
      new head, all layers trained at ``lr``;
    * *transfer*: ``source``'s trained weights and a new head;
      ``head_epochs`` (default half) with the base frozen, then the rest fine-tuning
      every layer with :func:`discriminative_lr` (``factor``).

    Parameters
    ----------
    source : Sequential
        Trained on the source task; not modified.
    x, y : arrays
        Target training data (few examples).
    val : (x_val, y_val), optional
        Target test data, evaluated after every epoch.
    num_classes : int, optional
        Target classes; default ``y.max() + 1``.

    Returns
    -------
    TransferComparison
        ``(scratch, transfer, scratch_model, transfer_model)``.
    """
    num_classes = int(np.max(y)) + 1 if num_classes is None else int(num_classes)
    head_epochs = epochs // 2 if head_epochs is None else int(head_epochs)
    if not 0 <= head_epochs <= epochs:
        raise ValueError(f"head_epochs must be between 0 and epochs={epochs}, found {head_epochs}")

    scratch_model = transfer_model(source, num_classes, seed=seed, freeze_base=False)
    scratch_model.reset_parameters(seed)
    scratch = fit(scratch_model, SGD(scratch_model, lr=lr, momentum=momentum), x, y,
                  epochs=epochs, batch_size=batch_size, val=val, seed=seed, progress=progress)

    transferred = transfer_model(source, num_classes, seed=seed)
    transfer = fine_tune(
        transferred, x, y, head_epochs=head_epochs, finetune_epochs=epochs - head_epochs,
        lr=lr, factor=factor, momentum=momentum, batch_size=batch_size, val=val, seed=seed,
        progress=progress,
    )
    return TransferComparison(scratch, transfer, scratch_model.eval(), transferred.eval())
