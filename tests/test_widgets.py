"""Widget logic, without a browser: what each slider, button or field change produces.

The state modules (``conv_state``, ``pool_state``, ``builder_state``,
``receptive_state``, ``answers``) are tested with real values from the lecture notes;
the ipywidgets wiring is tested by changing controls the way a student would and
checking the state and the text the widget shows.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab import examples, shapes
from cnnlab.widgets import (
    ConvExplorer,
    NetworkBuilder,
    NetworkBuilderWidget,
    PoolStepper,
    PoolStepperWidget,
    ReceptiveExplorer,
    check_answer,
    conv_explorer_state,
    receptive_explorer_state,
)
from cnnlab.widgets.receptive_state import taps_1d

# --- convolution explorer ---------------------------------------------------------------


def test_cs231n_stride_3_does_not_fit_and_leaves_one_pixel():
    state = conv_explorer_state(7, 3, stride=3)
    assert state.output == (2, 2)
    assert not state.fits
    assert state.leftover == (1, 1)
    assert state.headline == "Output 2 x 2 - stride 3 doesn't fit: 1 pixel left over per axis"
    assert state.formula == shapes.explain_conv_output_size(7, 3, stride=3)
    # The last window ends at row/column 3 + 3 = 6: row 6 and column 6 are never seen.
    assert set(state.uncovered) == {(6, c) for c in range(7)} | {(r, 6) for r in range(7)}


@pytest.mark.parametrize(("stride", "output"), [(1, 5), (2, 3)])
def test_cs231n_strides_that_fit(stride, output):
    state = conv_explorer_state(7, 3, stride=stride)
    assert state.output == (output, output)
    assert state.fits
    assert state.leftover == (0, 0)
    assert state.uncovered == ()
    assert state.headline.endswith("fits exactly")


def test_32_input_5_kernel_gives_28():
    state = conv_explorer_state(32, 5)
    assert state.output == (examples.CS231N_32_K5_OUTPUT,) * 2
    assert state.n_positions == 28 * 28


def test_same_padding_stride_2_pads_one_then_two():
    state = conv_explorer_state(32, 5, stride=2, padding="same")
    assert state.pads == ((1, 2), (1, 2))
    assert state.padded == (35, 35)
    assert state.output == (16, 16)
    assert state.fits
    assert state.is_padding((0, 5))
    assert state.is_padding((34, 5))
    assert not state.is_padding((1, 1))
    assert not state.is_padding((32, 32))


def test_window_position_and_taps():
    state = conv_explorer_state(5, 3, stride=2, padding=1, position=4)
    assert state.out_cell == (1, 1)
    assert state.window == tuple((r, c) for r in (2, 3, 4) for c in (2, 3, 4))
    dilated = conv_explorer_state(7, 3, dilation=2, position=2)
    assert dilated.span == 5
    assert dilated.output == (3, 3)
    assert dilated.window == tuple((r, c) for r in (0, 2, 4) for c in (2, 4, 6))


def test_position_is_clipped_to_the_output():
    state = conv_explorer_state(7, 3, position=100)
    assert state.position == 24
    assert state.out_cell == (4, 4)
    assert state.window[0] == (4, 4)
    assert conv_explorer_state(7, 3, position=-3).position == 0


def test_kernel_larger_than_padded_input_is_a_state_not_an_error():
    state = conv_explorer_state(3, 5)
    assert state.output is None
    assert state.n_positions == 0
    assert not state.fits
    assert state.window == ()
    assert state.headline == "Kernel doesn't fit: it spans 5 pixels but the padded input has 3"
    assert "does not fit" in state.formula
    assert conv_explorer_state(3, 5, padding=1).output == (1, 1)


def test_conv_state_refuses_what_shapes_refuses():
    with pytest.raises(ValueError, match="stride"):
        conv_explorer_state(7, 3, stride=0)
    with pytest.raises(ValueError, match="padding"):
        conv_explorer_state(7, 3, padding=-1)


def test_conv_explorer_wiring_follows_the_sliders():
    explorer = ConvExplorer(7, 3)
    first_image = explorer.image.value
    assert explorer.state.output == (5, 5)
    assert explorer.controls["position"].max == 24
    explorer.controls["stride"].value = 3
    assert explorer.state.output == (2, 2)
    assert "doesn't fit" in explorer.headline.value
    assert "1 pixel is left over" in explorer.formula.value
    assert explorer.controls["position"].max == 3
    assert explorer.image.value != first_image
    explorer.controls["position"].value = 3
    assert explorer.state.out_cell == (1, 1)
    explorer.controls["stride"].value = 1  # position 3 is still valid: kept
    assert explorer.state.out_cell == (0, 3)


def test_conv_explorer_same_padding_hides_the_slider_and_shows_each_side():
    explorer = ConvExplorer(8, 4, stride=1)
    assert "0 on every side" in explorer.pads.value
    explorer.controls["mode"].value = "same"
    assert explorer.controls["padding"].layout.display == "none"
    assert explorer.state.pads == ((1, 2), (1, 2))
    assert "1 top, 2 bottom, 1 left, 2 right" in explorer.pads.value
    assert explorer.state.output == (8, 8)
    explorer.controls["mode"].value = "number"
    assert explorer.controls["padding"].layout.display is None
    assert explorer.state.output == (5, 5)


def test_conv_explorer_leftover_that_is_padding_says_so():
    # 6 + 2*1 padded = 8 rows, a 3-row window at stride 2: row 7 is never reached,
    # and row 7 is the bottom padding: every input pixel is used.
    state = conv_explorer_state(6, 3, stride=2, padding=1)
    assert state.leftover == (1, 1)
    assert state.leftover_input == (0, 0)
    assert state.unread_input == (0, 0)
    assert "is padding: every input pixel is used" in state.headline
    # With dilation 2 the leftover row 7 is still padding, but the taps (rows 0, 2, 4
    # and 2, 4, 6) step over input rows 1, 3 and 5 of the padded grid.
    dilated = conv_explorer_state(6, 3, stride=2, padding=1, dilation=2)
    assert dilated.leftover_input == (0, 0)
    assert dilated.unread_input == (3, 3)
    assert "every input pixel is used" not in dilated.headline
    # Without padding the leftover pixel is an input pixel.
    plain = conv_explorer_state(7, 3, stride=3)
    assert plain.leftover_input == (1, 1)
    # 9 + 2*1 = 11 rows, kernel 3 at stride 3: rows 9 and 10 are left over, row 9 is input.
    mixed = conv_explorer_state(9, 3, stride=3, padding=1)
    assert mixed.leftover == (2, 2)
    assert mixed.leftover_input == (1, 1)
    assert "2 pixels left over per axis, 1 of them input" in mixed.headline


def test_conv_explorer_marks_pixels_the_taps_step_over():
    # The notebook's "input 7, kernel 3, stride 3; then padding 1; then dilation 2".
    assert conv_explorer_state(7, 3, stride=3).headline.endswith("1 pixel left over per axis")
    assert conv_explorer_state(7, 3, stride=3, padding=1).headline == (
        "Output 3 x 3 - fits exactly")
    # Then dilation 2:
    # padded rows 0..8, windows at rows 0 and 3 read 0, 2, 4 and 3, 5, 7. Row 8 is the
    # leftover padding; rows 1 and 6 (input pixels 0 and 5) lie between taps.
    state = conv_explorer_state(7, 3, stride=3, padding=1, dilation=2)
    assert state.leftover == (1, 1)
    assert state.leftover_input == (0, 0)
    assert state.unread_input == (2, 2)
    assert {r for r, _ in state.uncovered} == set(range(9))
    assert {r for r, c in state.uncovered if c in (0, 2)} == {1, 6, 8}
    assert "every input pixel is used" not in state.headline
    assert "is padding; 2 input pixels per axis fall between the taps" in state.headline
    # A fitting stride can skip pixels too: dilation 2 at stride 2 reads even rows only.
    even = conv_explorer_state(7, 3, stride=2, dilation=2)
    assert even.fits
    assert even.unread_input == (3, 3)
    assert {r for r, c in even.uncovered if c == 0} == {1, 3, 5}
    assert even.headline == (
        "Output 2 x 2 - fits exactly; 3 input pixels per axis fall between the taps of "
        "every window and are never read"
    )
    assert state.uncovered_text == (
        "red: pixels no window reads (left over: the stride doesn't fit; between the taps)")
    assert even.uncovered_text == "red: pixels no window reads (between the taps)"
    assert conv_explorer_state(7, 3, stride=3).uncovered_text == (
        "red: pixels no window reads (left over: the stride doesn't fit)")
    assert conv_explorer_state(7, 3).uncovered_text == ""
    # A 1x1 kernel at stride 2 steps over every other pixel.
    assert conv_explorer_state(8, 1, stride=2).unread_input == (4, 4)


@pytest.mark.parametrize("padding", [0, 1, 2, "same"])
def test_conv_explorer_uncovered_cells_are_those_no_window_reads(padding):
    """Against every window's taps, for all small settings."""
    for n in range(3, 10):
        for kernel in range(1, 5):
            for stride in range(1, 4):
                for dilation in range(1, 4):
                    state = conv_explorer_state(n, kernel, stride, padding, dilation)
                    if state.output is None:
                        continue
                    read = {
                        cell
                        for position in range(state.n_positions)
                        for cell in conv_explorer_state(
                            n, kernel, stride, padding, dilation, position
                        ).window
                    }
                    grid = {(r, c) for r in range(state.padded[0])
                            for c in range(state.padded[1])}
                    assert set(state.uncovered) == grid - read
                    unread = [r for r in range(state.padded[0])
                              if not state.is_padding((r, r)) and (r, r) not in read]
                    assert state.unread_input == (len(unread), len(unread))
                    if "every input pixel is used" in state.headline:
                        assert not unread


