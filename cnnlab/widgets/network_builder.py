"""The network builder widget: add and remove layers, see the summary and bar charts.

Logic in :class:`cnnlab.widgets.builder_state.NetworkBuilder` (which asks
:func:`cnnlab.models.summary`); drawing in :func:`cnnlab.plotting.plot_summary_bars`.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as W

from cnnlab.models import parse_shape
from cnnlab.plotting import plot_summary_bars
from cnnlab.widgets._common import FigureImage, colored
from cnnlab.widgets.builder_state import KINDS, BuilderStatus, LayerChoice, NetworkBuilder

__all__ = ["NetworkBuilderWidget"]

_PADDINGS = [0, 1, 2, 3, "same"]
#: The layer list grows to this many rows, then scrolls.
MAX_ROWS = 24


def _option_control(name: str) -> W.Widget:
    style = {"description_width": "initial"}
    layout = W.Layout(width="170px")
    if name == "padding":
        return W.Dropdown(options=_PADDINGS, value=0, description=name, style=style,
                          layout=layout)
    if name == "p":
        return W.BoundedFloatText(value=0.5, min=0.0, max=0.95, step=0.05, description=name,
                                  style=style, layout=layout)
    low, high = (1, 4096)
    return W.BoundedIntText(value=1, min=low, max=high, description=name, style=style,
                            layout=layout)


class NetworkBuilderWidget(W.VBox):
    """Build a network layer by layer and watch its summary table and bar charts.

    Parameters
    ----------
    input_shape : (C, H, W) or (features,)
    layers : list of LayerChoice or (kind, options) pairs, optional
        Starting layers.

    Attributes
    ----------
    builder : NetworkBuilder
        The logic; ``builder.status()`` is what is shown.
    status : BuilderStatus

    Examples
    --------
    >>> w = NetworkBuilderWidget((3, 32, 32))
    >>> w.kind.value = "Conv2d"
    >>> w.options["out_channels"].value = 8
    >>> w.add_button.click()
    >>> w.status.summary.total_params              # 8 * (3*3*3) + 8
    224
    >>> w.kind.value = "ReLU"; w.where.value = 0; w.add_button.click()
    >>> [choice.kind for choice in w.builder.layers]
    ['ReLU', 'Conv2d']
    """

    def __init__(
        self,
        input_shape: tuple[int, ...] = (3, 32, 32),
        layers: list[LayerChoice] | list[tuple[str, dict[str, Any]]] | None = None,
    ) -> None:
        choices = [
            c if isinstance(c, LayerChoice) else LayerChoice(c[0], dict(c[1]))
            for c in (layers or [])
        ]
        self.builder = NetworkBuilder(tuple(input_shape), choices)
        shape_text = "x".join(str(s) for s in input_shape)
        self.shape = W.Text(value=shape_text, description="input C x H x W",
                            continuous_update=False, style={"description_width": "initial"})
        self.kind = W.Dropdown(options=list(KINDS), value="Conv2d", description="layer")
        names = list(dict.fromkeys(name for options in KINDS.values() for name in options))
        self.options = {name: _option_control(name) for name in names}
        self.where = W.Dropdown(options=[("at the end", None)], value=None,
                                description="insert", layout=W.Layout(width="430px"))
        self.where.add_class("cnnlab-builder-where")
        self.add_button = W.Button(description="add layer", button_style="primary")
        self.remove_last = W.Button(description="remove last")
        self.kind.add_class("cnnlab-builder-kind")
        self.add_button.add_class("cnnlab-builder-add")
        # One row per layer, so that every layer is in view (up to MAX_ROWS; then the
        # list scrolls).
        self.layer_list = W.Select(options=[], rows=4, layout=W.Layout(width="420px"))
        self.layer_list.add_class("cnnlab-builder-layers")
        self.remove_selected = W.Button(description="remove selected")
        self.message = W.HTML().add_class("cnnlab-builder-message")
        self.table = W.HTML().add_class("cnnlab-builder-table")
        self.image = FigureImage(css_class="cnnlab-builder-bars")
        self.status: BuilderStatus = self.builder.status()

        self.kind.observe(lambda _c: self._show_options(), names="value")
        self.shape.observe(lambda _c: self._set_shape(), names="value")
        self.add_button.on_click(lambda _b: self._add())
        self.remove_last.on_click(lambda _b: self._remove(-1))
        self.remove_selected.on_click(lambda _b: self._remove(self.layer_list.index))
        editor = W.VBox(
            [
                self.shape,
                self.kind,
                W.HBox(list(self.options.values()), layout=W.Layout(flex_flow="row wrap")),
                self.where,
                W.HBox([self.add_button, self.remove_last, self.remove_selected]),
            ],
            layout=W.Layout(width="440px"),
        )
        super().__init__(
            [W.HBox([editor, self.layer_list]), self.message, self.table, self.image]
        )
        self.add_class("cnnlab-network-builder")
        self._show_options()
        self._refresh()

    def _show_options(self) -> None:
        defaults = KINDS[self.kind.value]
        for name, control in self.options.items():
            control.layout.display = "" if name in defaults else "none"
            if name in defaults:
                control.value = defaults[name]

    def _set_shape(self) -> None:
        try:
            self.builder.input_shape = parse_shape(self.shape.value)
        except ValueError as error:
            self.message.value = colored(str(error))
            return
        self._refresh()

    def _add(self) -> None:
        options = {name: self.options[name].value for name in KINDS[self.kind.value]}
        index = self.where.value
        try:
            self.builder.add(self.kind.value, index, **options)
        except (ValueError, TypeError) as error:
            self.message.value = colored(str(error))
            return
        self._refresh()
        self.layer_list.index = len(self.builder.layers) - 1 if index is None else index
        if index is not None:  # keep inserting before the same layer, after the new one
            self.where.value = index + 1

    def _remove(self, index: int | None) -> None:
        if index is None or not self.builder.layers:
            return
        self.builder.remove(index)
        self._refresh()

    def _refresh(self) -> None:
        self.status = self.builder.status()
        labels = [f"{i + 1}. {choice.label}" for i, choice in enumerate(self.builder.layers)]
        self.layer_list.options = labels
        self.layer_list.rows = min(max(len(labels), 4), MAX_ROWS)
        where = self.where.value
        self.where.options = [("at the end", None)] + [
            (f"before {label}", index) for index, label in enumerate(labels)
        ]
        self.where.value = where if where is None or where < len(labels) else None
        if self.status.error is not None:
            where = (
                f"layer {self.status.failing + 1}: " if self.status.failing is not None else ""
            )
            self.message.value = colored(where + self.status.error)
        else:
            self.message.value = (
                f"{len(self.builder.layers)} layers, output shape "
                f"{self.status.summary.output_shape if self.status.summary else '?'}"
            )
        summary = self.status.summary
        self.table.value = summary._repr_html_() if summary is not None else ""
        if summary is not None:
            self.image.show(plot_summary_bars(summary))
