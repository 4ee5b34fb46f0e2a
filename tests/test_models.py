"""Tests for cnnlab.models specs and summaries (the zoo has tests/test_zoo.py)."""

from __future__ import annotations

import csv
import io
import subprocess
import sys

import pytest

from cnnlab import examples
from cnnlab.models import (
    AvgPool2d,
    BasicBlock,
    BatchNorm2d,
    Bottleneck,
    Conv2d,
    Dense,
    DepthwiseConv2d,
    Dropout,
    Flatten,
    GlobalAvgPool2d,
    Input,
    LocalResponseNorm,
    MaxPool2d,
    ReLU,
    Sequential,
    Tanh,
    parse_shape,
    summary,
)
from cnnlab.params import conv2d_params, dense_params


def cs109b_network():
    return Sequential(
        Input(3, 32, 32),
        Conv2d(8, 3, stride=1, padding="same"),
        ReLU(),
        Conv2d(16, 5, stride=2, padding="same"),
        ReLU(),
        Flatten(),
        Dense(512),
        ReLU(),
        Dense(4),
        name="cs109b",
    )


def test_cs109b_network_rows():
    s = summary(cs109b_network())
    assert s.row("conv1").output_shape == (8, 32, 32)
    assert s.row("conv1").params == examples.CS109B_CONV1_PARAMS
    assert s.row("conv2").output_shape == (16, 16, 16)
    assert s.row("conv2").params == examples.CS109B_CONV2_PARAMS
    assert s.row("flatten1").output_shape == (16 * 16 * 16,)
    dense = s.row("fc1").params + s.row("fc2").params
    assert dense == examples.CS109B_DENSE_PARAMS
    assert s.total_params == s.trainable_params == examples.CS109B_TOTAL_PARAMS


def test_cs231n_ten_5x5_filters_pad_2():
    s = summary(Sequential(Input(3, 32, 32), Conv2d(10, 5, padding=2)))
    assert s.output_shape == (10, 32, 32)
    assert s.total_params == examples.CS231N_TEN_FILTERS_PARAMS


def test_eecs442_dense_networks():
    two = Sequential(Input(2), Dense(4), ReLU(), Dense(1))
    three = Sequential(Input(2), Dense(4), ReLU(), Dense(4), ReLU(), Dense(3))
    assert summary(two).total_params == examples.EECS442_TWO_LAYER_PARAMS
    assert summary(three).total_params == examples.EECS442_THREE_LAYER_PARAMS
    weights = sum(row.weights for row in summary(three).rows)
    assert weights == 36


def test_activations_macs_and_in_place_layers():
    net = Sequential(
        Input(3, 8, 8),
        Conv2d(4, 3, padding=1),
        ReLU(),
        MaxPool2d(2),
        Dropout(0.5),
        Flatten(),
        Dense(10),
    )
    s = summary(net)
    assert [row.activations for row in s.rows] == [192, 256, 0, 64, 0, 0, 10]
    assert s.total_activations == 192 + 256 + 64 + 10
    assert s.row("conv1").macs == 8 * 8 * 4 * 3 * 3 * 3  # no bias additions
    assert s.row("fc1").macs == 64 * 10
    assert s.total_macs == 6912 + 640
    assert s.activation_bytes == 4 * s.total_activations
    assert summary(net, dtype="float64").activation_bytes == 8 * s.total_activations


def test_batchnorm_buffers_are_not_parameters():
    net = Sequential(Input(3, 8, 8), Conv2d(4, 3, bias=False), BatchNorm2d())
    s = summary(net)
    assert s.row("bn1").params == 8
    assert s.row("bn1").buffers == 8
    assert s.total_params == 4 * 3 * 9 + 8
    assert s.total_buffers == 8
    assert s.non_trainable_params == 0


def test_frozen_layers():
    net = Sequential(
        Input(3, 8, 8),
        Conv2d(4, 3, trainable=False),
        BasicBlock(4, trainable=False),
        Flatten(),
        Dense(2),
    )
    s = summary(net)
    frozen = s.row("conv1").params + s.row("block1").params
    assert s.row("conv1").trainable_params == 0
    assert s.non_trainable_params == frozen
    assert s.trainable_params == s.row("fc1").params
    expanded = summary(net, expand=True)
    assert expanded.row("block1.conv1").trainable_params == 0
    assert expanded.total_params == s.total_params


