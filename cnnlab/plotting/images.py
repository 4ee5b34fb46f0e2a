"""Pictures: images, learned filters, feature maps and saliency maps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cnnlab.plotting._figure import new_figure

__all__ = [
    "show_feature_maps",
    "show_filters",
    "show_images",
    "show_saliency",
    "show_saliency_pairs",
]


def _as_picture(image: np.ndarray) -> tuple[np.ndarray, str | None]:
    """(H, W) or (C, H, W) array -> something ``imshow`` takes, and a colormap."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 3 and image.shape[0] == 1:
        image = image[0]
    if image.ndim == 2:
        return image, "gray"
    if image.ndim == 3 and image.shape[0] == 3:
        rgb = np.moveaxis(image, 0, -1)
        low, high = rgb.min(), rgb.max()
        return (rgb - low) / (high - low) if high > low else np.zeros_like(rgb), None
    raise ValueError(
        f"an image must be (H, W), (1, H, W) or (3, H, W), got shape {image.shape}: "
        "pick one image of the batch, e.g. x[0]."
    )


def show_images(
    images: Sequence[np.ndarray] | np.ndarray,
    titles: Sequence[str] | None = None,
    *,
    ncols: int = 8,
    cmap: str | None = None,
    size: float = 1.3,
    colorbar: bool = False,
    shared_scale: bool = False,
) -> Any:
    """Show images side by side (grey for one channel, colour for three).

    Parameters
    ----------
    images : sequence of (H, W), (1, H, W) or (3, H, W) arrays, or an (N, C, H, W) array
    titles : sequence of str, optional
    ncols : int, default 8
    cmap : str, optional
        Overrides the colormap of one-channel images (e.g. ``'RdBu_r'`` for filters).
    size : float
        Inches per panel.
    colorbar : bool
        Add a colour bar to every panel (one-channel images only).
    shared_scale : bool
        One colour scale for all one-channel panels (to compare their values), instead
        of stretching each panel to its own range.

    Returns
    -------
    matplotlib.figure.Figure
    """
    count = len(images)
    ncols = max(1, min(ncols, count))
    nrows = -(-count // ncols)
    fig, axes = new_figure(
        nrows, ncols, figsize=(size * ncols + 0.5 * colorbar * ncols, size * nrows + 0.3),
        squeeze=False,
    )
    pictures = [_as_picture(images[index]) for index in range(count)]
    limits: dict[str, float] = {}
    if shared_scale:
        flat = [p for p, _ in pictures if p.ndim == 2]
        if flat:
            limits = {"vmin": min(p.min() for p in flat), "vmax": max(p.max() for p in flat)}
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= count:
            continue
        picture, default = pictures[index]
        scale = limits if picture.ndim == 2 else {}
        shown = ax.imshow(picture, cmap=cmap or default, interpolation="nearest", **scale)
        if colorbar and picture.ndim == 2:
            fig.colorbar(shown, ax=ax, shrink=0.8)
        if titles is not None:
            ax.set_title(titles[index], fontsize=8)
    return fig


def show_filters(w: np.ndarray, *, ncols: int = 8, size: float = 1.0) -> Any:
    """Show convolution filters ``(F, C, KH, KW)``: one panel per filter.

    One-channel filters use one diverging colour scale centred on zero for every panel
    (red positive, blue negative, white zero), with a colour bar to read the weights;
    three-channel filters are shown as colour patches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 4:
        raise ValueError(f"filters must be (F, C, KH, KW), got shape {w.shape}")
    if w.shape[1] == 1:
        fig, axes = new_figure(
            -(-len(w) // ncols), min(ncols, len(w)), figsize=(size * min(ncols, len(w)),
                                                            size * -(-len(w) // ncols) + 0.3),
            squeeze=False,
        )
        limit = float(np.abs(w).max()) or 1.0
        shown = None
        for index, ax in enumerate(axes.flat):
            ax.axis("off")
            if index < len(w):
                shown = ax.imshow(w[index, 0], cmap="RdBu_r", vmin=-limit, vmax=limit)
                ax.set_title(f"filter {index}", fontsize=8)
        fig.colorbar(shown, ax=list(axes.flat), shrink=0.8, label="weight")
        return fig
    return show_images(
        list(w[:, :3]) if w.shape[1] >= 3 else list(w[:, 0]),
        [f"filter {i}" for i in range(len(w))],
        ncols=ncols,
        size=size,
    )


def show_feature_maps(
    maps: np.ndarray,
    *,
    ncols: int = 8,
    size: float = 1.1,
    title: str = "",
    image: np.ndarray | None = None,
) -> Any:
    """Show the channels of one feature map ``(C, H, W)`` (activation maps).

    Parameters
    ----------
    maps : (C, H, W) array
    ncols : int, default 8
    size : float
        Inches per panel.
    title : str
    image : (H, W) or (C, H, W) array, optional
        The input that produced the maps, shown first (grey), so that each map can be
        read against it.

    Returns
    -------
    matplotlib.figure.Figure
    """
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 3:
        raise ValueError(
            f"feature maps must be (C, H, W) for one image, got shape {maps.shape}: "
            "use out[0] for the first image of a batch."
        )
    titles = [f"channel {c}" for c in range(len(maps))]
    panels = list(maps)
    if image is None:
        fig = show_images(panels, titles, ncols=ncols, cmap="viridis", size=size)
    else:
        picture, _ = _as_picture(image)
        count = len(panels) + 1
        ncols = max(1, min(ncols, count))
        nrows = -(-count // ncols)
        fig, axes = new_figure(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3),
                               squeeze=False)
        for index, ax in enumerate(axes.flat):
            ax.axis("off")
            if index == 0:
                ax.imshow(picture, cmap="gray", interpolation="nearest")
                ax.set_title("input", fontsize=8, fontweight="bold")
            elif index < count:
                ax.imshow(panels[index - 1], cmap="viridis", interpolation="nearest")
                ax.set_title(titles[index - 1], fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def show_saliency(
    images: np.ndarray,
    saliency: np.ndarray,
    titles: Sequence[str] | None = None,
    *,
    size: float = 1.6,
    shared_scale: bool = False,
) -> Any:
    """Images in the top row, their saliency maps (hot = influential) below.

    Parameters
    ----------
    images : (N, C, H, W) array
    saliency : (N, H, W) array
        From :func:`cnnlab.net.saliency_map`.
    titles : sequence of str, optional
        One per image.
    shared_scale : bool, default False
        One colour scale (from 0 to the largest value of all maps), with a colour bar,
        so that panels can be compared; by default each map is stretched to its own
        maximum, which shows *where* but not *how much*.

    Returns
    -------
    matplotlib.figure.Figure
    """
    images = np.asarray(images)
    saliency = np.asarray(saliency)
    _check_saliency(images, saliency)
    count = len(images)
    scale = {"vmin": 0.0, "vmax": float(saliency.max()) or 1.0} if shared_scale else {}
    fig, axes = new_figure(2, count, figsize=(size * count + 0.8 * shared_scale,
                                              2 * size + 0.4), squeeze=False)
    shown = None
    for index in range(count):
        picture, cmap = _as_picture(images[index])
        axes[0, index].imshow(picture, cmap=cmap, interpolation="nearest")
        shown = axes[1, index].imshow(saliency[index], cmap="hot", interpolation="nearest",
                                      **scale)
        axes[0, index].axis("off")
        axes[1, index].axis("off")
        if titles is not None:
            axes[0, index].set_title(titles[index], fontsize=9)
    axes[1, 0].set_title("saliency", fontsize=9, loc="left")
    if shared_scale:
        fig.colorbar(shown, ax=list(axes[1]), shrink=0.9, label="|gradient|, one scale")
    return fig


def _check_saliency(images: np.ndarray, saliency: np.ndarray) -> None:
    if saliency.shape[0] != images.shape[0] or saliency.shape[1:] != images.shape[2:]:
        raise ValueError(
            f"saliency {saliency.shape} does not match images {images.shape}: expected "
            f"one (H, W) map per image, shape {(images.shape[0], *images.shape[2:])}."
        )


def show_saliency_pairs(
    images: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    titles: Sequence[tuple[str, str]],
    *,
    per_row: int = 3,
    size: float = 1.5,
) -> Any:
    """Each image beside two of its saliency maps, e.g. the predicted and the true class.

    The three panels of an image sit next to each other, and its two maps share one
    colour scale, so that "which map is stronger, and where" can be read directly.

    Parameters
    ----------
    images : (N, C, H, W) array
    first, second : (N, H, W) arrays
        Two saliency maps per image (:func:`cnnlab.net.saliency_map`).
    titles : sequence of (str, str)
        Titles of the two maps of each image, e.g. ``("said 3", "true 8")``.
    per_row : int, default 3
        Images per row.
    size : float
        Inches per panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    images = np.asarray(images)
    first, second = np.asarray(first), np.asarray(second)
    _check_saliency(images, first)
    _check_saliency(images, second)
    if len(titles) != len(images):
        raise ValueError(f"need one pair of titles per image: {len(images)} images, "
                         f"{len(titles)} title pairs")
    count = len(images)
    per_row = max(1, min(per_row, count))
    nrows = -(-count // per_row)
    fig, axes = new_figure(nrows, 3 * per_row, figsize=(3 * size * per_row, size * nrows + 0.5),
                           squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for index in range(count):
        row, col = divmod(index, per_row)
        picture, cmap = _as_picture(images[index])
        top = float(max(first[index].max(), second[index].max())) or 1.0
        panels = axes[row, 3 * col: 3 * col + 3]
        panels[0].imshow(picture, cmap=cmap, interpolation="nearest")
        panels[0].set_title("image", fontsize=10)
        for ax, saliency, title in zip(panels[1:], (first, second), titles[index], strict=True):
            ax.imshow(saliency[index], cmap="hot", interpolation="nearest", vmin=0, vmax=top)
            ax.set_title(title, fontsize=10)
    return fig
