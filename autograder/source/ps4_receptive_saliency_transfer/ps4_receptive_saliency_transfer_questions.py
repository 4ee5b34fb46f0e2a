"""ps4_receptive_saliency_transfer: receptive fields, saliency maps, transfer learning.

- ``receptive_field(layers) -> (size, jump)`` and ``input_region(layers, i) -> (start,
  stop)`` for stacks of ``(kernel, stride, padding, dilation)`` layers, graded on random
  stacks against :mod:`cnnlab.receptive`; three numeric answers for the variant's stacks
  (VGG's 3x3 convolutions, the CS109B strided example, a dilated stack).
- ``saliency_map(params, x, target)`` for the notebook's small CNN (students get it in
  plain NumPy in a read-only cell; the grader's is the :mod:`cnnlab.net` model of the
  sibling module ``ps4_receptive_saliency_transfer_network``), on random networks.
- ``fine_tune(params, x, y, seed)``: adapt a network pretrained on digits 0-4 to digits
  5-9 from a few examples, graded on plain results: the convolution must be frozen
  (unchanged), the head trained, and held-out accuracy above :data:`ACCURACY_BAR`.
- ``ans_lr_scales``: learning-rate scales for discriminative fine-tuning.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import ps4_receptive_saliency_transfer_network as network

from cnnlab import receptive
from cnnlab.grading.build import Mistake, function_question, value_question
from cnnlab.grading.compare import as_number, pair_check
from cnnlab.grading.questions import Check
from cnnlab.grading.variants import Draw, VariantSpec, register_variant

ASSIGNMENT = "ps4_receptive_saliency_transfer"

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


# --- receptive fields: cnnlab.receptive, and the mistakes as the stacks they see ----------------


def _layers(layers: Sequence[Sequence[int]]) -> list[Layer]:
    return [tuple(int(v) for v in layer) for layer in layers]


def rf_reference(layers: Sequence[Layer]) -> tuple[int, int]:
    """``(size, jump)`` of the last layer's units, by :func:`cnnlab.receptive.receptive_field`."""
    record = receptive.receptive_field(_layers(layers))
    return int(record.size[0]), int(record.jump[0])


def region_reference(layers: Sequence[Layer], i: int) -> tuple[int, int]:
    """Half-open ``(start, stop)`` of the input seen by unit ``i`` (cnnlab.receptive)."""
    rows, _ = receptive.input_region(_layers(layers), (i, i))
    return int(rows[0]), int(rows[1])


def _jump_updated_first(layers: Sequence[Layer]) -> tuple[int, int]:
    # a layer's own stride scales its own step: as if each stride moved one layer earlier
    strides = [s for _k, s, _p, _d in layers]
    shifted = [(1, strides[0], 0, 1)] + [
        (k, s, p, d) for (k, _s, p, d), s in zip(layers, [*strides[1:], 1], strict=True)
    ]
    return rf_reference(shifted)


#: Receptive-field mistakes, most likely first; each computes the wrong ``(size, jump)``.
RF_MISTAKES = (
    Mistake(
        "each layer widens the receptive field by d*(k - 1) times the jump (the product of "
        "the strides before it), not by d*(k - 1) alone.",
        lambda layers: (
            rf_reference([(k, 1, p, d) for k, _s, p, d in _layers(layers)])[0],
            rf_reference(layers)[1],
        ),
    ),
    Mistake(
        "dilation was ignored: a layer adds d*(k - 1) steps of the jump.",
        lambda layers: rf_reference([(k, s, p, 1) for k, s, p, _d in _layers(layers)]),
    ),
    Mistake(
        "the jump was multiplied by this layer's stride before widening the field: a "
        "layer's own stride only affects the layers after it.",
        lambda layers: _jump_updated_first(_layers(layers)),
    ),
    Mistake(
        "the kernel sizes were added up: stacked windows overlap, so each layer adds only "
        "d*(k - 1) times the jump to the 1 pixel a unit starts from.",
        lambda layers: (sum(k for k, _s, _p, _d in _layers(layers)), rf_reference(layers)[1]),
    ),
)


def _region(layers: Sequence[Layer], i: int, *, padding: int, stop_offset: int = 0):
    size, jump = rf_reference(layers)
    start = i * jump - padding
    return start, start + size + stop_offset


def _effective_padding(layers: Sequence[Layer]) -> int:
    return int(receptive.receptive_field(_layers(layers)).padding[0])


