"""``check``: what an assignment's test cell runs in the student's own kernel.

At grading time test cells are never executed: the grader asks the sandbox for the
same cases and calls the same :meth:`Question.grade`. ``check`` mirrors that in the
student's kernel, for self-study and ``nbgrader validate``:

- every case's result goes through the same plain-data conversion as in the sandbox
  (:mod:`cnnlab.grading.plain`), and whatever the student's code prints or warns while
  it runs is swallowed, as at grading;
- the report printed is ``Report.text()``, exactly the feedback text of grading.

What ``check`` does with the outcome:

========================================  ==========================================
outcome                                   behaviour
========================================  ==========================================
full marks                                prints the report, returns the score
not implemented yet (every case raised    prints "not implemented yet" / "not
NotImplementedError) or not answered      answered yet", returns ``0.0``, raises
yet (the variable does not exist)         nothing: "Run All" goes on, and ``nbgrader
                                          validate`` still counts the cell as failed
                                          (a score of 0 is partial credit 0)
anything else below full marks            prints the report, raises ``AssertionError``
                                          carrying the likely mistake
========================================  ==========================================

The returned score is the cell's value, so nbgrader reads it as partial credit exactly
as it reads the grader's own output.
"""

from __future__ import annotations

import contextlib
import io
import sys
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from cnnlab.grading import plain
from cnnlab.grading.questions import Case, Question, Report, question
from cnnlab.grading.variants import default_variant

__all__ = ["check", "run_case"]

_MISSING = object()


def _copy(value: Any) -> Any:
    return plain.decode(plain.encode(value))


def run_case(q: Question, target: Any, case: Case) -> dict[str, Any]:
    """Run one case against ``target`` in this process and return its outcome.

    The outcome has the sandbox's form: ``{"value": plain data}``,
    ``{"error": "TypeError: ..."}`` or ``{"unsupported": "type name"}``. Arguments are
    fresh copies, so a function that modifies its inputs cannot affect other cases.
    """
    sink = io.StringIO()
    with (
        warnings.catch_warnings(),
        np.errstate(all="ignore"),
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
    ):
        warnings.simplefilter("ignore")
        try:
            if q.kind == "value":
                result = target
            else:
                result = target(*_copy(case.args), **_copy(dict(case.kwargs)))
            outcome = plain.outcome_for(result)
        except Exception as error:  # the student's exception becomes the outcome
            return {"error": f"{type(error).__name__}: {error}"}
    if "value" in outcome:
        outcome = {"value": plain.decode(plain.encode(outcome["value"]))}
    return outcome


def _lookup(name: str) -> Any:
    namespace = vars(sys.modules["__main__"])
    return namespace.get(name, _MISSING)


def grade_in_process(
    q: Question,
    target: Any,
    variant: Mapping[str, Any],
    *,
    hidden_rng: np.random.Generator | None = None,
) -> Report:
    """Build the cases, run them against ``target`` here, and grade them."""
    if target is _MISSING:
        return q.missing_report()
    cases = q.visible_cases(variant)
    if hidden_rng is not None:
        cases = cases + q.hidden_cases(hidden_rng, variant)
    outcomes = [run_case(q, target, case) for case in cases]
    return q.grade(outcomes, cases, variant)


def check(
    key: str,
    target: Any = _MISSING,
    *,
    variant: Mapping[str, Any] | None = None,
    hidden: bool = False,
) -> float:
    """Grade one question in this kernel and print the feedback.

    Parameters
    ----------
    key : str
        The question key, the ``grade_id`` of the test cell (``"ps2_conv-conv_forward"``).
    target : function or value, optional
        What to grade. Omitted, ``check`` looks up the question's target name in the
        notebook's namespace, so an unanswered variable reports "not answered yet"
        instead of failing with a ``NameError``.
    variant : dict, optional
        The notebook's ``VARIANT`` (default: the lecture's numbers).
    hidden : bool, default False
        Also run a fresh random draw of hidden cases (self-study only: grading draws
        its own).

    Returns
    -------
    float
        The score, between 0 and the question's points.

    Raises
    ------
    AssertionError
        The answer runs but is not (entirely) right; the message names the likely
        mistake. Not raised for an answer that is not implemented or not given yet.
    """
    q = question(key)
    numbers = default_variant(q.assignment)
    if variant:
        numbers.update(variant)
    if target is _MISSING:
        target = _lookup(q.target)
    rng = np.random.default_rng() if hidden else None
    report = grade_in_process(q, target, numbers, hidden_rng=rng)
    print(report.text())
    if report.full_marks:
        return report.score
    if _unanswered(report):
        return report.score
    reason = report.diagnoses()[0] if report.diagnoses() else _first_failure(report)
    raise AssertionError(
        f"{q.key}: {report.score:g} / {report.points:g} points. {reason}"
    ) from None


def _unanswered(report: Report) -> bool:
    if len(report.verdicts) != 1 or report.verdicts[0].passed:
        return False
    message = report.verdicts[0].message
    return message.startswith(("not implemented yet", "not answered yet"))


def _first_failure(report: Report) -> str:
    for verdict in report.verdicts:
        if not verdict.passed:
            return verdict.message
    return ""  # pragma: no cover - only called below full marks