def test_depthwise_and_grouped_convolutions():
    net = Sequential(
        Input(8, 10, 10), DepthwiseConv2d(3, padding=1), Conv2d(16, 1), Conv2d(8, 3, groups=4)
    )
    s = summary(net)
    assert s.row("dwconv1").params == conv2d_params(8, 8, 3, groups=8) == 8 * 9 + 8
    assert s.row("dwconv1").macs == 10 * 10 * 8 * 9
    assert s.row("conv2").params == conv2d_params(16, 8, 3, groups=4) == 8 * 4 * 9 + 8
    doubled = summary(Sequential(Input(3, 5, 5), DepthwiseConv2d(3, depth_multiplier=2)))
    assert doubled.output_shape == (6, 3, 3)
    assert doubled.total_params == 6 * 9 + 6


def test_residual_blocks():
    same = summary(Sequential(Input(64, 56, 56), BasicBlock(64)), expand=True)
    assert same.row("block1").params == 2 * 64 * 64 * 9 + 4 * 64 == 73_984
    assert not any("downsample" in row.name for row in same.rows)
    down = summary(Sequential(Input(64, 56, 56), BasicBlock(128, 2)), expand=True)
    assert down.output_shape == (128, 28, 28)
    projection = down.row("block1.downsample.0").params + down.row("block1.downsample.1").params
    assert projection == 64 * 128 + 2 * 128
    block = down.row("block1")
    children = [row for row in down.rows if row.depth == 1]
    assert block.params == sum(row.params for row in children)
    assert block.macs == sum(row.macs for row in children)
    assert block.activations == sum(row.activations for row in children)
    assert down.row("block1.add").activations == 0  # out += identity, in place
    neck = summary(Sequential(Input(64, 56, 56), Bottleneck(64)))
    # 1x1 64->64, 3x3 64->64, 1x1 64->256, projection 64->256, four BNs
    expected = 64 * 64 + 64 * 64 * 9 + 64 * 256 + 64 * 256 + 2 * (64 + 64 + 256 + 256)
    assert neck.total_params == expected == 75_008


def test_global_pooling_lrn_tanh_avgpool():
    net = Sequential(
        Input(6, 9, 9),
        LocalResponseNorm(5),
        Tanh(),
        AvgPool2d(3),
        GlobalAvgPool2d(),
        Dense(2),
    )
    s = summary(net)
    assert [row.output_shape for row in s.rows] == [
        (6, 9, 9),
        (6, 9, 9),
        (6, 9, 9),
        (6, 3, 3),
        (6,),
        (2,),
    ]
    assert s.total_params == dense_params(6, 2)
    assert s.row("norm1").activations == 6 * 81


def test_input_shape_override_and_missing_input():
    headless = Sequential(Conv2d(8, 3), Flatten(), Dense(2), name="headless")
    with pytest.raises(ValueError, match=r"'headless' has no Input layer.*input_shape="):
        summary(headless)
    s = summary(headless, input_shape="3x10x10")
    assert s.input_shape == (3, 10, 10)
    assert s.row("fc1").params == 8 * 8 * 8 * 2 + 2
    bigger = summary(cs109b_network(), input_shape=(3, 64, 64))
    assert bigger.row("fc1").params == 16 * 32 * 32 * 512 + 512
    assert summary([Input(2), Dense(3)]).total_params == 9


def test_text_markdown_csv_html_rows():
    s = summary(cs109b_network())
    text = str(s)
    assert text == s.to_text()
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("Layer"))
    conv_line = next(line for line in lines if line.startswith("conv2 "))
    assert header.index("Params") + len("Params") == conv_line.index("3,216") + len("3,216")
    assert "Total params: 2,103,156" in text
    assert "bytes = 0.06 MiB = 0.06 MB in float32" in text
    markdown = s.to_markdown()
    assert "| Layer | Kind | Output shape |" in markdown
    assert "| conv2 | Conv2d | 16x16x16 | 3,216 |" in markdown
    parsed = list(csv.DictReader(io.StringIO(s.to_csv())))
    assert parsed[-1]["name"] == "TOTAL"
    assert int(parsed[-1]["params"]) == 2_103_156
    assert sum(int(row["params"]) for row in parsed[:-1]) == 2_103_156
    html = s._repr_html_()
    assert html.count("<tr") == len(s.rows) + 1
    assert "2,103,156" in html
    rows = s.to_rows()
    assert (rows[1]["name"], rows[1]["output_shape"]) == ("conv1", (8, 32, 32))
    assert s.totals()["total_params"] == 2_103_156


