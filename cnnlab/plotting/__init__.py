"""Drawing for the notebooks and widgets (matplotlib, imported lazily).

Every function takes numbers the library or a widget state already computed and only
draws them; none of them works out a size, a gradient or a parameter count itself.
Figures are made without pyplot (:func:`new_figure`), so redrawing a widget a hundred
times leaks nothing, and a returned figure is shown when it is a cell's value.

Modules
-------
grids   cell grids: the convolution explorer, the max-pool stepper, receptive fields
charts  bars and curves: summary bars, receptive-field growth, models by year
images  pictures: images, filters, feature maps, saliency maps
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "figure_to_png": "_figure",
    "new_figure": "_figure",
    "COLORS": "grids",
    "draw_cell_grid": "grids",
    "draw_conv_explorer": "grids",
    "draw_pool_step": "grids",
    "draw_receptive_field": "grids",
    "plot_receptive_growth": "charts",
    "draw_taps_1d": "charts",
    "plot_summary_bars": "charts",
    "plot_model_table": "charts",
    "show_feature_maps": "images",
    "show_filters": "images",
    "show_images": "images",
    "show_saliency": "images",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
