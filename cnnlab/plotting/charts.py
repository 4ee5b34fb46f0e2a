"""Bars and curves: per-layer costs, receptive-field growth, models by year."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cnnlab.plotting._figure import new_figure

__all__ = [
    "draw_taps_1d",
    "plot_model_table",
    "plot_receptive_growth",
    "plot_summary_bars",
]


def _compact(value: float) -> str:
    """1234567 -> '1.2M', 35000 -> '35K', 224 -> '224'."""
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:g}"


def _memory_unit(largest: float) -> tuple[str, float]:
    """The binary unit that writes ``largest`` bytes with 1 to 3 digits before the point."""
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if largest >= factor:
            return unit, factor
    return "bytes", 1


def plot_summary_bars(summary: Any, *, dtype: str | None = None, figsize: Any = None) -> Any:
    """Per-layer bar charts of parameters and activation memory of a model summary.

    The axes are labelled in plain numbers with units: parameters as ``35K`` or
    ``2.1M``, memory in the binary unit (bytes, KiB, MiB or GiB) that suits the
    largest layer, never in matplotlib's ``1e6`` offset notation.

    Parameters
    ----------
    summary : cnnlab.models.ModelSummary
        From :func:`cnnlab.models.summary`; only its top-level rows are drawn.
    dtype : str, optional
        For the memory bars; defaults to the summary's dtype.
    figsize : (width, height), optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.ticker import FuncFormatter

    from cnnlab.params import activation_bytes

    dtype = dtype or summary.dtype
    rows = [row for row in summary.rows if row.depth == 0]
    names = [row.name for row in rows]
    positions = np.arange(len(rows))
    params = [row.params for row in rows]
    sizes = [activation_bytes(row.activations, dtype) for row in rows]
    unit, factor = _memory_unit(max(sizes, default=0))
    memory = [size / factor for size in sizes]
    if figsize is None:
        figsize = (max(8.0, 0.5 * len(rows) + 3.0), 3.6)
    fig, (ax_p, ax_m) = new_figure(1, 2, figsize=figsize)
    total_unit, total_factor = _memory_unit(sum(sizes))
    panels = (
        (ax_p, params, f"parameters: {summary.total_params:,} in total", "parameters",
         "#3d85c6", _compact),
        (
            ax_m,
            memory,
            f"activations per image: {sum(sizes) / total_factor:.3g} {total_unit} in total",
            f"activation memory ({unit}, {dtype})",
            "#e69138",
            lambda value: f"{value:.3g}",
        ),
    )
    for ax, values, title, ylabel, color, label in panels:
        bars = ax.bar(positions, values, color=color)
        ax.bar_label(bars, [label(v) if v else "" for v in values], fontsize=6)
        ax.set_xticks(positions, names, rotation=70, fontsize=7)
        ax.set_title(title, fontsize=9)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: _compact(value)))
        ax.tick_params(axis="y", labelsize=7)
        ax.margins(y=0.12)
    return fig


def plot_receptive_growth(
    curves: Mapping[str, Sequence[int]], *, ax: Any = None, title: str = ""
) -> Any:
    """Receptive-field size after each layer, one line per stack.

    Parameters
    ----------
    curves : dict label -> sizes
        Sizes along one axis after layers 1, 2, ... (e.g. ``[rf.size[0] for rf in
        cnnlab.receptive.receptive_fields(stack)]``).
    ax : matplotlib Axes, optional
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    if ax is None:
        fig, ax = new_figure(figsize=(5.5, 3.4))
    else:
        fig = ax.figure
    for label, sizes in curves.items():
        depth = np.arange(1, len(sizes) + 1)
        ax.plot(depth, sizes, marker="o", label=label)
        ax.annotate(str(sizes[-1]), (depth[-1], sizes[-1]), textcoords="offset points",
                    xytext=(4, 0), fontsize=8)
    ax.set_xlabel("layers")
    ax.set_ylabel("receptive field (pixels)")
    ax.set_title(title or "receptive field growth", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def draw_taps_1d(
    levels: Sequence[tuple[int, Sequence[tuple[int, int]]]],
    *,
    ax: Any = None,
    title: str = "",
) -> Any:
    """Draw :func:`cnnlab.widgets.receptive_state.taps_1d`: one row of nodes per level.

    The input is the bottom row. Nodes that feed the chosen output unit are filled,
    lines show which node feeds which, and positions in the padding are drawn as
    open squares outside the row.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if ax is None:
        widest = max(size for size, _ in levels)
        fig, ax = new_figure(figsize=(max(4.0, 0.35 * widest + 1.0), 0.7 * len(levels) + 0.8))
    else:
        fig = ax.figure
    widest = max(size for size, _ in levels)
    offsets = [(widest - size) / 2 for size, _ in levels]
    for level, (size, edges) in enumerate(levels):
        # taps_1d lists, per level, (position in this level, parent in the level above).
        used = {position for position, _ in edges}
        xs = offsets[level] + np.arange(size)
        colors = ["#3d85c6" if p in used else "white" for p in range(size)]
        ax.scatter(xs, np.full(size, level), s=60, c=colors, edgecolors="#444444", zorder=3)
        padding = sorted(p for p in used if p < 0 or p >= size)
        if padding:
            ax.scatter(offsets[level] + np.array(padding), np.full(len(padding), level), s=50,
                       marker="s", facecolors="none", edgecolors="#999999", zorder=3)
        if level + 1 < len(levels):
            for position, parent in edges:
                ax.plot([offsets[level] + position, offsets[level + 1] + parent],
                        [level, level + 1], color="#3d85c6", linewidth=1, zorder=2)
    ax.set_yticks(range(len(levels)), ["input", *[f"layer {i}" for i in range(1, len(levels))]])
    ax.set_xticks([])
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def plot_model_table(
    names: Sequence[str],
    years: Sequence[int],
    params: Sequence[int],
    macs: Sequence[int],
    *,
    figsize: tuple[float, float] | None = None,
) -> Any:
    """Parameters and MACs of classic networks, one bar each, labelled with their year.

    Bars are horizontal on a log scale, in the order given (oldest first reads as a
    timeline), each annotated with its value.

    Returns
    -------
    matplotlib.figure.Figure
    """
    labels = [f"{name} ({year})" for name, year in zip(names, years, strict=True)]
    positions = np.arange(len(labels))
    if figsize is None:
        figsize = (9.0, 0.35 * len(labels) + 1.2)
    fig, (ax_p, ax_m) = new_figure(1, 2, figsize=figsize, sharey=True)
    for ax, values, title, color in (
        (ax_p, params, "parameters", "#3d85c6"),
        (ax_m, macs, "MACs per image", "#e69138"),
    ):
        bars = ax.barh(positions, values, color=color)
        ax.bar_label(bars, [_compact(v) for v in values], fontsize=7, padding=2)
        ax.set_xscale("log")
        ax.set_title(title, fontsize=10)
        ax.margins(x=0.15)
        ax.grid(axis="x", alpha=0.3)
    ax_p.set_yticks(positions, labels, fontsize=8)
    ax_p.invert_yaxis()
    return fig
