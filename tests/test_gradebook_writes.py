"""The course's gradebook preprocessors give nbgrader's gradebook, with fewer queries.

``SaveAutoGradesAtOnce`` (one commit per notebook) and ``OverwriteCellsFromMaster`` /
``OverwriteKernelspecFromMaster`` (the master notebook read once) replace nbgrader's
``SaveAutoGrades``, ``OverwriteCells`` and ``OverwriteKernelspec``. One fixture class
(the samples plus a submission that deleted a test cell, edited a locked cell, changed
a cell's points and its kernelspec) is autograded twice, with ours and with nbgrader's
own: every grade, comment, source cell and autograded notebook must be the same.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import sqlite3

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "fixtures", "grading_course")

from autograder.grader import gradebook_writes, master_cells  # noqa: E402
from autograder.tools import course as C  # noqa: E402

pytestmark = pytest.mark.grading
ASSIGNMENT = "fixture_ps"
SECRET = "writes-secret"
NBGRADER_OWN = {
    "autograder.grader.master_cells.OverwriteKernelspecFromMaster":
        "nbgrader.preprocessors.OverwriteKernelspec",
    "autograder.grader.master_cells.OverwriteCellsFromMaster":
        "nbgrader.preprocessors.OverwriteCells",
    "autograder.grader.gradebook_writes.SaveAutoGradesAtOnce":
        "nbgrader.preprocessors.SaveAutoGrades",
}


def _nbgrader_own_settings() -> dict:
    """The course's preprocessor lists with nbgrader's own in place of ours."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=C.AUTOGRADER).load_config()
    settings = {}
    for name in ("sanitize_preprocessors", "autograde_preprocessors"):
        ours = list(getattr(config.Autograde, name))
        assert set(NBGRADER_OWN) & set(ours), f"none of ours in Autograde.{name}"
        settings[f"Autograde.{name}"] = [NBGRADER_OWN.get(p, p) for p in ours]
    return settings


def _edit(nb) -> None:
    """What a submission could do to the cells OverwriteCells restores."""
    cells = nb.cells
    cells[:] = [c for c in cells
                if c.metadata.get("nbgrader", {}).get("grade_id") != "fixture_ps-answer"]
    for cell in cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id") == "fixture_ps-double":
            meta["points"] = 100
            cell.source += "\n# edited"
        if meta.get("grade_id") == "variant":
            meta["locked"] = False
    nb.metadata["kernelspec"] = {"display_name": "Other", "language": "python", "name": "other"}