REGION_MISTAKES = (
    Mistake(
        "the padding was ignored: unit i starts at i*jump minus the effective padding (it "
        "can start before pixel 0).",
        lambda layers, i: _region(layers, int(i), padding=0),
    ),
    Mistake(
        "stop is exclusive (half-open, like range): start + receptive field.",
        lambda layers, i: _region(
            layers, int(i), padding=_effective_padding(layers), stop_offset=-1
        ),
    ),
    Mistake(
        "each layer's padding must be multiplied by the jump before that layer when adding "
        "up the effective padding.",
        lambda layers, i: _region(
            layers, int(i), padding=sum(p for _k, _s, p, _d in _layers(layers))
        ),
    ),
)


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


def _unit(i: int) -> str:
    return "the first unit" if i == 0 else "a later unit"


RECEPTIVE_FIELD = function_question(
    f"{ASSIGNMENT}-receptive_field",
    "receptive_field",
    points=3,
    reference=rf_reference,
    visible=[
        ([(3, 1, 0, 1), (3, 1, 0, 1)],),  # two 3x3 convolutions (VGG)
        ([(3, 2, 1, 1), (3, 2, 1, 1)],),  # CS109B: 3x3, stride 2, padding 1, twice
        ([(3, 1, 1, 1), (3, 1, 2, 2), (3, 1, 4, 4)],),  # dilations 1, 2, 4
        ([(11, 4, 0, 1), (3, 2, 0, 1)],),  # AlexNet conv1 then pool1
    ],
    hidden=lambda rng: [(_random_stack(rng),) for _ in range(10)],
    mistakes=RF_MISTAKES,
    label=_stack_label,
    describe=_stack_features,
    result="receptive_field",
    compare=pair_check,
    title="receptive_field(layers)",
)


def _region_hidden(rng: np.random.Generator) -> list[tuple]:
    return [(_random_stack(rng), int(rng.integers(0, 6))) for _ in range(8)]


INPUT_REGION = function_question(
    f"{ASSIGNMENT}-input_region",
    "input_region",
    points=2,
    reference=region_reference,
    visible=[
        ([(3, 1, 1, 1), (3, 1, 1, 1)], 0),
        ([(3, 2, 1, 1), (3, 2, 1, 1)], 1),
        ([(3, 1, 1, 1), (3, 1, 2, 2), (3, 1, 4, 4)], 5),
    ],
    hidden=_region_hidden,
    mistakes=REGION_MISTAKES,
    label=lambda layers, i: f"{_stack_label(layers)}, unit {i}",
    describe=lambda layers, i: f"{_stack_features(layers)}; {_unit(i)}",
    result="input_region",
    compare=pair_check,
    title="input_region(layers, i)",
)


def _rf_value(name: str, stack: Callable, fields: tuple[str, ...], title: str, *, jump=False):
    """The receptive field of the variant's ``stack`` (and, with ``jump``, its jump)."""

    def part(pair: tuple[int, int]) -> Any:
        return pair if jump else pair[0]

    return value_question(
        f"{ASSIGNMENT}-{name}",
        f"ans_{name}",
        points=1,
        reference=lambda v: part(rf_reference(stack(v))),
        mistakes=[
            Mistake(m.sentence, lambda v, m=m: part(m.compute(stack(v)))) for m in RF_MISTAKES
        ],
        result=f"ans_{name}" if jump else "the receptive field",
        compare=pair_check if jump else None,
        variant_fields=fields,
        title=title,
    )


RF_VGG = _rf_value("rf_vgg", vgg_stack, ("vgg_layers",), "stacked 3x3 convolutions")
RF_STRIDED = _rf_value(
    "rf_strided",
    strided_stack,
    ("strided_layers", "strided_kernel"),
    "strided stack: receptive field and jump",
    jump=True,
)
RF_DILATED = _rf_value(
    "rf_dilated", dilated_stack, ("dilated_layers", "dilation_base"), "dilated stack"
)


def _saliency(dscores_of: Callable, reduce: Callable = lambda g: np.abs(g).max(axis=1)):
    """The map a student computes from the input gradient of ``sum(scores *
    dscores_of(scores, target))``, reduced over the channels by ``reduce``."""

    def saliency_map(params, x, target):
        gradient = network.input_gradient(params, x, lambda scores: dscores_of(scores, target))
        return reduce(gradient)

    return saliency_map


def _probability(scores, target):  # d softmax(scores)[target] / d scores
    p, onehot = network.softmax(scores), network.one_hot(scores, target)
    return (p * onehot).sum(axis=1, keepdims=True) * (onehot - p)


def _loss(scores, target):  # d (summed cross-entropy) / d scores
    return network.softmax(scores) - network.one_hot(scores, target)


def _every_score(scores, target):
    return np.ones_like(scores)


