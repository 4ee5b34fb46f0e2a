"""Only the grader writes grades: check the gradebook against what the grader computed.

:class:`~autograder.grader.preprocessor.SandboxedGrading` records every score it
writes into a ledger (``<course root>/.cnnlab/ledger/<assignment>/<student>/
<notebook>.json``). After a batch, :func:`verify` compares every autograded score in
the gradebook with the ledger and reports any difference: a score the grader did not
compute, or one changed after it was computed. On Linux with namespaces the sandbox
cannot see the course directory at all (neither ``gradebook.db`` nor the ledger);
elsewhere this check is what detects a submission that wrote to them.

``post_convert_hook`` runs the check after each submission from nbgrader itself
(configured in ``autograder/nbgrader_config.py``); ``python -m autograder.tools grade``
runs it after the batch and fails when anything differs.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

LEDGER = os.path.join(".cnnlab", "ledger")
_SAFE = re.compile(r"^[A-Za-z0-9_.@+\-]+$")
log = logging.getLogger(__name__)


class GradebookMismatch(RuntimeError):
    """The gradebook holds scores the grader did not compute."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"the gradebook differs from what the grader computed:\n{lines}")


@dataclass(frozen=True)
class Problem:
    assignment: str
    student: str
    notebook: str
    grade_id: str
    expected: float | None
    found: float | None
    what: str

    def __str__(self) -> str:
        return (f"{self.student}/{self.assignment}/{self.notebook} {self.grade_id}: {self.what} "
                f"(grader computed {self.expected}, gradebook has {self.found})")


def default_ledger_dir(course_root: str) -> str:
    return os.path.join(course_root, LEDGER)


def _safe(part: str) -> str:
    if not _SAFE.match(part) or part in (".", ".."):
        raise ValueError(f"unsafe name for a ledger path: {part!r}")
    return part


def record(ledger_dir: str, assignment: str, student: str, notebook: str,
           scores: Mapping[str, tuple[float, float]], **extra) -> str:
    """Record the scores (grade_id -> (score, max)) the grader wrote for one notebook."""
    folder = os.path.join(ledger_dir, _safe(assignment), _safe(student))
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, _safe(notebook) + ".json")
    data = {"assignment": assignment, "student": student, "notebook": notebook,
            "scores": {k: {"score": s, "max": m} for k, (s, m) in scores.items()},
            "time": time.time(), **extra}
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(data, fh, indent=1)
    os.replace(tmp, path)
    return path


def read_ledger(ledger_dir: str, assignments: Iterable[str] | None = None,
                students: Iterable[str] | None = None) -> list[dict]:
    """The ledger's entries (of ``assignments`` and ``students``, default all)."""
    entries = []
    if not os.path.isdir(ledger_dir):
        return entries
    wanted = set(assignments) if assignments is not None else None
    only = set(students) if students is not None else None
    for assignment in sorted(os.listdir(ledger_dir)):
        if wanted is not None and assignment not in wanted:
            continue
        adir = os.path.join(ledger_dir, assignment)
        for student in sorted(os.listdir(adir)):
            if only is not None and student not in only:
                continue
            sdir = os.path.join(adir, student)
            for name in sorted(os.listdir(sdir)):
                if name.endswith(".json"):
                    with open(os.path.join(sdir, name)) as fh:
                        entries.append(json.load(fh))
    return entries


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def by_cell_name(rows: Iterable[tuple], preferred: str) -> dict:
    """``{name: obj}`` from ``(name, cell type, obj)`` rows: of two cells with one name,
    the one of type ``preferred`` (``"GradeCell"``, ``"SolutionCell"``) wins over the
    task cell, as in nbgrader's lookups, which try that type first."""
    found: dict = {}
    for name, kind, obj in rows:
        if name not in found or kind == preferred:
            found[name] = obj
    return found


