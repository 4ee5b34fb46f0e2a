"""Questions, cases, verdicts and reports: the grading contract of ``autograder/DESIGN.md``.

A :class:`Question` knows which name it probes in a student's notebook, which inputs to
try (:meth:`Question.visible_cases`, :meth:`Question.hidden_cases`) and how to turn what
came back (one *outcome* per case) into a :class:`Report`. The same ``grade`` runs in a
student's kernel (:func:`cnnlab.grading.check`) and in the grading process, so the
feedback text is identical in both places.

An *outcome* is what running one case gave, as plain data:
``{"value": ...}``, ``{"error": "TypeError: ..."}``, ``{"timeout": seconds}`` or
``{"unsupported": "type name"}``.

Scoring: each case earns a fraction of its sub-checks (``dx``, ``dw`` and ``db`` of a
backward pass, the elements of a tuple answer, ...); a question scores
``points * mean(case fractions)``, rounded to 3 decimals, which nbgrader records as
partial credit.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import math
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import numpy as np

__all__ = [
    "ASSIGNMENTS",
    "Case",
    "Check",
    "Question",
    "Report",
    "Verdict",
    "question",
    "questions_for",
]

#: The course's assignments, in teaching order.
ASSIGNMENTS = (
    "ps1_shapes_params",
    "ps2_conv",
    "ps3_pooling",
    "ps4_receptive_saliency_transfer",
)
#: An assignment's or a question's name: what nbgrader allows in a grade_id, minus "-".
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
#: The file that declares an assignment added to the course (``QUESTIONS``), in
#: ``source/<assignment>/``: released with the notebook, so a student's own checks find
#: it next to the notebook, and found by the grader in the course's ``source/``.
COURSE_MODULE = "{assignment}_questions"
#: Environment variable listing the course ``source/`` folders, for child processes.
SOURCES_ENV = "CNNLAB_COURSE_SOURCES"
#: The course that comes with a cnnlab checkout (``autograder/source/``), searched
#: last: the four assignments' questions files live there, beside their notebooks.
#: An installed cnnlab has no such folder; there the grader names the course's
#: ``source/`` (:func:`add_course_source`) and a student's kernel finds the file next
#: to the notebook.
CHECKOUT_SOURCE = Path(__file__).resolve().parents[2] / "autograder" / "source"
#: Most failing cases listed one by one in a report; the rest are counted.
MAX_LISTED = 6

Outcome = Mapping[str, Any]


@dataclass(frozen=True, eq=False)
class Case:
    """One call of the student's function (or one read of a variable).

    Parameters
    ----------
    args, kwargs
        Plain data passed to the target.
    label
        What a student may see about the inputs: ``"N=1, 3x5 input, stride 2"``.
    hidden
        Hidden cases never reveal the expected answer.
    data
        Grader-side data that is never sent to the student's code (a held-out test set,
        the seed that built the case, ...).
    weight
        The case's share of the score relative to the others; ``0`` for a case that is
        shown but not scored (a student's own example, whose geometry depends on the
        variant: a mistake must cost every student the same).
    """

    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""
    hidden: bool = False
    data: Mapping[str, Any] = field(default_factory=dict)
    weight: float = 1.0


@dataclass(frozen=True)
class Verdict:
    """The outcome of one case.

    ``credit`` is the fraction (0 to 1) of the case's sub-checks that passed; it
    defaults to 1 for a passed case and 0 for a failed one. ``explains`` lists every
    misconception that reproduces this case's wrong answer (``diagnosis`` is the one
    :meth:`Question.grade` retained). ``weight`` is the case's share of the score
    (:attr:`Case.weight`) and ``failed`` names the sub-checks that failed (``dx``, ...).
    """

    passed: bool
    message: str
    diagnosis: str | None = None
    credit: float | None = None
    explains: tuple[str, ...] = ()
    weight: float = 1.0
    failed: tuple[str, ...] = ()

    @property
    def fraction(self) -> float:
        if self.credit is not None:
            return float(self.credit)
        return 1.0 if self.passed else 0.0


@dataclass(frozen=True)
class Report:
    """The outcome of one question: score out of points, one verdict per case."""

    key: str
    points: float
    score: float
    verdicts: tuple[Verdict, ...]
    title: str = ""

    @property
    def full_marks(self) -> bool:
        return self.score >= self.points

    def diagnoses(self) -> list[str]:
        """The distinct diagnoses, in the order the cases found them."""
        seen: list[str] = []
        for verdict in self.verdicts:
            if verdict.diagnosis and verdict.diagnosis not in seen:
                seen.append(verdict.diagnosis)
        return seen

    def text(self) -> str:
        """The feedback a student reads, identical in-kernel and at grading."""
        head = f"{self.key}"
        if self.title:
            head += f" ({self.title})"
        lines = [f"{head}: {_fmt(self.score)} / {_fmt(self.points)} points"]
        failed = [v for v in self.verdicts if not v.passed]
        passed = [v for v in self.verdicts if v.passed]
        for verdict in passed:
            if not verdict.message.startswith("hidden"):
                lines.append(f"  [pass] {verdict.message}")
        hidden_passed = sum(1 for v in passed if v.message.startswith("hidden"))
        if hidden_passed:
            plural = "s" if hidden_passed != 1 else ""
            lines.append(f"  [pass] {hidden_passed} hidden case{plural}")
        hinted: set[str] = set()
        for verdict in failed[:MAX_LISTED]:
            lines.append(f"  [FAIL] {verdict.message}")
            if verdict.diagnosis and verdict.diagnosis not in hinted:
                hinted.add(verdict.diagnosis)
                lines.append(f"         Likely mistake: {verdict.diagnosis}")
        if len(failed) > MAX_LISTED:
            lines.append(f"  ... and {len(failed) - MAX_LISTED} more failing cases")
        if 0 < self.score < self.points:
            lines.append(self.split())
        return "\n".join(lines)

    def split(self) -> str:
        """One line saying how a partial score adds up from the cases and their parts."""
        scored = [v for v in self.verdicts if v.weight > 0]
        if len(scored) == 1:
            only = scored[0]
            fraction = Fraction(only.fraction).limit_denominator(24)
            wrong = f" ({', '.join(only.failed)} wrong)" if only.failed else ""
            return f"  How the score adds up: {fraction} of the points{wrong}."
        equal = len({v.weight for v in scored}) == 1
        share = f", {_fmt(round(self.points / len(scored), 3))} points each" if equal else ""
        groups: dict[tuple[Fraction, tuple[str, ...]], int] = {}
        for verdict in scored:
            fraction = Fraction(verdict.fraction).limit_denominator(24)
            key = (fraction, verdict.failed if 0 < fraction < 1 else ())
            groups[key] = groups.get(key, 0) + 1
        parts = []
        for (fraction, names), count in sorted(groups.items(), key=lambda g: -g[0][0]):
            cases = "1 case" if count == 1 else f"{count} cases"
            if fraction == 1:
                parts.append(f"{cases} fully right")
            elif fraction == 0:
                parts.append(f"{cases} earned nothing")
            else:
                wrong = f" ({', '.join(names)} wrong)" if names else ""
                parts.append(
                    f"{cases} earned {fraction} of {'its' if count == 1 else 'their'} share{wrong}"
                )
        unscored = len(self.verdicts) - len(scored)
        tail = (
            f"; {unscored} example{'s' if unscored != 1 else ''} shown, not scored"
            if (unscored)
            else ""
        )
        head = f"  How the score adds up: {len(scored)} scored cases{share}"
        return f"{head}: " + ", ".join(parts) + tail + "."


def _fmt(number: float) -> str:
    return f"{number:g}"


@dataclass(frozen=True)
class Check:
    """One sub-check of a case (``dx``, one element of a tuple, ...).

    ``problem`` is one sentence saying what is wrong (empty when passed); it must not
    contain the expected answer of a hidden case. ``diagnosis`` names the likely
    misconception when one is recognised; ``explains`` may list every misconception
    that reproduces the value, most likely first. ``name`` names the part checked
    (``"dx"``), for the line that explains a partial score.
    """

    passed: bool
    problem: str = ""
    diagnosis: str | None = None
    weight: float = 1.0
    explains: tuple[str, ...] = ()
    name: str = ""


Judge = Callable[[Any, Case, Mapping[str, Any]], Sequence[Check]]


class Question:
    """One graded question: a function or a variable the student defines.

    Parameters
    ----------
    key : str
        The nbgrader ``grade_id`` of the test cell, ``"<assignment>-<name>"``.
    target : str
        The name probed in the student's namespace.
    kind : {"function", "value"}
        Call ``target`` on each case, or read it (one case, no arguments).
    points : float
        Maximum score.
    visible : callable(variant) -> list of Case
        Cases a student's own ``check`` runs (their expected answers may be shown,
        except for ``kind="value"`` questions, whose answer is the point).
    judge : callable(value, case, variant) -> list of Check
        Compares one returned value with the reference; the reference is computed by
        cnnlab inside ``judge``, never taken from the student.
    hidden : callable(rng, variant) -> list of Case, optional
        Cases drawn at grading time; ``None`` for questions without hidden cases.
    variant_fields : tuple of str
        The variant numbers this question uses.
    title : str
        A short human name ("conv2d_forward", "output size when the stride doesn't fit").
    """

    def __init__(
        self,
        key: str,
        target: str,
        kind: Literal["function", "value"],
        points: float,
        *,
        visible: Callable[[Mapping[str, Any]], list[Case]],
        judge: Judge,
        hidden: Callable[[np.random.Generator, Mapping[str, Any]], list[Case]] | None = None,
        variant_fields: tuple[str, ...] = (),
        title: str = "",
    ) -> None:
        assignment, sep, name = key.partition("-")
        if not sep or not _NAME.match(name) or not _NAME.match(assignment):
            raise ValueError(f"question key {key!r} is not '<assignment>-<name>'")
        if kind not in ("function", "value"):
            raise ValueError(f"kind must be 'function' or 'value', not {kind!r}")
        self.key = key
        self.assignment = assignment
        self.target = target
        self.kind = kind
        self.points = float(points)
        self.title = title or target
        self._visible = visible
        self._hidden = hidden
        self._judge = judge
        self._variant_fields = tuple(variant_fields)

    def __repr__(self) -> str:
        return f"Question({self.key!r}, target={self.target!r}, points={self.points:g})"

    def variant_fields(self) -> tuple[str, ...]:
        """The names of the variant numbers this question uses (may be empty)."""
        return self._variant_fields

    def visible_cases(self, variant: Mapping[str, Any]) -> list[Case]:
        """Cases shown to students (their own ``check`` runs them)."""
        cases = list(self._visible(variant))
        if self.kind == "value" and (len(cases) != 1 or cases[0].args or cases[0].kwargs):
            raise AssertionError(f"{self.key}: a value question has one case without args")
        return cases

    def hidden_cases(self, rng: np.random.Generator, variant: Mapping[str, Any]) -> list[Case]:
        """Cases drawn from ``rng`` at grading time (none for value questions)."""
        if self._hidden is None:
            return []
        cases = list(self._hidden(rng, variant))
        if not all(case.hidden for case in cases):
            raise AssertionError(f"{self.key}: hidden_cases must mark every case hidden")
        return cases

    # --- grading -------------------------------------------------------------------

    def grade(
        self,
        outputs: Sequence[Outcome],
        cases: Sequence[Case],
        variant: Mapping[str, Any],
    ) -> Report:
        """Score the outcomes of ``cases`` (same length, same order)."""
        if len(outputs) != len(cases):
            raise ValueError(
                f"{self.key}: {len(outputs)} outcomes for {len(cases)} cases; the grader "
                "must return one outcome per case"
            )
        if cases and all(_not_implemented(outcome) for outcome in outputs):
            return self._report([self._not_implemented_verdict()])
        verdicts = [
            self._verdict(outcome, case, variant, index)
            for index, (outcome, case) in enumerate(zip(outputs, cases, strict=True), 1)
        ]
        return self._report(_consistent(verdicts))

    def missing_report(self) -> Report:
        """The report when ``target`` is not defined in the student's namespace.

        The grading machinery uses it for a missing target, so the text matches the
        one :func:`cnnlab.grading.check` prints in the student's kernel.
        """
        if self.kind == "value":
            message = (
                f"not answered yet: there is no variable `{self.target}`. Replace "
                f"`raise NotImplementedError()` in its answer cell with "
                f"`{self.target} = ...` and run that cell."
            )
        else:
            message = (
                f"no function named `{self.target}` was found: run the cell that defines "
                "it, and keep the name the assignment asks for."
            )
        return self._report([Verdict(False, message)])

    def uses_cnnlab_report(self, used: str) -> Report:
        """The report for an answer that is, or calls, cnnlab's own ``used``.

        :func:`cnnlab.grading.check` gives it in the student's kernel, where cnnlab is
        importable; at grading the same answer fails because cnnlab is not.
        """
        message = f"`{self.target}` uses cnnlab's own `{used}`: {USES_CNNLAB}"
        return self._report([Verdict(False, message)])

    def _report(self, verdicts: list[Verdict]) -> Report:
        total = math.fsum(v.weight for v in verdicts)
        fraction = math.fsum(v.fraction * v.weight for v in verdicts) / total if total else 0.0
        score = round(self.points * min(max(fraction, 0.0), 1.0), 3)
        return Report(self.key, self.points, score, tuple(verdicts), self.title)

    def _not_implemented_verdict(self) -> Verdict:
        if self.kind == "value":
            return Verdict(False, f"not answered yet: `{self.target}` is not defined.")
        return Verdict(
            False,
            f"not implemented yet: `{self.target}` still raises NotImplementedError. "
            "Replace the `raise NotImplementedError()` line with your code.",
        )

    def _describe(self, case: Case, index: int) -> str:
        if self.kind == "value":
            return f"`{self.target}`"
        if case.hidden:
            return f"hidden case {index}" + (f" ({case.label})" if case.label else "")
        where = case.label or f"case {index}"
        return where + (" [your example, not scored]" if case.weight == 0 else "")

    def _verdict(self, outcome: Outcome, case: Case, variant: Mapping[str, Any], index: int):
        where = self._describe(case, index)
        weight = float(case.weight)
        problem = _outcome_problem(outcome, self.target, self.kind)
        if problem is not None:
            return Verdict(False, f"{where}: {problem}", weight=weight)
        try:
            checks = list(self._judge(outcome["value"], case, variant))
        except (ArithmeticError, ValueError, TypeError, IndexError, KeyError) as error:
            # a value so odd the comparison itself fails: wrong, never a grader crash
            return Verdict(
                False,
                f"{where}: the grader could not compare this value ({type(error).__name__}).",
                weight=weight,
            )
        if not checks:  # pragma: no cover - every judge returns at least one check
            raise AssertionError(f"{self.key}: judge returned no checks")
        total = sum(c.weight for c in checks)
        earned = sum(c.weight for c in checks if c.passed)
        passed = all(c.passed for c in checks)
        if passed:
            return Verdict(True, where, None, 1.0, weight=weight)
        problems = [c.problem for c in checks if not c.passed and c.problem]
        diagnosis = next((c.diagnosis for c in checks if not c.passed and c.diagnosis), None)
        explains: list[str] = []
        for c in checks:
            if not c.passed:
                explains += [e for e in (c.explains or (c.diagnosis,)) if e and e not in explains]
        message = f"{where}: " + " ".join(problems) if problems else f"{where}: wrong."
        failed = tuple(c.name for c in checks if not c.passed and c.name)
        return Verdict(
            False,
            message,
            diagnosis,
            earned / total if total else 0.0,
            tuple(explains),
            weight,
            failed,
        )


def _consistent(verdicts: list[Verdict]) -> list[Verdict]:
    """Prefer the misconception that explains the most failing cases.

    Two mistakes can give the same wrong number on one case (a missing +1 and a
    mis-dilated kernel often do); across cases, the explanation shared by most of them
    is the likely one, so each case that it explains is diagnosed with it.
    """
    counts: dict[str, int] = {}
    order: list[str] = []
    for verdict in verdicts:
        for sentence in verdict.explains:
            counts[sentence] = counts.get(sentence, 0) + 1
            if sentence not in order:
                order.append(sentence)
    if not counts:
        return verdicts
    best = max(order, key=lambda sentence: (counts[sentence], -order.index(sentence)))
    out = []
    for verdict in verdicts:
        if best in verdict.explains and verdict.diagnosis != best:
            verdict = replace(verdict, diagnosis=best)
        out.append(verdict)
    return out


#: The exception a notebook's backward probe raises when the student's own forward
#: pass fails (the read-only cell defines it), so the report can say where it came from.
FORWARD_FAILED = "ForwardFailed"
#: Why an answer that uses cnnlab scores 0 at grading (shown in-kernel too).
USES_CNNLAB = (
    "the grader runs your notebook without cnnlab (it is the reference the grader "
    "compares with), so an answer that imports or calls cnnlab scores 0 there: write "
    "the computation yourself, in NumPy."
)


def _needs_cnnlab(error: str) -> bool:
    return (
        error.startswith(("ModuleNotFoundError: No module named 'cnnlab", "ImportError"))
        and "cnnlab" in error
    ) or error.startswith("NameError: name 'cnnlab' is not defined")


def _not_implemented(outcome: Outcome) -> bool:
    error = outcome.get("error")
    return isinstance(error, str) and error.startswith("NotImplementedError")


def _outcome_problem(outcome: Outcome, target: str, kind: str) -> str | None:
    if "value" in outcome:
        return None
    if "error" in outcome:
        error = str(outcome["error"]).strip().splitlines()
        first = error[0] if error else "an exception"
        if len(first) > 200:
            first = first[:197] + "..."
        if first.startswith(f"{FORWARD_FAILED}: "):
            return (
                f"your forward pass raised {first[len(FORWARD_FAILED) + 2 :]} on this case, "
                "so the backward pass could not be checked: fix the forward pass first "
                "(its own check shows where it goes wrong)."
            )
        if _needs_cnnlab(first):
            return f"raised {first}: {USES_CNNLAB}"
        return f"raised {first}"
    if "timeout" in outcome:
        seconds = outcome["timeout"]
        try:
            limit = f"{float(seconds):g} s"
        except (TypeError, ValueError):
            limit = "the time limit"
        return (
            f"did not finish within {limit}: look for a loop that never ends "
            "(or one that does far more work than the inputs need)."
        )
    if "unsupported" in outcome:
        what = "returned" if kind == "function" else "holds"
        return (
            f"`{target}` {what} a {outcome['unsupported']}, which the grader cannot read: "
            "use NumPy arrays, numbers, strings, tuples, lists or dicts."
        )
    return f"the grader could not run `{target}`."


# --- registry --------------------------------------------------------------------------

_REGISTRY: dict[str, Question] = {}
_LOADED: set[str] = set()
_LOADED_MODULES: dict[str, Any] = {}


def register(*questions: Question) -> None:
    """Add questions to the registry (an assignment module's ``QUESTIONS`` go here)."""
    for q in questions:
        if q.key in _REGISTRY and _REGISTRY[q.key] is not q:
            raise ValueError(f"question {q.key!r} registered twice")
        _REGISTRY[q.key] = q


_SOURCES: list[Path] = []


def add_course_source(folder: str | Path) -> None:
    """Also look for added assignments in ``folder/<assignment>/`` (a course's ``source/``).

    The grader and ``generate_assignment`` call it with the course's ``source/``; in a
    student's kernel the file sits next to the notebook, on ``sys.path`` already.
    """
    path = Path(folder).resolve()
    if path not in _SOURCES:
        _SOURCES.append(path)
    # processes started from here (grading workers) look there too
    known = [p for p in os.environ.get(SOURCES_ENV, "").split(os.pathsep) if p]
    if str(path) not in known:
        os.environ[SOURCES_ENV] = os.pathsep.join([*known, str(path)])


def _course_module(assignment: str):
    """The module declaring an assignment, or None.

    Searched in order: the course folders named by :func:`add_course_source` (and
    inherited from a parent process), a module of that name on ``sys.path`` (a
    student's kernel, next to the released notebook), then :data:`CHECKOUT_SOURCE`.
    """
    name = COURSE_MODULE.format(assignment=assignment)
    inherited = [Path(p) for p in os.environ.get(SOURCES_ENV, "").split(os.pathsep) if p]
    for folder in [*_SOURCES, *inherited]:
        module = _exec_file(name, folder / assignment / f"{name}.py")
        if module is not None:
            return module
    if importlib.util.find_spec(name) is not None:
        return importlib.import_module(name)
    return _exec_file(name, CHECKOUT_SOURCE / assignment / f"{name}.py")


def _exec_file(name: str, path: Path):
    """Run a questions file as module ``name``; its folder is on ``sys.path`` meanwhile,
    so it can import the sibling modules released with it (as in a student's kernel,
    where they all sit next to the notebook)."""
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    folder = str(path.parent)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(folder)
    return module


def assignment_module(assignment: str):
    """The module that declares ``assignment`` (its questions file), loading it once.

    Tests and tools read an assignment's own names from it (its mistakes, its lecture
    example); the registry reads its ``QUESTIONS``.
    """
    load_assignment(assignment)
    return _LOADED_MODULES[assignment]


def load_assignment(assignment: str) -> None:
    """Register an assignment's questions: its module's ``QUESTIONS``, in notebook order.

    An assignment is declared in ``source/<assignment>/<assignment>_questions.py``
    (docs/authoring.md), found as :func:`_course_module` says. Importing a module has
    no effect on the registry; this call is what registers, once per assignment.
    """
    if assignment in _LOADED:
        return
    module = _course_module(assignment) if _NAME.match(assignment) else None
    if module is None:
        raise KeyError(
            f"unknown assignment {assignment!r}: the course's assignments are "
            f"{', '.join(ASSIGNMENTS)}, and no {COURSE_MODULE.format(assignment=assignment)}.py "
            "declares it (docs/authoring.md)"
        )
    questions = tuple(module.QUESTIONS)
    for q in questions:
        if q.assignment != assignment:
            raise ValueError(f"{module.__name__}: question {q.key!r} is not of {assignment}")
    register(*questions)
    _LOADED.add(assignment)
    _LOADED_MODULES[assignment] = module


def unload_assignment(assignment: str) -> None:
    """Forget an assignment's questions, so the next lookup reads its file again
    (the authoring commands call it after editing a questions file)."""
    for key in [k for k, q in _REGISTRY.items() if q.assignment == assignment]:
        del _REGISTRY[key]
    _LOADED.discard(assignment)
    _LOADED_MODULES.pop(assignment, None)


def questions_for(assignment: str) -> list[Question]:
    """The questions of one assignment, in notebook order."""
    load_assignment(assignment)
    return [q for q in _REGISTRY.values() if q.assignment == assignment]


def question(key: str) -> Question:
    """The question whose key (the test cell's ``grade_id``) is ``key``.

    ``"ps2_conv.conv_forward"`` is accepted as an alias of ``"ps2_conv-conv_forward"``
    (nbgrader's metadata schema allows only letters, digits, ``_`` and ``-`` in a
    ``grade_id``, so the keys use ``-``).
    """
    assignment, _, name = key.replace(".", "-", 1).partition("-")
    canonical = f"{assignment}-{name}"
    with contextlib.suppress(KeyError):
        load_assignment(assignment)
    try:
        return _REGISTRY[canonical]
    except KeyError:
        raise KeyError(f"no question with key {key!r}") from None


def points_total(assignment: str) -> float:
    """Maximum score of an assignment."""
    return math.fsum(q.points for q in questions_for(assignment))