@pytest.mark.parametrize("padding", [0, 1, 3, "same"])
def test_conv_explorer_unread_pixels_match_the_gradient_of_a_real_convolution(padding):
    """An input pixel is unread exactly when d(sum of outputs)/d(pixel) is 0 for an
    all-ones kernel, computed by cnnlab.naive's loops (padding given per side)."""
    from cnnlab import naive

    for n in range(3, 10):
        for kernel in range(1, 5):
            for stride in range(1, 5):
                for dilation in range(1, 4):
                    state = conv_explorer_state(n, kernel, stride, padding, dilation)
                    if state.output is None:
                        continue
                    x = np.zeros((1, 1, n, n))
                    out, cache = naive.conv2d_forward(
                        x, np.ones((1, 1, kernel, kernel)), stride=stride,
                        padding=state.pads, dilation=dilation)
                    dx = naive.conv2d_backward(np.ones_like(out), cache)[0][0, 0]
                    unread_rows = int((dx.sum(axis=1) == 0).sum())
                    assert out.shape[2:] == state.output
                    assert state.unread_input == (unread_rows, unread_rows)
                    used = "every input pixel is used" in state.headline
                    assert used == (unread_rows == 0 and not state.fits)


def test_conv_explorer_kernel_too_large_keeps_working():
    explorer = ConvExplorer(4, 3)
    explorer.controls["kernel"].value = 7
    assert explorer.state.output is None
    assert "Kernel doesn't fit" in explorer.headline.value
    assert explorer.controls["position"].max == 0
    explorer.controls["padding"].value = 2
    assert explorer.state.output == (2, 2)


