"""The receptive-field explorer widget: stack layers, pick an output unit, see its region.

Logic in :func:`cnnlab.widgets.receptive_state.receptive_explorer_state` (which asks
:mod:`cnnlab.receptive`); drawing in :func:`cnnlab.plotting.draw_receptive_field`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import ipywidgets as W

from cnnlab.plotting import draw_receptive_field
from cnnlab.widgets._common import FigureImage, colored, slider
from cnnlab.widgets.receptive_state import (
    ReceptiveState,
    axes_text,
    receptive_explorer_state,
)

__all__ = ["ReceptiveExplorer"]

#: Layers offered by the "add" menu, written as :func:`cnnlab.receptive.parse_window` reads.
PRESETS = ["k3s1p1", "k3s1", "k3s2p1", "k3s1p2d2", "k3s1p4d4", "k2s2", "k5s1p2", "k7s2p3"]


class ReceptiveExplorer(W.VBox):
    """Stack sliding-window layers and highlight what one output unit sees.

    Parameters
    ----------
    layers : sequence of str
        Layers as ``"k3s1p1"`` (kernel 3, stride 1, padding 1), ``"k3s1p2d2"``
        (dilation 2), ``"k2s2"`` (2x2 window, stride 2), ...
    input_size : int, default 11

    Attributes
    ----------
    state : ReceptiveState

    Examples
    --------
    >>> w = ReceptiveExplorer(["k3s1", "k3s1"], input_size=7)
    >>> w.state.field.size
    (5, 5)
    >>> w.preset.value = "k3s1"; w.add_button.click()
    >>> w.state.field.size
    (7, 7)
    """

    def __init__(self, layers: Sequence[str] = ("k3s1p1", "k3s1p1"), input_size: int = 11):
        self.stack = W.Text(value=", ".join(layers), description="layers",
                            continuous_update=False, layout=W.Layout(width="520px"))
        self.stack.add_class("cnnlab-rf-stack")
        self.preset = W.Dropdown(options=PRESETS, value=PRESETS[0], description="add",
                                 layout=W.Layout(width="170px"))
        self.add_button = W.Button(description="add layer", button_style="primary")
        self.remove_button = W.Button(description="remove last")
        self.size = slider("input size", input_size, 3, 32)
        self.row = slider("unit row", 0, 0, 0)
        self.col = slider("unit column", 0, 0, 0)
        for control, name in ((self.preset, "preset"), (self.add_button, "add"),
                              (self.remove_button, "remove"), (self.size, "size"),
                              (self.row, "row"), (self.col, "col")):
            control.add_class(f"cnnlab-rf-{name}")
        self.headline = W.HTML().add_class("cnnlab-rf-headline")
        self.table = W.HTML().add_class("cnnlab-rf-table")
        self.image = FigureImage(css_class="cnnlab-rf-grid")
        self.state: ReceptiveState = receptive_explorer_state(list(layers), input_size)
        self._busy = False
        self.add_button.on_click(lambda _b: self._edit(add=self.preset.value))
        self.remove_button.on_click(lambda _b: self._edit(remove=True))
        super().__init__(
            [
                self.stack,
                W.HBox([self.preset, self.add_button, self.remove_button]),
                W.HBox([self.size, self.row, self.col]),
                self.headline,
                self.image,
                self.table,
            ]
        )
        self.add_class("cnnlab-receptive-explorer")
        self._refresh()
        for control in (self.stack, self.size, self.row, self.col):
            control.observe(lambda _c: self._refresh(), names="value")

    def _layers(self) -> list[str]:
        return [token.strip() for token in self.stack.value.split(",") if token.strip()]

    def _edit(self, *, add: str | None = None, remove: bool = False) -> None:
        layers = self._layers()
        if add is not None:
            layers.append(add)
        if remove and layers:
            layers.pop()
        self.stack.value = ", ".join(layers)  # triggers _refresh

    def _refresh(self) -> None:
        if self._busy:  # our own updates of the unit sliders
            return
        self._busy = True
        try:
            self._update()
        finally:
            self._busy = False

    def _update(self) -> None:
        try:
            state = receptive_explorer_state(
                self._layers(), self.size.value, (self.row.value, self.col.value)
            )
        except ValueError as error:  # a token that is not a layer
            self.headline.value = colored(str(error))
            return
        self.state = state
        last = state.maps[-1].size
        for control, high, value in ((self.row, last[0] - 1, state.unit[0]),
                                     (self.col, last[1] - 1, state.unit[1])):
            control.max = max(high, 0)
            control.value = value
        color = "#c00000" if state.error else "#000000"
        self.headline.value = colored(state.headline, color)
        rows = "".join(
            f"<tr><td>{html.escape(r.name, quote=False)}</td><td>{axes_text(r.size)}</td>"
            f"<td>{axes_text(r.jump)}</td><td>{axes_text(r.padding)}</td>"
            f"<td>{axes_text(r.output_size) if r.output_size else ''}</td></tr>"
            for r in state.records
        )
        self.table.value = (
            "<table><thead><tr><th>layer</th><th>receptive field</th><th>jump</th>"
            f"<th>effective padding</th><th>output size</th></tr></thead><tbody>{rows}"
            "</tbody></table>"
        )
        self.image.show(draw_receptive_field(state))
