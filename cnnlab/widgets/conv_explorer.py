"""The convolution explorer: sliders wired to :func:`conv_explorer_state`.

All numbers come from :mod:`cnnlab.widgets.conv_state` (which asks
:mod:`cnnlab.shapes`) and all drawing from :func:`cnnlab.plotting.draw_conv_explorer`;
this module only connects them.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W

from cnnlab.plotting import draw_conv_explorer
from cnnlab.widgets._common import FigureImage, colored, slider
from cnnlab.widgets.conv_state import ConvExplorerState, conv_explorer_state

__all__ = ["ConvExplorer"]


class ConvExplorer(W.VBox):
    """Sliders for input size, kernel, stride, padding and dilation over a drawn grid.

    Shows the padded input with the window at a chosen position, the output grid, the
    output-size formula with the numbers filled in, and a red flag when the stride
    does not fit.

    Parameters
    ----------
    n, kernel, stride, padding, dilation : int
        Initial slider values; ``padding`` may also be ``'same'``.
    max_n : int, default 16
        Largest input size on the slider.

    Attributes
    ----------
    state : ConvExplorerState
        What is shown now; updated on every slider change.
    controls : dict of str -> widget
        The sliders, by name (``n``, ``kernel``, ``stride``, ``padding``, ``mode``,
        ``dilation``, ``position``).

    Examples
    --------
    >>> explorer = ConvExplorer(7, 3, stride=1)
    >>> explorer.controls["stride"].value = 3
    >>> explorer.state.output, explorer.state.fits
    ((2, 2), False)
    """

    def __init__(
        self,
        n: int = 7,
        kernel: int = 3,
        stride: int = 1,
        padding: int | str = 0,
        dilation: int = 1,
        *,
        max_n: int = 16,
    ) -> None:
        same = padding == "same"
        self.controls: dict[str, Any] = {
            "n": slider("input size", n, 1, max(max_n, n)),
            "kernel": slider("kernel", kernel, 1, 7),
            "stride": slider("stride", stride, 1, 5),
            "mode": W.ToggleButtons(
                options=["number", "same"],
                value="same" if same else "number",
                description="padding",
                style={"button_width": "80px"},
            ),
            "padding": slider("pad per side", 0 if same else int(padding), 0, 4),
            "dilation": slider("dilation", dilation, 1, 3),
            "position": slider("window", 0, 0, 0),
        }
        for name, control in self.controls.items():
            control.add_class(f"cnnlab-conv-{name}")
        self.headline = W.HTML().add_class("cnnlab-conv-headline")
        self.formula = W.HTML().add_class("cnnlab-conv-formula")
        self.pads = W.HTML().add_class("cnnlab-conv-pads")
        self.image = FigureImage(css_class="cnnlab-conv-grid")
        self.state: ConvExplorerState = conv_explorer_state(n, kernel, stride, padding, dilation)
        c = self.controls
        sliders = W.VBox([c["n"], c["kernel"], c["stride"], c["mode"], c["padding"]])
        super().__init__(
            [
                W.HBox([sliders, W.VBox([c["dilation"], c["position"]])]),
                self.headline,
                self.pads,
                self.formula,
                self.image,
            ]
        )
        self.add_class("cnnlab-conv-explorer")
        self._refresh()
        for control in self.controls.values():
            control.observe(self._on_change, names="value")

    def _on_change(self, _change: dict[str, Any] | None = None) -> None:
        self._refresh()

    def _refresh(self) -> None:
        c = self.controls
        same = c["mode"].value == "same"
        # In 'same' mode the padding is computed, and may differ per side: the slider
        # (one number for every side) is hidden and the line below says what is used.
        c["padding"].layout.display = "none" if same else None
        padding: int | str = "same" if same else c["padding"].value
        self.state = conv_explorer_state(
            c["n"].value,
            c["kernel"].value,
            c["stride"].value,
            padding,
            c["dilation"].value,
            c["position"].value,
        )
        position = c["position"]
        high = max(self.state.n_positions - 1, 0)
        if position.max != high or position.value != self.state.position:
            with self.hold_trait_notifications():
                position.unobserve(self._on_change, names="value")
                position.max = high
                position.value = self.state.position
                position.observe(self._on_change, names="value")
        # The picture first: when the text changes, the new picture is already on its way.
        self.image.show(draw_conv_explorer(self.state))
        color = "#1a7f37" if self.state.fits else "#c00000"
        self.headline.value = colored(self.state.headline, color)
        self.pads.value = colored(self.state.padding_text, "#444444", bold=False)
        self.formula.value = f"<pre>{html.escape(self.state.formula, quote=False)}</pre>"
