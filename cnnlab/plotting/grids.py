"""Cell grids: the convolution explorer, the max-pool stepper and receptive fields.

Each function draws a state object computed by :mod:`cnnlab.widgets` and computes
nothing of its own: which cells are padding, inside the window, routed or left over
is already in the state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from cnnlab.plotting._figure import new_figure

__all__ = [
    "COLORS",
    "draw_cell_grid",
    "draw_conv_explorer",
    "draw_pool_step",
    "draw_receptive_field",
]

#: One colour per role, shared by every grid so that a colour means the same thing.
COLORS = {
    "input": "#ffffff",
    "padding": "#e3e3e3",
    "window": "#6fa8dc",
    "uncovered": "#f4a6a6",
    "current": "#ffd966",
    "done": "#d9ead3",
    "routed": "#f6b26b",
    "gradient": "#b6d7a8",
    "region": "#9fc5e8",
    "padding_read": "#8a8a8a",
}

Cell = tuple[int, int]


def _rgb(color: str) -> tuple[float, float, float]:
    from matplotlib.colors import to_rgb

    return to_rgb(color)


def draw_cell_grid(
    ax: Any,
    shape: tuple[int, int],
    *,
    fill: Mapping[Cell, str] | None = None,
    background: str = COLORS["input"],
    text: np.ndarray | Mapping[Cell, str] | None = None,
    title: str = "",
    fontsize: float | None = None,
) -> None:
    """Draw an ``H x W`` grid of square cells, coloured and optionally labelled.

    Parameters
    ----------
    ax : matplotlib Axes
    shape : (H, W)
    fill : dict (row, col) -> colour, optional
        Cells to colour; the others get ``background``.
    background : str
        Colour of every cell not in ``fill``.
    text : (H, W) array or dict (row, col) -> str, optional
        Numbers to write in the cells (NaN entries of an array are left blank).
    title : str
    fontsize : float, optional
        Defaults to a size that shrinks with the grid.
    """
    height, width = shape
    image = np.empty((height, width, 3))
    image[:] = _rgb(background)
    for (row, col), color in (fill or {}).items():
        if 0 <= row < height and 0 <= col < width:
            image[row, col] = _rgb(color)
    ax.imshow(image, interpolation="nearest", extent=(-0.5, width - 0.5, height - 0.5, -0.5))
    # Grid lines as two line collections; no ticks (ticks are slow to lay out).
    ax.vlines(np.arange(-0.5, width, 1.0), -0.5, height - 0.5, color="#888888", linewidth=0.6)
    ax.hlines(np.arange(-0.5, height, 1.0), -0.5, width - 0.5, color="#888888", linewidth=0.6)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    size = fontsize if fontsize is not None else max(5.0, 12.0 - 0.35 * max(height, width))
    if text is not None:
        items: Iterable[tuple[Cell, str]]
        if isinstance(text, Mapping):
            items = text.items()
        else:
            values = np.asarray(text)
            items = (
                ((r, c), f"{values[r, c]:g}")
                for r in range(height)
                for c in range(width)
                if not np.isnan(values[r, c])
            )
        for (row, col), label in items:
            ax.text(col, row, label, ha="center", va="center", fontsize=size)
    if title:
        ax.set_title(title, fontsize=10)


def _outline(ax: Any, top: float, left: float, height: float, width: float, color: str) -> None:
    from matplotlib.patches import Rectangle

    ax.add_patch(
        Rectangle(
            (left - 0.5, top - 0.5), width, height, fill=False, edgecolor=color, linewidth=2.5
        )
    )


def draw_conv_explorer(state: Any, *, figsize: tuple[float, float] = (8.0, 4.0)) -> Any:
    """Draw a :class:`~cnnlab.widgets.ConvExplorerState`: padded input and output grids.

    Input pixels are white, padding grey (with its zeros), the kernel taps of the
    highlighted window blue inside a dark outline of its span, and pixels that no
    window reaches red. The output cell that window produces is yellow.

    Returns
    -------
    matplotlib.figure.Figure
    """
    out_width = state.output[1] if state.output is not None else state.padded[1] / 2
    # Same cell size in both grids, unless the output would be too small to see.
    ratios = (state.padded[1], max(out_width, state.padded[1] / 3))
    fig, (ax_in, ax_out) = new_figure(
        1, 2, figsize=figsize, width_ratios=ratios, layout=None,
        gridspec_kw={"left": 0.02, "right": 0.98, "top": 0.9, "bottom": 0.08, "wspace": 0.15},
    )
    fill: dict[Cell, str] = {}
    text: dict[Cell, str] = {}
    write_zeros = max(state.padded) <= 14
    for row in range(state.padded[0]):
        for col in range(state.padded[1]):
            if state.is_padding((row, col)):
                fill[(row, col)] = COLORS["padding"]
                if write_zeros:
                    text[(row, col)] = "0"
    for cell in state.uncovered:
        fill[cell] = COLORS["uncovered"]
    for cell in state.window:
        fill[cell] = COLORS["window"]
    pad_note = (
        f" (padded {state.padded[0]}x{state.padded[1]})"
        if state.padded != (state.n, state.n)
        else ""
    )
    draw_cell_grid(
        ax_in,
        state.padded,
        fill=fill,
        text=text,
        title=f"input {state.n}x{state.n}{pad_note}, kernel {state.kernel}x{state.kernel}",
    )
    if state.output is None:
        ax_out.axis("off")
        ax_out.text(0.5, 0.5, "kernel doesn't fit", ha="center", va="center", color="#c00000")
        return fig
    row0, col0 = state.window[0]
    _outline(ax_in, row0, col0, state.span, state.span, "#1c4587")
    draw_cell_grid(
        ax_out,
        state.output,
        fill={state.out_cell: COLORS["current"]},
        title=f"output {state.output[0]}x{state.output[1]}",
    )
    if state.uncovered:
        ax_in.set_xlabel(state.uncovered_text, color="#c00000")
    return fig


def draw_pool_step(
    state: Any, *, figsize: tuple[float, float] = (9.0, 3.4), title: bool = True
) -> Any:
    """Draw one step of :class:`~cnnlab.widgets.PoolStepState`.

    Three grids: the input with the current window and its maximum, the pooled
    output filled so far, and the input gradient accumulated so far, with the cell
    that just received a gradient marked and its update written in the title
    (``title=False`` leaves the title out, for a widget that prints it next to it).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, (ax_x, ax_out, ax_dx) = new_figure(
        1, 3, figsize=figsize, width_ratios=(5, 3, 5), layout=None,
        gridspec_kw={"left": 0.02, "right": 0.98, "top": 0.82, "bottom": 0.03, "wspace": 0.12},
    )
    fill: dict[Cell, str] = {}
    if state.window is not None:
        (r0, r1), (c0, c1) = state.window
        for row in range(r0, r1):
            for col in range(c0, c1):
                fill[(row, col)] = COLORS["window"]
    if state.argmax is not None:
        fill[state.argmax] = COLORS["current"]
    draw_cell_grid(ax_x, state.x.shape, fill=fill, text=state.x, title="input x")
    if state.window is not None:
        (r0, r1), (c0, c1) = state.window
        _outline(ax_x, r0, c0, r1 - r0, c1 - c0, "#1c4587")

    out_fill = dict.fromkeys(state.out_filled, COLORS["done"])
    if state.out_cell is not None:
        out_fill[state.out_cell] = COLORS["current"]
    out_text: np.ndarray | dict[Cell, str] = state.out
    if state.phase == "backward":
        # Backward: show the upstream gradient of each output cell next to its value.
        out_text = {
            (r, c): f"{state.out[r, c]:g}\n(d={state.dout[r, c]:g})"
            for r in range(state.out.shape[0])
            for c in range(state.out.shape[1])
        }
    draw_cell_grid(
        ax_out, state.out.shape, fill=out_fill, text=out_text, title="output (dout)"
    )

    dx_fill = {
        (r, c): COLORS["gradient"]
        for r in range(state.dx.shape[0])
        for c in range(state.dx.shape[1])
        if state.dx[r, c] != 0
    }
    if state.routed_to is not None:
        dx_fill[state.routed_to] = COLORS["routed"]
    dx_text = {
        (r, c): f"{state.dx[r, c]:g}"
        for r in range(state.dx.shape[0])
        for c in range(state.dx.shape[1])
        if state.dx[r, c] != 0 or state.phase == "backward"
    }
    draw_cell_grid(ax_dx, state.dx.shape, fill=dx_fill, text=dx_text, title="dx")
    if title:
        fig.suptitle(state.message, fontsize=10)
    return fig