# --- max-pool stepper -------------------------------------------------------------------


def test_pool_stepper_start():
    stepper = PoolStepper()
    assert (stepper.n_windows, stepper.n_steps) == (9, 18)
    state = stepper.state(0)
    assert state.phase == "start"
    assert np.isnan(state.out).all()
    assert not state.dx.any()
    assert state.window is None
    assert state.routed_to is None


def test_pool_stepper_forward_steps_fill_the_output():
    stepper = PoolStepper()
    first = stepper.state(1)
    assert first.phase == "forward"
    assert first.window == ((0, 3), (0, 3))
    assert first.argmax == (1, 0)
    assert first.out[0, 0] == 9
    assert np.isnan(first.out.flat[1:]).all()
    second = stepper.state(2)
    assert second.window == ((0, 3), (1, 4))
    assert second.argmax == (0, 2)
    assert second.out_filled == ((0, 0),)
    assert second.message == "window (0, 1): max is 8 at x[0, 2] -> out[0, 1] = 8"
    np.testing.assert_array_equal(stepper.state(9).out, examples.MAXPOOL_OUTPUT)


def test_pool_stepper_backward_routes_and_accumulates_to_4_at_the_top_8():
    stepper = PoolStepper()
    plus1, plus3, plus4 = stepper.state(10), stepper.state(11), stepper.state(12)
    assert plus1.routed_to == (1, 0)
    assert (plus1.before, plus1.added, plus1.after) == (0, 1, 1)
    assert plus3.routed_to == (0, 2)
    assert (plus3.before, plus3.added, plus3.after) == (0, 3, 3)
    assert plus4.routed_to == (0, 2)
    assert (plus4.before, plus4.added, plus4.after) == (3, 1, 4)
    assert plus4.dx[0, 2] == 4
    assert plus4.dx.sum() == 1 + 3 + 1
    final = stepper.state(18)
    np.testing.assert_array_equal(final.dx, examples.MAXPOOL_DX)
    np.testing.assert_array_equal(stepper.dx, examples.MAXPOOL_DX)
    assert stepper.state(99).step == 18