SALIENCY_MISTAKES = (
    Mistake(
        "that is the gradient of the softmax probability: saliency uses the raw "
        "(unnormalised) class score, before softmax.",
        _saliency(_probability),
    ),
    Mistake(
        "that is the gradient of the loss: saliency differentiates the target class's raw "
        "score alone (dscores = one-hot of the target).",
        _saliency(_loss),
    ),
    Mistake(
        "take the absolute value of the gradient before the max over channels.",
        _saliency(network.one_hot, lambda g: g.max(axis=1)),
    ),
    Mistake(
        "the absolute value was taken after the max over channels: take |gradient| first, "
        "so a large negative gradient counts as much as a large positive one.",
        _saliency(network.one_hot, lambda g: np.abs(g.max(axis=1))),
    ),
    Mistake(
        "reduce the channels with the maximum of |gradient|, not the mean.",
        _saliency(network.one_hot, lambda g: np.abs(g).mean(axis=1)),
    ),
    Mistake(
        "reduce the channels with the maximum of |gradient|, not the sum.",
        _saliency(network.one_hot, lambda g: np.abs(g).sum(axis=1)),
    ),
    Mistake(
        "the gradient of every class score was summed: set dscores to 1 for the target "
        "class only and 0 elsewhere.",
        _saliency(_every_score),
    ),
)


def _saliency_args(rng: np.random.Generator, N, C, H, W, F, K) -> tuple:
    params = network.init_params(C, H, W, F, K, seed=int(rng.integers(2**31)))
    params["b1"] = rng.normal(0.0, 0.1, F)
    params["b2"] = rng.normal(0.0, 0.1, K)
    x = rng.normal(size=(N, C, H, W))
    target = rng.integers(0, K, size=N).astype(np.int64)
    return (params, x, target)


def _saliency_label(params, x, target) -> str:
    N, C, H, W = np.shape(x)
    F, K = np.shape(params["w1"])[0], np.shape(params["w2"])[0]
    return f"N={N}, C={C}, {H}x{W} images, {F} filters, {K} classes"


def _saliency_visible() -> list[tuple]:
    rng = np.random.default_rng(40_401)
    return [_saliency_args(rng, 1, 1, 8, 8, 4, 5), _saliency_args(rng, 2, 3, 5, 6, 3, 4)]


def _saliency_hidden(rng: np.random.Generator) -> list[tuple]:
    cases = []
    for _ in range(5):
        N, C = int(rng.integers(1, 4)), int(rng.choice([1, 3]))
        H, W = int(rng.integers(4, 9)), int(rng.integers(4, 9))
        F, K = int(rng.integers(2, 5)), int(rng.integers(3, 6))
        cases.append(_saliency_args(rng, N, C, H, W, F, K))
    return cases


SALIENCY = function_question(
    f"{ASSIGNMENT}-saliency",
    "saliency_map",
    points=4,
    reference=network.saliency_reference,
    visible=_saliency_visible,
    hidden=_saliency_hidden,
    mistakes=SALIENCY_MISTAKES,
    label=_saliency_label,
    describe=_saliency_label,
    result="the saliency map",
    title="saliency_map(params, x, target)",
)


# --- transfer learning ---------------------------------------------------------------------------

#: Held-out accuracy a fine-tuned network must reach on the target digits.
ACCURACY_BAR = 0.75


def _fine_tune_args(shots: int, seed: int) -> tuple:
    x_train, y_train, _, _ = network.target_task(shots, seed)
    return (network.pretrained_source(), x_train, y_train, seed)


def _held_out(source, x_train, y_train, seed) -> dict[str, Any]:
    """What the answer is judged against: the source network and the held-out digits."""
    _, _, x_test, y_test = network.target_task(_shots(y_train), seed)
    return {"source": source, "x_test": x_test, "y_test": y_test}


