"""Misconception detectors: say what the mistake most likely is, never the answer.

Every detector has the signature ``detector(value, case, reference) -> str | None``:
``value`` is what the student returned, ``case`` the :class:`~cnnlab.grading.Case` it
answered (its ``args`` in the order the question's target takes them) and
``reference`` the correct answer. A detector recomputes the answer each known mistake
would give (:mod:`cnnlab.grading.mistakes`) and, when one matches the student's value
(and differs from the correct answer), returns that mistake's sentence.

The sentences describe the mistake and the idea that fixes it; none contains a
number that depends on the case, so they are safe for hidden cases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from cnnlab.grading import mistakes
from cnnlab.grading.compare import as_number, close
from cnnlab.grading.questions import Case

__all__ = [
    "SENTENCES",
    "conv_params",
    "dense_params",
    "first_match",
    "output_size",
    "same_padding",
    "separable_params",
]

#: Every sentence a detector can return, by mistake name.
SENTENCES: dict[str, str] = {
    # output sizes
    "missing_plus_one": (
        "the count is one short: (n + 2p - k)/s counts the steps the window takes, and "
        "the window's first position needs the +1."
    ),
    "one_side_padding": (
        "padding was counted on one side only: p pixels go on *each* side, so the "
        "padded width is n + 2p."
    ),
    "ceil": (
        "you rounded up: a window that doesn't fit is dropped, so the division rounds "
        "down (floor)."
    ),
    "true_division": (
        "`/` gives a fraction: sizes and counts are whole numbers; `//` rounds down "
        "(floor), which is what a window that doesn't fit does."
    ),
    "dilation_ignored": (
        "dilation was ignored: a kernel of k taps with dilation d spans d*(k - 1) + 1 pixels."
    ),
    "dilation_times_kernel": (
        "a dilated kernel spans d*(k - 1) + 1 pixels, not d*k: the gaps are only between taps."
    ),
    "stride_ignored": (
        "the stride was ignored: with stride s the window moves s pixels per step, so "
        "divide the sliding room by s."
    ),
    "padding_ignored": "the padding was left out: it widens the input before the window slides.",
    "extra_pixel_first": (
        "the odd padding pixel is on the wrong side: TensorFlow/Keras 'same' puts the "
        "extra pixel at the end (bottom/right)."
    ),
    "same_stride_ignored": (
        "that is the stride-1 rule (k - 1 in total): with stride s, 'same' means "
        "ceil(n/s) outputs, and the padding is what makes the last window fit."
    ),
    # parameter counts
    "no_bias": "the biases are missing: every filter (or output unit) has one bias.",
    "no_input_channels": (
        "the input channels are missing: each filter spans all C input channels, so it "
        "has k*k*C weights."
    ),
    "kernel_not_squared": "a k x k filter has k*k weights per input channel, not k.",
    "bias_per_channel": "there is one bias per filter, not one per input channel.",
    "bias_per_weight": (
        "there is one bias per filter, not one per weight: the k*k*C weights of a "
        "filter share a single bias."
    ),
    "bias_on_inputs": "the biases belong to the output units, one each, not to the inputs.",
    "separable_no_biases": (
        "the biases are missing: the depthwise step has one per channel and the "
        "pointwise step one per output channel."
    ),
    "separable_no_depthwise_bias": (
        "the depthwise step's biases (one per input channel) are missing."
    ),
    "separable_no_pointwise_bias": (
        "the pointwise step's biases (one per output channel) are missing."
    ),
    "separable_full_depthwise": (
        "the depthwise step was counted as a full convolution: each of its filters sees "
        "only its own channel (k*k weights), not all channels."
    ),
    "separable_is_standard": (
        "that is the count of a standard convolution; a depthwise-separable one is a "
        "depthwise k x k step followed by a pointwise 1 x 1 step."
    ),
    "flatten_wrong_size": (
        "the flattened length is conv2's *output* (H_out * W_out * filters); a 'same' "
        "convolution with stride s gives ceil(n/s) pixels per axis."
    ),
    "pool_has_params": (
        "pooling has no parameters: it only takes a max (or an average) of each window."
    ),
    "total_no_bias": (
        "the biases are missing from the total: every conv filter and dense unit has one."
    ),
    "macs_input_positions": (
        "the multiply-adds were counted at the input's positions: a filter is applied "
        "once per *output* position, and a valid k x k convolution has n - k + 1 per axis."
    ),
    "activations_no_input": "the input image is an activation too: count its values.",
    "activations_slide_total": (
        "that is the slide's total, which does not match its own rows: add up the "
        "per-layer values instead."
    ),
    "mb_not_mib": "that is in MB (10^6 bytes); a MiB is 2^20 = 1,048,576 bytes.",
    "wrong_dtype_size": "float32 values take 4 bytes each.",
}


def first_match(
    value: Any,
    reference: Any,
    candidates: Iterable[tuple[str, Callable[[], Any]]],
    *,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    every: bool = False,
) -> Any:
    """The sentence of the first candidate mistake whose answer equals ``value``.

    ``candidates`` are ``(mistake name, thunk)``, most likely first; a thunk that raises,
    or whose answer equals the correct ``reference``, is skipped. With ``every=True``
    the sentences of *all* matching mistakes are returned, in order (a list, maybe
    empty): :meth:`Question.grade` then keeps the explanation that fits the most cases.
    """
    found: list[str] = []
    for name, thunk in candidates:
        try:
            wrong = thunk()
        except (ArithmeticError, ValueError, TypeError, IndexError):
            continue
        if wrong is None or close(wrong, reference, rtol=rtol, atol=atol):
            continue
        if close(value, wrong, rtol=rtol, atol=atol) and SENTENCES[name] not in found:
            found.append(SENTENCES[name])
            if not every:
                break
    if every:
        return found
    return found[0] if found else None


# --- ps1 -----------------------------------------------------------------------------------


def output_size(value: Any, case: Case, reference: Any, *, every: bool = False) -> Any:
    """``case.args = (n, k, s, p, d)`` of a convolution output size."""
    n, k, s, p, d = _five(case.args)
    names = (
        "missing_plus_one",
        "one_side_padding",
        "ceil",
        "true_division",
        "dilation_ignored",
        "dilation_times_kernel",
        "stride_ignored",
        "padding_ignored",
    )
    if d > 1:  # on a dilated case, a dilation mistake is the likelier explanation
        names = tuple(n for n in names if n.startswith("dilation")) + tuple(
            n for n in names if not n.startswith("dilation")
        )
    number = as_number(value)
    if number is None:
        return [] if every else None
    return first_match(
        number,
        reference,
        every=every,
        candidates=[
            (name, lambda name=name: mistakes.output_size(n, k, s, p, d, mistake=name))
            for name in names
        ],
    )


def _five(args: tuple) -> tuple[int, int, int, int, int]:
    n, k, s, p, d = (list(args) + [1, 0, 1][len(args) - 2 :])[:5]
    return int(n), int(k), int(s), int(p), int(d)


def same_padding(value: Any, case: Case, reference: Any, *, every: bool = False) -> Any:
    """``case.args = (n, k, s)``; the answer is ``(before, after)``."""
    n, k, s = (int(a) for a in case.args[:3])
    return first_match(
        value,
        reference,
        every=every,
        candidates=[
            (
                "extra_pixel_first",
                lambda: mistakes.same_padding(n, k, s, mistake="extra_pixel_first"),
            ),
            (
                "same_stride_ignored",
                lambda: mistakes.same_padding(n, k, s, mistake="stride_ignored"),
            ),
        ],
    )


def conv_params(value: Any, case: Case, reference: Any, *, every: bool = False) -> Any:
    """``case.args = (c_in, c_out, k)``; a convolution's parameter count with biases."""
    c_in, c_out, k = (int(a) for a in case.args[:3])
    return first_match(
        value,
        reference,
        every=every,
        candidates=[
            ("no_bias", lambda: c_out * c_in * k * k),
            ("no_input_channels", lambda: c_out * (k * k + 1)),
            ("kernel_not_squared", lambda: c_out * (c_in * k + 1)),
            ("bias_per_channel", lambda: c_out * c_in * (k * k + 1)),
            ("bias_per_weight", lambda: 2 * c_out * c_in * k * k),
        ],
    )