def draw_receptive_field(state: Any, *, figsize: tuple[float, float] | None = None) -> Any:
    """Draw a :class:`~cnnlab.widgets.ReceptiveState`: one grid per feature map.

    The input is on the left and the chosen output unit (yellow) on the right. Each map
    is drawn with the zero padding the next layer adds around it (grey). Blue cells are
    the cells the unit's taps really read, back-tracked through every layer (a dilated
    kernel's taps, not the block between them); dark grey cells are padding positions
    a tap reads. On small maps each blue cell shows its number of paths to the unit.

    Returns
    -------
    matplotlib.figure.Figure
    """
    count = len(state.maps)
    frames = []
    for fmap in state.maps:
        (top, bottom), (left, right) = fmap.pads
        rows = [r for r, _ in fmap.padding_cells] or [0]
        cols = [c for _, c in fmap.padding_cells] or [0]
        top, left = max(top, -min(rows)), max(left, -min(cols))
        bottom = max(bottom, max(rows) - fmap.size[0] + 1)
        right = max(right, max(cols) - fmap.size[1] + 1)
        frames.append((top, left, fmap.size[0] + top + bottom, fmap.size[1] + left + right))
    if figsize is None:
        figsize = (max(min(2.6 * count, 13.0), 8.0), 3.6)
    ratios = [frame[3] for frame in frames]
    fig, axes = new_figure(
        1, count, figsize=figsize, squeeze=False, width_ratios=ratios, layout=None,
        gridspec_kw={"left": 0.02, "right": 0.98, "top": 0.8, "bottom": 0.1, "wspace": 0.15},
    )
    for ax, fmap, (top, left, height, width) in zip(axes[0], state.maps, frames, strict=True):
        fill = {
            (r, c): COLORS["padding"]
            for r in range(height)
            for c in range(width)
            if not (top <= r < top + fmap.size[0] and left <= c < left + fmap.size[1])
        }
        for r, c in fmap.padding_cells:
            fill[(r + top, c + left)] = COLORS["padding_read"]
        color = COLORS["current"] if fmap.is_output else COLORS["region"]
        for r, c in fmap.cells:
            fill[(r + top, c + left)] = color
        text = None
        several = max(fmap.paths.values(), default=1) > 1
        if not fmap.is_output and max(height, width) <= 16 and several:
            text = {(r + top, c + left): str(n) for (r, c), n in fmap.paths.items()}
        title = f"{fmap.name}\n{fmap.size[0]}x{fmap.size[1]}"
        if not fmap.is_output:
            title += f": {len(fmap.cells)} cells"
            if fmap.outside:
                title += f" + {fmap.outside} padding"
        draw_cell_grid(ax, (height, width), fill=fill, text=text, title=title, fontsize=None)
        if top or left or height > top + fmap.size[0] or width > left + fmap.size[1]:
            _outline(ax, top, left, fmap.size[0], fmap.size[1], "#444444")
    _legend(fig, [("region", "influences the unit (number: paths to it)"),
                  ("padding_read", "padding a tap reads"), ("padding", "padding"),
                  ("current", "the unit")])
    return fig


def _legend(fig: Any, entries: list[tuple[str, str]]) -> None:
    """A one-line colour legend along the bottom of ``fig``."""
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=COLORS[role], edgecolor="#888888", label=text)
               for role, text in entries]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8,
               frameon=False, handlelength=1.2, columnspacing=1.2)