def test_pool_stepper_every_backward_step_adds_its_upstream_gradient():
    stepper = PoolStepper()
    total = 0.0
    for step in range(stepper.n_windows + 1, stepper.n_steps + 1):
        state = stepper.state(step)
        i, j = state.out_cell
        assert state.added == examples.MAXPOOL_DOUT[i, j]
        assert state.after == state.before + state.added
        assert state.dx[state.routed_to] == state.after
        total += state.added
    assert total == examples.MAXPOOL_DOUT.sum() == 21


def test_pool_stepper_non_overlapping_windows_never_accumulate():
    x = np.random.default_rng(0).normal(size=(4, 4))
    stepper = PoolStepper(x, np.arange(1.0, 5.0).reshape(2, 2), kernel=2, stride=2)
    befores = [stepper.state(s).before for s in range(5, 9)]
    assert befores == [0, 0, 0, 0]


def test_pool_stepper_ties_go_to_the_first_maximum():
    stepper = PoolStepper(np.array([[1.0, 5.0], [5.0, 2.0]]), kernel=2, stride=1)
    assert stepper.winner(0) == (0, 1)
    np.testing.assert_array_equal(stepper.dx, [[0, 1], [0, 0]])


def test_pool_stepper_explains_bad_shapes():
    with pytest.raises(ValueError, match=r"one activation map of shape \(H, W\)"):
        PoolStepper(np.zeros((1, 1, 5, 5)))
    with pytest.raises(ValueError, match="one upstream gradient per pooling window"):
        PoolStepper(examples.MAXPOOL_INPUT, np.ones((2, 2)))


def test_pool_stepper_widget_buttons():
    widget = PoolStepperWidget()
    widget.back.click()
    assert widget.step.value == 0
    for _ in range(12):
        widget.next.click()
    assert widget.state.routed_to == (0, 2)
    assert widget.state.after == 4
    assert "3 + 1 = 4" in widget.message.value
    widget.step.value = 18
    widget.next.click()
    assert widget.step.value == 18
    widget.reset.click()
    assert widget.state.phase == "start"


# --- network builder ----------------------------------------------------------------------


def _cs109b_builder() -> NetworkBuilder:
    builder = NetworkBuilder((3, 32, 32))
    builder.add("Conv2d", out_channels=8, kernel=3, padding="same")
    builder.add("Conv2d", out_channels=16, kernel=5, stride=2, padding="same")
    builder.add("Flatten")
    builder.add("Dense", out_features=512)
    builder.add("Dense", out_features=4)
    return builder


def test_builder_reproduces_the_cs109b_example():
    status = _cs109b_builder().status()
    assert status.error is None
    assert status.summary.total_params == examples.CS109B_TOTAL_PARAMS
    params = [row.params for row in status.summary.rows if row.params]
    assert params == [224, 3216, 2_097_664, 2052]
    assert status.summary.output_shape == (4,)