def dense_params(value: Any, case: Case, reference: Any, *, every: bool = False) -> Any:
    """``case.args = (n_in, n_out)``."""
    n_in, n_out = (int(a) for a in case.args[:2])
    return first_match(
        value,
        reference,
        every=every,
        candidates=[
            ("no_bias", lambda: n_in * n_out),
            ("bias_on_inputs", lambda: n_in * n_out + n_in),
        ],
    )


def separable_params(value: Any, case: Case, reference: Any, *, every: bool = False) -> Any:
    """``case.args = (c_in, c_out, k)``; depthwise k x k then pointwise 1 x 1, with biases."""
    c_in, c_out, k = (int(a) for a in case.args[:3])
    depthwise, pointwise = k * k * c_in, c_in * c_out
    return first_match(
        value,
        reference,
        every=every,
        candidates=[
            ("separable_no_biases", lambda: depthwise + pointwise),
            ("separable_no_depthwise_bias", lambda: depthwise + pointwise + c_out),
            ("separable_no_pointwise_bias", lambda: depthwise + c_in + pointwise),
            (
                "separable_full_depthwise",
                lambda: k * k * c_in * c_in + c_in + pointwise + c_out,
            ),
            ("separable_is_standard", lambda: k * k * c_in * c_out + c_out),
        ],
    )


