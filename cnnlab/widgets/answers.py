"""Self-check for the exercises at the end of each notebook.

The expected value is always computed with cnnlab in the notebook (for example
``conv_output_size(...)``), never typed in, so the check and the lesson cannot drift
apart. A wrong answer gets a hint; the worked solution is shown once the answer is
right, or on request with ``reveal=True``.

Examples
--------
>>> check_answer("conv1 output size", 55, 55, explain="(227 - 11)/4 + 1 = 55").correct
True
>>> print(check_answer("conv1 output size", 54, 55, hint="use the formula"))
conv1 output size: 54 is not right yet. Hint: use the formula
>>> print(check_answer("conv1 output size", None, 55))
conv1 output size: no answer yet - replace None with your number.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Answer", "check_answer"]


@dataclass(frozen=True)
class Answer:
    """The verdict on one answer; shows as a coloured box in a notebook.

    Attributes
    ----------
    question : str
    given : object
        What the student wrote (``None``: not answered yet).
    correct : bool or None
        None when there is no answer yet.
    message : str
    """

    question: str
    given: Any
    correct: bool | None
    message: str

    def __str__(self) -> str:
        return self.message

    def _repr_html_(self) -> str:
        color = {True: "#1a7f37", False: "#c00000", None: "#7a5c00"}[self.correct]
        mark = {True: "&#10004;", False: "&#10008;", None: "&#8230;"}[self.correct]
        body = html.escape(self.message).replace("\n", "<br>")
        return (
            f'<div style="border-left:4px solid {color};padding:4px 8px;">'
            f'<b style="color:{color}">{mark}</b> {body}</div>'
        )


def _name(text: str) -> str:
    """``'LeNet-5'``, ``'lenet_5'`` and ``'lenet5'`` are the same name."""
    return re.sub(r"[\s_\-]", "", text).lower()


def _close(given: Any, expected: Any, rel_tol: float) -> bool:
    if isinstance(expected, str):
        return isinstance(given, str) and _name(given) == _name(expected)
    if isinstance(expected, (tuple, list)):
        return (
            isinstance(given, (tuple, list))
            and len(given) == len(expected)
            and all(_close(g, e, rel_tol) for g, e in zip(given, expected, strict=True))
        )
    try:
        g, e = float(given), float(expected)
    except (TypeError, ValueError):
        return bool(given == expected)
    return math.isclose(g, e, rel_tol=rel_tol, abs_tol=0.0)


def check_answer(
    question: str,
    given: Any,
    expected: Any,
    *,
    explain: str = "",
    hint: str = "",
    rel_tol: float = 0.0,
    reveal: bool = False,
) -> Answer:
    """Compare an exercise answer with the value cnnlab computes, and explain.

    Parameters
    ----------
    question : str
        Short name of the question, repeated in the verdict.
    given : number, str, tuple or None
        The student's answer; ``None`` means not answered yet. Names (str) compare
        without regard to case, spaces, hyphens and underscores: ``"LeNet-5"`` is
        ``"lenet5"``.
    expected : number or tuple
        The right answer, computed with cnnlab.
    explain : str, optional
        The worked solution (for example :func:`cnnlab.shapes.explain_conv_output_size`),
        shown when the answer is right or when ``reveal`` is True.
    hint : str, optional
        Shown after a wrong answer.
    rel_tol : float, default 0
        Relative tolerance for non-integer answers (0: exact).
    reveal : bool, default False
        Show the expected value and the explanation whatever the answer.

    Returns
    -------
    Answer
    """
    if given is None and not reveal:
        return Answer(
            question, given, None, f"{question}: no answer yet - replace None with your number."
        )
    correct = None if given is None else _close(given, expected, rel_tol)
    if correct:
        message = f"{question}: {given!r} is right."
    elif correct is None:
        message = f"{question}: no answer yet."
    else:
        message = f"{question}: {given!r} is not right yet."
        if hint:
            message += f" Hint: {hint}"
    if reveal:
        message += f"\nExpected: {expected!r}."
    if explain and (correct or reveal):
        message += f"\n{explain}"
    return Answer(question, given, correct, message)
