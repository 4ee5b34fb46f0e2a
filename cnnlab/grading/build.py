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

An answer made of several parts (``dx, dw, db`` of a backward pass, the numbers of a
tuple answer) names them with ``parts``: the reference returns one value per part, each
part is checked on its own (a case earns the fraction of its parts that are right), and
a mistake says which part it explains (``Mistake(..., part="dw")``). Cases whose inputs
are arrays with their own labels and weights, or depend on the student's variant, are
given as :class:`~cnnlab.grading.questions.Case` objects (``visible`` may be a function
of the variant). A mistake that is not one wrong value is recognised by a predicate
(``Mistake(sentence, recognise=...)``); one written for a function's arguments is
reused by a value question with :meth:`Mistake.at`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cnnlab.grading.compare import array_check, as_number, close, number_check, sequence_of
from cnnlab.grading.questions import Case, Check, Question

__all__ = ["Mistake", "Part", "function_question", "value_question"]

#: ``compare(name, value, expected, *, reveal, diagnose)``: one Check or a list of them
#: (the signature of :func:`~cnnlab.grading.compare.array_check` and its siblings).
Compare = Callable[..., "Check | Sequence[Check]"]


_SKIPPED = (ArithmeticError, ValueError, TypeError, IndexError, KeyError)


@dataclass(frozen=True)
class Mistake:
    """A misconception: what the student reads, and the wrong answer it computes.

    ``compute`` takes the case's arguments (or, for a value question, the variant) and
    returns what an answer with this mistake would be (None: the mistake cannot show on
    this case). ``also`` holds other computations that are the same mistake (padding
    on the top *or* on the bottom only). ``recognise(value, *inputs) -> bool`` replaces
    ``compute`` for a mistake that is not one wrong value (any non-zero count, a value
    within a loose tolerance). ``part`` names the part of the answer the mistake
    explains, when the answer has several.
    """

    sentence: str
    compute: Callable[..., Any] | None = None
    part: str | None = None
    also: tuple[Callable[..., Any], ...] = ()
    recognise: Callable[..., bool] | None = None

    def at(self, inputs: Callable[[Any], tuple], part: str | None = None) -> Mistake:
        """The same mistake computed from ``inputs(variant)`` (the arguments it was
        written for), explaining ``part``: a function question's mistake reused by a
        value question."""

        def moved(compute: Callable[..., Any] | None) -> Callable[..., Any] | None:
            if compute is None:
                return None
            return lambda variant: compute(*inputs(variant))

        recognise = self.recognise
        return Mistake(
            self.sentence,
            moved(self.compute),
            part,
            tuple(moved(c) for c in self.also),
            None if recognise is None else lambda value, v: recognise(value, *inputs(v)),
        )

    def explains(self, value: Any, expected: Any, *inputs: Any) -> bool:
        """Whether this mistake, on these inputs, gives ``value`` (and not ``expected``)."""
        if self.recognise is not None:
            try:
                return bool(self.recognise(value, *inputs))
            except _SKIPPED:
                return False
        for compute in (self.compute, *self.also):
            try:
                wrong = compute(*inputs)
            except _SKIPPED:
                continue
            if wrong is not None and not close(wrong, expected) and close(value, wrong):
                return True
        return False


@dataclass(frozen=True)
class Part:
    """One part of a several-part answer: its name, and how it is compared.

    ``integer`` (numbers only) wants a whole number; ``rtol`` and ``atol`` override
    the question's tolerances for this part.
    """

    name: str
    integer: bool | None = None
    rtol: float | None = None
    atol: float | None = None


def _matching(value: Any, expected: Any, mistakes: Sequence[Mistake], *inputs: Any) -> list[str]:
    found: list[str] = []
    for mistake in mistakes:
        if mistake.sentence not in found and mistake.explains(value, expected, *inputs):
            found.append(mistake.sentence)
    return found


@dataclass(frozen=True)
class _Rules:
    """How a question compares an answer: shared by all its cases."""

    parts: tuple[Part, ...] | None
    not_a_tuple: str
    mistakes: Sequence[Mistake] | Callable[..., Sequence[Mistake]]
    integer: bool
    rtol: float | None
    atol: float | None
    compare: Compare | None


def _checks(
    name: str, value: Any, expected: Any, inputs: tuple, reveal: bool, rules: _Rules
) -> list[Check]:
    """The sub-checks of one answer: the whole answer, or each of its parts."""
    mistakes = rules.mistakes(*inputs) if callable(rules.mistakes) else rules.mistakes
    if rules.parts is None:
        return _one(name, value, expected, inputs, reveal, rules, mistakes, Part(name))
    parts = rules.parts
    items = [value] if len(parts) == 1 else sequence_of(value, len(parts))
    if items is None:
        return [Check(False, rules.not_a_tuple, weight=len(parts))]
    wanted = [expected] if len(parts) == 1 else list(expected)
    checks = []
    for part, item, want in zip(parts, items, wanted, strict=True):
        own = [m for m in mistakes if m.part == part.name]
        checks += _one(part.name, item, want, inputs, reveal, rules, own, part)
    return checks


