"""The network builder: a list of layer choices that becomes a summary table.

Pure logic, no ipywidgets. A :class:`NetworkBuilder` holds the input shape and the
layers a student has added, turns them into :mod:`cnnlab.models` specs and asks
:func:`cnnlab.models.summary` for every number. A layer that cannot take its input
(a kernel larger than the map, a Dense layer on an image without Flatten) is kept, and :meth:`NetworkBuilder.status` reports the error with the layer's
name (and summarises the layers before it), because a student fixes a network by
editing it, not by starting over.

Examples
--------
>>> b = NetworkBuilder((3, 32, 32))          # the CS109B example, layer by layer
>>> b.add("Conv2d", out_channels=8, kernel=3, padding="same")
>>> b.add("Conv2d", out_channels=16, kernel=5, stride=2, padding="same")
>>> b.add("Flatten"); b.add("Dense", out_features=512); b.add("Dense", out_features=4)
>>> b.status().summary.total_params
2103156
>>> b.remove(2).kind                          # take Flatten out again
'Flatten'
>>> status = b.status()
>>> status.failing, status.summary.total_params   # Dense fails; the convs still count
(2, 3440)
"""  # noqa: E501

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cnnlab import models
from cnnlab.models import ModelSummary

__all__ = ["KINDS", "BuilderStatus", "LayerChoice", "NetworkBuilder"]

#: Layer kinds the builder offers, with the options each takes and their defaults.
KINDS: dict[str, dict[str, Any]] = {
    "Conv2d": {"out_channels": 16, "kernel": 3, "stride": 1, "padding": 0},
    "DepthwiseConv2d": {"kernel": 3, "stride": 1, "padding": 0},
    "MaxPool2d": {"kernel": 2, "stride": 2},
    "AvgPool2d": {"kernel": 2, "stride": 2},
    "ReLU": {},
    "BatchNorm2d": {},
    "Dropout": {"p": 0.5},
    "Flatten": {},
    "GlobalAvgPool2d": {},
    "Dense": {"out_features": 10},
}


@dataclass(frozen=True)
class LayerChoice:
    """One layer as chosen in the builder: a kind and its options.

    Examples
    --------
    >>> LayerChoice("Conv2d", {"out_channels": 8, "kernel": 3}).spec()
    Conv2d(name=None, trainable=True, out_channels=8, kernel=3, stride=1, padding=0, dilation=1, groups=1, bias=True)
    """  # noqa: E501

    kind: str
    options: dict[str, Any] = field(default_factory=dict)

    def spec(self) -> models.Layer:
        """The :mod:`cnnlab.models` layer spec."""
        return getattr(models, self.kind)(**self.options)

    @property
    def label(self) -> str:
        """Short text for a list: ``Conv2d(out_channels=8, kernel=3)``."""
        inner = ", ".join(f"{key}={value!r}" for key, value in self.options.items())
        return f"{self.kind}({inner})"


@dataclass(frozen=True)
class BuilderStatus:
    """The builder's network as a summary, or the error that stops it.

    Attributes
    ----------
    summary : ModelSummary or None
        The table of the layers that work (all of them when ``error`` is None).
    error : str or None
        Why the first failing layer cannot take its input.
    failing : int or None
        Index (in :attr:`NetworkBuilder.layers`) of that layer.
    """

    summary: ModelSummary | None
    error: str | None = None
    failing: int | None = None


class NetworkBuilder:
    """A network built one layer at a time.

    Parameters
    ----------
    input_shape : (C, H, W) or (features,)
    layers : iterable of LayerChoice or (kind, options) pairs, optional
    name : str, default "my_network"
    """

    def __init__(
        self,
        input_shape: tuple[int, ...] = (3, 32, 32),
        layers: list[LayerChoice] | None = None,
        *,
        name: str = "my_network",
    ) -> None:
        self.input_shape = tuple(input_shape)
        self.layers: list[LayerChoice] = list(layers or [])
        self.name = name

    def add(self, kind: str, index: int | None = None, **options: Any) -> None:
        """Append (or insert at ``index``) a layer of ``kind`` with ``options``.

        Raises
        ------
        ValueError
            An unknown kind, or options the layer spec refuses (checked at once).
        """
        if kind not in KINDS:
            raise ValueError(
                f"unknown layer kind {kind!r}: the builder offers {', '.join(KINDS)}."
            )
        choice = LayerChoice(kind, dict(options))
        choice.spec()  # validate the options now, not at summary time
        if index is None:
            self.layers.append(choice)
        else:
            self.layers.insert(index, choice)

    def remove(self, index: int = -1) -> LayerChoice:
        """Remove and return the layer at ``index`` (default: the last one)."""
        if not self.layers:
            raise IndexError("the network has no layers to remove.")
        return self.layers.pop(index)

    def clear(self) -> None:
        """Remove every layer."""
        self.layers.clear()

    def model(self, upto: int | None = None) -> models.Sequential:
        """The :class:`cnnlab.models.Sequential` of the first ``upto`` layers (default all)."""
        chosen = self.layers if upto is None else self.layers[:upto]
        return models.Sequential(
            models.Input(*self.input_shape), *(c.spec() for c in chosen), name=self.name
        )

    def status(self) -> BuilderStatus:
        """Summary of the network, or of the layers before the first one that fails."""
        try:
            return BuilderStatus(models.summary(self.model()))
        except (ValueError, TypeError) as error:
            message = str(error)
        # Find the first failing layer; summarise what comes before it.
        for index in range(len(self.layers)):
            try:
                models.summary(self.model(index + 1))
            except (ValueError, TypeError):
                return BuilderStatus(models.summary(self.model(index)), message, index)
        return BuilderStatus(None, message, None)  # pragma: no cover - input itself is bad
