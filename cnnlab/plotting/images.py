"""Pictures: images, learned filters, feature maps and saliency maps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cnnlab.plotting._figure import new_figure

__all__ = ["show_feature_maps", "show_filters", "show_images", "show_saliency"]


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

    One-channel filters use a diverging colormap centred on zero (red positive, blue
    negative); three-channel filters are shown as colour patches.

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
        for index, ax in enumerate(axes.flat):
            ax.axis("off")
            if index < len(w):
                ax.imshow(w[index, 0], cmap="RdBu_r", vmin=-limit, vmax=limit)
                ax.set_title(f"filter {index}", fontsize=7)
        return fig
    return show_images(
        list(w[:, :3]) if w.shape[1] >= 3 else list(w[:, 0]),
        [f"filter {i}" for i in range(len(w))],
        ncols=ncols,
        size=size,
    )


def show_feature_maps(
    maps: np.ndarray, *, ncols: int = 8, size: float = 1.1, title: str = ""
) -> Any:
    """Show the channels of one feature map ``(C, H, W)`` (activation maps).

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
    fig = show_images(
        list(maps), [f"channel {c}" for c in range(len(maps))], ncols=ncols, cmap="viridis",
        size=size,
    )
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def show_saliency(
    images: np.ndarray,
    saliency: np.ndarray,
    titles: Sequence[str] | None = None,
    *,
    size: float = 1.6,
) -> Any:
    """Images in the top row, their saliency maps (hot = influential) below.

    Parameters
    ----------
    images : (N, C, H, W) array
    saliency : (N, H, W) array
        From :func:`cnnlab.net.saliency_map`.
    titles : sequence of str, optional
        One per image.

    Returns
    -------
    matplotlib.figure.Figure
    """
    images = np.asarray(images)
    saliency = np.asarray(saliency)
    if saliency.shape[0] != images.shape[0] or saliency.shape[1:] != images.shape[2:]:
        raise ValueError(
            f"saliency {saliency.shape} does not match images {images.shape}: expected "
            f"one (H, W) map per image, shape {(images.shape[0], *images.shape[2:])}."
        )
    count = len(images)
    fig, axes = new_figure(2, count, figsize=(size * count, 2 * size + 0.4), squeeze=False)
    for index in range(count):
        picture, cmap = _as_picture(images[index])
        axes[0, index].imshow(picture, cmap=cmap, interpolation="nearest")
        axes[1, index].imshow(saliency[index], cmap="hot", interpolation="nearest")
        axes[0, index].axis("off")
        axes[1, index].axis("off")
        if titles is not None:
            axes[0, index].set_title(titles[index], fontsize=8)
    axes[1, 0].set_title("saliency", fontsize=8, loc="left")
    return fig