def _one(name, value, expected, inputs, reveal, rules: _Rules, mistakes, part: Part):
    def diagnose() -> list[str]:
        return _matching(value, expected, mistakes, *inputs)

    if rules.compare is not None:
        found = rules.compare(name, value, expected, reveal=reveal, diagnose=diagnose)
        return [found] if isinstance(found, Check) else list(found)
    integer = rules.integer if part.integer is None else part.integer
    rtol = rules.rtol if part.rtol is None else part.rtol
    atol = rules.atol if part.atol is None else part.atol
    if as_number(expected) is not None and np.ndim(expected) == 0:
        number = {"rel": 1e-9 if rtol is None else rtol, "abs_tol": atol or 0.0}
        return [
            number_check(
                name,
                value,
                float(expected),
                reveal=reveal,
                integer=integer,
                diagnose=diagnose,
                **number,
            )
        ]
    tolerances = {key: tol for key, tol in (("rtol", rtol), ("atol", atol)) if tol is not None}
    return [
        array_check(
            name,
            value,
            np.asarray(expected, dtype=np.float64),
            reveal=reveal,
            diagnose=diagnose,
            **tolerances,
        )
    ]


def _parts(parts: Sequence[str | Part] | None) -> tuple[Part, ...] | None:
    if parts is None:
        return None
    return tuple(part if isinstance(part, Part) else Part(part) for part in parts)


def _names(parts: tuple[Part, ...]) -> str:
    return ", ".join(part.name for part in parts)


def _takes_variant(function: Callable[..., Any]) -> bool:
    """Whether a ``visible`` callable wants the student's variant (one parameter)."""
    return bool(inspect.signature(function).parameters)


def function_question(
    key: str,
    target: str,
    *,
    points: float,
    reference: Callable[..., Any],
    visible: Sequence[tuple | Case] | Callable[..., Sequence[tuple | Case]],
    hidden: Callable[[np.random.Generator], Sequence[tuple | Case]] | None = None,
    mistakes: Sequence[Mistake] | Callable[..., Sequence[Mistake]] = (),
    describe: Callable[..., str] | None = None,
    label: Callable[..., str] | None = None,
    title: str = "",
    integer: bool = True,
    result: str = "the result",
    compare: Compare | None = None,
    parts: Sequence[str | Part] | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    variant_fields: tuple[str, ...] = (),
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
        The correct answer for a case's arguments, computed by cnnlab (one value per
        part when ``parts`` is given).
    visible : sequence of tuple or Case, or callable() / callable(variant) returning one
        Arguments of the cases a student's own check runs (their answers may be shown);
        a callable builds them when asked (arrays from a seeded generator, a network
        that takes a moment to train), from the student's variant if it takes one. A
        :class:`~cnnlab.grading.questions.Case` keeps its own label and weight.
    hidden : callable(rng) -> sequence of tuple or Case, optional
        Arguments (or cases) drawn at grading time.
    mistakes : sequence of Mistake, or callable(*args) -> sequence of Mistake
        The misconceptions recognised, most likely first (a callable orders them for
        the case's arguments: on a dilated case a dilation mistake is the likelier).
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
        list of them, instead of the number-or-array comparison (of each part).
    parts : sequence of str or Part, optional
        The names of the answer's parts (``("dx", "dw", "db")``), checked one by one.
    rtol, atol : float, optional
        Tolerances of an array answer (default: :func:`~cnnlab.grading.compare.array_check`'s).
    variant_fields : tuple of str
        The variant numbers the visible cases use.
    """
    shape = _parts(parts)
    rules = _Rules(
        shape,
        f"{title or target} should return a tuple ({_names(shape)})." if shape else "",
        mistakes,
        integer,
        rtol,
        atol,
        compare,
    )

    def visible_label(args: tuple) -> str:
        if label is not None:
            return label(*args)
        return f"{target}({', '.join(repr(a) for a in args)})"

    def visible_cases(variant: Any) -> list[Case]:
        if callable(visible):
            arguments = visible(variant) if _takes_variant(visible) else visible()
        else:
            arguments = visible
        return [
            args if isinstance(args, Case) else Case(tuple(args), label=visible_label(tuple(args)))
            for args in arguments
        ]

    def judge(value: Any, case: Case, variant: Any) -> list[Check]:
        expected = reference(*case.args)
        return _checks(result, value, expected, case.args, not case.hidden, rules)

    def hidden_cases(rng: np.random.Generator, variant: Any) -> list[Case]:
        assert hidden is not None
        return [
            args
            if isinstance(args, Case)
            else Case(tuple(args), label=describe(*args) if describe else "", hidden=True)
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
        variant_fields=variant_fields,
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
    parts: Sequence[str | Part] | None = None,
) -> Question:
    """A question that reads the notebook variable ``target`` (its answer is never shown).

    ``reference`` and each mistake's ``compute`` take the student's variant;
    ``variant_fields`` names the variant numbers the answer depends on. ``result`` and
    ``compare`` are as for :func:`function_question` (``result`` defaults to the
    variable's name); ``read``, if given, turns the student's value into the form
    compared (say, a ``(1, 1, H, W)`` array into ``(H, W)``) before it is compared or
    diagnosed. With ``parts``, the variable holds a tuple of numbers, one per part, and
    ``reference`` returns them in that order.
    """
    shape = _parts(parts)
    rules = _Rules(
        shape,
        f"`{target}` should be a tuple of {len(shape)} numbers: ({_names(shape)})."
        if shape
        else "",
        mistakes,
        integer,
        None,
        None,
        compare,
    )

    def judge(value: Any, case: Case, variant: Any) -> list[Check]:
        expected = reference(variant)
        if read is not None:
            value = read(value)
        return _checks(result or f"`{target}`", value, expected, (variant,), False, rules)

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