def test_builder_reports_the_failing_layer_and_keeps_the_rest():
    builder = _cs109b_builder()
    assert builder.remove(2).kind == "Flatten"
    status = builder.status()
    assert status.failing == 2
    assert "Flatten" in status.error
    assert status.summary.total_params == 224 + 3216
    builder.add("Flatten", index=2)
    assert builder.status().error is None


def test_builder_kernel_larger_than_the_map():
    builder = NetworkBuilder((1, 8, 8))
    builder.add("MaxPool2d", kernel=2, stride=2)
    builder.add("Conv2d", out_channels=4, kernel=7)
    status = builder.status()
    assert status.failing == 1
    assert "conv1" in status.error
    assert status.summary.output_shape == (1, 4, 4)


def test_builder_refuses_unknown_kinds_and_bad_options_at_once():
    builder = NetworkBuilder()
    with pytest.raises(ValueError, match="unknown layer kind 'Conv3d'"):
        builder.add("Conv3d")
    with pytest.raises(ValueError, match="out_channels"):
        builder.add("Conv2d", out_channels=0, kernel=3)
    assert builder.layers == []
    with pytest.raises(IndexError):
        builder.remove()


def test_builder_widget_add_remove_and_shape():
    widget = NetworkBuilderWidget((3, 32, 32))
    assert widget.status.summary.total_params == 0
    widget.kind.value = "Conv2d"
    widget.options["out_channels"].value = 16
    widget.options["kernel"].value = 3
    widget.add_button.click()
    assert widget.status.summary.total_params == examples.SIXTEEN_FILTERS_PARAMS
    assert widget.layer_list.options[0].startswith("1. Conv2d(out_channels=16, kernel=3")
    bars = widget.image.value
    widget.shape.value = "1x32x32"
    assert widget.status.summary.total_params == 16 * 9 + 16
    assert widget.image.value != bars
    widget.kind.value = "Dense"
    widget.add_button.click()
    assert "Flatten" in widget.message.value
    widget.remove_last.click()
    assert widget.status.error is None
    widget.layer_list.index = 0
    widget.remove_selected.click()
    assert widget.builder.layers == []


def test_builder_widget_inserts_where_asked_and_lists_every_layer():
    widget = NetworkBuilderWidget((3, 32, 32), [("Conv2d", {"out_channels": 8, "kernel": 3})]
                                  + [("ReLU", {})] * 8)
    assert len(widget.layer_list.options) == 9
    assert widget.layer_list.rows == 9                    # the ninth layer is in view
    assert widget.where.value is None                     # default: append
    widget.kind.value = "MaxPool2d"
    widget.where.value = 1                                # before "2. ReLU()"
    widget.add_button.click()
    assert [c.kind for c in widget.builder.layers[:3]] == ["Conv2d", "MaxPool2d", "ReLU"]
    assert widget.layer_list.index == 1                   # the new layer is selected
    assert widget.status.summary.rows[2].output_shape == (8, 15, 15)
    assert widget.layer_list.rows == 10
    labels = [label for label, _ in widget.where.options]
    assert labels[0] == "at the end"
    assert labels[2].startswith("before 2. MaxPool2d")
    # The menu still points before the same ReLU, so a second layer goes after the first.
    assert widget.where.value == 2
    assert widget.where.label == "before 3. ReLU()"
    widget.kind.value = "BatchNorm2d"
    widget.add_button.click()
    assert [c.kind for c in widget.builder.layers[:4]] == [
        "Conv2d", "MaxPool2d", "BatchNorm2d", "ReLU"]


def test_builder_widget_shows_only_the_options_of_the_kind():
    widget = NetworkBuilderWidget()
    widget.kind.value = "MaxPool2d"
    shown = {name for name, c in widget.options.items() if c.layout.display != "none"}
    assert shown == {"kernel", "stride"}
    widget.kind.value = "ReLU"
    assert all(c.layout.display == "none" for c in widget.options.values())
    widget.shape.value = "3x32"
    assert "cannot read" in widget.message.value or "(C, H, W)" in widget.message.value


# --- receptive fields ----------------------------------------------------------------------