def _class(root, name: str, settings: dict) -> str:
    course = str(root / name)
    C.make_course(course, {ASSIGNMENT: os.path.join(FIXTURE, "source", ASSIGNMENT)},
                  course_module="fixture_questions", extra_sys_path=[FIXTURE],
                  settings={"SandboxedGrading.case_timeout": 2.0, **settings})
    (root / "secret").write_text(SECRET)
    env = C.nbgrader_env({"CNNLAB_COURSE_SECRET_FILE": str(root / "secret")})
    env.pop("CNNLAB_COURSE_SECRET", None)
    C.run_nbgrader(course, "generate_assignment", ASSIGNMENT, env=env)
    api = C.course_api("fixture_questions")
    samples = C.load_samples(os.path.join(FIXTURE, "samples"), ASSIGNMENT)
    edited = next(s for s in samples if s.student == "correct")
    samples.append(C.Submission(student="edited", answers=edited.answers, mutate=_edit))
    for sub in samples:
        C.write_submission(course, ASSIGNMENT, sub,
                           variant=api.variant(ASSIGNMENT, sub.student, SECRET),
                           when="2026-01-01 00:00:00.000000 UTC")
    C.run_nbgrader(course, "autograde", ASSIGNMENT, env=env)
    return course


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The same class autograded with the course's preprocessors and nbgrader's."""
    root = tmp_path_factory.mktemp("writes")
    return _class(root, "ours", {}), _class(root, "nbgrader", _nbgrader_own_settings())


def _rows(course: str, statement: str) -> list:
    con = sqlite3.connect(os.path.join(course, "gradebook.db"))
    try:
        return sorted(con.execute(statement).fetchall(), key=repr)
    finally:
        con.close()


_SUBMITTED = """JOIN submitted_notebook sn ON sn.id = x.notebook_id
    JOIN notebook n ON n.id = sn.notebook_id
    JOIN submitted_assignment sa ON sa.id = sn.assignment_id
    JOIN base_cell bc ON bc.id = x.cell_id"""


def _gradebook(course: str) -> dict:
    """Everything autograding writes, by names (the gradebooks' ids differ)."""
    return {
        "grades": _rows(course, "SELECT sa.student_id, n.name, bc.name, bc.type, x.auto_score,"
                        " x.manual_score, x.extra_credit, x.needs_manual_grade FROM grade x "
                        + _SUBMITTED),
        "comments": _rows(course, "SELECT sa.student_id, n.name, bc.name, bc.type, "
                          "x.auto_comment, x.manual_comment FROM comment x " + _SUBMITTED),
        "notebooks": _rows(course, "SELECT sa.student_id, n.name, sn.flagged, "
                           "sn.late_submission_penalty FROM submitted_notebook sn "
                           "JOIN notebook n ON n.id = sn.notebook_id "
                           "JOIN submitted_assignment sa ON sa.id = sn.assignment_id"),
        "source cells": _rows(course, "SELECT n.name, s.name, s.cell_type, s.locked, "
                              "s.source, s.checksum FROM source_cell s "
                              "JOIN notebook n ON n.id = s.notebook_id"),
        "graded cells": _rows(course, "SELECT bc.name, bc.type, g.max_score, g.cell_type "
                              "FROM grade_cells g JOIN base_cell bc ON bc.id = g.id"),
    }


def _autograded(course: str) -> dict:
    """The autograded notebooks (the grader's footer cell has a fresh random id)."""
    found = {}
    folder = os.path.join(course, "autograded")
    for student in sorted(os.listdir(folder)):
        path = os.path.join(folder, student, ASSIGNMENT, ASSIGNMENT + ".ipynb")
        with open(path, encoding="utf-8") as fh:
            nb = json.load(fh)
        for cell in nb["cells"]:
            if re.fullmatch("[0-9a-f]{8}", cell.get("id", "")):
                cell["id"] = "random"
        found[student] = nb
    return found


def test_the_gradebook_is_nbgraders(graded):
    ours, theirs = graded
    book = _gradebook(ours)
    assert {r[0] for r in book["grades"]} >= {"correct", "blank", "edited"}
    assert book == _gradebook(theirs)
    notebooks = _autograded(ours)
    assert notebooks == _autograded(theirs)
    # the edited submission was put back as nbgrader puts it back
    edited = {c["metadata"].get("nbgrader", {}).get("grade_id"): c
              for c in notebooks["edited"]["cells"]}
    assert "fixture_ps-answer" in edited
    assert edited["fixture_ps-double"]["metadata"]["nbgrader"]["points"] == 2.0
    assert "# edited" not in "".join(edited["fixture_ps-double"]["source"])
    assert notebooks["edited"]["metadata"]["kernelspec"]["name"] == "python3"


def _resources(course: str, student: str) -> dict:
    return {"nbgrader": {"student": student, "assignment": ASSIGNMENT, "notebook": ASSIGNMENT,
                         "db_url": C.db_url(course)}}


def _autograded_nb(course: str, student: str):
    import nbformat

    return nbformat.read(os.path.join(course, "autograded", student, ASSIGNMENT,
                                      ASSIGNMENT + ".ipynb"), as_version=4)


class _Commits:
    """Counts the database commits made while it is entered."""

    def __enter__(self):
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        self.count = 0
        event.listen(Engine, "commit", self._one)
        return self

    def _one(self, conn) -> None:
        self.count += 1

    def __exit__(self, *exc) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.remove(Engine, "commit", self._one)


def _scores(course: str, student: str) -> list:
    return _rows(course, "SELECT bc.name, x.auto_score, x.needs_manual_grade FROM grade x "
                 + _SUBMITTED + f" WHERE sa.student_id = '{student}'")


def test_a_notebooks_grades_land_together_or_not_at_all(graded, tmp_path, monkeypatch):
    from nbgrader import utils
    from nbgrader.preprocessors import SaveAutoGrades

    course = str(tmp_path / "course")
    shutil.copytree(graded[0], course, symlinks=True)
    graded_scores = _scores(course, "correct")
    assert len(graded_scores) == 2
    assert all(score > 0 for _, score, _ in graded_scores)
    with sqlite3.connect(os.path.join(course, "gradebook.db")) as con:
        con.execute("UPDATE grade SET auto_score = NULL")
    con.close()
    nb = _autograded_nb(course, "correct")

    # a crash at the second grade cell: the first one's score is not written either
    real, calls = utils.determine_grade, []

    def crash_at_the_second(cell, log=None):
        calls.append(cell)
        if len(calls) == 2:
            raise RuntimeError("interrupted")
        return real(cell, log)

    monkeypatch.setattr(utils, "determine_grade", crash_at_the_second)
    with pytest.raises(RuntimeError, match="interrupted"):
        gradebook_writes.SaveAutoGradesAtOnce().preprocess(
            copy.deepcopy(nb), _resources(course, "correct"))
    assert len(calls) == 2
    assert all(score is None for _, score, _ in _scores(course, "correct"))
    monkeypatch.setattr(utils, "determine_grade", real)

    # then all of them, in one commit
    with _Commits() as ours:
        gradebook_writes.SaveAutoGradesAtOnce().preprocess(
            copy.deepcopy(nb), _resources(course, "correct"))
    assert _scores(course, "correct") == graded_scores
    with _Commits() as theirs:
        SaveAutoGrades().preprocess(copy.deepcopy(nb), _resources(course, "correct"))
    assert _scores(course, "correct") == graded_scores
    # nbgrader commits once per grade and per comment (2 + 2 here), ours once in all;
    # the rest are the Gradebook's own (its schema and course checks), the same in both
    assert ours.count == theirs.count - (2 + 2) + 1


def test_feedback_reads_a_notebooks_grades_as_nbgrader_does_in_fewer_queries(graded, tmp_path,
                                                                            caplog):
    """GetGradesAtOnce gives the notebook, the resources and the warnings nbgrader's
    GetGrades gives, a TA's manual score, comment and a late penalty included."""
    import logging

    from nbgrader.preprocessors import GetGrades
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    course = str(tmp_path / "course")
    shutil.copytree(graded[0], course, symlinks=True)
    with sqlite3.connect(os.path.join(course, "gradebook.db")) as con:
        con.execute("UPDATE grade SET manual_score = 0.5, extra_credit = 1 WHERE id IN "
                    "(SELECT x.id FROM grade x " + _SUBMITTED + " WHERE sa.student_id = "
                    "'correct' AND bc.name = 'fixture_ps-answer')")
        con.execute("UPDATE comment SET manual_comment = 'see me' WHERE id IN "
                    "(SELECT x.id FROM comment x " + _SUBMITTED + " WHERE sa.student_id = "
                    "'correct')")
        con.execute("UPDATE submitted_notebook SET late_submission_penalty = 0.25 WHERE "
                    "assignment_id IN (SELECT id FROM submitted_assignment WHERE "
                    "student_id = 'correct')")
    con.close()
    statements: list[str] = []

    def count(conn, cursor, statement, *rest) -> None:
        statements.append(statement)

    students = sorted(os.listdir(os.path.join(course, "autograded")))
    assert "correct" in students
    for student in students:
        nb = _autograded_nb(course, student)
        asked = {}
        outputs = {}
        for name, pre in (("ours", gradebook_writes.GetGradesAtOnce()), ("nbgrader", GetGrades())):
            caplog.clear()
            statements.clear()
            event.listen(Engine, "before_cursor_execute", count)
            try:
                with caplog.at_level(logging.WARNING):
                    out, res = pre.preprocess(copy.deepcopy(nb), _resources(course, student))
            finally:
                event.remove(Engine, "before_cursor_execute", count)
            asked[name] = len(statements)
            outputs[name] = (out, res, [r.getMessage() for r in caplog.records])
        assert outputs["ours"] == outputs["nbgrader"], student
        assert asked["ours"] < asked["nbgrader"], (student, asked)
    nb = _autograded_nb(course, "correct")
    out, res = gradebook_writes.GetGradesAtOnce().preprocess(nb, _resources(course, "correct"))
    cells = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"] for c in out.cells
             if "nbgrader" in c.metadata}
    assert cells["fixture_ps-answer"]["score"] == 1.5
    assert "see me" in [c.get("comment") for c in cells.values()]
    assert res["nbgrader"]["late_penalty"] == 0.25


