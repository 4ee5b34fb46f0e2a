"""Small pieces shared by the widget wiring modules."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W

from cnnlab.plotting import figure_to_png

__all__ = ["FigureImage", "colored", "slider"]


class FigureImage(W.Image):
    """An image widget that shows a matplotlib figure as PNG.

    An image (rather than an ``Output`` widget capturing ``plt.show()``) keeps the
    drawing in the widget's state, so it renders the same live, in a browser test
    and when a notebook runs headless.
    """

    def __init__(self, fig: Any | None = None, *, css_class: str = "", **kwargs: Any) -> None:
        super().__init__(format="png", **kwargs)
        if css_class:
            self.add_class(css_class)
        if fig is not None:
            self.show(fig)

    def show(self, fig: Any, *, dpi: int = 80) -> None:
        """Replace the picture with ``fig``."""
        self.value = figure_to_png(fig, dpi=dpi)


def slider(description: str, value: int, low: int, high: int, **kwargs: Any) -> W.IntSlider:
    """An integer slider that updates only when released (no redraw storm)."""
    return W.IntSlider(
        value=value,
        min=low,
        max=high,
        description=description,
        continuous_update=False,
        style={"description_width": "initial"},
        **kwargs,
    )


def colored(text: str, color: str = "#c00000", *, bold: bool = True) -> str:
    """``text`` as escaped HTML in ``color`` (red by default: an error to fix)."""
    tag = "b" if bold else "span"
    return f'<{tag} style="color:{color}">{html.escape(text, quote=False)}</{tag}>'
