"""Figures without pyplot's global state, and their PNG bytes for image widgets."""

from __future__ import annotations

import io
from typing import Any

__all__ = ["figure_to_png", "new_figure"]


def new_figure(
    nrows: int = 1,
    ncols: int = 1,
    *,
    figsize: tuple[float, float] = (6.0, 3.0),
    layout: str | None = "constrained",
    **kwargs: Any,
) -> tuple[Any, Any]:
    """Create a ``matplotlib.figure.Figure`` and its axes, outside pyplot.

    A figure made this way is never kept alive by pyplot (no "too many figures"
    warning when a slider redraws it a hundred times) and is shown by Jupyter's inline
    formatter when it is the value of a cell.

    Parameters
    ----------
    nrows, ncols : int
        Grid of axes, as in ``Figure.subplots``.
    figsize : (width, height)
        In inches.
    layout : str or None, default "constrained"
        Matplotlib's layout engine. Widgets that redraw on every click pass None
        and place the axes themselves: constrained layout costs more than the drawing.
    **kwargs
        Passed to ``Figure.subplots`` (``squeeze``, ``gridspec_kw``, ...).

    Returns
    -------
    (Figure, Axes or array of Axes)
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout=layout)
    axes = fig.subplots(nrows, ncols, **kwargs)
    return fig, axes


def figure_to_png(fig: Any, *, dpi: int = 80) -> bytes:
    """Render a figure to PNG bytes (for ``ipywidgets.Image`` or a file).

    Examples
    --------
    >>> fig, ax = new_figure(figsize=(1, 1))
    >>> figure_to_png(fig)[:4]
    b'\\x89PNG'
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
