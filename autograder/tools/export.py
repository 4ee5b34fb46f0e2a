"""A wide grade sheet for an LMS: one row per student, one column per assignment.

nbgrader's own ``export`` writes one row per student per assignment. Canvas's
gradebook import (and Moodle's, which maps columns by hand) wants one row per
student. :func:`write_canvas_csv` writes Canvas's import layout:

* the columns ``Student`` ("Last, First"), ``ID`` (Canvas's own user id; left empty,
  Canvas then matches on the SIS columns), ``SIS User ID`` (the nbgrader student id),
  ``SIS Login ID`` (the roster's email), ``Section``;
* then one column per assignment (its total), or with ``per_question`` one more
  column per question (``<assignment>: <grade id>``) after each assignment;
* a second row ``Points Possible`` with each column's maximum, as Canvas's own
  export has it.

A student without a submission gets an empty cell (Canvas leaves that grade as it is).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence

from autograder.tools import course as C

CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
POINTS_ROW = "Points Possible"


def _number(value: float | None) -> str:
    return "" if value is None else f"{float(value):g}"


def canvas_rows(course: str, assignments: Sequence[str] | None = None, *,
                per_question: bool = False, section: str = "") -> list[list[str]]:
    """The sheet as rows of strings (header and points row first)."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(C.db_url(course)) as gb:
        names = list(assignments) if assignments else sorted(a.name for a in gb.assignments)
        columns: list[tuple[str, str, str | None]] = []  # (header, assignment, grade id)
        maxima: list[float] = []
        for name in names:
            try:
                assignment = gb.find_assignment(name)
            except MissingEntry:
                raise C.ToolError(f"assignment {name!r} is not in the gradebook") from None
            columns.append((name, name, None))
            maxima.append(assignment.max_score)
            if per_question:
                for notebook in assignment.notebooks:
                    for cell in sorted(notebook.grade_cells, key=lambda c: c.name):
                        columns.append((f"{name}: {cell.name}", name, cell.name))
                        maxima.append(cell.max_score)
        rows = [list(CANVAS_COLUMNS) + [c[0] for c in columns],
                [POINTS_ROW, "", "", "", ""] + [_number(m) for m in maxima]]
        for student in sorted(gb.students, key=lambda s: s.id):
            scores: dict[tuple[str, str | None], float] = {}
            for name in names:
                try:
                    submission = gb.find_submission(name, student.id)
                except MissingEntry:
                    continue
                scores[(name, None)] = submission.score
                for snb in submission.notebooks:
                    for grade in snb.grades:
                        scores[(name, grade.name)] = grade.score
            who = ", ".join(p for p in (student.last_name, student.first_name) if p)
            rows.append([who or student.id, "", student.id, student.email or "", section]
                        + [_number(scores.get((a, g))) for _, a, g in columns])
    return rows


def write_canvas_csv(course: str, path: str, assignments: Sequence[str] | None = None, *,
                     per_question: bool = False, section: str = "") -> str:
    """Write :func:`canvas_rows` to ``path`` (UTF-8, Canvas's CSV dialect)."""
    rows = canvas_rows(course, assignments, per_question=per_question, section=section)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    os.replace(tmp, path)
    return path
