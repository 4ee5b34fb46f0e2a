"""Tests for cnnlab.shapes: the seeds' worked sizes, brute force, and messages."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab import examples
from cnnlab.shapes import (
    conv_output_size,
    conv_transpose_output_size,
    explain_conv_output_size,
    fits,
    fitting_strides,
    leftover_pixels,
    pool_output_size,
    resolve_padding,
    unread_pixels,
)

# --- brute force: count window positions one by one ---------------------------------


def count_windows(n: int, kernel: int, stride: int, before: int, after: int, dilation: int):
    """Slide a dilated window over the padded input and count full placements."""
    taps_offsets = [dilation * t for t in range(kernel)]
    padded = n + before + after
    count, start = 0, 0
    while all(start + offset < padded for offset in taps_offsets):
        count += 1
        start += stride
    return count


def count_windows_ceil(n: int, kernel: int, stride: int, pad: int):
    """PyTorch ceil_mode: keep sliding while the previous window stopped short of the end
    of the padded input, but never start a window in the right padding."""
    padded = n + 2 * pad
    count, start = 0, 0
    while True:
        previous_end = start - stride + kernel
        if count > 0 and previous_end >= padded:
            break
        if start >= n + pad:
            break
        count += 1
        start += stride
    return count


def brute_same(n: int, kernel: int, stride: int, dilation: int):
    """Smallest total padding giving ceil(n/s) windows, split floor/ceil."""
    wanted = -(-n // stride)
    for total in range(n + dilation * kernel + stride):
        before = total // 2
        if count_windows(n, kernel, stride, before, total - before, dilation) == wanted:
            return wanted, (before, total - before)
    raise AssertionError("no padding gives ceil(n/s)")  # pragma: no cover


# --- the seeds' worked numbers -------------------------------------------------------


def test_cs231n_32x32_5x5_gives_28():
    assert conv_output_size(32, 5) == examples.CS231N_32_K5_OUTPUT == 28
    assert conv_output_size((32, 32), (5, 5)) == (28, 28)


def test_cs231n_7x7_3x3_strides():
    assert conv_output_size(7, 3, stride=1) == examples.CS231N_7_K3_S1_OUTPUT == 5
    assert conv_output_size(7, 3, stride=2) == examples.CS231N_7_K3_S2_OUTPUT == 3
    assert conv_output_size(7, 3, stride=3) == 2  # PyTorch drops the leftover pixel
    assert [fits(7, 3, s) for s in (1, 2, 3)] == [True, True, False]


def test_cs231n_stride_3_does_not_fit_when_strict():
    with pytest.raises(ValueError, match=r"stride 3 doesn't fit.*1 input pixel.*fit: 1, 2, 4"):
        conv_output_size(7, 3, stride=3, strict=True)
    assert conv_output_size(7, 3, stride=2, strict=True) == 3


def test_cs231n_pad_f_minus_1_over_2_keeps_size():
    for kernel in (3, 5, 7):
        assert conv_output_size(32, kernel, padding=(kernel - 1) // 2) == 32
    assert conv_output_size(32, 5, padding=2) == 32  # 10 filters 5x5 pad 2: 32x32x10


def test_alexnet_conv1_and_pool1():
    assert conv_output_size(227, 11, stride=4) == examples.ALEXNET_CONV1_OUTPUT == 55
    assert pool_output_size(55, 3, stride=2) == examples.ALEXNET_POOL1_OUTPUT == 27
    assert conv_output_size(27, 5, padding=2) == 27
    assert pool_output_size(27, 3, stride=2) == 13
    assert pool_output_size(13, 3, stride=2) == 6


def test_cs109b_same_padding_network():
    assert conv_output_size((32, 32), 3, padding="same") == (32, 32)
    assert conv_output_size((32, 32), 5, stride=2, padding="same") == (16, 16)
    assert resolve_padding(32, 5, stride=2, padding="same") == ((1, 2), (1, 2))


def test_vgg16_sizes():
    size = 224
    for expected in (112, 56, 28, 14, 7):
        assert conv_output_size(size, 3, padding=1) == size
        size = pool_output_size(size, 2)
        assert size == expected


def test_eecs442_stride_warmup():
    assert conv_output_size((7, 7), 3) == (5, 5)


# --- brute-force property tests --------------------------------------------------------

sizes = st.integers(1, 40)
kernels = st.integers(1, 7)
strides = st.integers(1, 5)
dilations = st.integers(1, 3)
pads = st.integers(0, 4)


@settings(max_examples=150, deadline=None)
@given(n=sizes, k=kernels, s=strides, before=pads, after=pads, d=dilations)
def test_conv_size_matches_window_count(n, k, s, before, after, d):
    expected = count_windows(n, k, s, before, after, d)
    if expected == 0:
        with pytest.raises(ValueError, match="does not fit"):
            conv_output_size(n, k, s, ((before, after), (before, after)), d)
        assert not fits(n, k, s, ((before, after), (before, after)), d)
        return
    assert conv_output_size(n, k, s, ((before, after), (before, after)), d) == expected
    if before == after:
        assert conv_output_size(n, k, s, before, d) == expected
    # leftover: the pixels after the last window's last tap
    last_tap = (expected - 1) * s + d * (k - 1)
    leftover = n + before + after - 1 - last_tap
    assert leftover_pixels(n, k, s, ((before, after), (before, after)), d) == leftover
    assert fits(n, k, s, ((before, after), (before, after)), d) == (leftover == 0)


@settings(max_examples=100, deadline=None)
@given(h=sizes, w=sizes, kh=kernels, kw=kernels, sh=strides, sw=strides, ph=pads, pw=pads)
def test_rectangular_sizes_are_axis_by_axis(h, w, kh, kw, sh, sw, ph, pw):
    expected = (count_windows(h, kh, sh, ph, ph, 1), count_windows(w, kw, sw, pw, pw, 1))
    if 0 in expected:
        return
    assert conv_output_size((h, w), (kh, kw), (sh, sw), (ph, pw)) == expected


@settings(max_examples=150, deadline=None)
@given(n=sizes, k=kernels, s=strides, d=dilations)
def test_same_padding_matches_brute_force(n, k, s, d):
    wanted, split = brute_same(n, k, s, d)
    assert conv_output_size(n, k, s, "same", d) == wanted
    assert resolve_padding(n, k, s, "same", d) == (split, split)


@settings(max_examples=150, deadline=None)
@given(n=sizes, k=kernels, s=strides, data=st.data())
def test_pool_ceil_mode_matches_brute_force(n, k, s, data):
    pad = data.draw(st.integers(0, k // 2))
    floor_count = count_windows(n, k, s, pad, pad, 1)
    if floor_count == 0:
        return
    assert pool_output_size(n, k, s, pad) == floor_count
    assert pool_output_size(n, k, s, pad, ceil_mode=True) == count_windows_ceil(n, k, s, pad)


@settings(max_examples=150, deadline=None)
@given(n=sizes, k=kernels, s=strides, p=pads, d=dilations, data=st.data())
def test_transpose_inverts_convolution(n, k, s, p, d, data):
    output_padding = data.draw(st.integers(0, s - 1))
    try:
        m = conv_transpose_output_size(n, k, s, p, output_padding, d)
    except ValueError:
        assert (n - 1) * s - 2 * p + d * (k - 1) + output_padding + 1 < 1
        return
    assert conv_output_size(m, k, s, p, d) == n


def test_pool_stride_defaults_to_kernel():
    assert pool_output_size(224, 2) == 112
    assert pool_output_size((7, 9), (2, 3)) == (3, 3)
    assert pool_output_size(6, 3, stride=2, ceil_mode=True) == 3
    # PyTorch's drop rule: the extra window would start in the right padding.
    assert pool_output_size(5, 2, stride=2, padding=1) == 3
    assert pool_output_size(5, 2, stride=2, padding=1, ceil_mode=True) == 3


@pytest.mark.torch
def test_against_pytorch():
    torch = pytest.importorskip("torch")
    for n, k, s, p, ceil in [(5, 2, 2, 1, True), (6, 3, 2, 0, True), (7, 3, 3, 1, True)]:
        x = torch.zeros(1, 1, n, n)
        pooled = torch.nn.functional.max_pool2d(x, k, s, p, ceil_mode=ceil)
        assert pool_output_size(n, k, s, p, ceil_mode=ceil) == pooled.shape[-1]
    x = torch.zeros(1, 1, 9, 10)
    w = torch.zeros(1, 1, 3, 4)
    y = torch.nn.functional.conv2d(x, w, stride=(2, 3), padding=(1, 2), dilation=(2, 1))
    assert conv_output_size((9, 10), (3, 4), (2, 3), (1, 2), (2, 1)) == tuple(y.shape[-2:])
    t = torch.nn.functional.conv_transpose2d(
        torch.zeros(1, 1, 5, 5), torch.zeros(1, 1, 3, 3), stride=3, padding=1, output_padding=2
    )
    assert conv_transpose_output_size(5, 3, 3, 1, 2) == t.shape[-1]


# --- explanations, forms, helpers --------------------------------------------------------


def test_explain_fills_in_the_numbers():
    text = explain_conv_output_size(227, 11, stride=4)
    assert "floor((227 + 2*0 - 1*(11 - 1) - 1)/4) + 1 = floor(216/4) + 1 = 55" in text
    text = explain_conv_output_size((32, 30), 5, stride=2, padding="same")
    assert "height: 'same' padding" in text
    assert "split 1 top and 2 bottom" in text
    assert "split 1 left and 2 right" in text
    assert "ceil(30/2) = 15" in text
    assert "strides that fit: 1, 2, 4" in explain_conv_output_size(7, 3, stride=3)


def test_padding_forms():
    assert resolve_padding(10, 3) == ((0, 0), (0, 0))
    assert resolve_padding(10, 3, padding="valid") == ((0, 0), (0, 0))
    assert resolve_padding(10, 3, padding="SAME") == ((1, 1), (1, 1))
    assert resolve_padding((10, 10), 3, padding=(2, 1)) == ((2, 2), (1, 1))
    per_side = ((0, 1), (2, 3))
    assert resolve_padding((10, 10), 3, padding=per_side) == per_side
    assert conv_output_size((10, 10), 3, padding=per_side) == (9, 13)
    assert conv_output_size(10, 2, padding="same") == 10
    assert resolve_padding(10, 2, padding="same") == ((0, 1), (0, 1))


def test_fitting_strides():
    assert fitting_strides(7, 3) == [1, 2, 4]
    assert fitting_strides((7, 9), 3) == [1, 2]
    assert fitting_strides(3, 3) == [1, 2, 3]


def test_numpy_integers_are_accepted():
    np = pytest.importorskip("numpy")
    assert conv_output_size(np.int64(32), np.int32(5)) == 28


def test_import_does_not_pull_in_numpy():
    code = "import sys, cnnlab.shapes; print('numpy' in sys.modules, 'numba' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False False"


# --- bad input speaks to students ----------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (lambda: conv_output_size(32, 3, stride=0), ValueError, r"stride must be at least 1, got"),
        (lambda: conv_output_size(32, 3, stride=-2), ValueError, r"got -2.*never move"),
        (lambda: conv_output_size(32, 3, padding=-1), ValueError, r"padding .* got -1.*negative"),
        (lambda: conv_output_size(32, 3, dilation=0), ValueError, r"dilation .*got 0.*ordinary"),
        (lambda: conv_output_size(32, 2.5), TypeError, r"kernel must be .*got 2.5.*'//'"),
        (lambda: conv_output_size(32.0, 3), TypeError, r"got 32.0.*int\(32.0\) = 32"),
        (lambda: conv_output_size(32, True), TypeError, r"got True \(bool\).*booleans"),
        (lambda: conv_output_size("32", 3), TypeError, r"n must be an integer, got '32'"),
        (lambda: conv_output_size(0, 1), ValueError, r"n must be at least 1, got 0"),
        (lambda: conv_output_size(5, 7), ValueError, r"7-pixel kernel spans 7.*only 5 pixels"),
        (
            lambda: conv_output_size((9, 9), 3, dilation=(1, 5)),
            ValueError,
            r"\(width\).*dilation 5 spans 11 input pixels.*9 pixels plus padding 0 \+ 0 = 9",
        ),
        (lambda: conv_output_size(5, 3, padding="full"), ValueError, r"got 'full'.*kernel - 1"),
        (lambda: conv_output_size(32, (3, 5)), TypeError, r"n is a single int \(32\).*\(h, w\)"),
        (lambda: conv_output_size((3, 32, 32), 3), TypeError, r"3 entries.*no channel"),
        (
            lambda: conv_output_size(32, 3, padding=((0, 0), (1, 1))),
            TypeError,
            r"differs between height and width",
        ),
        (
            lambda: pool_output_size(10, 2, padding=2),
            ValueError,
            r"padding 2 is more than half the kernel 2.*<= 1",
        ),
        (
            lambda: pool_output_size(7, 2, strict=True),
            ValueError,
            r"stride 2 doesn't fit.*1 input pixel",
        ),
        (
            lambda: conv_transpose_output_size(5, 3, stride=2, output_padding=2),
            ValueError,
            r"output_padding 2 must be smaller than max\(stride, dilation\) = 2",
        ),
        (
            lambda: conv_transpose_output_size(1, 1, padding=1),
            ValueError,
            r"would be -1.*padding 1 removes",
        ),
        (
            lambda: conv_transpose_output_size(4, 3, padding="same"),
            TypeError,
            r"int or a pair, got 'same'",
        ),
        (lambda: fits(7, 3, 0), ValueError, r"stride must be at least 1"),
    ],
)
def test_bad_input_messages(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def _unread_by_brute_force(n, k, s, before, after, d):
    out = (n + before + after - d * (k - 1) - 1) // s + 1
    read = {i * s + a * d for i in range(out) for a in range(k)}
    return sum(1 for p in range(before, before + n) if p not in read)


@pytest.mark.parametrize("d", [1, 2, 3, 5])
@pytest.mark.parametrize("s", [1, 2, 3, 4, 7])
def test_unread_pixels_counts_every_pixel_no_tap_reads(s, d):
    for n in range(1, 40):
        for k in range(1, 6):
            for before, after in [(0, 0), (1, 1), (0, 2), (3, 1)]:
                if n + before + after < d * (k - 1) + 1:
                    continue
                expected = _unread_by_brute_force(n, k, s, before, after, d)
                got = unread_pixels((n, n), k, s, ((before, after), (before, after)), d)
                assert got == (expected, expected), (n, k, s, before, after, d)


def test_unread_pixels_is_exact_on_long_axes():
    # the middle of the axis is counted per residue class: no loop over a million pixels
    assert unread_pixels(10**6 + 1, 3, stride=4, dilation=2) == _unread_by_brute_force(
        10**6 + 1, 3, 4, 0, 0, 2)


def test_explanation_names_pixels_between_the_taps():
    text = explain_conv_output_size(9, 3, stride=4, dilation=2)
    assert "the windows fit exactly, but 4 input pixels fall between the taps" in text
    text = explain_conv_output_size(7, 1, stride=3)
    assert "4 input pixels fall between the windows and are never read" in text
    assert "never read" not in explain_conv_output_size(9, 3, stride=1, dilation=2)
    text = explain_conv_output_size(10, 3, stride=4, dilation=2)
    assert "1 pixel is left over at the end" in text
    assert "besides, 4 input pixels" in text
