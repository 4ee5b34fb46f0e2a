"""Drawing functions: they draw what the state says, leak no pyplot figures, and refuse
shapes they cannot draw with a message that says which shape was expected."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab import plotting
from cnnlab.models import summary
from cnnlab.receptive import receptive_fields
from cnnlab.widgets import PoolStepper, conv_explorer_state, receptive_explorer_state
from cnnlab.widgets.receptive_state import taps_1d


@pytest.fixture(autouse=True)
def _no_pyplot_figures():
    """Every drawing is made outside pyplot: nothing may be left open there."""
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    yield
    assert set(plt.get_fignums()) == before


def _filled(ax) -> np.ndarray:
    """The RGB cell colours drawn by draw_cell_grid."""
    return np.asarray(ax.images[0].get_array())


def test_figure_to_png_and_new_figure():
    fig, axes = plotting.new_figure(2, 3, figsize=(3, 2))
    assert axes.shape == (2, 3)
    png = plotting.figure_to_png(fig, dpi=40)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_draw_cell_grid_colours_and_text():
    _fig, ax = plotting.new_figure()
    values = np.array([[1.0, np.nan], [3.0, 4.0]])
    plotting.draw_cell_grid(ax, (2, 2), fill={(0, 1): "#ff0000"}, text=values, title="t")
    rgb = _filled(ax)
    np.testing.assert_allclose(rgb[0, 1], (1, 0, 0))
    np.testing.assert_allclose(rgb[1, 1], (1, 1, 1))
    assert sorted(t.get_text() for t in ax.texts) == ["1", "3", "4"]  # NaN left blank
    assert ax.get_title() == "t"


def test_draw_conv_explorer_marks_window_padding_and_leftover():
    state = conv_explorer_state(7, 3, stride=3, padding=0, position=3)
    fig = plotting.draw_conv_explorer(state)
    ax_in, ax_out = fig.axes
    rgb = _filled(ax_in)
    window = _hex(plotting.COLORS["window"])
    leftover = _hex(plotting.COLORS["uncovered"])
    np.testing.assert_allclose(rgb[3, 3], window)
    np.testing.assert_allclose(rgb[6, 0], leftover)
    np.testing.assert_allclose(rgb[0, 6], leftover)
    assert _filled(ax_out).shape[:2] == (2, 2)
    np.testing.assert_allclose(_filled(ax_out)[1, 1], _hex(plotting.COLORS["current"]))
    assert "doesn't fit" in ax_in.get_xlabel()
    assert ax_out.get_title() == "output 2x2"


def test_draw_conv_explorer_with_padding_and_without_room():
    padded = plotting.draw_conv_explorer(conv_explorer_state(5, 3, padding=1))
    ax_in = padded.axes[0]
    assert _filled(ax_in).shape[:2] == (7, 7)
    np.testing.assert_allclose(_filled(ax_in)[0, 2], _hex(plotting.COLORS["window"]))
    np.testing.assert_allclose(_filled(ax_in)[0, 3], _hex(plotting.COLORS["padding"]))
    np.testing.assert_allclose(_filled(ax_in)[3, 3], (1, 1, 1))
    assert "padded 7x7" in ax_in.get_title()
    none = plotting.draw_conv_explorer(conv_explorer_state(3, 5))
    assert none.axes[1].texts[0].get_text() == "kernel doesn't fit"


def test_draw_pool_step_backward_titles_and_routed_cell():
    state = PoolStepper().state(12)
    fig = plotting.draw_pool_step(state)
    _ax_x, ax_out, ax_dx = fig.axes
    assert fig._suptitle.get_text() == "dout[0, 2] = 1 goes to x[0, 2] (the 8): 3 + 1 = 4"
    np.testing.assert_allclose(_filled(ax_dx)[0, 2], _hex(plotting.COLORS["routed"]))
    assert "4" in [t.get_text() for t in ax_dx.texts]
    assert "8\n(d=1)" in [t.get_text() for t in ax_out.texts]
    start = plotting.draw_pool_step(PoolStepper().state(0))
    assert [t.get_text() for t in start.axes[1].texts] == []  # nothing computed yet


def test_draw_receptive_field_one_panel_per_map():
    state = receptive_explorer_state(["k3s2p1", "k3s2p1"], input_size=5, unit=(1, 1))
    fig = plotting.draw_receptive_field(state)
    assert len(fig.axes) == 3
    assert fig.axes[0].get_title() == "input\n5x5: 16 cells + 9 padding"
    drawn = _filled(fig.axes[0])
    assert drawn.shape[:2] == (7, 7)            # the 5x5 input inside its 1-pixel padding
    region, padding = _hex(plotting.COLORS["region"]), _hex(plotting.COLORS["padding"])
    read = _hex(plotting.COLORS["padding_read"])
    np.testing.assert_allclose(drawn[4, 4], region)   # input (3, 3)
    np.testing.assert_allclose(drawn[1, 1], (1, 1, 1))  # input (0, 0): not read
    np.testing.assert_allclose(drawn[0, 0], padding)
    np.testing.assert_allclose(drawn[6, 6], read)     # padding (5, 5): read by a tap
    assert {t.get_text() for t in fig.axes[0].texts} == {"1", "2", "4"}   # paths


def test_draw_receptive_field_dilated_taps_and_padding():
    state = receptive_explorer_state(["k3s1p2d2"], input_size=4, unit=(0, 0))
    drawn = _filled(plotting.draw_receptive_field(state).axes[0])
    assert drawn.shape[:2] == (8, 8)
    region, read = _hex(plotting.COLORS["region"]), _hex(plotting.COLORS["padding_read"])
    blue = {(r, c) for r in range(8) for c in range(8) if np.allclose(drawn[r, c], region)}
    grey = {(r, c) for r in range(8) for c in range(8) if np.allclose(drawn[r, c], read)}
    assert blue == {(2, 2), (2, 4), (4, 2), (4, 4)}        # taps 0 and 2, shifted by 2
    assert grey == {(0, 0), (0, 2), (0, 4), (2, 0), (4, 0)}  # taps at -2


def test_plot_summary_bars_one_bar_per_layer():
    s = summary("cs109b_example")
    fig = plotting.plot_summary_bars(s)
    ax_p, ax_m = fig.axes
    heights = [bar.get_height() for bar in ax_p.patches]
    assert heights == [row.params for row in s.rows]
    assert "2,103,156" in ax_p.get_title()
    # The largest map, conv1's 8x32x32 float32 values, is 32 KiB: the axis is in KiB.
    assert max(bar.get_height() for bar in ax_m.patches) == pytest.approx(8 * 32 * 32 * 4 / 2**10)
    assert ax_m.get_ylabel() == "activation memory (KiB, float32)"
    assert ax_p.get_ylabel() == "parameters"
    fig.canvas.draw()
    ticks = [t.get_text() for t in ax_p.get_yticklabels()] + [
        t.get_text() for t in ax_m.get_yticklabels()]
    assert any(text.endswith("M") for text in ticks), ticks     # "1.5M", not "1.5" + "1e6"
    assert not any("e" in text for text in ticks), ticks
    assert ax_p.yaxis.get_offset_text().get_text() == ""


def test_plot_receptive_growth_and_taps():
    curves = {"3x3": [r.size[0] for r in receptive_fields(["k3s1"] * 3)]}
    fig = plotting.plot_receptive_growth(curves)
    (line,) = fig.axes[0].lines
    assert list(line.get_ydata()) == [3, 5, 7]
    taps = plotting.draw_taps_1d(taps_1d(["k3s1"] * 2, n=5, unit=0), title="1-D")
    assert taps.axes[0].get_title() == "1-D"
    assert len(taps.axes[0].lines) == 3 + 9  # 3 edges into the output, 3 x 3 below


def test_plot_model_table_one_bar_per_model():
    fig = plotting.plot_model_table(["a", "b"], [1998, 2012], [61706, 6e7], [4e5, 1e9])
    ax_p, ax_m = fig.axes
    assert [bar.get_width() for bar in ax_p.patches] == [61706, 6e7]
    assert [t.get_text() for t in ax_p.get_yticklabels()] == ["a (1998)", "b (2012)"]
    assert [t.get_text() for t in ax_p.texts] == ["61.7K", "60M"]
    assert ax_m.get_xscale() == "log"


def test_images_filters_feature_maps_saliency():
    rng = np.random.default_rng(0)
    fig = plotting.show_images(rng.random((3, 1, 8, 8)), ["a", "b", "c"], ncols=2)
    assert [ax.get_title() for ax in fig.axes if ax.images] == ["a", "b", "c"]
    rgb = plotting.show_images([rng.random((3, 4, 4))])
    assert rgb.axes[0].images[0].get_array().shape == (4, 4, 3)
    w = rng.normal(size=(8, 1, 3, 3))
    filters = plotting.show_filters(w)
    panels = [ax for ax in filters.axes if ax.images]
    assert len(panels) == 8
    # One symmetric scale for all filters, and a colour bar to read it.
    limit = np.abs(w).max()
    assert all(ax.images[0].get_clim() == (-limit, limit) for ax in panels)
    assert any(ax.get_ylabel() == "weight" for ax in filters.axes)
    maps = plotting.show_feature_maps(rng.random((4, 5, 5)), title="maps")
    assert maps._suptitle.get_text() == "maps"
    digit = rng.random((1, 5, 5))
    beside = plotting.show_feature_maps(rng.random((4, 5, 5)), image=digit)
    shown = [ax for ax in beside.axes if ax.images]
    assert [ax.get_title() for ax in shown] == ["input", *(f"channel {c}" for c in range(4))]
    np.testing.assert_allclose(shown[0].images[0].get_array(), digit[0])
    sal = plotting.show_saliency(rng.random((2, 3, 6, 6)), rng.random((2, 6, 6)), ["x", "y"])
    assert len(sal.axes) == 4


def test_saliency_on_one_scale_when_panels_are_compared():
    rng = np.random.default_rng(1)
    images, maps = rng.random((2, 3, 6, 6)), rng.random((2, 6, 6))
    maps[1] *= 0.2
    fig = plotting.show_saliency(images, maps, ["max", "mean"], shared_scale=True)
    saliency_row = [ax for ax in fig.axes if ax.images][2:]   # images first, then maps
    assert {ax.images[0].get_clim() for ax in saliency_row} == {(0.0, maps.max())}
    assert any("one scale" in ax.get_ylabel() for ax in fig.axes)
    separate = plotting.show_saliency(images, maps)
    tops = [ax.images[0].get_clim()[1] for ax in separate.axes if ax.images][2:]
    assert tops[0] != tops[1]


def test_saliency_pairs_side_by_side_in_rows():
    rng = np.random.default_rng(2)
    images = rng.random((6, 1, 8, 8))
    said, truth = rng.random((6, 8, 8)), rng.random((6, 8, 8)) * 3
    titles = [(f"said {k}", f"true {k + 1}") for k in range(6)]
    fig = plotting.show_saliency_pairs(images, said, truth, titles)
    assert len(fig.axes) == 2 * 9                       # 2 rows of 3 (image, said, true)
    first_row = [ax.get_title() for ax in fig.axes[:9]]
    assert first_row[:3] == ["image", "said 0", "true 1"]
    assert first_row[3:6] == ["image", "said 1", "true 2"]
    assert fig.axes[1].title.get_fontsize() >= 10
    # The two maps of one digit share a scale.
    top = max(said[0].max(), truth[0].max())
    assert fig.axes[1].images[0].get_clim() == fig.axes[2].images[0].get_clim() == (0, top)
    with pytest.raises(ValueError, match="one pair of titles per image"):
        plotting.show_saliency_pairs(images, said, truth, titles[:2])


def test_plotting_explains_bad_shapes():
    with pytest.raises(ValueError, match=r"\(H, W\), \(1, H, W\) or \(3, H, W\)"):
        plotting.show_images([np.zeros((2, 4, 4))])
    with pytest.raises(ValueError, match=r"\(F, C, KH, KW\)"):
        plotting.show_filters(np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"\(C, H, W\) for one image"):
        plotting.show_feature_maps(np.zeros((1, 4, 5, 5)))
    with pytest.raises(ValueError, match="one \\(H, W\\) map per image"):
        plotting.show_saliency(np.zeros((2, 1, 4, 4)), np.zeros((2, 5, 5)))


def _hex(color: str) -> tuple[float, float, float]:
    from matplotlib.colors import to_rgb

    return to_rgb(color)