def _run(preprocessor, nb, course: str, caplog) -> tuple:
    caplog.clear()
    out, _ = preprocessor.preprocess(copy.deepcopy(nb), _resources(course, "edited"))
    return out, [r.getMessage() for r in caplog.records]


def test_overwrite_cells_reads_the_master_as_it_is_now(graded, tmp_path, caplog):
    """No snapshot of the master outlives a notebook: a changed master is read again,
    and OverwriteCells' result (cells and warnings) is still nbgrader's."""
    import logging

    from nbgrader.preprocessors import OverwriteCells, OverwriteKernelspec

    course = str(tmp_path / "course")
    shutil.copytree(graded[0], course, symlinks=True)
    submitted = os.path.join(course, "submitted", "edited", ASSIGNMENT, ASSIGNMENT + ".ipynb")
    import nbformat

    nb = nbformat.read(submitted, as_version=4)
    url = C.db_url(course)
    before = master_cells.read_master(url, ASSIGNMENT, ASSIGNMENT)
    assert before.find_graded_cell("fixture_ps-answer", ASSIGNMENT, ASSIGNMENT).max_score != 5.0
    with sqlite3.connect(os.path.join(course, "gradebook.db")) as con:
        con.execute("UPDATE grade_cells SET max_score = 5 WHERE id IN "
                    "(SELECT id FROM base_cell WHERE name = 'fixture_ps-answer')")
        con.execute("UPDATE source_cell SET source = 'changed', checksum = 'x' "
                    "WHERE name = 'fixture_ps-answer'")
        con.execute("UPDATE notebook SET kernelspec = "
                    "'{\"display_name\": \"K\", \"language\": \"python\", \"name\": \"k\"}'")
    con.close()
    after = master_cells.read_master(url, ASSIGNMENT, ASSIGNMENT)
    assert after.find_graded_cell("fixture_ps-answer", ASSIGNMENT, ASSIGNMENT).max_score == 5.0
    assert after.find_source_cell("fixture_ps-answer", ASSIGNMENT, ASSIGNMENT).source == "changed"

    with caplog.at_level(logging.WARNING):
        for ours, theirs in ((master_cells.OverwriteCellsFromMaster, OverwriteCells),
                             (master_cells.OverwriteKernelspecFromMaster, OverwriteKernelspec)):
            got, said = _run(ours(add_missing_cells=True), nb, course, caplog)
            want, warned = _run(theirs(add_missing_cells=True), nb, course, caplog)
            assert got == want
            assert said == warned
    assert got.metadata["kernelspec"]["name"] == "k"
    restored, _ = _run(master_cells.OverwriteCellsFromMaster(add_missing_cells=True), nb,
                       course, caplog)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in restored.cells}
    assert cells["fixture_ps-answer"]["metadata"]["nbgrader"]["points"] == 5.0  # added back
    assert "changed" in cells["fixture_ps-answer"].source


