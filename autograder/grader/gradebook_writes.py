"""A notebook's autograded scores and comments reach the gradebook together.

nbgrader's ``SaveAutoGrades`` looks each grade and comment up with a query of its own
(two when the cell is a task) and commits after each one: a notebook of 20 graded
cells cost some 60 statements and 20 commits, and a run stopped half way through a
notebook left some of its scores new and the others old.

:class:`SaveAutoGradesAtOnce` runs nbgrader's own ``preprocess_cell``,
``_add_score`` and ``_add_comment`` unchanged, on a gradebook that has read the
submitted notebook's grades and comments in one query each and commits once, after
the last cell: the notebook's scores land together or not at all (an error rolls all
of them back).

:class:`GetGradesAtOnce` is the same for feedback: nbgrader's ``GetGrades`` reads the
scores and comments back into the notebook with two queries per graded cell (three
for a task); it reads them through the same one-query-each lookups, and the points
with them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from nbgrader.preprocessors import GetGrades, SaveAutoGrades

from autograder.grader.gradebook_guard import by_cell_name


class _CommitAtTheEnd:
    """The gradebook session as ``SaveAutoGrades`` sees it: its per-cell ``commit``
    does nothing, so the changes stay pending until :class:`SaveAutoGradesAtOnce`
    commits them all."""

    def commit(self) -> None:
        pass


class NotebookGrades:
    """One submitted notebook's grades and comments, read in one query each, with the
    two lookups ``SaveAutoGrades`` makes (same results, same errors as nbgrader's
    ``Gradebook.find_grade`` and ``find_comment``).

    The rows belong to ``gradebook``'s session: what ``SaveAutoGrades`` sets on them is
    written when that session commits.
    """

    def __init__(self, gradebook, notebook: str, assignment: str, student: str) -> None:
        from nbgrader.api import Comment, Grade

        self.db = _CommitAtTheEnd()
        self._key = (notebook, assignment, student)
        self._grades = _by_cell_name(gradebook, Grade, "GradeCell", *self._key)
        self._comments = _by_cell_name(gradebook, Comment, "SolutionCell", *self._key)

    def find_grade(self, grade_cell: str, notebook: str, assignment: str, student: str):
        from nbgrader.api import MissingEntry

        self._same(notebook, assignment, student)
        if grade_cell not in self._grades:
            raise MissingEntry(f"No such grade: {assignment}/{notebook}/{grade_cell} "
                               f"for {student}")
        return self._grades[grade_cell]

    def find_comment(self, solution_cell: str, notebook: str, assignment: str, student: str):
        from nbgrader.api import MissingEntry

        self._same(notebook, assignment, student)
        if solution_cell not in self._comments:
            raise MissingEntry(f"No such taskcomment: {assignment}/{notebook}/"
                               f"{solution_cell} for {student}")
        return self._comments[solution_cell]

    def _same(self, *key: str) -> None:
        if key != self._key:
            raise ValueError(f"grades of {self._key}, asked for {key}")


def _by_cell_name(gradebook, row, preferred: str, notebook: str, assignment: str,
                  student: str) -> dict:
    """The submitted notebook's ``row`` objects (grades or comments) by their cell's
    name (:func:`~autograder.grader.gradebook_guard.by_cell_name`: a ``preferred`` cell
    wins over a task cell of the same name)."""
    from nbgrader.api import (
        Assignment,
        BaseCell,
        Grade,
        Notebook,
        Student,
        SubmittedAssignment,
        SubmittedNotebook,
    )
    from sqlalchemy.orm import undefer

    query = gradebook.db.query(row, BaseCell.name, BaseCell.type)
    if row is Grade:  # its points, a deferred column: else one more query per grade
        query = query.options(undefer(Grade.max_score))
    rows = (query
            .join(BaseCell, BaseCell.id == row.cell_id)
            .join(SubmittedNotebook, SubmittedNotebook.id == row.notebook_id)
            .join(Notebook, Notebook.id == SubmittedNotebook.notebook_id)
            .join(SubmittedAssignment, SubmittedAssignment.id == SubmittedNotebook.assignment_id)
            .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
            .join(Student, Student.id == SubmittedAssignment.student_id)
            .filter(Notebook.name == notebook, Assignment.name == assignment,
                    Student.id == student,
                    BaseCell.type.in_([preferred, "TaskCell"]))
            .all())
    return by_cell_name(((name, kind, obj) for obj, name, kind in rows), preferred)


@contextlib.contextmanager
def _grades_of(preprocessor, resources) -> Iterator:
    """Inside: ``preprocessor`` has the notebook's ids (as nbgrader's own ``preprocess``
    sets them) and, as its ``gradebook``, the notebook's :class:`NotebookGrades`; the
    value is nbgrader's ``Gradebook`` they were read from (its session, to commit)."""
    from nbgrader.api import Gradebook

    preprocessor.notebook_id = resources["nbgrader"]["notebook"]
    preprocessor.assignment_id = resources["nbgrader"]["assignment"]
    preprocessor.student_id = resources["nbgrader"]["student"]
    preprocessor.db_url = resources["nbgrader"]["db_url"]
    with Gradebook(preprocessor.db_url) as gradebook:
        preprocessor.gradebook = NotebookGrades(gradebook, preprocessor.notebook_id,
                                                preprocessor.assignment_id,
                                                preprocessor.student_id)
        yield gradebook


class SaveAutoGradesAtOnce(SaveAutoGrades):
    """nbgrader's ``SaveAutoGrades`` with one read and one commit per notebook."""

    def preprocess(self, nb, resources):
        with _grades_of(self, resources) as gradebook:
            try:
                nb, resources = super(SaveAutoGrades, self).preprocess(nb, resources)
                gradebook.db.commit()
            except BaseException:
                gradebook.db.rollback()  # none of this notebook's scores, not some
                raise
        return nb, resources


class GetGradesAtOnce(GetGrades):
    """nbgrader's ``GetGrades`` (feedback) with the notebook's grades and comments read
    in one query each (:class:`NotebookGrades`); nbgrader's ``preprocess_cell``,
    ``_get_score`` and ``_get_comment`` run unchanged on them."""

    def preprocess(self, nb, resources):
        with _grades_of(self, resources) as gradebook:
            nb, resources = super(GetGrades, self).preprocess(nb, resources)
            # the rest as nbgrader's GetGrades.preprocess
            notebook = gradebook.find_submission_notebook(
                self.notebook_id, self.assignment_id, self.student_id)
            late_penalty = notebook.late_submission_penalty
            if late_penalty is None:
                late_penalty = 0
            else:
                self.log.warning(f"Late submission penalty: {late_penalty}")
            resources["nbgrader"]["score"] = notebook.score - late_penalty
            resources["nbgrader"]["max_score"] = notebook.max_score
            resources["nbgrader"]["late_penalty"] = late_penalty
        return nb, resources
