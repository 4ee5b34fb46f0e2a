"""Tests for cnnlab.receptive: the recurrence against brute-force back-tracking."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab.models import (
    BasicBlock,
    BatchNorm2d,
    Bottleneck,
    Conv2d,
    Dense,
    Flatten,
    Input,
    MaxPool2d,
    ReLU,
    Sequential,
    zoo,
)
from cnnlab.receptive import (
    Window,
    input_region,
    parse_window,
    receptive_field,
    receptive_fields,
)
from cnnlab.shapes import conv_output_size

# --- brute force: which input positions feed one output unit? ---------------------------------


def back_track(layers, unit):
    """Positions (on an unbounded grid, padding included) that feed ``unit`` of the last
    layer: each position x of a layer reads x*s - p + d*t, t = 0..k-1, of the one before."""
    positions = {unit}
    for k, s, p, d in reversed(layers):
        positions = {x * s - p + d * t for x in positions for t in range(k)}
    return positions


def back_track_bounded(layers, unit, n):
    """Like back_track on a real input of n pixels: padding positions feed nothing."""
    sizes = [n]
    for k, s, p, d in layers:
        sizes.append(conv_output_size(sizes[-1], k, s, p, d))
    positions = {unit}
    for (k, s, p, d), size in zip(reversed(layers), reversed(sizes[:-1]), strict=True):
        positions = {x * s - p + d * t for x in positions for t in range(k)}
        positions = {x for x in positions if 0 <= x < size}
    return positions


layer_1d = st.tuples(
    st.integers(1, 4),  # kernel
    st.integers(1, 3),  # stride
    st.integers(0, 2),  # padding
    st.integers(1, 3),  # dilation
)


@settings(max_examples=150, deadline=None)
@given(layers=st.lists(layer_1d, min_size=1, max_size=4), unit=st.integers(0, 5))
def test_size_jump_padding_match_back_tracking_1d(layers, unit):
    seen = back_track(layers, unit)
    rf = receptive_field(layers)
    jump = 1
    for _, s, _, _ in layers:
        jump *= s
    assert rf.jump == (jump, jump)
    assert rf.size[0] == max(seen) - min(seen) + 1
    assert min(seen) == unit * rf.jump[0] - rf.padding[0]
    (row_start, row_stop), _ = input_region(layers, (unit, 0))
    assert (row_start, row_stop) == (min(seen), max(seen) + 1)


@settings(max_examples=60, deadline=None)
@given(
    layers=st.lists(st.tuples(layer_1d, layer_1d), min_size=1, max_size=3),
    unit=st.tuples(st.integers(0, 3), st.integers(0, 3)),
)
def test_rectangular_layers_match_2d_back_tracking(layers, unit):
    windows = [
        Window((a[0], b[0]), (a[1], b[1]), ((a[2], a[2]), (b[2], b[2])), (a[3], b[3]))
        for a, b in layers
    ]
    cells = {unit}
    for a, b in reversed(layers):
        cells = {
            (y * a[1] - a[2] + a[3] * ty, x * b[1] - b[2] + b[3] * tx)
            for y, x in cells
            for ty in range(a[0])
            for tx in range(b[0])
        }
    rows = [y for y, _ in cells]
    cols = [x for _, x in cells]
    assert input_region(windows, unit) == (
        (min(rows), max(rows) + 1),
        (min(cols), max(cols) + 1),
    )


@settings(max_examples=100, deadline=None)
@given(layers=st.lists(layer_1d, min_size=1, max_size=3), n=st.integers(1, 30), data=st.data())
def test_clipped_region_matches_real_dependencies(layers, n, data):
    sizes = [n]
    for k, s, p, d in layers:
        if sizes[-1] + 2 * p < d * (k - 1) + 1:
            return  # the kernel does not fit: conv_output_size's tests cover this
        sizes.append(conv_output_size(sizes[-1], k, s, p, d))
    unit = data.draw(st.integers(0, sizes[-1] - 1))
    seen = back_track_bounded(layers, unit, n)
    expected = (min(seen), max(seen) + 1) if seen else (0, 0)
    (start, stop), _ = input_region(layers, (unit, 0), input_size=n, clip=True)
    assert (start, stop) == expected
    (low, high), _ = input_region(layers, (unit, 0), input_size=n)
    assert low <= start <= stop <= high or not seen


def test_hidden_padding_passes_nothing_on():
    # 8 pixels -> k3 s3 -> 2 units (pixels 6, 7 left over) -> k4 p1 -> 1 unit that reads
    # hidden positions -1..2, of which only 0 and 1 exist: input pixels 0..5.
    layers = [(3, 3, 0, 1), (4, 1, 1, 1)]
    assert input_region(layers, (0, 0), input_size=8) == ((-3, 9), (-3, 9))
    assert input_region(layers, (0, 0), input_size=8, clip=True) == ((0, 6), (0, 6))


# --- the lectures' examples ---------------------------------------------------------------------


def test_two_3x3_convolutions_see_5x5():
    # CS109B: "two 3x3 filters have an effective receptive field of 5x5"; three see 7x7.
    assert receptive_field(["k3s1", "k3s1"]).size == (5, 5)
    assert receptive_field(["k3s1"] * 3).size == (7, 7)


def test_cs109b_5x5_input_k3_p1_s2_twice():
    first, second = receptive_fields(["k3s2p1", "k3s2p1"], input_size=5)
    assert first.output_size == (3, 3)  # the green map
    assert second.output_size == (2, 2)  # the orange map
    assert (first.size, first.jump, first.padding) == ((3, 3), (2, 2), (1, 1))
    assert (second.size, second.jump, second.padding) == ((7, 7), (4, 4), (3, 3))
    assert input_region(["k3s2p1", "k3s2p1"], (1, 1), input_size=5) == ((1, 8), (1, 8))
    clipped = input_region(["k3s2p1", "k3s2p1"], (1, 1), input_size=5, clip=True)
    assert clipped == ((1, 5), (1, 5))


def test_dilated_stack_grows_exponentially():
    # 1-D dilated convolutions with kernel 3 and dilations 1, 2, 4, 8: r = 2**(L+1) - 1.
    layers = [(3, 1, 0, 2**i) for i in range(4)]
    assert [rf.size[0] for rf in receptive_fields(layers)] == [3, 7, 15, 31]


@pytest.mark.parametrize(
    ("name", "last", "size"),
    [
        ("alexnet", "pool3", 195),  # Araujo et al. 2019, table of receptive fields
        ("vgg16", "pool5", 212),
        ("mobilenet_v1", "conv_pw_13_relu", 315),
        ("resnet18", "layer4.1", 435),
    ],
)
def test_published_receptive_fields(name, last, size):
    rf = receptive_field(zoo.get(name))
    assert rf.name == last
    assert rf.size == (size, size)
    assert rf.jump == (32, 32)


def test_model_layers_pass_through_and_stop_at_flatten():
    net = Sequential(
        Input(3, 32, 32),
        Conv2d(8, 3, padding=1),
        BatchNorm2d(),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Dense(10),
    )
    records = receptive_fields(net)
    assert [r.name for r in records] == ["conv1", "bn1", "relu1", "maxpool1"]
    assert records[1].size == records[0].size == (3, 3)
    assert records[-1].size == (4, 4)
    assert records[-1].output_size == (16, 16)
    assert receptive_fields(net.layers) == records


def test_residual_blocks_follow_their_main_path():
    basic = receptive_field(Sequential(Input(3, 32, 32), BasicBlock(64, 2)))
    assert (basic.size, basic.jump, basic.padding, basic.output_size) == (
        (7, 7),
        (2, 2),
        (3, 3),
        (16, 16),
    )
    bottleneck = receptive_field(Sequential(Input(64, 32, 32), Bottleneck(16, 2)))
    assert (bottleneck.size, bottleneck.jump) == ((3, 3), (2, 2))


def test_same_padding_with_stride_needs_input_size():
    with pytest.raises(ValueError, match=r"'same' padding with stride \(2, 2\).*input_size"):
        receptive_fields(["k3s2psame"])
    odd = receptive_field(["k3s2psame"], input_size=7)
    even = receptive_field(["k3s2psame"], input_size=8)
    assert (odd.padding, even.padding) == ((1, 1), (0, 0))  # TensorFlow's split
    assert receptive_field(["k5s1psame"]).padding == (2, 2)


def test_parse_window_forms():
    assert parse_window("k3x5s1x2p1x2d2") == Window(
        (3, 5), (1, 2), (1, 2), 2, name="k3x5s1x2p1x2d2"
    )
    assert parse_window("K7").stride == 1
    assert receptive_field([{"kernel": 3, "stride": 2}, (3,)]).size == (7, 7)


def test_center_of_the_field():
    rf = receptive_field(["k3s2p1", "k3s2p1"])
    assert rf.center((0, 0)) == (0.0, 0.0)
    assert rf.center((1, 2)) == (4.0, 8.0)


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (lambda: parse_window("3x3"), ValueError, r"cannot read the layer '3x3'.*k3s1"),
        (lambda: receptive_field([(3, 1, 0, 1, 9)]), ValueError, r"not 5 numbers"),
        (lambda: receptive_field([{"size": 3}]), ValueError, r"needs 'kernel'.*\['size'\]"),
        (lambda: receptive_field([3.5]), TypeError, r"layer 1 is a float"),
        (lambda: receptive_field([(3, 0)]), ValueError, r"stride must be at least 1"),
        (
            lambda: receptive_field(Sequential(Input(4), Dense(2))),
            ValueError,
            r"no spatial layer",
        ),
        (
            lambda: input_region(["k3s1"], (6, 0), input_size=8),
            ValueError,
            r"unit \(6, 0\) is outside the 6x6 output.*0..5",
        ),
        (
            lambda: input_region(["k3s1"], (0, 0), clip=True),
            ValueError,
            r"clip=True needs the input size",
        ),
    ],
)
def test_bad_input_messages(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