def test_within_one_command_the_master_is_read_once(graded, tmp_path):
    """Inside a remembering() block (one nbgrader command, or a run's planning) the
    master is read once, with no SQL after; the next block reads it as it is then."""
    from sqlalchemy import event

    from autograder.tools import gradebook_engines

    course = str(tmp_path / "course")
    shutil.copytree(graded[0], course, symlinks=True)
    url = C.db_url(course)
    statements: list[str] = []
    engine = gradebook_engines.shared_engine(url, echo=False, future=True)
    event.listen(engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *rest: statements.append(statement))
    with gradebook_engines.remembering():
        first = master_cells.read_master(url, ASSIGNMENT, ASSIGNMENT)
        asked = len(statements)
        assert asked > 0
        again = master_cells.read_master(url, ASSIGNMENT, ASSIGNMENT)
        assert again is first
        assert len(statements) == asked
        master_cells.read_master(url, ASSIGNMENT, ASSIGNMENT, cells=False)
        assert len(statements) > asked  # what was read is part of what is remembered
    with sqlite3.connect(os.path.join(course, "gradebook.db")) as con:
        con.execute("UPDATE grade_cells SET max_score = 5 WHERE id IN "
                    "(SELECT id FROM base_cell WHERE name = 'fixture_ps-answer')")
    con.close()
    with gradebook_engines.remembering():
        after = master_cells.read_master(url, ASSIGNMENT, ASSIGNMENT)
    assert after.find_graded_cell("fixture_ps-answer", ASSIGNMENT, ASSIGNMENT).max_score == 5.0
    assert first.find_graded_cell("fixture_ps-answer", ASSIGNMENT, ASSIGNMENT).max_score != 5.0


def test_an_unknown_notebook_fails_as_in_nbgrader(graded):
    from nbgrader.api import MissingEntry

    url = C.db_url(graded[0])
    master = master_cells.read_master(url, "absent", ASSIGNMENT)
    assert not master.exists
    with pytest.raises(MissingEntry, match="No such notebook: fixture_ps/absent"):
        master.find_notebook("absent", ASSIGNMENT)
    with pytest.raises(MissingEntry, match="No such source cell"):
        master.find_source_cell("fixture_ps-double", "absent", ASSIGNMENT)
    with pytest.raises(ValueError, match="asked for"):
        master_cells.read_master(url, ASSIGNMENT, ASSIGNMENT).find_notebook("other", ASSIGNMENT)