def test_parse_shape():
    assert parse_shape("3x224x224") == (3, 224, 224)
    assert parse_shape("3,32,32") == (3, 32, 32)
    assert parse_shape("784") == (784,)
    with pytest.raises(ValueError, match=r"cannot read the shape '3xax3'"):
        parse_shape("3xax3")
    with pytest.raises(ValueError, match=r"got \(1, 3, 32, 32\) with 4 entries.*no batch"):
        parse_shape("1x3x32x32")


@pytest.mark.torch
def test_shapes_and_parameters_match_pytorch():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    spec = Sequential(
        Input(3, 33, 31),
        Conv2d(8, (3, 5), stride=2, padding=(1, 2), dilation=(2, 1)),
        BatchNorm2d(),
        ReLU(),
        MaxPool2d(3, 2, 1, ceil_mode=True),
        Conv2d(8, 3, groups=4, bias=False),
        AvgPool2d(2),
        Flatten(),
        Dense(5),
    )
    s = summary(spec)
    x = torch.zeros(1, 3, 33, 31)
    layers = [
        nn.Conv2d(3, 8, (3, 5), stride=2, padding=(1, 2), dilation=(2, 1)),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(3, 2, 1, ceil_mode=True),
        nn.Conv2d(8, 8, 3, groups=4, bias=False),
        nn.AvgPool2d(2),
        nn.Flatten(),
    ]
    for layer, row in zip(layers, s.rows[1:], strict=False):
        x = layer(x)
        assert tuple(x.shape[1:]) == row.output_shape, row.name
        assert sum(p.numel() for p in layer.parameters()) == row.params, row.name
    assert s.row("fc1").params == x.shape[1] * 5 + 5
    assert s.total_buffers == sum(b.numel() for b in layers[1].buffers()) - 1  # minus counter


def test_imports_stay_light():
    code = (
        "import sys, cnnlab.models, cnnlab.params, cnnlab.receptive, cnnlab.cli;"
        "print('numpy' in sys.modules, 'numba' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False False"


# --- errors speak to students ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "error", "pattern"),
    [
        (
            lambda: summary(Sequential(Input(3, 8, 8), Conv2d(4, 3), Dense(10))),
            ValueError,
            r"layer 'fc1' \(Dense\) with input shape 4x6x6: .*add Flatten\(\)",
        ),
        (
            lambda: summary(Sequential(Input(3, 8, 8), Flatten(), Conv2d(4, 3))),
            ValueError,
            r"layer 'conv1' \(Conv2d\).*expects an image \(C, H, W\).*before Flatten",
        ),
        (
            lambda: summary(Sequential(Input(3, 4, 4), Conv2d(4, 5))),
            ValueError,
            r"layer 'conv1'.*5-pixel kernel.*only 4 pixels",
        ),
        (
            lambda: summary(Sequential(Input(6, 8, 8), Conv2d(8, 3, groups=4))),
            ValueError,
            r"layer 'conv1'.*in_channels 6 is not divisible by groups 4",
        ),
        (
            lambda: summary(Sequential(Input(3, 8, 8), MaxPool2d(3, 2, 2))),
            ValueError,
            r"layer 'maxpool1'.*padding 2.*more than half the kernel 3",
        ),
        (lambda: Sequential(Input(2), ReLU), TypeError, r"layer 2 .*forget the parentheses"),
        (lambda: Sequential(Dense(2), Input(2)), ValueError, r"Input must be the first layer"),
        (
            lambda: Sequential(Input(2), Dense(2, name="a"), Dense(2, name="a")),
            ValueError,
            r"two layers of 'model' are named 'a'",
        ),
        (lambda: Conv2d(0, 3), ValueError, r"out_channels must be at least 1"),
        (lambda: Conv2d(8, 3, stride=0), ValueError, r"stride must be at least 1"),
        (lambda: Conv2d(8, 3, padding="full"), ValueError, r"got 'full'"),
        (lambda: Conv2d(8, 3, bias="yes"), TypeError, r"bias must be True or False"),
        (lambda: Dropout(1.5), ValueError, r"0 <= p < 1; got 1.5"),
        (lambda: Input(3, 32), ValueError, r"give both height and width"),
        (lambda: Dense(2.5), TypeError, r"out_features must be an integer"),
        (lambda: summary(cs109b_network(), dtype="float8"), ValueError, r"unknown dtype"),
        (lambda: summary("vgg"), ValueError, r"unknown model 'vgg'.*mean 'vgg1[69]' or 'vgg1"),
    ],
)
def test_bad_input_messages(build, error, pattern):
    with pytest.raises(error, match=pattern):
        build()
