"""``generate_assignment`` refuses a test cell that the grader could not grade.

cnnlab never runs a test cell's code at grading time (DESIGN.md): it looks up the
question whose key is the cell's ``grade_id`` and asks the sandbox for that question's
cases. A plain nbgrader test cell (``assert f(2) == 4``) has no such question, so it
would score 0 for every student. :class:`RequireQuestions` stops that at
``nbgrader generate_assignment``, before any student sees the notebook, with a message
that names the cell and says what to do (docs/authoring.md).

It reads the question registry named by ``SandboxedGrading.course_module`` (the
module grading uses, ``cnnlab.grading`` unless a course configures another), so what
it accepts is exactly what grading can grade.
"""

from __future__ import annotations

import importlib
import os

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from autograder.grader.preprocessor import course_root_from

__all__ = ["CourseConfigurationError", "RequireQuestions", "ungradable_cells"]

DEFAULT_MODULE = "cnnlab.grading"


class CourseConfigurationError(ValueError):
    """A master notebook holds a test cell the grader has no question for."""


def _is_test_cell(cell: NotebookNode) -> bool:
    return cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)


def ungradable_cells(
    nb: NotebookNode, assignment: str, module: str = DEFAULT_MODULE, source: str | None = None
):
    """``(grade_id, reason)`` of every test cell of ``nb`` with no question to grade it.

    ``source`` is the course's ``source/`` folder, where added assignments declare
    their questions.
    """
    registry = importlib.import_module(module)
    if source and hasattr(registry, "add_course_source"):
        registry.add_course_source(source)
    problems = []
    for cell in nb.cells:
        if not _is_test_cell(cell):
            continue
        gid = cell.metadata["nbgrader"].get("grade_id", "")
        try:
            q = registry.question(gid)
        except (KeyError, LookupError, ValueError):
            q = None
        if q is None:
            problems.append((gid, "no question has this key"))
        elif getattr(q, "assignment", assignment) != assignment:
            problems.append((gid, f"its question belongs to {q.assignment}"))
    return problems


class RequireQuestions(NbGraderPreprocessor):
    """Refuse to release a notebook whose test cells the grader could not grade."""

    course_module = Unicode(
        "",
        help="The question registry; empty means SandboxedGrading.course_module "
        "(default cnnlab.grading).",
    ).tag(config=True)

    def _module(self) -> str:
        if self.course_module:
            return self.course_module
        grading = self.config.get("SandboxedGrading", {})
        return str(grading.get("course_module", DEFAULT_MODULE) or DEFAULT_MODULE)

    def preprocess(
        self, nb: NotebookNode, resources: ResourcesDict
    ) -> tuple[NotebookNode, ResourcesDict]:
        assignment = resources.get("nbgrader", {}).get("assignment", "")
        source = os.path.join(course_root_from(resources), "source")
        problems = ungradable_cells(nb, assignment, self._module(), source)
        if problems:
            listed = "; ".join(f"{gid!r} ({why})" for gid, why in problems)
            raise CourseConfigurationError(
                f"{assignment}: test cell(s) {listed}. cnnlab grades a test cell by its "
                "question (the cell's grade_id is the question's key) and never runs the "
                "cell's code, so a plain `assert` cell would score 0 for every student. "
                "Declare a question for it (docs/authoring.md), or make the cell a "
                "read-only cell instead of a test cell."
            )
        return nb, resources
