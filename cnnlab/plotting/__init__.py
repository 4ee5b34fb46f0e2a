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

from cnnlab._lazy import lazy_exports

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
    "show_saliency_pairs": "images",
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
