"""ps1_shapes_params: output sizes, parameter counts and activation memory.

Students write general functions (graded on inputs drawn at grading time) and answer
numeric questions with their own numbers (the variant). The default variant is the
lecture's: CS231n's 7x7 input with a 3x3 filter, the CS109B example network, the
MobileNet slide, AlexNet's conv1 and VGG16's table.

The references are cnnlab's (:mod:`cnnlab.shapes`, :mod:`cnnlab.params`, the model
summaries of :mod:`cnnlab.models`); each misconception is the sentence a student reads
next to the wrong computation that produces it. A value question reuses a function
question's mistakes on the variant's numbers (:meth:`Mistake.at`). This file is
released with the notebook: a student's ``check`` reads it there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from cnnlab import params as P
from cnnlab import shapes
from cnnlab.grading.build import Mistake, Part, function_question, value_question
from cnnlab.grading.compare import pair_check
from cnnlab.grading.variants import Draw, VariantSpec, register_variant
from cnnlab.models import summarize
from cnnlab.models.spec import Conv2d, Dense, Flatten, Input, ReLU, Sequential

ASSIGNMENT = "ps1_shapes_params"

# --- references ---------------------------------------------------------------------------


def output_size(n: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    return int(shapes.conv_output_size(n, k, stride=s, padding=p, dilation=d))


def same_padding(n: int, k: int, s: int) -> tuple[int, int]:
    (before, after), _ = shapes.resolve_padding(n, k, stride=s, padding="same")
    return (int(before), int(after))


def cs109b_network(v: Mapping[str, int]) -> Sequential:
    """The CS109B example network (cnnlab's zoo ``cs109b_example``) with the variant's
    numbers: conv 3x3 'same', conv 5x5 stride 2 'same', dense, dense."""
    return Sequential(
        Input(3, v["cs_in"], v["cs_in"]),
        Conv2d(v["cs_f1"], 3, 1, "same", name="conv1"),
        ReLU(),
        Conv2d(v["cs_f2"], 5, 2, "same", name="conv2"),
        ReLU(),
        Flatten(),
        Dense(v["cs_hidden"], name="dense1"),
        ReLU(),
        Dense(v["cs_classes"], name="dense2"),
        name="cs109b_example",
    )


CS109B_LAYERS = ("conv1", "conv2", "dense1", "dense2")


def _rows(model) -> dict[str, summarize.LayerRow]:
    return {row.name: row for row in summarize.summary(model).rows if row.depth == 0}


def cs109b_params(v: Mapping[str, int]) -> tuple[int, int, int, int]:
    """Conv1, conv2, dense1, dense2 of the CS109B example network (with biases)."""
    rows = _rows(cs109b_network(v))
    return tuple(rows[name].params for name in CS109B_LAYERS)


def vgg16_counts() -> tuple[int, int, int, int]:
    """(first 512-filter conv params, fc6 params, total params, activation values)."""
    table = summarize.summary("vgg16")
    rows = _rows("vgg16")
    return rows["conv4_1"].params, rows["fc6"].params, table.total_params, table.total_activations


def vgg16_biases() -> int:
    """One bias per filter of each conv layer and per unit of each dense layer."""
    return sum(row.biases for row in _rows("vgg16").values())


def separable(v: Mapping[str, int]) -> tuple[int, int, int, int]:
    """Standard and depthwise-separable parameters, then their multiply-adds."""
    k, c_in, c_out, n = v["sep_k"], v["sep_in"], v["sep_out"], v["sep_n"]
    out = output_size(n, k)
    return (
        P.conv2d_params(c_in, c_out, k),
        P.depthwise_separable_params(c_in, c_out, k),
        P.conv2d_macs(c_in, c_out, k, out),
        P.depthwise_separable_macs(c_in, c_out, k, out),
    )


def vgg16_memory() -> tuple[int, float]:
    """VGG16's activation values per image and their float32 size in MiB."""
    values = vgg16_counts()[3]
    return values, P.activation_bytes(values) / 2**20


# --- the variant: each student's numbers --------------------------------------------------

DEFAULTS: dict[str, int] = {
    # CS231n: 7x7 input, 3x3 filter; stride 2 fits, stride 3 doesn't
    "n_fit": 7,
    "k_fit": 3,
    "s_fit": 2,
    "s_nofit": 3,
    # CS231n: 32x32 input, 5x5 filter, zero-pad (F-1)/2 = 2
    "n_pad": 32,
    "k_pad": 5,
    "p_pad": 2,
    # CS109B dilated convolutions: 3 taps, dilation 2
    "n_dil": 32,
    "k_dil": 3,
    "d_dil": 2,
    # CS109B conv2: 32x32, 5x5, stride 2, padding='same'
    "n_same": 32,
    "k_same": 5,
    "s_same": 2,
    # CS231n: 10 filters of 5x5x3
    "cp_filters": 10,
    "cp_k": 5,
    "cp_c": 3,
    # CS109B example network: 32x32x3 -> conv 8 3x3 same -> conv 16 5x5 s2 same -> 512 -> 4
    "cs_in": 32,
    "cs_f1": 8,
    "cs_f2": 16,
    "cs_hidden": 512,
    "cs_classes": 4,
    # CS109B MobileNet slide: 5x5, 3 -> 256 channels, 12x12 input
    "sep_k": 5,
    "sep_in": 3,
    "sep_out": 256,
    "sep_n": 12,
}


def _draw(draw: Draw) -> dict[str, int]:
    v: dict[str, int] = {}
    while True:
        n, k = draw.integer(7, 16), draw.choice((3, 5))
        room = n - k
        fit = [s for s in range(2, room + 1) if room % s == 0]
        nofit = [s for s in range(2, room + 1) if room % s != 0]
        if fit and nofit:
            break
    v.update(n_fit=n, k_fit=k, s_fit=draw.choice(fit), s_nofit=draw.choice(nofit))
    k_pad = draw.choice((3, 5, 7))
    v.update(n_pad=draw.integer(16, 64), k_pad=k_pad, p_pad=draw.integer(1, k_pad // 2 + 1))
    # n_dil above the widest dilated kernel (5 taps, dilation 4: 17 pixels), so it fits.
    v.update(n_dil=draw.integer(18, 64), k_dil=draw.choice((3, 5)), d_dil=draw.integer(2, 4))
    while True:  # an odd total, as on the slide: the extra pixel's side then matters
        n_same, k_same, s_same = draw.integer(15, 64), draw.choice((3, 5, 7)), draw.choice((2, 3))
        if sum(same_padding(n_same, k_same, s_same)) % 2:
            break
    v.update(n_same=n_same, k_same=k_same, s_same=s_same)
    v.update(
        cp_filters=draw.integer(4, 64), cp_k=draw.choice((3, 5, 7)), cp_c=draw.choice((1, 3, 4))
    )
    v.update(
        cs_in=draw.choice((24, 28, 32, 36, 40)),
        cs_f1=draw.integer(4, 16),
        cs_f2=draw.integer(8, 32),
        cs_hidden=draw.choice((64, 128, 256, 512)),
        cs_classes=draw.integer(2, 10),
    )
    sep_k = draw.choice((3, 5))
    v.update(
        sep_k=sep_k,
        sep_in=draw.choice((3, 8, 16, 32)),
        sep_out=draw.choice((32, 64, 128, 256)),
        sep_n=draw.integer(sep_k + 3, 16),
    )
    return v


register_variant(VariantSpec(ASSIGNMENT, DEFAULTS, _draw))


# --- output sizes: the mistakes, on (n, k, s, p, d) ---------------------------------------


def _span(k: int, d: int) -> int:
    return d * (k - 1) + 1


MISSING_PLUS_ONE = Mistake(
    "the count is one short: (n + 2p - k)/s counts the steps the window takes, and "
    "the window's first position needs the +1.",
    lambda n, k, s=1, p=0, d=1: (n + 2 * p - _span(k, d)) // s,
)
ONE_SIDE_PADDING = Mistake(
    "padding was counted on one side only: p pixels go on *each* side, so the "
    "padded width is n + 2p.",
    lambda n, k, s=1, p=0, d=1: (n + p - _span(k, d)) // s + 1,
)
CEIL = Mistake(
    "you rounded up: a window that doesn't fit is dropped, so the division rounds down (floor).",
    lambda n, k, s=1, p=0, d=1: math.ceil((n + 2 * p - _span(k, d)) / s) + 1,
)
TRUE_DIVISION = Mistake(
    "`/` gives a fraction: sizes and counts are whole numbers; `//` rounds down "
    "(floor), which is what a window that doesn't fit does.",
    lambda n, k, s=1, p=0, d=1: (n + 2 * p - _span(k, d)) / s + 1,
)
DILATION_IGNORED = Mistake(
    "dilation was ignored: a kernel of k taps with dilation d spans d*(k - 1) + 1 pixels.",
    lambda n, k, s=1, p=0, d=1: (n + 2 * p - k) // s + 1,
)
DILATION_TIMES_KERNEL = Mistake(
    "a dilated kernel spans d*(k - 1) + 1 pixels, not d*k: the gaps are only between taps.",
    lambda n, k, s=1, p=0, d=1: (n + 2 * p - d * k) // s + 1,
)
STRIDE_IGNORED = Mistake(
    "the stride was ignored: with stride s the window moves s pixels per step, so "
    "divide the sliding room by s.",
    lambda n, k, s=1, p=0, d=1: n + 2 * p - _span(k, d) + 1,
)
PADDING_IGNORED = Mistake(
    "the padding was left out: it widens the input before the window slides.",
    lambda n, k, s=1, p=0, d=1: (n - _span(k, d)) // s + 1,
)
OUTPUT_SIZE_MISTAKES = [
    MISSING_PLUS_ONE,
    ONE_SIDE_PADDING,
    CEIL,
    TRUE_DIVISION,
    DILATION_IGNORED,
    DILATION_TIMES_KERNEL,
    STRIDE_IGNORED,
    PADDING_IGNORED,
]


DILATION_MISTAKES = [DILATION_IGNORED, DILATION_TIMES_KERNEL]


def _in_likely_order(dilated: bool) -> list[Mistake]:
    """The output-size mistakes, most likely first: on a dilated case, the dilation ones."""
    if not dilated:
        return OUTPUT_SIZE_MISTAKES
    return [*DILATION_MISTAKES, *(m for m in OUTPUT_SIZE_MISTAKES if m not in DILATION_MISTAKES)]


def _likely_first(n: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> list[Mistake]:
    return _in_likely_order(d > 1)


def _size_mistakes(inputs, part: str = "the output size", dilated: bool = False):
    """The output-size mistakes on the ``(n, k, s, p, d)`` a value question's variant gives."""
    return [mistake.at(inputs, part) for mistake in _in_likely_order(dilated)]


def _features(*named: tuple[bool, str], otherwise: str) -> str:
    """The names of the features a case has, joined: ``"stride > 1, padding"``."""
    return ", ".join(text for present, text in named if present) or otherwise


def _describe_output_size(n: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> str:
    return _features(
        (s > 1, "stride > 1"),
        (s > 1 and (n + 2 * p - _span(k, d)) % s != 0, "a stride that doesn't fit"),
        (p > 0, "padding"),
        (d > 1, "dilation"),
        (k == 1, "1x1 kernel"),
        otherwise="stride 1, no padding, no dilation",
    )


def _draw_output_size(rng: np.random.Generator) -> tuple[int, int, int, int, int]:
    while True:
        n = int(rng.integers(1, 65))
        k = int(rng.integers(1, 8))
        s = int(rng.integers(1, 5))
        p = int(rng.integers(0, 4))
        d = int(rng.integers(1, 4))
        if n + 2 * p >= _span(k, d):
            return (n, k, s, p, d)


OUTPUT_SIZE = function_question(
    f"{ASSIGNMENT}-output_size",
    "output_size",
    points=3,
    reference=output_size,
    visible=[
        (7, 3, 1, 0, 1),
        (7, 3, 2, 0, 1),
        (7, 3, 3, 0, 1),
        (32, 5, 1, 2, 1),
        (227, 11, 4, 0, 1),
        (32, 3, 1, 0, 2),
    ],
    hidden=lambda rng: [_draw_output_size(rng) for _ in range(12)],
    mistakes=_likely_first,
    describe=_describe_output_size,
    title="output_size(n, k, s, p, d)",
)
STRIDE_FITS = value_question(
    f"{ASSIGNMENT}-stride_fits",
    "ans_stride_fits",
    points=1,
    reference=lambda v: output_size(v["n_fit"], v["k_fit"], v["s_fit"]),
    parts=["the output size"],
    mistakes=_size_mistakes(lambda v: (v["n_fit"], v["k_fit"], v["s_fit"], 0, 1)),
    variant_fields=("n_fit", "k_fit", "s_fit"),
    title="output size, stride that fits",
)
DOESNT_FIT = value_question(
    f"{ASSIGNMENT}-doesnt_fit",
    "ans_doesnt_fit",
    points=1,
    reference=lambda v: (
        output_size(v["n_fit"], v["k_fit"], v["s_nofit"]),
        int(shapes.leftover_pixels(v["n_fit"], v["k_fit"], stride=v["s_nofit"])),
    ),
    parts=["the output size", "the pixels left over"],
    mistakes=_size_mistakes(lambda v: (v["n_fit"], v["k_fit"], v["s_nofit"], 0, 1)),
    variant_fields=("n_fit", "k_fit", "s_nofit"),
    title="output size when the stride doesn't fit",
)
PADDED = value_question(
    f"{ASSIGNMENT}-padded",
    "ans_padded",
    points=1,
    reference=lambda v: output_size(v["n_pad"], v["k_pad"], 1, v["p_pad"]),
    parts=["the output size"],
    mistakes=_size_mistakes(lambda v: (v["n_pad"], v["k_pad"], 1, v["p_pad"], 1)),
    variant_fields=("n_pad", "k_pad", "p_pad"),
    title="output size with zero padding",
)
DILATED = value_question(
    f"{ASSIGNMENT}-dilated",
    "ans_dilated",
    points=1,
    reference=lambda v: output_size(v["n_dil"], v["k_dil"], 1, 0, v["d_dil"]),
    parts=["the output size"],
    mistakes=_size_mistakes(lambda v: (v["n_dil"], v["k_dil"], 1, 0, v["d_dil"]), dilated=True),
    variant_fields=("n_dil", "k_dil", "d_dil"),
    title="output size with dilation",
)


# --- 'same' padding -------------------------------------------------------------------------

EXTRA_PIXEL_FIRST = Mistake(
    "the odd padding pixel is on the wrong side: TensorFlow/Keras 'same' puts the "
    "extra pixel at the end (bottom/right).",
    lambda n, k, s: same_padding(n, k, s)[::-1],
)
SAME_STRIDE_IGNORED = Mistake(
    "that is the stride-1 rule (k - 1 in total): with stride s, 'same' means "
    "ceil(n/s) outputs, and the padding is what makes the last window fit.",
    lambda n, k, s: ((k - 1) // 2, k - 1 - (k - 1) // 2),
)


def _describe_same(n: int, k: int, s: int) -> str:
    total = sum(same_padding(n, k, s))
    parity = "odd" if total % 2 else "even"
    return f"stride {'1' if s == 1 else '> 1'}, {parity} total padding"


SAME_PADDING = function_question(
    f"{ASSIGNMENT}-same_padding",
    "same_padding",
    points=2,
    reference=same_padding,
    visible=[(32, 5, 2), (32, 3, 1), (7, 3, 2), (28, 4, 1)],
    hidden=lambda rng: [
        (int(rng.integers(1, 65)), int(rng.integers(1, 8)), int(rng.integers(1, 5)))
        for _ in range(10)
    ],
    mistakes=[EXTRA_PIXEL_FIRST, SAME_STRIDE_IGNORED],
    describe=_describe_same,
    result="padding",
    compare=pair_check,
    title="same_padding(n, k, s)",
)


def _same(v: Mapping[str, int]) -> tuple[int, int, int]:
    n, k, s = v["n_same"], v["k_same"], v["s_same"]
    return (int(shapes.conv_output_size(n, k, stride=s, padding="same")), *same_padding(n, k, s))


def _same_args(v: Mapping[str, int]) -> tuple[int, int, int]:
    return (v["n_same"], v["k_same"], v["s_same"])


SAME = value_question(
    f"{ASSIGNMENT}-same",
    "ans_same",
    points=1,
    reference=_same,
    parts=["the output size", "the padding before", "the padding after"],
    mistakes=[
        Mistake(CEIL.sentence, lambda v: v["n_same"] // v["s_same"], part="the output size"),
        Mistake(
            SAME_STRIDE_IGNORED.sentence,
            lambda v: SAME_STRIDE_IGNORED.compute(*_same_args(v))[0],
            part="the padding before",
        ),
        Mistake(
            EXTRA_PIXEL_FIRST.sentence,
            lambda v: EXTRA_PIXEL_FIRST.compute(*_same_args(v))[1],
            part="the padding after",
        ),
    ],
    variant_fields=("n_same", "k_same", "s_same"),
    title="'same' padding: output size, padding before and after",
)


# --- parameter counts: the mistakes, on (c_in, c_out, k) and (n_in, n_out) ----------------

NO_BIAS = Mistake(
    "the biases are missing: every filter (or output unit) has one bias.",
    lambda c_in, c_out, k: c_out * c_in * k * k,
)
CONV_PARAMS_MISTAKES = [
    NO_BIAS,
    Mistake(
        "the input channels are missing: each filter spans all C input channels, so it "
        "has k*k*C weights.",
        lambda c_in, c_out, k: c_out * (k * k + 1),
    ),
    Mistake(
        "a k x k filter has k*k weights per input channel, not k.",
        lambda c_in, c_out, k: c_out * (c_in * k + 1),
    ),
    Mistake(
        "there is one bias per filter, not one per input channel.",
        lambda c_in, c_out, k: c_out * c_in * (k * k + 1),
    ),
    Mistake(
        "there is one bias per filter, not one per weight: the k*k*C weights of a "
        "filter share a single bias.",
        lambda c_in, c_out, k: 2 * c_out * c_in * k * k,
    ),
]
DENSE_PARAMS_MISTAKES = [
    Mistake(NO_BIAS.sentence, lambda n_in, n_out: n_in * n_out),
    Mistake(
        "the biases belong to the output units, one each, not to the inputs.",
        lambda n_in, n_out: n_in * n_out + n_in,
    ),
]
SEPARABLE_PARAMS_MISTAKES = [
    Mistake(
        "the biases are missing: the depthwise step has one per channel and the "
        "pointwise step one per output channel.",
        lambda c_in, c_out, k: k * k * c_in + c_in * c_out,
    ),
    Mistake(
        "the depthwise step's biases (one per input channel) are missing.",
        lambda c_in, c_out, k: k * k * c_in + c_in * c_out + c_out,
    ),
    Mistake(
        "the pointwise step's biases (one per output channel) are missing.",
        lambda c_in, c_out, k: k * k * c_in + c_in + c_in * c_out,
    ),
    Mistake(
        "the depthwise step was counted as a full convolution: each of its filters sees "
        "only its own channel (k*k weights), not all channels.",
        lambda c_in, c_out, k: k * k * c_in * c_in + c_in + c_in * c_out + c_out,
    ),
    Mistake(
        "that is the count of a standard convolution; a depthwise-separable one is a "
        "depthwise k x k step followed by a pointwise 1 x 1 step.",
        lambda c_in, c_out, k: k * k * c_in * c_out + c_out,
    ),
]


def _draw_conv_params(rng: np.random.Generator) -> tuple[int, int, int]:
    return (int(rng.integers(1, 65)), int(rng.integers(1, 257)), int(rng.integers(1, 8)))


def _describe_conv(c_in: int, c_out: int, k: int) -> str:
    kernel = "1x1 kernel" if k == 1 else "k x k kernel"
    channels = "one input channel" if c_in == 1 else "several input channels"
    return f"{kernel}, {channels}"


CONV_PARAMS = function_question(
    f"{ASSIGNMENT}-conv_params",
    "conv_params",
    points=2,
    reference=lambda c_in, c_out, k: P.conv2d_params(c_in, c_out, k),
    visible=[(3, 1, 3), (3, 16, 3), (8, 16, 5), (3, 10, 5)],
    hidden=lambda rng: [_draw_conv_params(rng) for _ in range(8)],
    mistakes=CONV_PARAMS_MISTAKES,
    describe=_describe_conv,
    title="conv_params(c_in, c_out, k)",
)
DENSE_PARAMS = function_question(
    f"{ASSIGNMENT}-dense_params",
    "dense_params",
    points=1,
    reference=lambda n_in, n_out: P.dense_params(n_in, n_out),
    visible=[(16 * 16 * 16, 512), (512, 4), (2, 4)],
    hidden=lambda rng: [
        (int(rng.integers(1, 5000)), int(rng.integers(1, 1025))) for _ in range(6)
    ],
    mistakes=DENSE_PARAMS_MISTAKES,
    describe=lambda n_in, n_out: "a dense layer" + (" with one output" if n_out == 1 else ""),
    title="dense_params(n_in, n_out)",
)


def _conv_mistakes(inputs, part: str) -> list[Mistake]:
    """The conv-layer mistakes on the ``(c_in, c_out, k)`` of a layer of the variant."""
    return [mistake.at(inputs, part) for mistake in CONV_PARAMS_MISTAKES]


def _dense_mistakes(inputs, part: str) -> list[Mistake]:
    return [mistake.at(inputs, part) for mistake in DENSE_PARAMS_MISTAKES]


CONV_PARAMS_VALUE = value_question(
    f"{ASSIGNMENT}-conv_layer_params",
    "ans_conv_layer_params",
    points=1,
    reference=lambda v: P.conv2d_params(v["cp_c"], v["cp_filters"], v["cp_k"]),
    parts=["the parameter count"],
    mistakes=_conv_mistakes(
        lambda v: (v["cp_c"], v["cp_filters"], v["cp_k"]), "the parameter count"
    ),
    variant_fields=("cp_filters", "cp_k", "cp_c"),
    title="parameters of one conv layer",
)


def _dense1_no_bias(v: Mapping[str, int]) -> int:
    return _rows(cs109b_network(v))["dense1"].weights


CS109B = value_question(
    f"{ASSIGNMENT}-cs109b_params",
    "ans_cs109b_params",
    points=2,
    reference=cs109b_params,
    parts=CS109B_LAYERS,
    mistakes=[
        *_conv_mistakes(lambda v: (3, v["cs_f1"], 3), "conv1"),
        *_conv_mistakes(lambda v: (v["cs_f1"], v["cs_f2"], 5), "conv2"),
        Mistake(
            "the flattened length is conv2's *output* (H_out * W_out * filters); a 'same' "
            "convolution with stride s gives ceil(n/s) pixels per axis.",
            lambda v: P.dense_params(v["cs_in"] * v["cs_in"] * v["cs_f2"], v["cs_hidden"]),
            part="dense1",
        ),
        Mistake(NO_BIAS.sentence, _dense1_no_bias, part="dense1"),
        *_dense_mistakes(lambda v: (v["cs_hidden"], v["cs_classes"]), "dense2"),
    ],
    variant_fields=("cs_in", "cs_f1", "cs_f2", "cs_hidden", "cs_classes"),
    title="the CS109B example network, layer by layer",
)


def _alexnet(v: Mapping[str, int]) -> tuple[int, int, int, int]:
    """AlexNet's conv1 (227x227 input, 96 filters 11x11, stride 4) and pool1 (3x3, stride 2)."""
    conv1 = int(shapes.conv_output_size(227, 11, stride=4))
    pool1 = int(shapes.pool_output_size(conv1, 3, stride=2))
    return conv1, pool1, P.conv2d_params(3, 96, 11), 0


ALEXNET = value_question(
    f"{ASSIGNMENT}-alexnet",
    "ans_alexnet",
    points=1,
    reference=_alexnet,
    parts=[
        "conv1's output size",
        "pool1's output size",
        "conv1's parameters",
        "pool1's parameters",
    ],
    mistakes=[
        *_size_mistakes(lambda v: (227, 11, 4, 0, 1), "conv1's output size"),
        *_size_mistakes(lambda v: (55, 3, 2, 0, 1), "pool1's output size"),
        *_conv_mistakes(lambda v: (3, 96, 11), "conv1's parameters"),
        Mistake(
            "pooling has no parameters: it only takes a max (or an average) of each window.",
            recognise=lambda value, v: value not in (0, None),
            part="pool1's parameters",
        ),
    ],
    title="AlexNet conv1 and pool1",
)
VGG16 = value_question(
    f"{ASSIGNMENT}-vgg16_params",
    "ans_vgg16_params",
    points=1,
    reference=lambda v: vgg16_counts()[:3],
    parts=["the first 512-filter conv layer", "fc6", "the total"],
    mistakes=[
        *_conv_mistakes(lambda v: (256, 512, 3), "the first 512-filter conv layer"),
        *_dense_mistakes(lambda v: (7 * 7 * 512, 4096), "fc6"),
        Mistake(
            "the biases are missing from the total: every conv filter and dense unit has one.",
            lambda v: vgg16_counts()[2] - vgg16_biases(),
            part="the total",
        ),
    ],
    title="VGG16 parameters",
)


# --- separable convolutions and memory ----------------------------------------------------

SEPARABLE_PARAMS = function_question(
    f"{ASSIGNMENT}-separable_params",
    "separable_params",
    points=2,
    reference=lambda c_in, c_out, k: P.depthwise_separable_params(c_in, c_out, k),
    visible=[(3, 256, 5), (32, 64, 3)],
    hidden=lambda rng: [_draw_conv_params(rng) for _ in range(8)],
    mistakes=SEPARABLE_PARAMS_MISTAKES,
    describe=_describe_conv,
    title="separable_params(c_in, c_out, k)",
)

MACS_INPUT_POSITIONS = (
    "the multiply-adds were counted at the input's positions: a filter is applied "
    "once per *output* position, and a valid k x k convolution has n - k + 1 per axis."
)


def _macs_at_input_positions(v: Mapping[str, int]) -> tuple[int, int]:
    """(standard, separable) multiply-adds with each k x k filter applied at all n x n
    input positions instead of the n - k + 1 per axis of the output."""
    k, c_in, c_out, n = v["sep_k"], v["sep_in"], v["sep_out"], v["sep_n"]
    out = output_size(n, k)
    return (k * k * c_in * c_out * n * n, k * k * c_in * n * n + c_in * c_out * out * out)


def _separable_args(v: Mapping[str, int]) -> tuple[int, int, int]:
    return (v["sep_in"], v["sep_out"], v["sep_k"])


SEPARABLE = value_question(
    f"{ASSIGNMENT}-separable",
    "ans_separable",
    points=2,
    reference=separable,
    parts=["standard parameters", "separable parameters", "standard MACs", "separable MACs"],
    mistakes=[
        *_conv_mistakes(_separable_args, "standard parameters"),
        *[m.at(_separable_args, "separable parameters") for m in SEPARABLE_PARAMS_MISTAKES],
        Mistake(
            MACS_INPUT_POSITIONS,
            lambda v: _macs_at_input_positions(v)[0],
            part="standard MACs",
        ),
        Mistake(
            MACS_INPUT_POSITIONS,
            lambda v: _macs_at_input_positions(v)[1],
            part="separable MACs",
        ),
    ],
    variant_fields=("sep_k", "sep_in", "sep_out", "sep_n"),
    title="standard vs depthwise-separable convolution",
)

ACTIVATIONS_SLIDE_TOTAL = (
    "that is the slide's total, which does not match its own rows: add up the "
    "per-layer values instead."
)
#: The slide's figures: 24M activation values, 93 MB.
SLIDE_VALUES, SLIDE_MIB = 24_000_000, 93.0


def _vgg16_bytes() -> int:
    return P.activation_bytes(vgg16_memory()[0])


def _near(target: Callable[[], float]) -> Callable[..., bool]:
    """A MiB answer within 1 of ``target()`` (the slide's rounding, or a unit mistake)."""
    return lambda value, v: abs(value - target()) <= 1.0


VGG16_MEMORY = value_question(
    f"{ASSIGNMENT}-vgg16_memory",
    "ans_vgg16_memory",
    points=1,
    reference=lambda v: vgg16_memory(),
    parts=["the activation values", Part("the MiB", integer=False, atol=0.01)],
    mistakes=[
        Mistake(
            "the input image is an activation too: count its values.",
            lambda v: vgg16_memory()[0] - int(np.prod(summarize.summary("vgg16").input_shape)),
            part="the activation values",
        ),
        Mistake(ACTIVATIONS_SLIDE_TOTAL, lambda v: SLIDE_VALUES, part="the activation values"),
        Mistake(ACTIVATIONS_SLIDE_TOTAL, recognise=_near(lambda: SLIDE_MIB), part="the MiB"),
        Mistake(
            "that is in MB (10^6 bytes); a MiB is 2^20 = 1,048,576 bytes.",
            recognise=_near(lambda: _vgg16_bytes() / 1e6),
            part="the MiB",
        ),
        Mistake(
            "float32 values take 4 bytes each.",
            recognise=_near(lambda: _vgg16_bytes() * 2 / 2**20),
            part="the MiB",
        ),
    ],
    title="VGG16 forward activation memory per image",
)

#: The questions, in notebook order (the registry reads this; importing registers nothing).
QUESTIONS = (
    OUTPUT_SIZE,
    STRIDE_FITS,
    DOESNT_FIT,
    PADDED,
    DILATED,
    SAME_PADDING,
    SAME,
    CONV_PARAMS,
    DENSE_PARAMS,
    CONV_PARAMS_VALUE,
    CS109B,
    ALEXNET,
    VGG16,
    SEPARABLE_PARAMS,
    SEPARABLE,
    VGG16_MEMORY,
)