def verify(db_url: str, ledger_dir: str, assignments: Iterable[str] | None = None,
           students: Iterable[str] | None = None) -> list[Problem]:
    """Every autograded score of the ledger's submissions equals the recorded one."""
    from nbgrader.api import Gradebook

    assignments = list(assignments) if assignments is not None else None
    only = set(students) if students is not None else None
    entries = [e for e in read_ledger(ledger_dir, assignments, only)
               if only is None or e["student"] in only]
    problems: list[Problem] = []
    recorded = {(e["assignment"], e["student"], e["notebook"]): e for e in entries}
    names = {a for a, _, _ in recorded} if assignments is None else set(assignments)
    with Gradebook(db_url) as gb:
        grades = _grades(gb, names, only)
    found = by_cell_name((((g.assignment, g.student, g.notebook, g.name), g.kind, g)
                          for g in grades), "GradeCell")
    for (assignment, student, notebook), entry in recorded.items():
        for gid, rec in entry["scores"].items():
            grade = found.get((assignment, student, notebook, gid))
            if grade is None:
                problems.append(Problem(assignment, student, notebook, gid, rec["score"],
                                        None, "missing from the gradebook"))
                continue
            if not _close(grade.auto_score, rec["score"]):
                problems.append(Problem(assignment, student, notebook, gid, rec["score"],
                                        grade.auto_score, "autograded score differs"))
            if not _close(grade.max_score, rec["max"]):
                problems.append(Problem(assignment, student, notebook, gid, rec["max"],
                                        grade.max_score, "maximum score differs"))
    # autograded scores nobody recorded (the grader never computed them)
    for grade in grades:
        if not grade.auto_score or grade.cell_type != "code":
            continue  # nbgrader's own zeros: notebook missing, answer blank
        key = (grade.assignment, grade.student, grade.notebook)
        if key not in recorded:
            problems.append(Problem(*key, grade.name, None, grade.auto_score,
                                    "autograded score without a grader record"))
        elif grade.name not in recorded[key]["scores"]:
            problems.append(Problem(*key, grade.name, None, grade.auto_score,
                                    "score the grader did not compute"))
    return problems


def _grades(gb, assignments: set[str], students: set[str] | None) -> list:
    """Every grade of the assignments' submissions (of ``students`` only, if given),
    in one query: assignment, student, notebook, cell name and kind, auto and maximum
    scores, cell type; by assignment, student and notebook."""
    from nbgrader.api import (
        Assignment,
        BaseCell,
        Grade,
        Notebook,
        SubmittedAssignment,
        SubmittedNotebook,
    )

    if not assignments or (students is not None and not students):
        return []
    query = (gb.db.query(Assignment.name.label("assignment"),
                         SubmittedAssignment.student_id.label("student"),
                         Notebook.name.label("notebook"), BaseCell.name.label("name"),
                         BaseCell.type.label("kind"), Grade.auto_score,
                         Grade.max_score, Grade.cell_type)
             .select_from(Grade)
             .join(BaseCell, BaseCell.id == Grade.cell_id)
             .join(SubmittedNotebook, SubmittedNotebook.id == Grade.notebook_id)
             .join(Notebook, Notebook.id == SubmittedNotebook.notebook_id)
             .join(SubmittedAssignment, SubmittedAssignment.id == SubmittedNotebook.assignment_id)
             .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
             .filter(Assignment.name.in_(sorted(assignments))))
    if students is not None:  # checking one submission must not cost the whole class
        query = query.filter(SubmittedAssignment.student_id.in_(sorted(students)))
    return query.order_by(Assignment.name, SubmittedAssignment.student_id,
                          Notebook.name).all()


def check(db_url: str, ledger_dir: str, assignments: Iterable[str] | None = None) -> None:
    """Raise :class:`GradebookMismatch` if :func:`verify` finds anything."""
    problems = verify(db_url, ledger_dir, assignments)
    if problems:
        raise GradebookMismatch(problems)


def post_convert_hook(assignment: str, student: str, notebooks) -> None:
    """nbgrader ``Autograde.post_convert_hook``: check the submission just graded.

    nbgrader runs converters from the course root and passes the submission's notebook
    paths (``.../<student>/<assignment>/<notebook>.ipynb``). A mismatch is logged as an
    error (nbgrader only logs hook failures); the whole gradebook is checked after the
    batch by ``python -m autograder.tools grade``, which fails loudly.
    """
    root = os.getcwd()
    db = os.path.join(root, "gradebook.db")
    if not os.path.exists(db):
        return
    pairs = {tuple(os.path.normpath(p).split(os.sep)[-3:-1]) for p in notebooks or ()}
    students = {s for s, _ in pairs} or None
    assignments = {a for _, a in pairs} or None
    problems = verify("sqlite:///" + db, default_ledger_dir(root), assignments, students)
    for problem in problems:
        log.error("GRADEBOOK GUARD: %s", problem)
        logging.getLogger("traitlets").error("GRADEBOOK GUARD: %s", problem)
