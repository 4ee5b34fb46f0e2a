"""A small builder for questions: cases, reference, misconceptions and points in one place.

One call declares a whole question. Each misconception is a :class:`Mistake`: the
sentence a student reads *next to* the wrong computation that produces it, so adding a
misconception is one line where the question is declared::

    from cnnlab import shapes
    from cnnlab.grading.build import Mistake, function_question

    OUTPUT_SIZE = function_question(
        "ps5_custom-output_size",
        "output_size",
        points=2,
        reference=lambda n, k: shapes.conv_output_size(n, k),
        visible=[(7, 3), (32, 5)],
        hidden=lambda rng: [(int(rng.integers(5, 40)), int(rng.integers(1, 5)))
                            for _ in range(6)],
        mistakes=[Mistake("the count is one short: the first position needs the +1.",
                          lambda n, k: n - k)],
        describe=lambda n, k: "a 1x1 kernel" if k == 1 else "a wider kernel",
    )

The reference is cnnlab's own computation (never the student's); a number is compared
as a number, anything else as an array (lists, tuples and arrays with equal values are
interchangeable, float32 at float32 precision), or by ``compare`` (for instance
:func:`~cnnlab.grading.compare.pair_check`, or several sub-checks of one answer).
Hidden cases are labelled by ``describe`` (features, never inputs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cnnlab.grading.compare import array_check, as_number, close, number_check
from cnnlab.grading.questions import Case, Check, Question

__all__ = ["Mistake", "function_question", "value_question"]

#: ``compare(name, value, expected, *, reveal, diagnose)``: one Check or a list of them
#: (the signature of :func:`~cnnlab.grading.compare.array_check` and its siblings).
Compare = Callable[..., "Check | Sequence[Check]"]


@dataclass(frozen=True)
class Mistake:
    """A misconception: what the student reads, and the wrong answer it computes.

    ``compute`` takes the case's arguments (or, for a value question, the variant) and
    returns what an answer with this mistake would be.
    """

    sentence: str
    compute: Callable[..., Any]


def _matching(value: Any, expected: Any, mistakes: Sequence[Mistake], *inputs: Any) -> list[str]:
    found = []
    for mistake in mistakes:
        try:
            wrong = mistake.compute(*inputs)
        except (ArithmeticError, ValueError, TypeError, IndexError, KeyError):
            continue
        if wrong is None or close(wrong, expected):
            continue
        if close(value, wrong) and mistake.sentence not in found:
            found.append(mistake.sentence)
    return found


def _checks(
    name: str,
    value: Any,
    expected: Any,
    reveal: bool,
    diagnose,
    integer: bool,
    compare: Compare | None,
) -> list[Check]:
    if compare is not None:
        found = compare(name, value, expected, reveal=reveal, diagnose=diagnose)
        return [found] if isinstance(found, Check) else list(found)
    return [_check(name, value, expected, reveal, diagnose, integer)]


def _check(name: str, value: Any, expected: Any, reveal: bool, diagnose, integer: bool) -> Check:
    if as_number(expected) is not None and np.ndim(expected) == 0:
        return number_check(
            name,
            value,
            float(expected),
            reveal=reveal,
            integer=integer,
            rel=1e-9,
            diagnose=diagnose,
        )
    return array_check(
        name, value, np.asarray(expected, dtype=np.float64), reveal=reveal, diagnose=diagnose
    )


def function_question(
    key: str,
    target: str,
    *,
    points: float,
    reference: Callable[..., Any],
    visible: Sequence[tuple] | Callable[[], Sequence[tuple]],
    hidden: Callable[[np.random.Generator], Sequence[tuple]] | None = None,
    mistakes: Sequence[Mistake] = (),
    describe: Callable[..., str] | None = None,
    label: Callable[..., str] | None = None,
    title: str = "",
    integer: bool = True,
    result: str = "the result",
    compare: Compare | None = None,
) -> Question:
    """A question that calls the student's function ``target`` on each case.

    Parameters
    ----------
    key : str
        ``"<assignment>-<name>"``, the test cell's ``grade_id``.
    target : str
        The function's name in the notebook.
    points : float
        The question's points (``make course`` writes them into the notebook).
    reference : callable
        The correct answer for a case's arguments, computed by cnnlab.
    visible : sequence of tuple, or callable() -> sequence of tuple
        Arguments of the cases a student's own check runs (their answers may be shown);
        a callable builds them when asked (arrays from a seeded generator, a network
        that takes a moment to train).
    hidden : callable(rng) -> sequence of tuple, optional
        Arguments drawn at grading time.
    mistakes : sequence of Mistake
        The misconceptions recognised, most likely first.
    describe : callable(*args) -> str, optional
        A hidden case's label: its features, never its inputs (default: none).
    label : callable(*args) -> str, optional
        A visible case's label (default: the call, ``target(7, 3)``).
    integer : bool
        Numbers must be whole (counts, sizes).
    result : str
        What the feedback calls the answer (``"dx"``, ``"the saliency map"``).
    compare : callable, optional
        ``compare(result, value, expected, *, reveal, diagnose)`` returning a Check or a
        list of them, instead of the number-or-array comparison.
    """

    def visible_label(args: tuple) -> str:
        if label is not None:
            return label(*args)
        return f"{target}({', '.join(repr(a) for a in args)})"

    def visible_cases(variant: Any) -> list[Case]:
        arguments = visible() if callable(visible) else visible
        return [Case(tuple(args), label=visible_label(tuple(args))) for args in arguments]

    def judge(value: Any, case: Case, variant: Any) -> list[Check]:
        expected = reference(*case.args)
        return _checks(
            result,
            value,
            expected,
            not case.hidden,
            lambda: _matching(value, expected, mistakes, *case.args),
            integer,
            compare,
        )

    def hidden_cases(rng: np.random.Generator, variant: Any) -> list[Case]:
        assert hidden is not None
        return [
            Case(tuple(args), label=describe(*args) if describe else "", hidden=True)
            for args in hidden(rng)
        ]

    return Question(
        key,
        target,
        "function",
        points,
        visible=visible_cases,
        hidden=hidden_cases if hidden is not None else None,
        judge=judge,
        title=title or target,
    )


def value_question(
    key: str,
    target: str,
    *,
    points: float,
    reference: Callable[[Any], Any],
    mistakes: Sequence[Mistake] = (),
    title: str = "",
    integer: bool = True,
    variant_fields: tuple[str, ...] = (),
    result: str = "",
    compare: Compare | None = None,
    read: Callable[[Any], Any] | None = None,
) -> Question:
    """A question that reads the notebook variable ``target`` (its answer is never shown).

    ``reference`` and each mistake's ``compute`` take the student's variant;
    ``variant_fields`` names the variant numbers the answer depends on. ``result`` and
    ``compare`` are as for :func:`function_question` (``result`` defaults to the
    variable's name); ``read``, if given, turns the student's value into the form
    compared (say, a ``(1, 1, H, W)`` array into ``(H, W)``) before it is compared or
    diagnosed.
    """

    def judge(value: Any, case: Case, variant: Any) -> list[Check]:
        expected = reference(variant)
        if read is not None:
            value = read(value)
        return _checks(
            result or f"`{target}`",
            value,
            expected,
            False,
            lambda: _matching(value, expected, mistakes, variant),
            integer,
            compare,
        )

    return Question(
        key,
        target,
        "value",
        points,
        visible=lambda variant: [Case(label=target)],
        judge=judge,
        variant_fields=variant_fields,
        title=title or target,
    )
