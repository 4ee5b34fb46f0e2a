"""Only the grader writes grades: the ledger and the gradebook check.

One small course is autograded with real nbgrader (a correct and a blank
submission); then the gradebook is tampered with in the ways a submission without
isolation could, and the check must catch each.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "fixtures", "grading_course")

from autograder.grader import gradebook_guard as guard  # noqa: E402
from autograder.tools import course as C  # noqa: E402

pytestmark = pytest.mark.grading
ASSIGNMENT = "fixture_ps"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("guard")
    course = str(root / "course")
    C.make_course(course, {ASSIGNMENT: os.path.join(FIXTURE, "source", ASSIGNMENT)},
                  course_module="fixture_questions", extra_sys_path=[FIXTURE],
                  settings={"SandboxedGrading.case_timeout": 2.0})
    (root / "secret").write_text("guard-secret")
    env = C.nbgrader_env({"CNNLAB_COURSE_SECRET_FILE": str(root / "secret")})
    env.pop("CNNLAB_COURSE_SECRET", None)
    C.run_nbgrader(course, "generate_assignment", ASSIGNMENT, env=env)
    api = C.course_api("fixture_questions")
    for sub in C.load_samples(os.path.join(FIXTURE, "samples"), ASSIGNMENT):
        if sub.student in ("correct", "blank"):
            C.write_submission(course, ASSIGNMENT, sub,
                               variant=api.variant(ASSIGNMENT, sub.student, "guard-secret"))
    proc = C.run_nbgrader(course, "autograde", ASSIGNMENT, env=env)
    assert "GRADEBOOK GUARD" not in proc.stderr
    return course


@pytest.fixture
def course(graded, tmp_path):
    """A private copy of the graded course, free to tamper with."""
    copy = str(tmp_path / "course")
    shutil.copytree(graded, copy, symlinks=True)
    return copy


def _ledger(course):
    return guard.default_ledger_dir(course)


def _sql(course, statement, *args):
    con = sqlite3.connect(os.path.join(course, "gradebook.db"))
    con.execute(statement, args)
    con.commit()
    con.close()


def test_untouched_gradebook_passes(course):
    assert guard.verify(C.db_url(course), _ledger(course)) == []
    guard.check(C.db_url(course), _ledger(course), [ASSIGNMENT])
    assert C.scores(course, [ASSIGNMENT])[("correct", ASSIGNMENT, "fixture_ps-double")] == 2.0


def test_a_changed_score_is_caught(course):
    _sql(course, "UPDATE grade SET auto_score = 2.0 WHERE auto_score = 0")
    problems = guard.verify(C.db_url(course), _ledger(course))
    assert problems
    assert all(p.what == "autograded score differs" for p in problems)
    assert {p.student for p in problems} == {"blank"}
    with pytest.raises(guard.GradebookMismatch, match="blank"):
        guard.check(C.db_url(course), _ledger(course))


def test_a_score_without_a_grader_record_is_caught(course):
    shutil.rmtree(os.path.join(_ledger(course), ASSIGNMENT, "correct"))
    problems = guard.verify(C.db_url(course), _ledger(course), [ASSIGNMENT])
    assert {(p.student, p.what) for p in problems} == {
        ("correct", "autograded score without a grader record")}


def test_a_changed_maximum_is_caught(course):
    _sql(course, "UPDATE grade_cells SET max_score = 100")
    problems = guard.verify(C.db_url(course), _ledger(course))
    assert any(p.what == "maximum score differs" for p in problems)


def test_the_nbgrader_hook_logs_mismatches(course, monkeypatch, caplog):
    _sql(course, "UPDATE grade SET auto_score = 1.0 WHERE auto_score = 0")
    monkeypatch.chdir(course)
    notebook = os.path.join(course, "submitted", "blank", ASSIGNMENT, ASSIGNMENT + ".ipynb")
    with caplog.at_level(logging.ERROR):
        guard.post_convert_hook(assignment=ASSIGNMENT, student="*", notebooks=[notebook])
    assert "GRADEBOOK GUARD" in caplog.text
    caplog.clear()
    other = notebook.replace("blank", "correct")
    with caplog.at_level(logging.ERROR):
        guard.post_convert_hook(assignment=ASSIGNMENT, student="*", notebooks=[other])
    assert "GRADEBOOK GUARD" not in caplog.text


def test_ledger_paths_are_safe(tmp_path):
    for bad in ("..", "a/b", "../x", ""):
        with pytest.raises(ValueError, match="unsafe"):
            guard.record(str(tmp_path), ASSIGNMENT, bad, "nb", {})
    path = guard.record(str(tmp_path), ASSIGNMENT, "s1", "nb", {"q": (1.0, 2.0)})
    assert path.startswith(str(tmp_path))
    (entry,) = guard.read_ledger(str(tmp_path))
    assert entry["scores"] == {"q": {"score": 1.0, "max": 2.0}}


def test_the_check_reads_the_grades_in_one_query(course):
    """One query for all the grades checked, not one per grade: the check runs after
    every submission."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        assert guard.verify(C.db_url(course), _ledger(course)) == []
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    graded = [s for s in statements if "grade.auto_score" in s]
    assert len(graded) == 1, graded
    assert len(guard.read_ledger(_ledger(course))) == 2  # two submissions, four grades


def test_a_grade_cell_wins_over_a_task_cell_of_its_name_in_either_order():
    rows = [("q1", "TaskCell", "task q1"), ("q1", "GradeCell", "grade q1"),
            ("q2", "GradeCell", "grade q2"), ("q2", "TaskCell", "task q2"),
            ("t3", "TaskCell", "task t3")]
    assert guard.by_cell_name(rows, "GradeCell") == {
        "q1": "grade q1", "q2": "grade q2", "t3": "task t3"}
    assert guard.by_cell_name(rows, "TaskCell")["q1"] == "task q1"
