"""Tests for cnnlab.params: the seeds' counts, brute-force MACs, and messages."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab import examples
from cnnlab.params import (
    activation_bytes,
    activation_count,
    batchnorm_buffers,
    batchnorm_params,
    bottleneck_comparison,
    conv2d_macs,
    conv2d_params,
    dense_macs,
    dense_params,
    densenet_channels,
    depthwise_separable_macs,
    depthwise_separable_params,
    dtype_size,
    format_bytes,
    mlp_params,
    separable_comparison,
)
from cnnlab.shapes import conv_output_size


def brute_force_conv_macs(c, f, kh, kw, h_out, w_out, groups):
    """Walk every output value and every tap that feeds it, one multiply-add each."""
    per_group = c // groups
    macs = 0
    for _filter, _row, _col in itertools.product(range(f), range(h_out), range(w_out)):
        for _channel, _i, _j in itertools.product(range(per_group), range(kh), range(kw)):
            macs += 1
    return macs


def brute_force_conv_weights(c, f, kh, kw, groups):
    """Count which (filter, input channel, tap) triples carry a weight."""
    per_in, per_out = c // groups, f // groups
    count = 0
    for filt, channel in itertools.product(range(f), range(c)):
        if filt // per_out == channel // per_in:  # same group
            count += kh * kw
    return count


# --- the seeds' worked counts --------------------------------------------------------------


def test_cs109b_parameter_counts():
    assert conv2d_params(3, 1, 3) == examples.ONE_FILTER_PARAMS == 28
    assert conv2d_params(3, 16, 3) == examples.SIXTEEN_FILTERS_PARAMS == 448
    assert conv2d_params(3, 8, 3) == examples.CS109B_CONV1_PARAMS == 224
    assert conv2d_params(8, 16, 5) == examples.CS109B_CONV2_PARAMS == 3216
    dense = dense_params(16 * 16 * 16, 512) + dense_params(512, 4)
    assert dense == examples.CS109B_DENSE_PARAMS == 2_099_716
    assert 224 + 3216 + dense == examples.CS109B_TOTAL_PARAMS


def test_cs231n_ten_filters():
    assert conv2d_params(3, 10, 5) == examples.CS231N_TEN_FILTERS_PARAMS == 760


def test_alexnet_conv1():
    assert conv2d_params(3, 96, 11, bias=False) == examples.ALEXNET_CONV1_WEIGHTS == 34_848
    assert conv2d_params(3, 96, 11) == 34_944


def test_eecs442_dense_networks():
    # The slide's pictures: inputs x1, x2; hidden h1..h4; one output y1, then
    # a second hidden layer a1..a4 and three outputs y1..y3.
    assert mlp_params([2, 4, 1]) == examples.EECS442_TWO_LAYER_PARAMS == 17
    assert mlp_params([2, 4, 1], bias=False) == 12
    assert mlp_params([2, 4, 4, 3]) == examples.EECS442_THREE_LAYER_PARAMS == 47
    assert mlp_params([2, 4, 4, 3], bias=False) == 36
    assert mlp_params([2, 1]) == 3  # x1, x2 -> y1: "Weights: 1x2, Parameters: 3 (bias!)"
    pixels = 285 * 350
    big = mlp_params([pixels, 1000, 1000, 1000, 3])
    assert round(big / 1e6) == 102  # "102 million parameters"
    assert round(activation_bytes(big) / 1e8) == 4  # "(400MB)"
    huge = mlp_params([pixels, 2 * pixels, 2 * pixels, 2 * pixels, 3])
    assert round(huge / 1e9, -1) == 100  # "100 billion parameters"
    assert round(activation_bytes(huge) / 1e9, -2) == 400  # "(400GB)"


def test_mobilenet_slide_figures():
    assert conv2d_params(3, 256, 5) == examples.MOBILENET_STANDARD_PARAMS == 19_456
    assert depthwise_separable_params(3, 256, 5) == examples.MOBILENET_SEPARABLE_PARAMS == 1102
    # The correct MACs: a valid 5x5 convolution turns 12x12 into 8x8 for both versions.
    out = conv_output_size(12, 5)
    assert out == 8
    assert conv2d_macs(3, 256, 5, out) == examples.MOBILENET_STANDARD_MACS == 1_228_800
    assert depthwise_separable_macs(3, 256, 5, out) == examples.MOBILENET_SEPARABLE_MACS
    # The slide's arithmetic: the standard cost on a 12x12 grid ('same' padding) ...
    same = separable_comparison(3, 256, 5, 12, padding="same")
    assert same.output_size == (12, 12)
    assert same.standard_macs == examples.MOBILENET_SLIDE_STANDARD_MACS == 2_764_800
    # ... but the separable cost mixes the 12x12 depthwise grid with an 8x8 pointwise one.
    mixed = conv2d_macs(3, 3, 5, 12, groups=3) + conv2d_macs(3, 256, 1, 8)
    assert mixed == examples.MOBILENET_SLIDE_SEPARABLE_MACS == 59_952
    assert same.separable_macs == 121_392 != mixed
    valid = separable_comparison(3, 256, 5, 12)
    assert (valid.standard_macs, valid.separable_macs) == (1_228_800, 53_952)
    assert valid.mac_ratio == pytest.approx(1 / 256 + 1 / 25)
    assert same.mac_ratio == pytest.approx(1 / 256 + 1 / 25)
    assert valid.param_ratio == pytest.approx(1102 / 19456)


def test_inception_bottleneck():
    c = bottleneck_comparison(192, 32, 5, 28, reduced_channels=16)
    assert c.direct_macs == 28 * 28 * 32 * 192 * 5 * 5 == 120_422_400
    assert c.bottleneck_macs == 28 * 28 * 16 * 192 + 28 * 28 * 32 * 16 * 5 * 5 == 12_443_648
    assert c.direct_params == 5 * 5 * 192 * 32 + 32 == 153_632
    assert c.bottleneck_params == (192 * 16 + 16) + (5 * 5 * 16 * 32 + 32) == 15_920
    assert c.mac_ratio == pytest.approx(12_443_648 / 120_422_400)


def test_densenet_growth():
    assert [densenet_channels(layer, 16, 12) for layer in range(1, 5)] == [16, 28, 40, 52]


def test_batchnorm_counts_apart():
    assert batchnorm_params(64) == 128
    assert batchnorm_buffers(64) == 128


def test_activation_helpers():
    assert activation_count((3, 224, 224)) == 150_528
    assert activation_bytes(examples.VGG16_ACTIVATIONS) == 60_950_432
    assert activation_bytes(10, "float64") == 80
    assert dtype_size("torch.float16") == 2
    assert format_bytes(2**20) == "1,048,576 bytes = 1.00 MiB = 1.05 MB"


def test_dense_macs_and_params():
    assert dense_params(4096, 1000) == 4_097_000
    assert dense_params(4096, 1000, bias=False) == dense_macs(4096, 1000) == 4_096_000


# --- brute force ---------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    groups=st.integers(1, 4),
    c_per=st.integers(1, 3),
    f_per=st.integers(1, 3),
    kh=st.integers(1, 3),
    kw=st.integers(1, 3),
    h_out=st.integers(1, 4),
    w_out=st.integers(1, 4),
    bias=st.booleans(),
)
def test_conv_counts_match_brute_force(groups, c_per, f_per, kh, kw, h_out, w_out, bias):
    c, f = groups * c_per, groups * f_per
    weights = brute_force_conv_weights(c, f, kh, kw, groups)
    assert conv2d_params(c, f, (kh, kw), groups=groups, bias=bias) == weights + (f if bias else 0)
    expected = brute_force_conv_macs(c, f, kh, kw, h_out, w_out, groups)
    assert conv2d_macs(c, f, (kh, kw), (h_out, w_out), groups=groups) == expected


@settings(max_examples=40, deadline=None)
@given(c=st.integers(1, 6), f=st.integers(1, 6), k=st.integers(1, 4), out=st.integers(1, 5))
def test_separable_is_depthwise_plus_pointwise(c, f, k, out):
    depthwise = brute_force_conv_macs(c, c, k, k, out, out, groups=c)
    pointwise = brute_force_conv_macs(c, f, 1, 1, out, out, groups=1)
    assert depthwise_separable_macs(c, f, k, out) == depthwise + pointwise
    assert depthwise_separable_params(c, f, k, bias=False) == c * k * k + c * f


@pytest.mark.torch
def test_param_counts_match_pytorch():
    torch = pytest.importorskip("torch")
    cases = [(3, 16, 3, 1, True), (8, 8, 5, 8, False), (6, 9, (3, 1), 3, True)]
    for c, f, k, groups, bias in cases:
        layer = torch.nn.Conv2d(c, f, k, groups=groups, bias=bias)
        expected = sum(p.numel() for p in layer.parameters())
        assert conv2d_params(c, f, k, groups=groups, bias=bias) == expected
    bn = torch.nn.BatchNorm2d(64)
    assert batchnorm_params(64) == sum(p.numel() for p in bn.parameters())
    assert batchnorm_buffers(64) == bn.running_mean.numel() + bn.running_var.numel()


# --- messages ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (
            lambda: conv2d_params(3, 16, 3, groups=2),
            ValueError,
            r"in_channels 3 is not divisible by groups 2.*depthwise",
        ),
        (
            lambda: conv2d_params(4, 6, 3, groups=4),
            ValueError,
            r"out_channels 6 is not divisible by groups 4",
        ),
        (lambda: conv2d_params(3, 16, 3, groups=0), ValueError, r"groups must be at least 1"),
        (lambda: conv2d_params(0, 16, 3), ValueError, r"in_channels must be at least 1, got 0"),
        (lambda: conv2d_params(3, 16, 3, bias=1), TypeError, r"bias must be True or False"),
        (lambda: conv2d_params(3.0, 16, 3), TypeError, r"in_channels must be an integer"),
        (lambda: dense_params(10, -1), ValueError, r"out_features must be at least 1, got -1"),
        (lambda: conv2d_macs(3, 16, 3, 0), ValueError, r"output_size must be at least 1"),
        (lambda: mlp_params([784]), ValueError, r"at least an input and an output.*\[784\]"),
        (lambda: dtype_size("float8"), ValueError, r"unknown dtype 'float8'.*float32"),
        (lambda: densenet_channels(0, 64, 32), ValueError, r"layer must be at least 1.*from 1"),
        (lambda: activation_count((3, 0, 4)), ValueError, r"shape entry must be at least 1"),
    ],
)
def test_bad_input_messages(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
