"""``check``: what an assignment's test cell runs in the student's own kernel.

At grading time test cells are never executed: the grader asks the sandbox for the
same cases and calls the same :meth:`Question.grade`. ``check`` mirrors that in the
student's kernel, for self-study and ``nbgrader validate``:

- every case's result goes through the same plain-data conversion as in the sandbox
  (:mod:`cnnlab.grading.plain`), and whatever the student's code prints or warns while
  it runs is swallowed, as at grading;
- the report printed is ``Report.text()``, exactly the feedback text of grading.

What ``check`` does with the outcome: it prints the report and returns a
:class:`Score`, never raising, so "Run All" goes on past a failing check and no
traceback into cnnlab appears. The score is the cell's value: nbgrader (``nbgrader
validate``) reads its plain-text form as partial credit, exactly as it reads the
grader's own output, while JupyterLab shows nothing for it (the report's first line
already gives the score).

An answer that uses cnnlab itself (a function of cnnlab's, or one that calls cnnlab,
directly or through the notebook's other functions) cannot be graded: the grader runs
the notebook without cnnlab. ``check`` says so and scores it 0, as grading will.
"""

from __future__ import annotations

import contextlib
import io
import sys
import types
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from cnnlab.grading import plain
from cnnlab.grading.questions import Case, Question, Report, question
from cnnlab.grading.variants import default_variant

__all__ = ["Score", "check", "cnnlab_use", "run_case"]

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


class Score(float):
    """A check's score: a number for nbgrader, nothing drawn in the notebook.

    nbgrader reads a grade cell's ``text/plain`` result as partial credit; JupyterLab
    renders the richer ``text/html`` form, which is empty, so no stray ``0.0`` sits
    under the report.
    """

    def _repr_html_(self) -> str:
        return ""


def check(
    key: str,
    target: Any = _MISSING,
    *,
    variant: Mapping[str, Any] | None = None,
    hidden: bool = False,
) -> Score:
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
    Score
        The score, between 0 and the question's points. Nothing is raised: the report
        printed says what is wrong.
    """
    q = question(key)
    numbers = default_variant(q.assignment)
    if variant:
        numbers.update(variant)
    if target is _MISSING:
        target = _lookup(q.target)
    used = cnnlab_use(target) if q.kind == "function" else None
    if used is not None:
        report = q.uses_cnnlab_report(used)
    else:
        rng = np.random.default_rng() if hidden else None
        report = grade_in_process(q, target, numbers, hidden_rng=rng)
    print(report.text())
    return Score(report.score)


def cnnlab_use(function: Any) -> str | None:
    """The cnnlab object ``function`` is or calls (through the notebook's own functions).

    Follows the global names each function's code uses (nested functions and lambdas
    included) and its closure variables into the functions of the same namespace;
    returns a description such as ``"cnnlab.layers.conv2d_forward"``, or None when no
    cnnlab code is reached.
    """
    seen: set[int] = set()
    todo = [function]
    while todo:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        found = _cnnlab_name(item)
        if found is not None:
            return found
        code = getattr(item, "__code__", None)
        namespace = getattr(item, "__globals__", None)
        if code is None or not isinstance(namespace, dict):
            continue
        used = [namespace.get(name, _MISSING) for name in _global_names(code)]
        used += [_contents(cell) for cell in getattr(item, "__closure__", None) or ()]
        for value in used:
            if value is _MISSING:
                continue
            found = _cnnlab_name(value)
            if found is not None:
                return found
            if callable(value) and getattr(value, "__globals__", None) is namespace:
                todo.append(value)
    return None


def _contents(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # a closure variable not assigned yet
        return _MISSING


def _cnnlab_name(value: Any) -> str | None:
    if isinstance(value, types.ModuleType):
        name = value.__name__
    else:
        name = getattr(value, "__module__", None) or ""
        if name.split(".")[0] == "cnnlab":
            name = f"{name}.{getattr(value, '__qualname__', type(value).__name__)}"
    if name.split(".")[0] == "cnnlab" and not name.startswith("cnnlab.grading"):
        return name
    return None


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names