def test_receptive_state_of_the_lecture_example():
    state = receptive_explorer_state(["k3s2p1", "k3s2p1"], input_size=5, unit=(1, 1))
    assert [m.size for m in state.maps] == [(5, 5), (3, 3), (2, 2)]
    assert state.field.size == (7, 7)
    assert state.field.jump == (4, 4)
    assert state.field.padding == (3, 3)
    inputs = state.maps[0]
    assert inputs.region == ((1, 8), (1, 8))
    assert set(inputs.cells) == {(r, c) for r in range(1, 5) for c in range(1, 5)}
    # Of the 7x7 field only row and column 5 (the bottom/right padding) are read: rows
    # 6 and 7 would be read through layer 1's padding, which is zeros and reads nothing.
    assert set(inputs.padding_cells) == {(r, c) for r in range(1, 6) for c in range(1, 6)
                                         if 5 in (r, c)}
    assert inputs.pads == ((1, 1), (1, 1))
    assert inputs.paths[(3, 3)] == 4
    assert inputs.paths[(1, 1)] == 1
    middle = state.maps[1]
    assert middle.region == ((1, 4), (1, 4))
    assert set(middle.cells) == {(1, 1), (1, 2), (2, 1), (2, 2)}
    assert middle.outside == 9 - 4
    assert state.maps[-1].is_output
    assert state.maps[-1].cells == ((1, 1),)
    assert "receptive field 7x7" in state.headline
    assert "16 input pixels influence it, and its taps read 9 padding positions" in state.headline


def test_receptive_state_draws_dilated_taps_as_taps():
    # One k3s1p2d2 layer on 4x4: unit (0, 0) reads rows and columns -2, 0, 2.
    state = receptive_explorer_state(["k3s1p2d2"], input_size=4, unit=(0, 0))
    inputs = state.maps[0]
    assert inputs.cells == ((0, 0), (0, 2), (2, 0), (2, 2))
    assert inputs.outside == 9 - 4
    assert "4 input pixels influence it (of the 9 inside its field" in state.headline
    assert state.headline.endswith("and its taps read 5 padding positions")


def test_receptive_explorer_shows_both_axes_of_a_rectangular_stack():
    # k3x1 at stride 1x2, then k1x3 at stride 2x1 with width padding 1, on 9x9.
    layers = ["k3x1s1x2", "k1x3s2x1p0x1"]
    state = receptive_explorer_state(layers, input_size=9, unit=(1, 1))
    assert (state.field.size, state.field.jump, state.field.padding) == ((3, 5), (2, 2), (0, 2))
    assert "receptive field 3x5 (jump 2, effective padding 0x2)" in state.headline
    widget = ReceptiveExplorer(layers, input_size=9)
    assert "<td>k1x3s2x1p0x1</td><td>3x5</td><td>2</td><td>0x2</td><td>4x5</td>" in (
        widget.table.value
    )


def test_receptive_state_ceil_mode_pool_reads_no_padding_past_the_input():
    from cnnlab.receptive import Window

    # 3x3 max pool, stride 2, ceil_mode on 6x6: the last window covers rows 4 and 5 and
    # would start row 6, which does not exist (no padding): PyTorch ignores it.
    pool = Window(3, 2, 0, pool=True, ceil_mode=True)
    state = receptive_explorer_state([pool], input_size=6, unit=(2, 2))
    assert state.maps[-1].size == (3, 3)
    assert sorted(state.maps[0].cells) == [(4, 4), (4, 5), (5, 4), (5, 5)]
    assert state.maps[0].padding_cells == ()
    assert state.headline.endswith("4 input pixels influence it")


def test_receptive_headline_names_gaps_without_dilation():
    # k1s2 then k3s1: a 5-wide field whose unit reads rows 0, 2, 4 only; no dilation.
    state = receptive_explorer_state(["k1s2", "k3s1"], input_size=9)
    assert state.field.size == (5, 5)
    assert sorted(state.maps[0].cells) == [(r, c) for r in (0, 2, 4) for c in (0, 2, 4)]
    assert "9 input pixels influence it (of the 25 inside its field: the others lie " \
        "between taps)" in state.headline
    assert "dilation" not in state.headline


