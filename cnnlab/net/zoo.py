"""The course's reference networks: architecture, training recipe and shipped weights.

Every pretrained model is listed once, in :data:`PRETRAINED`: how to build it, which
data and settings train it, and which ``.npz`` file in ``cnnlab/data`` holds its
weights. ``scripts/train_reference_models.py`` retrains them all from this table;
notebooks either load the shipped weights with :func:`pretrained` or retrain live with
:func:`train_reference` (a few seconds). Nothing is downloaded.

Examples
--------
>>> model = pretrained("digits_cnn")
>>> from cnnlab.datasets import load_digits
>>> x, y = load_digits()
>>> from cnnlab.net import predict
>>> float((predict(model, x[:200]) == y[:200]).mean()) > 0.95
True
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from cnnlab.datasets import Split, load_digits, train_test_split, transfer_split
from cnnlab.net.io import load_weights
from cnnlab.net.modules import Conv2d, Dense, Flatten, MaxPool2d, ReLU
from cnnlab.net.optim import SGD, StepDecay
from cnnlab.net.sequential import Sequential
from cnnlab.net.train import History, evaluate, fit

__all__ = ["PRETRAINED", "Reference", "digits_cnn", "pretrained", "train_reference"]


def digits_cnn(
    num_classes: int = 10,
    *,
    channels: tuple[int, int] = (8, 16),
    image_size: int = 8,
    seed: int = 0,
    dtype: Any = np.float32,
) -> Sequential:
    """The small CNN of the course, for one-channel digit images.

    ``conv c1@3x3 pad 1 -> ReLU -> maxpool 2 -> conv c2@3x3 pad 1 -> ReLU -> maxpool 2
    -> flatten (c2 * (image_size // 4)**2) -> dense num_classes``.

    Parameters
    ----------
    num_classes : int, default 10
    channels : (int, int), default (8, 16)
        Filters of the two conv layers.
    image_size : int, default 8
        Side of the square input (8 for :func:`~cnnlab.datasets.load_digits`, 12 for
        :func:`~cnnlab.datasets.transfer_split`).
    seed : int
    dtype : numpy dtype

    Examples
    --------
    >>> digits_cnn().num_parameters()        # 80 + 1,168 + 650
    1898
    >>> digits_cnn(5, channels=(16, 32), image_size=12)[-1]
    Dense(288, 5)
    """
    c1, c2 = channels
    side = image_size // 4
    return Sequential(
        [
            Conv2d(1, c1, 3, padding=1),
            ReLU(),
            MaxPool2d(2),
            Conv2d(c1, c2, 3, padding=1),
            ReLU(),
            MaxPool2d(2),
            Flatten(),
            Dense(c2 * side * side, num_classes),
        ],
        seed=seed,
        dtype=dtype,
        input_shape=(1, image_size, image_size),
    )


def _digits_split() -> Split:
    x, y = load_digits()
    return train_test_split(x, y, test_size=0.25, seed=0)


def _source_split() -> Split:
    return transfer_split(seed=0).source


@dataclass(frozen=True)
class Reference:
    """One reference model: architecture, data, recipe and weight file.

    Attributes
    ----------
    build : callable
        ``build(seed=...)`` returns the untrained :class:`Sequential`.
    data : callable
        Returns the :class:`~cnnlab.datasets.Split` it is trained and tested on.
    filename : str
        Weight file inside ``cnnlab/data``.
    description : str
    lr, momentum, weight_decay, epochs, batch_size, decay_every, decay_factor, seed
        The training recipe (SGD with momentum and a step decay).
    """

    build: Callable[..., Sequential]
    data: Callable[[], Split]
    filename: str
    description: str
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 1e-4
    epochs: int = 20
    batch_size: int = 32
    decay_every: int = 10
    decay_factor: float = 0.3
    seed: int = 0


#: The one list of shipped models.
PRETRAINED: dict[str, Reference] = {
    "digits_cnn": Reference(
        build=lambda seed=0, dtype=np.float32: digits_cnn(10, seed=seed, dtype=dtype),
        data=_digits_split,
        filename="digits_cnn.npz",
        description="digits 0-9, trained on 75% of load_digits (seeded stratified split)",
    ),
    "digits_source_cnn": Reference(
        build=lambda seed=0, dtype=np.float32: digits_cnn(
            5, channels=(16, 32), image_size=12, seed=seed, dtype=dtype
        ),
        data=_source_split,
        filename="digits_source_cnn.npz",
        description=(
            "source task of transfer_split(seed=0): digits 0-4 (relabelled 0-4) at random "
            "positions on a 12x12 canvas"
        ),
        epochs=10,
        decay_every=5,
    ),
}


def _reference(name: str) -> Reference:
    if name not in PRETRAINED:
        raise KeyError(f"no reference model named {name!r}; available: {sorted(PRETRAINED)}")
    return PRETRAINED[name]


def pretrained(name: str, *, dtype: Any = np.float32) -> Sequential:
    """Rebuild a reference model and load its shipped weights (evaluation mode).

    Parameters
    ----------
    name : str
        A key of :data:`PRETRAINED`: ``"digits_cnn"`` or ``"digits_source_cnn"``.
    dtype : numpy dtype, default float32

    Returns
    -------
    Sequential
    """
    ref = _reference(name)
    model = ref.build(seed=ref.seed, dtype=dtype)
    path = resources.files("cnnlab").joinpath("data", ref.filename)
    if not path.is_file():
        raise FileNotFoundError(
            f"pretrained({name!r}): weight file cnnlab/data/{ref.filename} is missing; "
            "run scripts/train_reference_models.py to create it"
        )
    with path.open("rb") as handle:
        load_weights(model, handle)
    return model.eval()


def train_reference(
    name: str, *, progress: bool = False, seed: int | None = None
) -> tuple[Sequential, History, dict[str, float]]:
    """Train a reference model from scratch with its recipe (deterministic).

    Parameters
    ----------
    name : str
        A key of :data:`PRETRAINED`.
    progress : bool, default False
    seed : int, optional
        Overrides the recipe's seed (initialisation and shuffling).

    Returns
    -------
    model : Sequential
        In evaluation mode.
    history : History
        With the held-out test split as validation data.
    metrics : dict
        ``test_loss``, ``test_accuracy`` and ``seconds`` (training wall-clock time).
    """
    ref = _reference(name)
    seed = ref.seed if seed is None else seed
    split = ref.data()
    model = ref.build(seed=seed)
    optimizer = SGD(model, lr=ref.lr, momentum=ref.momentum, weight_decay=ref.weight_decay)
    schedule = StepDecay(optimizer, every=ref.decay_every, factor=ref.decay_factor)
    tic = time.perf_counter()
    history = fit(
        model, optimizer, *split.train, epochs=ref.epochs, batch_size=ref.batch_size,
        val=split.test, seed=seed, progress=progress, callbacks=[schedule],
    )
    seconds = time.perf_counter() - tic
    test_loss, test_accuracy = evaluate(model, *split.test)
    return model.eval(), history, {
        "test_loss": test_loss, "test_accuracy": test_accuracy, "seconds": seconds,
    }
