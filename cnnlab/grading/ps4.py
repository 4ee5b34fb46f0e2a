"""ps4_receptive_saliency_transfer: receptive fields, saliency maps, transfer learning.

- ``receptive_field(layers) -> (size, jump)`` and ``input_region(layers, i) -> (start,
  stop)`` for stacks of ``(kernel, stride, padding, dilation)`` layers, graded on random
  stacks; three numeric answers for the variant's stacks (VGG's 3x3 convolutions, the
  CS109B strided example, a dilated stack).
- ``saliency_map(params, x, target)`` for the small CNN of :mod:`cnnlab.grading.tinycnn`
  (students get its forward and backward in a read-only cell), on random networks.
- ``fine_tune(params, x, y, seed)``: adapt a network pretrained on digits 0-4 to digits
  5-9 from a few examples, graded on plain results: the convolution must be frozen
  (unchanged), the head trained, and held-out accuracy above :data:`ACCURACY_BAR`.
- ``ans_lr_scales``: learning-rate scales for discriminative fine-tuning.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from cnnlab import receptive
from cnnlab.grading import diagnose, tinycnn
from cnnlab.grading.compare import array_check, as_number, number_check, sequence_of
from cnnlab.grading.questions import Case, Check, Question
from cnnlab.grading.variants import Draw, VariantSpec, register_variant

ASSIGNMENT = "ps4_receptive_saliency_transfer"
#: Held-out accuracy a fine-tuned network must reach on the target digits.
ACCURACY_BAR = 0.75

DEFAULTS: dict[str, int] = {
    "vgg_layers": 2,  # two 3x3 convolutions see 5x5 (VGG)
    "strided_layers": 2,  # CS109B: 3x3, stride 2, padding 1, twice
    "strided_kernel": 3,
    "dilated_layers": 3,  # 3x3 with dilations 1, 2, 4
    "dilation_base": 2,
}


def _draw(draw: Draw) -> dict[str, int]:
    return {
        "vgg_layers": draw.integer(3, 6),
        "strided_layers": draw.integer(2, 4),
        "strided_kernel": draw.choice((3, 5)),
        "dilated_layers": draw.integer(3, 5),
        "dilation_base": draw.choice((2, 3)),
    }


register_variant(VariantSpec(ASSIGNMENT, DEFAULTS, _draw))

Layer = tuple[int, int, int, int]


def vgg_stack(v: Mapping[str, int]) -> list[Layer]:
    return [(3, 1, 1, 1)] * int(v["vgg_layers"])


def strided_stack(v: Mapping[str, int]) -> list[Layer]:
    k = int(v["strided_kernel"])
    return [(k, 2, k // 2, 1)] * int(v["strided_layers"])


def dilated_stack(v: Mapping[str, int]) -> list[Layer]:
    base = int(v["dilation_base"])
    return [(3, 1, base**i, base**i) for i in range(int(v["dilated_layers"]))]


# --- references -------------------------------------------------------------------------------


def rf_reference(layers: Sequence[Layer]) -> tuple[int, int]:
    record = receptive.receptive_field([tuple(layer) for layer in layers])
    return int(record.size[0]), int(record.jump[0])


def region_reference(layers: Sequence[Layer], i: int) -> tuple[int, int]:
    rows, _ = receptive.input_region([tuple(layer) for layer in layers], (i, i))
    return int(rows[0]), int(rows[1])


def _stack_label(layers: Sequence[Layer]) -> str:
    return "[" + ", ".join(f"k{k}s{s}p{p}d{d}" for k, s, p, d in layers) + "]"


def _stack_features(layers: Sequence[Layer]) -> str:
    """A hidden stack described without its numbers: ``"4 layers: strided, dilated"``."""
    features = [
        text
        for present, text in (
            (any(s > 1 for _k, s, _p, _d in layers), "strided"),
            (any(p > 0 for _k, _s, p, _d in layers), "padded"),
            (any(d > 1 for _k, _s, _p, d in layers), "dilated"),
        )
        if present
    ]
    return f"{len(layers)} layers" + (": " + ", ".join(features) if features else "")


def _random_stack(rng: np.random.Generator) -> list[Layer]:
    """2 to 5 layers; the first strides by 2 or 3 and every later kernel is at least 2,
    so the jump always matters."""
    layers = []
    for index in range(int(rng.integers(2, 6))):
        k = int(rng.choice([2, 3, 5, 7]))
        s = int(rng.integers(2, 4)) if index == 0 else int(rng.integers(1, 4))
        layers.append((k, s, int(rng.integers(0, k // 2 + 1)), int(rng.integers(1, 4))))
    return layers


def _pair_checks(name: str, value: Any, expected: tuple[int, int], case: Case, detector):
    pair = sequence_of(value, 2)
    if pair is None or any(as_number(v) is None for v in pair):
        return [
            Check(False, f"{name} should return a pair of ints, found {type(value).__name__}.")
        ]
    got = tuple(as_number(v) for v in pair)
    if got == expected:
        return [Check(True)]
    shown = f"expected {expected}, found {got}" if not case.hidden else f"found {got}, not right"
    found = detector(got, case, expected, every=True)
    return [Check(False, f"{name}: {shown}.", found[0] if found else None, 1.0, tuple(found))]


# --- receptive field -------------------------------------------------------------------

_RF_VISIBLE = [
    [(3, 1, 0, 1), (3, 1, 0, 1)],  # two 3x3 convolutions (VGG)
    [(3, 2, 1, 1), (3, 2, 1, 1)],  # CS109B: 3x3, stride 2, padding 1, twice
    [(3, 1, 1, 1), (3, 1, 2, 2), (3, 1, 4, 4)],  # dilations 1, 2, 4
    [(11, 4, 0, 1), (3, 2, 0, 1)],  # AlexNet conv1 then pool1
]


def _rf_judge(value: Any, case: Case, variant: Mapping[str, Any]) -> list[Check]:
    expected = rf_reference(case.args[0])
    return _pair_checks("receptive_field", value, expected, case, diagnose.receptive_field)


RECEPTIVE_FIELD = Question(
    f"{ASSIGNMENT}-receptive_field",
    "receptive_field",
    "function",
    3,
    visible=lambda variant: [Case((stack,), label=_stack_label(stack)) for stack in _RF_VISIBLE],
    hidden=lambda rng, variant: [
        Case((stack,), label=_stack_features(stack), hidden=True)
        for stack in (_random_stack(rng) for _ in range(10))
    ],
    judge=_rf_judge,
    title="receptive_field(layers)",
)

_REGION_VISIBLE = [
    ([(3, 1, 1, 1), (3, 1, 1, 1)], 0),
    ([(3, 2, 1, 1), (3, 2, 1, 1)], 1),
    ([(3, 1, 1, 1), (3, 1, 2, 2), (3, 1, 4, 4)], 5),
]


def _region_judge(value: Any, case: Case, variant: Mapping[str, Any]) -> list[Check]:
    expected = region_reference(case.args[0], case.args[1])
    return _pair_checks("input_region", value, expected, case, diagnose.input_region)


def _region_hidden(rng: np.random.Generator, variant: Mapping[str, Any]) -> list[Case]:
    cases = []
    for _ in range(8):
        stack, i = _random_stack(rng), int(rng.integers(0, 6))
        unit = "the first unit" if i == 0 else "a later unit"
        cases.append(Case((stack, i), label=f"{_stack_features(stack)}; {unit}", hidden=True))
    return cases


INPUT_REGION = Question(
    f"{ASSIGNMENT}-input_region",
    "input_region",
    "function",
    2,
    visible=lambda variant: [
        Case((stack, i), label=f"{_stack_label(stack)}, unit {i}") for stack, i in _REGION_VISIBLE
    ],
    hidden=_region_hidden,
    judge=_region_judge,
    title="input_region(layers, i)",
)


def _rf_value(
    name: str, stack: Callable[[Mapping[str, int]], list[Layer]], fields, title, with_jump=False
) -> Question:
    target = f"ans_{name}"

    def judge(value: Any, case: Case, variant: Mapping[str, Any]) -> list[Check]:
        layers = stack(variant)
        size, jump = rf_reference(layers)
        probe = Case((layers,))
        if not with_jump:
            return [
                number_check(
                    "the receptive field",
                    value,
                    size,
                    reveal=False,
                    diagnose=lambda: diagnose.receptive_field((value, jump), probe, (size, jump)),
                )
            ]
        return _pair_checks(
            target, value, (size, jump), Case((layers,), hidden=True), diagnose.receptive_field
        )

    return Question(
        f"{ASSIGNMENT}-{name}",
        target,
        "value",
        1,
        visible=lambda variant: [Case(label=target)],
        judge=judge,
        variant_fields=fields,
        title=title,
    )


RF_VGG = _rf_value("rf_vgg", vgg_stack, ("vgg_layers",), "stacked 3x3 convolutions")
RF_STRIDED = _rf_value(
    "rf_strided",
    strided_stack,
    ("strided_layers", "strided_kernel"),
    "strided stack: receptive field and jump",
    with_jump=True,
)
RF_DILATED = _rf_value(
    "rf_dilated", dilated_stack, ("dilated_layers", "dilation_base"), "dilated stack"
)


# --- saliency ------------------------------------------------------------------------------------


def _saliency_case(rng: np.random.Generator, N, C, H, W, F, K, hidden: bool) -> Case:
    params = tinycnn.init_params(C, H, W, F, K, seed=int(rng.integers(2**31)))
    params["b1"] = rng.normal(0.0, 0.1, F)
    params["b2"] = rng.normal(0.0, 0.1, K)
    x = rng.normal(size=(N, C, H, W))
    target = rng.integers(0, K, size=N).astype(np.int64)
    label = f"N={N}, C={C}, {H}x{W} images, {F} filters, {K} classes"
    return Case((params, x, target), label=label, hidden=hidden)


def _saliency_visible(variant: Mapping[str, Any]) -> list[Case]:
    rng = np.random.default_rng(40_401)
    return [
        _saliency_case(rng, 1, 1, 8, 8, 4, 5, False),
        _saliency_case(rng, 2, 3, 5, 6, 3, 4, False),
    ]


def _saliency_hidden(rng: np.random.Generator, variant: Mapping[str, Any]) -> list[Case]:
    cases = []
    for _ in range(5):
        N, C = int(rng.integers(1, 4)), int(rng.choice([1, 3]))
        H, W = int(rng.integers(4, 9)), int(rng.integers(4, 9))
        cases.append(
            _saliency_case(rng, N, C, H, W, int(rng.integers(2, 5)), int(rng.integers(3, 6)), True)
        )
    return cases


def _saliency_judge(value: Any, case: Case, variant: Mapping[str, Any]) -> list[Check]:
    expected = tinycnn.saliency(*case.args)
    return [
        array_check(
            "the saliency map",
            value,
            expected,
            reveal=not case.hidden,
            diagnose=lambda: diagnose.saliency(value, case, expected, every=True),
        )
    ]


SALIENCY = Question(
    f"{ASSIGNMENT}-saliency",
    "saliency_map",
    "function",
    4,
    visible=_saliency_visible,
    hidden=_saliency_hidden,
    judge=_saliency_judge,
    title="saliency_map(params, x, target)",
)


# --- transfer learning -------------------------------------------------------------------------

#: Sentences of the fine-tuning sub-checks.
TRANSFER_SENTENCES = {
    "conv_changed": (
        "the convolution's parameters changed: freeze them (learning-rate scale 0 for "
        "w1 and b1) so the features learnt on the source digits are kept."
    ),
    "head_unchanged": (
        "the dense head did not change: train it on the target examples (its "
        "learning-rate scale must be above 0, and the new head needs training)."
    ),
    "low_accuracy": (
        "the fine-tuned network misclassifies too many held-out target digits: give the "
        "new head enough epochs and a sensible learning rate."
    ),
}


def _fine_tune_case(shots: int, seed: int, hidden: bool) -> Case:
    x_train, y_train, x_test, y_test = tinycnn.target_task(shots, seed)
    source = tinycnn.pretrained_source()
    return Case(
        (source, x_train, y_train, seed),
        label=f"{shots} examples per target digit" + ("" if hidden else f", seed {seed}"),
        hidden=hidden,
        data={"source": source, "x_test": x_test, "y_test": y_test},
    )


def _fine_tune_judge(value: Any, case: Case, variant: Mapping[str, Any]) -> list[Check]:
    source = case.data["source"]
    n_classes = len(tinycnn.TARGET_CLASSES)
    shapes = {
        "w1": source["w1"].shape,
        "b1": source["b1"].shape,
        "w2": (n_classes, source["w2"].shape[1]),
        "b2": (n_classes,),
    }
    if type(value) is not dict or set(value) != set(shapes):
        return [
            Check(
                False,
                "fine_tune should return a dict with the keys w1, b1, w2, b2 (like params).",
                weight=3.0,
            )
        ]
    arrays = {}
    for name, shape in shapes.items():
        got = value[name]
        if type(got) is not np.ndarray or got.shape != shape or got.dtype.kind != "f":
            return [
                Check(
                    False,
                    f"fine_tune's {name} should be a float array of shape {shape} "
                    "(the head has one row per target class).",
                    weight=3.0,
                )
            ]
        arrays[name] = got
    frozen = bool(
        np.array_equal(arrays["w1"], source["w1"]) and np.array_equal(arrays["b1"], source["b1"])
    )
    head_changed = not (
        np.array_equal(arrays["w2"], source["w2"]) and np.array_equal(arrays["b2"], source["b2"])
    )
    if not np.all(np.isfinite(arrays["w2"])) or not np.all(np.isfinite(arrays["b2"])):
        head_changed = False
    accuracy = tinycnn.accuracy(arrays, case.data["x_test"], case.data["y_test"])
    return [
        Check(
            frozen,
            "" if frozen else "the convolution (w1, b1) changed.",
            None if frozen else TRANSFER_SENTENCES["conv_changed"],
        ),
        Check(
            head_changed,
            "" if head_changed else "the head (w2, b2) was not trained.",
            None if head_changed else TRANSFER_SENTENCES["head_unchanged"],
        ),
        Check(
            accuracy >= ACCURACY_BAR,
            f"held-out accuracy {accuracy:.2f} is below {ACCURACY_BAR:.2f}.",
            TRANSFER_SENTENCES["low_accuracy"],
        ),
    ]


FINE_TUNE = Question(
    f"{ASSIGNMENT}-fine_tune",
    "fine_tune",
    "function",
    4,
    visible=lambda variant: [_fine_tune_case(5, 0, False)],
    hidden=lambda rng, variant: [
        _fine_tune_case(int(shots), int(rng.integers(1, 10_000)), True) for shots in (5, 8)
    ],
    judge=_fine_tune_judge,
    title="fine_tune(params, x, y, seed)",
)


LR_SENTENCES = {
    "frozen": (
        "a scale of 0 freezes a layer (feature extraction); fine-tuning trains the early "
        "layers too, only more slowly."
    ),
    "reversed": (
        "the early layers should move *slower* than the head: they hold generic "
        "features (edges, strokes) that transfer."
    ),
    "ratio": (
        "the lecture's rule: each earlier group trains at a 3x to 10x smaller learning "
        "rate than the next later one, with the head at the full rate (scale 1)."
    ),
}


#: The lecture's rule for discriminative fine-tuning, as the check applies it: the head
#: trains at the full rate, each earlier group 3x to 10x slower than the next one.
HEAD_SCALE = 1.0
SLOWER = (3.0, 10.0)


def _lr_judge(value: Any, case: Case, variant: Mapping[str, Any]) -> list[Check]:
    names = ("w1", "b1", "w2", "b2")
    if type(value) is not dict or set(value) != set(names):
        return [Check(False, "`ans_lr_scales` should be a dict with the keys w1, b1, w2, b2.")]
    scales = {name: as_number(value[name]) for name in names}
    if any(s is None for s in scales.values()):
        return [Check(False, "every learning-rate scale should be a number.")]
    head_ok = scales["w2"] == HEAD_SCALE and scales["b2"] == HEAD_SCALE
    checks = [
        Check(
            head_ok,
            "" if head_ok else "the head (w2, b2) should train at the full rate, scale 1.",
            None if head_ok else LR_SENTENCES["ratio"],
            name="head",
        )
    ]
    low, high = HEAD_SCALE / SLOWER[1], HEAD_SCALE / SLOWER[0]
    for name in ("w1", "b1"):
        scale = scales[name]
        ok = low - 1e-9 <= scale <= high + 1e-9
        if ok:
            why = None
        elif scale == 0:
            why = LR_SENTENCES["frozen"]
        elif scale >= HEAD_SCALE:
            why = LR_SENTENCES["reversed"]
        else:
            why = LR_SENTENCES["ratio"]
        problem = (
            ""
            if ok
            else (
                f"{name}'s scale {scale:g} is not 3x to 10x below the head's "
                f"(between {low:g} and {high:.4g})."
            )
        )
        checks.append(Check(ok, problem, why, weight=0.5, name=name))
    return checks


LR_SCALES = Question(
    f"{ASSIGNMENT}-lr_scales",
    "ans_lr_scales",
    "value",
    1,
    visible=lambda variant: [Case(label="ans_lr_scales")],
    judge=_lr_judge,
    title="learning-rate scales for fine-tuning",
)

#: The questions, in notebook order (the registry reads this; importing registers nothing).
QUESTIONS = (
    RECEPTIVE_FIELD,
    INPUT_REGION,
    RF_VGG,
    RF_STRIDED,
    RF_DILATED,
    SALIENCY,
    FINE_TUNE,
    LR_SCALES,
)
