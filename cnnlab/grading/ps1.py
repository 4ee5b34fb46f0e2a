"""ps1_shapes_params: output sizes, parameter counts and activation memory.

Students write general functions (graded on inputs drawn at grading time) and answer
numeric questions with their own numbers (the variant). The default variant is the
lecture's: CS231n's 7x7 input with a 3x3 filter, the CS109B example network, the
MobileNet slide, AlexNet's conv1 and VGG16's table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from cnnlab import params as P
from cnnlab import shapes
from cnnlab.grading import diagnose
from cnnlab.grading.compare import as_number, number_check, sequence_of
from cnnlab.grading.diagnose import SENTENCES, first_match
from cnnlab.grading.questions import Case, Check, Question
from cnnlab.grading.variants import Draw, VariantSpec, register_variant

ASSIGNMENT = "ps1_shapes_params"

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


# --- references --------------------------------------------------------------------------


def output_size(n: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    return int(shapes.conv_output_size(n, k, stride=s, padding=p, dilation=d))


def same_padding(n: int, k: int, s: int) -> tuple[int, int]:
    (before, after), _ = shapes.resolve_padding(n, k, stride=s, padding="same")
    return (int(before), int(after))


def cs109b_params(v: Mapping[str, int]) -> tuple[int, int, int, int]:
    """Conv1, conv2, dense1, dense2 of the CS109B example network (with biases)."""
    side = int(shapes.conv_output_size(v["cs_in"], 5, stride=2, padding="same"))
    flat = side * side * v["cs_f2"]
    return (
        P.conv2d_params(3, v["cs_f1"], 3),
        P.conv2d_params(v["cs_f1"], v["cs_f2"], 5),
        P.dense_params(flat, v["cs_hidden"]),
        P.dense_params(v["cs_hidden"], v["cs_classes"]),
    )


def _vgg16_rows():
    """VGG16's layers as cnnlab's model zoo and summary count them."""
    from cnnlab.models.summarize import summary

    table = summary("vgg16")
    return table, {row.name: row for row in table.rows if row.depth == 0}


def vgg16_counts() -> tuple[int, int, int, int]:
    """(first 512-filter conv params, fc6 params, total params, activation values)."""
    table, rows = _vgg16_rows()
    return rows["conv4_1"].params, rows["fc6"].params, table.total_params, table.total_activations


def separable(v: Mapping[str, int]) -> tuple[int, int, int, int]:
    k, c_in, c_out, n = v["sep_k"], v["sep_in"], v["sep_out"], v["sep_n"]
    out = output_size(n, k)
    return (
        P.conv2d_params(c_in, c_out, k),
        P.depthwise_separable_params(c_in, c_out, k),
        P.conv2d_macs(c_in, c_out, k, out),
        P.depthwise_separable_macs(c_in, c_out, k, out),
    )


def vgg16_memory() -> tuple[int, float]:
    values = vgg16_counts()[3]
    return values, P.activation_bytes(values) / 2**20


# --- helpers to build questions -------------------------------------------------------


def _call(name: str, args: Sequence[Any]) -> str:
    return f"{name}({', '.join(str(a) for a in args)})"


def _function_question(
    name: str,
    points: float,
    visible_args: Sequence[tuple],
    draw_args: Callable[[np.random.Generator], tuple],
    count: int,
    judge_one: Callable[[Any, Case], list[Check]],
    title: str,
    describe: Callable[..., str],
) -> Question:
    """A function of small ints; hidden cases are labelled by ``describe(*args)``, which
    names the case's features without its numbers (a label with the inputs would let a
    resubmitted answer hard-code them)."""

    def visible(variant: Mapping[str, Any]) -> list[Case]:
        return [Case(tuple(args), label=_call(name, args)) for args in visible_args]

    def hidden(rng: np.random.Generator, variant: Mapping[str, Any]) -> list[Case]:
        cases = []
        for _ in range(count):
            args = draw_args(rng)
            cases.append(Case(args, label=describe(*args), hidden=True))
        return cases

    return Question(
        f"{ASSIGNMENT}-{name}",
        name,
        "function",
        points,
        visible=visible,
        hidden=hidden,
        judge=lambda value, case, variant: judge_one(value, case),
        title=title,
    )


def _int_judge(reference: Callable[..., int], detector) -> Callable[[Any, Case], list[Check]]:
    def judge(value: Any, case: Case) -> list[Check]:
        expected = reference(*case.args)
        return [
            number_check(
                "the result",
                value,
                expected,
                reveal=not case.hidden,
                diagnose=lambda: detector(value, case, expected, every=True),
            )
        ]

    return judge


def _features(*named: tuple[bool, str], otherwise: str) -> str:
    """The names of the features a case has, joined: ``"stride > 1, padding"``."""
    return ", ".join(text for present, text in named if present) or otherwise


def _describe_output_size(n: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> str:
    span = d * (k - 1) + 1
    return _features(
        (s > 1, "stride > 1"),
        (s > 1 and (n + 2 * p - span) % s != 0, "a stride that doesn't fit"),
        (p > 0, "padding"),
        (d > 1, "dilation"),
        (k == 1, "1x1 kernel"),
        otherwise="stride 1, no padding, no dilation",
    )


def _describe_same(n: int, k: int, s: int) -> str:
    total = sum(same_padding(n, k, s))
    parity = "odd" if total % 2 else "even"
    return f"stride {'1' if s == 1 else '> 1'}, {parity} total padding"


def _describe_conv(c_in: int, c_out: int, k: int) -> str:
    kernel = "1x1 kernel" if k == 1 else "k x k kernel"
    channels = "one input channel" if c_in == 1 else "several input channels"
    return f"{kernel}, {channels}"


def _describe_dense(n_in: int, n_out: int) -> str:
    return "a dense layer" + (" with one output" if n_out == 1 else "")


def _draw_output_size(rng: np.random.Generator) -> tuple[int, int, int, int, int]:
    while True:
        n = int(rng.integers(1, 65))
        k = int(rng.integers(1, 8))
        s = int(rng.integers(1, 5))
        p = int(rng.integers(0, 4))
        d = int(rng.integers(1, 4))
        if n + 2 * p >= d * (k - 1) + 1:
            return (n, k, s, p, d)


def _same_judge(value: Any, case: Case) -> list[Check]:
    expected = same_padding(*case.args)
    pair = sequence_of(value, 2)
    if pair is None or any(as_number(x) is None for x in pair):
        return [Check(False, "the result should be a pair (before, after) of ints.")]
    got = tuple(as_number(x) for x in pair)
    if got == expected:
        return [Check(True)]
    where = f"expected {expected}, found {got}" if not case.hidden else f"found {got}, not right"
    found = diagnose.same_padding(got, case, expected, every=True)
    return [Check(False, f"padding: {where}.", found[0] if found else None, 1.0, tuple(found))]


def _draw_same(rng: np.random.Generator) -> tuple[int, int, int]:
    return (int(rng.integers(1, 65)), int(rng.integers(1, 8)), int(rng.integers(1, 5)))


def _draw_conv_params(rng: np.random.Generator) -> tuple[int, int, int]:
    return (int(rng.integers(1, 65)), int(rng.integers(1, 257)), int(rng.integers(1, 8)))


def _draw_dense(rng: np.random.Generator) -> tuple[int, int]:
    return (int(rng.integers(1, 5000)), int(rng.integers(1, 1025)))


OUTPUT_SIZE = _function_question(
    "output_size",
    3,
    [
        (7, 3, 1, 0, 1),
        (7, 3, 2, 0, 1),
        (7, 3, 3, 0, 1),
        (32, 5, 1, 2, 1),
        (227, 11, 4, 0, 1),
        (32, 3, 1, 0, 2),
    ],
    _draw_output_size,
    12,
    _int_judge(output_size, diagnose.output_size),
    "output_size(n, k, s, p, d)",
    _describe_output_size,
)
SAME_PADDING = _function_question(
    "same_padding",
    2,
    [(32, 5, 2), (32, 3, 1), (7, 3, 2), (28, 4, 1)],
    _draw_same,
    10,
    _same_judge,
    "same_padding(n, k, s)",
    _describe_same,
)
CONV_PARAMS = _function_question(
    "conv_params",
    2,
    [(3, 1, 3), (3, 16, 3), (8, 16, 5), (3, 10, 5)],
    _draw_conv_params,
    8,
    _int_judge(lambda c_in, c_out, k: P.conv2d_params(c_in, c_out, k), diagnose.conv_params),
    "conv_params(c_in, c_out, k)",
    _describe_conv,
)
DENSE_PARAMS = _function_question(
    "dense_params",
    1,
    [(16 * 16 * 16, 512), (512, 4), (2, 4)],
    _draw_dense,
    6,
    _int_judge(lambda n_in, n_out: P.dense_params(n_in, n_out), diagnose.dense_params),
    "dense_params(n_in, n_out)",
    _describe_dense,
)
SEPARABLE_PARAMS = _function_question(
    "separable_params",
    2,
    [(3, 256, 5), (32, 64, 3)],
    _draw_conv_params,
    8,
    _int_judge(
        lambda c_in, c_out, k: P.depthwise_separable_params(c_in, c_out, k),
        diagnose.separable_params,
    ),
    "separable_params(c_in, c_out, k)",
    _describe_conv,
)


# --- value questions -----------------------------------------------------------------------

Part = tuple[
    str, Callable[[Mapping[str, int]], Any], Callable[[Any, Mapping[str, int], Any], "str | None"]
]


def _value_question(
    name: str,
    points: float,
    parts: Sequence[Part],
    fields: tuple[str, ...],
    title: str,
    *,
    integer: Sequence[bool] | None = None,
    abs_tol: Sequence[float] | None = None,
) -> Question:
    """A variable holding one number (one part) or a tuple of numbers (several parts)."""
    target = f"ans_{name}"
    integer = integer or [True] * len(parts)
    abs_tol = abs_tol or [0.0] * len(parts)

    def visible(variant: Mapping[str, Any]) -> list[Case]:
        return [Case(label=target)]

    def judge(value: Any, case: Case, variant: Mapping[str, Any]) -> list[Check]:
        items = [value] if len(parts) == 1 else sequence_of(value, len(parts))
        if items is None:
            labels = ", ".join(part[0] for part in parts)
            return [
                Check(False, f"`{target}` should be a tuple of {len(parts)} numbers: ({labels}).")
            ]
        checks = []
        for (label, expected_of, detect), item, whole, tol in zip(
            parts, items, integer, abs_tol, strict=True
        ):
            expected = expected_of(variant)
            checks.append(
                number_check(
                    label,
                    item,
                    expected,
                    reveal=False,
                    integer=whole,
                    abs_tol=tol,
                    diagnose=lambda detect=detect, item=item, expected=expected: detect(
                        item, variant, expected
                    ),
                )
            )
        return checks

    return Question(
        f"{ASSIGNMENT}-{name}",
        target,
        "value",
        points,
        visible=visible,
        judge=judge,
        variant_fields=fields,
        title=title,
    )


def _size_detector(args_of: Callable[[Mapping[str, int]], tuple]):
    return lambda value, v, expected: diagnose.output_size(value, Case(args_of(v)), expected)


def _sentence(name: str, candidate: Callable[[Mapping[str, int]], Any]):
    return lambda value, v, expected: first_match(value, expected, [(name, lambda: candidate(v))])


def _either(*detectors):
    def detect(value, v, expected):
        for detector in detectors:
            found = detector(value, v, expected)
            if found:
                return found
        return None

    return detect


def _no_detector(value, v, expected):
    return None


STRIDE_FITS = _value_question(
    "stride_fits",
    1,
    [
        (
            "the output size",
            lambda v: output_size(v["n_fit"], v["k_fit"], v["s_fit"]),
            _size_detector(lambda v: (v["n_fit"], v["k_fit"], v["s_fit"], 0, 1)),
        )
    ],
    ("n_fit", "k_fit", "s_fit"),
    "output size, stride that fits",
)
DOESNT_FIT = _value_question(
    "doesnt_fit",
    1,
    [
        (
            "the output size",
            lambda v: output_size(v["n_fit"], v["k_fit"], v["s_nofit"]),
            _size_detector(lambda v: (v["n_fit"], v["k_fit"], v["s_nofit"], 0, 1)),
        ),
        (
            "the pixels left over",
            lambda v: int(shapes.leftover_pixels(v["n_fit"], v["k_fit"], stride=v["s_nofit"])),
            _no_detector,
        ),
    ],
    ("n_fit", "k_fit", "s_nofit"),
    "output size when the stride doesn't fit",
)
PADDED = _value_question(
    "padded",
    1,
    [
        (
            "the output size",
            lambda v: output_size(v["n_pad"], v["k_pad"], 1, v["p_pad"]),
            _size_detector(lambda v: (v["n_pad"], v["k_pad"], 1, v["p_pad"], 1)),
        )
    ],
    ("n_pad", "k_pad", "p_pad"),
    "output size with zero padding",
)
DILATED = _value_question(
    "dilated",
    1,
    [
        (
            "the output size",
            lambda v: output_size(v["n_dil"], v["k_dil"], 1, 0, v["d_dil"]),
            _size_detector(lambda v: (v["n_dil"], v["k_dil"], 1, 0, v["d_dil"])),
        )
    ],
    ("n_dil", "k_dil", "d_dil"),
    "output size with dilation",
)


def _same_size(v: Mapping[str, int]) -> int:
    return int(
        shapes.conv_output_size(v["n_same"], v["k_same"], stride=v["s_same"], padding="same")
    )


SAME = _value_question(
    "same",
    1,
    [
        ("the output size", _same_size, _sentence("ceil", lambda v: v["n_same"] // v["s_same"])),
        (
            "the padding before",
            lambda v: same_padding(v["n_same"], v["k_same"], v["s_same"])[0],
            _sentence("same_stride_ignored", lambda v: (v["k_same"] - 1) // 2),
        ),
        (
            "the padding after",
            lambda v: same_padding(v["n_same"], v["k_same"], v["s_same"])[1],
            _sentence(
                "extra_pixel_first",
                lambda v: same_padding(v["n_same"], v["k_same"], v["s_same"])[0],
            ),
        ),
    ],
    ("n_same", "k_same", "s_same"),
    "'same' padding: output size, padding before and after",
)
CONV_PARAMS_VALUE = _value_question(
    "conv_layer_params",
    1,
    [
        (
            "the parameter count",
            lambda v: P.conv2d_params(v["cp_c"], v["cp_filters"], v["cp_k"]),
            lambda value, v, expected: diagnose.conv_params(
                value, Case((v["cp_c"], v["cp_filters"], v["cp_k"])), expected
            ),
        )
    ],
    ("cp_filters", "cp_k", "cp_c"),
    "parameters of one conv layer",
)


def _flatten_wrong(v: Mapping[str, int]) -> int:
    return P.dense_params(v["cs_in"] * v["cs_in"] * v["cs_f2"], v["cs_hidden"])


CS109B = _value_question(
    "cs109b_params",
    2,
    [
        (
            "conv1",
            lambda v: cs109b_params(v)[0],
            lambda value, v, e: diagnose.conv_params(value, Case((3, v["cs_f1"], 3)), e),
        ),
        (
            "conv2",
            lambda v: cs109b_params(v)[1],
            lambda value, v, e: diagnose.conv_params(value, Case((v["cs_f1"], v["cs_f2"], 5)), e),
        ),
        (
            "dense1",
            lambda v: cs109b_params(v)[2],
            _either(
                _sentence("flatten_wrong_size", _flatten_wrong),
                _sentence("no_bias", lambda v: cs109b_params(v)[2] - v["cs_hidden"]),
            ),
        ),
        (
            "dense2",
            lambda v: cs109b_params(v)[3],
            lambda value, v, e: diagnose.dense_params(
                value, Case((v["cs_hidden"], v["cs_classes"])), e
            ),
        ),
    ],
    ("cs_in", "cs_f1", "cs_f2", "cs_hidden", "cs_classes"),
    "the CS109B example network, layer by layer",
)
ALEXNET = _value_question(
    "alexnet",
    1,
    [
        ("conv1's output size", lambda v: 55, _size_detector(lambda v: (227, 11, 4, 0, 1))),
        ("pool1's output size", lambda v: 27, _size_detector(lambda v: (55, 3, 2, 0, 1))),
        (
            "conv1's parameters",
            lambda v: P.conv2d_params(3, 96, 11),
            lambda value, v, e: diagnose.conv_params(value, Case((3, 96, 11)), e),
        ),
        (
            "pool1's parameters",
            lambda v: 0,
            lambda value, v, e: SENTENCES["pool_has_params"] if value not in (0, None) else None,
        ),
    ],
    (),
    "AlexNet conv1 and pool1",
)
VGG16 = _value_question(
    "vgg16_params",
    1,
    [
        (
            "the first 512-filter conv layer",
            lambda v: vgg16_counts()[0],
            lambda value, v, e: diagnose.conv_params(value, Case((256, 512, 3)), e),
        ),
        (
            "fc6",
            lambda v: vgg16_counts()[1],
            lambda value, v, e: diagnose.dense_params(value, Case((7 * 7 * 512, 4096)), e),
        ),
        (
            "the total",
            lambda v: vgg16_counts()[2],
            _sentence("total_no_bias", lambda v: vgg16_counts()[2] - _vgg16_biases()),
        ),
    ],
    (),
    "VGG16 parameters",
)


def _vgg16_biases() -> int:
    """One bias per filter of each conv layer and per unit of each dense layer."""
    _, rows = _vgg16_rows()
    return sum(row.output_shape[0] for row in rows.values() if row.kind in ("Conv2d", "Dense"))


def _slide_macs(v: Mapping[str, int]) -> tuple[int, int]:
    k, c_in, c_out, n = v["sep_k"], v["sep_in"], v["sep_out"], v["sep_n"]
    out = output_size(n, k)
    return (k * k * c_in * c_out * n * n, k * k * c_in * n * n + c_in * c_out * out * out)


SEPARABLE = _value_question(
    "separable",
    2,
    [
        (
            "standard parameters",
            lambda v: separable(v)[0],
            lambda value, v, e: diagnose.conv_params(
                value, Case((v["sep_in"], v["sep_out"], v["sep_k"])), e
            ),
        ),
        (
            "separable parameters",
            lambda v: separable(v)[1],
            lambda value, v, e: diagnose.separable_params(
                value, Case((v["sep_in"], v["sep_out"], v["sep_k"])), e
            ),
        ),
        (
            "standard MACs",
            lambda v: separable(v)[2],
            _sentence("macs_input_positions", lambda v: _slide_macs(v)[0]),
        ),
        (
            "separable MACs",
            lambda v: separable(v)[3],
            _sentence("macs_input_positions", lambda v: _slide_macs(v)[1]),
        ),
    ],
    ("sep_k", "sep_in", "sep_out", "sep_n"),
    "standard vs depthwise-separable convolution",
)
VGG16_MEMORY = _value_question(
    "vgg16_memory",
    1,
    [
        (
            "the activation values",
            lambda v: vgg16_memory()[0],
            _either(
                _sentence("activations_no_input", lambda v: vgg16_memory()[0] - 3 * 224 * 224),
                _sentence("activations_slide_total", lambda v: 24_000_000),
            ),
        ),
        (
            "the MiB",
            lambda v: vgg16_memory()[1],
            lambda value, v, e: _memory_detector(value, e),
        ),
    ],
    (),
    "VGG16 forward activation memory per image",
    integer=(True, False),
    abs_tol=(0.0, 0.01),
)


def _memory_detector(value: Any, expected: float) -> str | None:
    number = as_number(value)
    if number is None:
        return None
    nbytes = vgg16_memory()[0] * 4
    candidates = {
        "activations_slide_total": 93.0,
        "mb_not_mib": nbytes / 1e6,
        "wrong_dtype_size": nbytes * 2 / 2**20,
    }
    for name, wrong in candidates.items():
        if abs(number - wrong) <= 1.0 and abs(number - expected) > 0.01:
            return SENTENCES[name]
    return None


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
