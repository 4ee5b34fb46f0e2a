"""The grading machinery: questions, the builder, variants and ``check``.

``autograder/DESIGN.md`` is the contract. In short: a :class:`Question` names what it
probes in a student's notebook (:attr:`Question.target`), builds the inputs
(:meth:`Question.visible_cases`, :meth:`Question.hidden_cases`) and turns the outcomes
into a :class:`Report` (:meth:`Question.grade`). The grading machinery runs the
student's code in a sandbox and calls ``grade`` here; a test cell calls :func:`check`,
which runs the same cases in the student's own kernel and prints the same report.

Modules
-------
questions   Case, Check, Verdict, Report, Question and the registry
build       the builder: function_question, value_question, Mistake, Part
plain       the plain-data type check and wire format (stdlib + NumPy only)
variants    per-student numbers from the student id (public), hidden-case seeds
check       the in-kernel ``check``
compare     sub-checks: numbers and arrays against the reference

The course's assignments are not modules of this package: each declares its questions
with the builder in ``autograder/source/<assignment>/<assignment>_questions.py``,
released with its notebook (docs/authoring.md).

Question keys are the test cells' nbgrader ``grade_id``: ``"<assignment>-<name>"``
(nbgrader's schema allows no dots in a ``grade_id``).
"""

from __future__ import annotations

from cnnlab.grading import plain, variants
from cnnlab.grading.check import check
from cnnlab.grading.questions import (
    ASSIGNMENTS,
    Case,
    Check,
    Question,
    Report,
    Verdict,
    add_course_source,
    question,
    questions_for,
)
from cnnlab.grading.variants import hidden_case_seed, variant_for

__all__ = [
    "ASSIGNMENTS",
    "Case",
    "Check",
    "Question",
    "Report",
    "Verdict",
    "add_course_source",
    "check",
    "hidden_case_seed",
    "plain",
    "question",
    "questions_for",
    "variant_for",
    "variants",
]