def _fine_tuned(name: str, value: Any, expected: Mapping[str, Any], **_: Any) -> list[Check]:
    """Three sub-checks of a fine-tuned network, each with the sentence its failure means."""
    source = expected["source"]
    shapes = {
        "w1": source["w1"].shape,
        "b1": source["b1"].shape,
        "w2": (len(network.TARGET_CLASSES), source["w2"].shape[1]),
        "b2": (len(network.TARGET_CLASSES),),
    }
    if type(value) is not dict or set(value) != set(shapes):
        return [
            Check(
                False,
                "fine_tune should return a dict with the keys w1, b1, w2, b2 (like params).",
                weight=3.0,
            )
        ]
    for key, shape in shapes.items():
        got = value[key]
        if type(got) is not np.ndarray or got.shape != shape or got.dtype.kind != "f":
            return [
                Check(
                    False,
                    f"fine_tune's {key} should be a float array of shape {shape} "
                    "(the head has one row per target class).",
                    weight=3.0,
                )
            ]
    frozen = bool(
        np.array_equal(value["w1"], source["w1"]) and np.array_equal(value["b1"], source["b1"])
    )
    head_changed = not (
        np.array_equal(value["w2"], source["w2"]) and np.array_equal(value["b2"], source["b2"])
    ) and bool(np.all(np.isfinite(value["w2"])) and np.all(np.isfinite(value["b2"])))
    score = network.accuracy(value, expected["x_test"], expected["y_test"])
    return [
        Check(
            frozen,
            "" if frozen else "the convolution (w1, b1) changed.",
            None
            if frozen
            else (
                "the convolution's parameters changed: freeze them (learning-rate scale 0 "
                "for w1 and b1) so the features learnt on the source digits are kept."
            ),
        ),
        Check(
            head_changed,
            "" if head_changed else "the head (w2, b2) was not trained.",
            None
            if head_changed
            else (
                "the dense head did not change: train it on the target examples (its "
                "learning-rate scale must be above 0, and the new head needs training)."
            ),
        ),
        Check(
            score >= ACCURACY_BAR,
            f"held-out accuracy {score:.2f} is below {ACCURACY_BAR:.2f}.",
            "the fine-tuned network misclassifies too many held-out target digits: give the "
            "new head enough epochs and a sensible learning rate.",
        ),
    ]


def _shots(y_train) -> int:
    return len(y_train) // len(network.TARGET_CLASSES)


FINE_TUNE = function_question(
    f"{ASSIGNMENT}-fine_tune",
    "fine_tune",
    points=4,
    reference=_held_out,
    visible=lambda: [_fine_tune_args(5, 0)],
    hidden=lambda rng: [_fine_tune_args(shots, int(rng.integers(1, 10_000))) for shots in (5, 8)],
    label=lambda params, x, y, seed: f"{_shots(y)} examples per target digit, seed {seed}",
    describe=lambda params, x, y, seed: f"{_shots(y)} examples per target digit",
    result="fine_tune",
    compare=_fine_tuned,
    title="fine_tune(params, x, y, seed)",
)


#: The lecture's rule for discriminative fine-tuning, as the check applies it: the head
#: trains at the full rate, each earlier group 3x to 10x slower than the next one.
HEAD_SCALE = 1.0
SLOWER = (3.0, 10.0)
RATIO = (
    "the lecture's rule: each earlier group trains at a 3x to 10x smaller learning rate "
    "than the next later one, with the head at the full rate (scale 1)."
)


def _why_scale(scale: float) -> str:
    """The misconception behind an early layer's scale outside the rule's range."""
    if scale == 0:
        return (
            "a scale of 0 freezes a layer (feature extraction); fine-tuning trains the "
            "early layers too, only more slowly."
        )
    if scale >= HEAD_SCALE:
        return (
            "the early layers should move *slower* than the head: they hold generic "
            "features (edges, strokes) that transfer."
        )
    return RATIO


def _lr_scales(name: str, value: Any, expected: Any, **_: Any) -> list[Check]:
    names = ("w1", "b1", "w2", "b2")
    if type(value) is not dict or set(value) != set(names):
        return [Check(False, "`ans_lr_scales` should be a dict with the keys w1, b1, w2, b2.")]
    scales = {key: as_number(value[key]) for key in names}
    if any(s is None for s in scales.values()):
        return [Check(False, "every learning-rate scale should be a number.")]
    head_ok = scales["w2"] == HEAD_SCALE and scales["b2"] == HEAD_SCALE
    checks = [
        Check(
            head_ok,
            "" if head_ok else "the head (w2, b2) should train at the full rate, scale 1.",
            None if head_ok else RATIO,
            name="head",
        )
    ]
    low, high = HEAD_SCALE / SLOWER[1], HEAD_SCALE / SLOWER[0]
    for key in ("w1", "b1"):
        scale = scales[key]
        ok = low - 1e-9 <= scale <= high + 1e-9
        problem = (
            ""
            if ok
            else (
                f"{key}'s scale {scale:g} is not 3x to 10x below the head's "
                f"(between {low:g} and {high:.4g})."
            )
        )
        checks.append(Check(ok, problem, None if ok else _why_scale(scale), weight=0.5, name=key))
    return checks


LR_SCALES = value_question(
    f"{ASSIGNMENT}-lr_scales",
    "ans_lr_scales",
    points=1,
    reference=lambda v: None,
    compare=_lr_scales,
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