def test_dilations_1_2_4_reach_every_input_by_one_to_three_paths():
    state = receptive_explorer_state(["k3s1d1", "k3s1d2", "k3s1d4"], input_size=15)
    row_paths = [state.maps[0].paths[(r, 0)] for r in range(15)]
    # Position x is reached once for each tap choice t1 + 2*t2 + 4*t3 = x (t in 0, 1, 2):
    # 27 paths in all, 1 to 3 per input, so dilation covers every input but not evenly.
    assert row_paths == [1, 1, 2, 1, 3, 2, 3, 1, 3, 2, 3, 1, 2, 1, 1]
    assert sum(row_paths) == 27


def _ones_forward(x: np.ndarray, k: int, s: int, d: int) -> np.ndarray:
    """Slow, independent correlation of a batch of padded maps with an all-ones kernel."""
    span = d * (k - 1) + 1
    h_out = (x.shape[1] - span) // s + 1
    w_out = (x.shape[2] - span) // s + 1
    out = np.zeros((x.shape[0], h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            for a in range(k):
                for b in range(k):
                    out[:, i, j] += x[:, i * s + a * d, j * s + b * d]
    return out


def _pads(n: int, window) -> tuple[int, int]:
    """Padding before and after, worked out here: an int pads both sides; 'same' pads
    ceil(n/s) outputs' worth, the odd pixel at the end (TensorFlow)."""
    span = window.dilation * (window.kernel - 1) + 1
    if window.padding == "same":
        total = max((-(-n // window.stride) - 1) * window.stride + span - n, 0)
        return total // 2, total - total // 2
    return window.padding, window.padding


def _brute_force_paths(windows, n, index, unit):
    """Put a 1 at every position of padded map ``index`` in turn (padding included) and
    run the rest of the stack forward with all-ones kernels: the value at ``unit`` is
    the number of paths from that position. Padding of later maps stays zero."""
    size = n
    for window in windows[:index]:
        before, after = _pads(size, window)
        span = window.dilation * (window.kernel - 1) + 1
        size = (size + before + after - span) // window.stride + 1
    before, after = _pads(size, windows[index])
    side = size + before + after
    x = np.eye(side * side).reshape(-1, side, side)
    for layer in range(index, len(windows)):
        w = windows[layer]
        x = _ones_forward(x, w.kernel, w.stride, w.dilation)
        if layer + 1 < len(windows):
            b, a = _pads(x.shape[1], windows[layer + 1])
            x = np.pad(x, ((0, 0), (b, a), (b, a)))
    counts = x[:, unit[0], unit[1]].reshape(side, side)
    return {
        (r - before, c - before): int(counts[r, c])
        for r in range(side) for c in range(side) if counts[r, c]
    }


STACKS = [
    (["k3s2p1", "k3s2p1"], 5),
    (["k3s1p2d2"], 4),
    (["k3s1p1", "k3s1p2d2", "k3s1p4d4"], 11),
    (["k3s2psame", "k3s1psame", "k2s2"], 10),    # 'same' at stride 2: 0 before, 1 after
    (["k5s1p2", "k2s2", "k3s1p1"], 9),
    (["k7s2p3", "k3s2p1", "k3s1d2"], 16),
]


def _random_stacks(count: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    stacks = []
    while len(stacks) < count:
        layers = [
            f"k{rng.integers(1, 5)}s{rng.integers(1, 4)}p{rng.integers(0, 3)}d{rng.integers(1, 4)}"
            for _ in range(rng.integers(1, 4))
        ]
        n = int(rng.integers(4, 12))
        if receptive_explorer_state(layers, input_size=n).error is None:
            stacks.append((layers, n))
    return stacks


@pytest.mark.parametrize(("layers", "n"), STACKS + _random_stacks(24))
def test_receptive_state_matches_brute_force_back_tracking(layers, n):
    from cnnlab.receptive import parse_window

    windows = [parse_window(text) for text in layers]
    last = receptive_explorer_state(layers, input_size=n).maps[-1].size
    for unit in {(0, 0), (last[0] - 1, last[1] - 1), (last[0] // 2, last[1] - 1)}:
        state = receptive_explorer_state(layers, input_size=n, unit=unit)
        for index, fmap in enumerate(state.maps[:-1]):
            found = _brute_force_paths(windows, n, index, unit)
            inside = {cell: count for cell, count in found.items()
                      if 0 <= cell[0] < fmap.size[0] and 0 <= cell[1] < fmap.size[1]}
            assert fmap.paths == inside, (layers, n, unit, fmap.name)
            assert set(fmap.cells) == set(inside)
            # A padding position is read when a 1 placed there reaches the unit.
            assert set(fmap.padding_cells) == set(found) - set(inside)


def test_receptive_state_clips_the_unit_and_reports_errors():
    state = receptive_explorer_state(["k3s1"] * 3, input_size=9, unit=(10, -2))
    assert state.unit == (2, 0)
    assert state.maps[0].region == ((2, 9), (0, 7))
    assert state.maps[0].outside == 0
    assert len(state.maps[0].cells) == 49
    broken = receptive_explorer_state(["k7s1"], input_size=5)
    assert broken.error is not None
    assert [m.name for m in broken.maps] == ["input"]
    empty = receptive_explorer_state([], input_size=5)
    assert empty.field is None
    assert empty.headline.startswith("No layers yet")


def test_taps_1d_dilation_reaches_every_input():
    levels = taps_1d(["k3s1d1", "k3s1d2", "k3s1d4"], n=15, unit=0)
    assert [size for size, _ in levels] == [15, 13, 9, 1]
    assert sorted({p for p, _ in levels[0][1]}) == list(range(15))
    assert [p for p, _ in levels[2][1]] == [0, 4, 8]
    plain = taps_1d(["k3s1"] * 3, n=9, unit=1)
    assert sorted({p for p, _ in plain[0][1]}) == list(range(1, 8))


def test_receptive_explorer_widget():
    widget = ReceptiveExplorer(["k3s1", "k3s1"], input_size=7)
    assert widget.state.field.size == (5, 5)
    assert widget.row.max == 2
    widget.preset.value = "k3s1"
    widget.add_button.click()
    assert widget.stack.value == "k3s1, k3s1, k3s1"
    assert widget.state.field.size == (7, 7)
    assert widget.row.max == 0
    widget.remove_button.click()
    widget.row.value = 2
    widget.col.value = 1
    assert widget.state.unit == (2, 1)
    widget.stack.value = "k3s1, nonsense"
    assert "cannot read the layer 'nonsense'" in widget.headline.value
    assert widget.state.error is not None
    widget.size.value = 3
    widget.stack.value = "k5s1"
    assert widget.state.error is not None


# --- exercise checks ---------------------------------------------------------------------


def test_check_answer_verdicts():
    right = check_answer("q", 55, 55, explain="(227 - 11)/4 + 1")
    assert right.correct is True
    assert "(227 - 11)/4 + 1" in right.message
    wrong = check_answer("q", 54, 55, explain="secret", hint="use the formula")
    assert wrong.correct is False
    assert "Hint: use the formula" in wrong.message
    assert "secret" not in wrong.message
    revealed = check_answer("q", 54, 55, explain="secret", reveal=True)
    assert "Expected: 55" in revealed.message
    assert "secret" in revealed.message
    missing = check_answer("q", None, 55)
    assert missing.correct is None
    assert "replace None" in str(missing)


def test_check_answer_numbers_and_shapes():
    assert check_answer("shape", (16, 2, 2), (16, 2, 2)).correct
    assert not check_answer("shape", (16, 2), (16, 2, 2)).correct
    assert check_answer("int vs float", 4.0, np.float64(4)).correct
    assert check_answer("ratio", 0.0439, 1 / 256 + 1 / 25, rel_tol=1e-2).correct
    assert not check_answer("ratio", 0.0439, 1 / 256 + 1 / 25).correct
    assert not check_answer("text", "abc", 3).correct
    html = check_answer("q", 1, 1)._repr_html_()
    assert "#1a7f37" in html
    assert "q: 1 is right." in html


def test_check_answer_accepts_a_network_name_as_written():
    # Notebook 8 asks for a zoo network by name; "LeNet-5" is the name a student writes.
    for written in ("LeNet-5", "lenet5", "LENET 5", "lenet_5"):
        assert check_answer("fewest MACs", written, "lenet5").correct, written
    assert not check_answer("fewest MACs", "vgg16", "lenet5").correct
    assert not check_answer("fewest MACs", 5, "lenet5").correct
