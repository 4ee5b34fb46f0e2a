"""Written answers: marked by hand in the Formgrader, rubric shown, score kept on re-grade.

Real nbgrader on a throw-away copy of the course (ps1, one submission): the written
answer's task cell needs a manual grade, the notebook the Formgrader shows holds the
TA's rubric (release removed it), and a TA's score survives ``autograde --force``
(nbgrader then flags it for the TA to confirm, its own rule).
"""

from __future__ import annotations

import os
import shutil
import sys

import nbformat
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if os.path.dirname(HERE) not in sys.path:
    sys.path.insert(0, os.path.dirname(HERE))

from autograder.tools import course as C  # noqa: E402
from autograder.tools import pipeline  # noqa: E402

pytestmark = [pytest.mark.grading, pytest.mark.slow]

ASSIGNMENT = "ps1_shapes_params"
WRITTEN = "written-two_3x3"
STUDENT = "correct"
ANSWER = "Two 3x3 layers see 5x5, with 18C^2 weights instead of 25C^2, and a ReLU between."


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    work = tmp_path_factory.mktemp("written")
    course = str(work / "course")
    C.make_course(course, {ASSIGNMENT: os.path.join(C.AUTOGRADER, "source", ASSIGNMENT)})
    env = C.nbgrader_env({"CNNLAB_COURSE_SECRET_FILE": C.DEMO_SECRET})
    env.pop("CNNLAB_COURSE_SECRET", None)
    C.run_nbgrader(course, "generate_assignment", ASSIGNMENT, "--force", env=env)
    samples = work / "samples"
    (samples / ASSIGNMENT).mkdir(parents=True)
    shutil.copy(os.path.join(C.SAMPLES, ASSIGNMENT, "correct.py"), samples / ASSIGNMENT)
    with open(C.DEMO_SECRET, encoding="utf-8") as fh:
        secret = fh.read().strip()
    C.build_samples(
        course, str(samples), [ASSIGNMENT], secret=secret, course_module="cnnlab.grading"
    )
    path = os.path.join(course, "submitted", STUDENT, ASSIGNMENT, f"{ASSIGNMENT}.ipynb")
    nb = nbformat.read(path, as_version=4)
    index = next(
        i
        for i, c in enumerate(nb.cells)
        if c.metadata.get("nbgrader", {}).get("grade_id") == WRITTEN
    )
    nb.cells[index + 1].source = ANSWER  # the student writes in the cell after the task
    nbformat.write(nb, path)
    first = pipeline.run_pipeline(
        course, [ASSIGNMENT], env=env, generate=False, feedback=True, export=False, quiet=True
    )
    return course, env, first


def _grade(course: str):
    from nbgrader.api import Gradebook

    with Gradebook(C.db_url(course)) as gb:
        grade = gb.find_grade(WRITTEN, ASSIGNMENT, ASSIGNMENT, STUDENT)
        return grade.needs_manual_grade, grade.manual_score, grade.max_score, grade.score


def test_the_written_answer_waits_for_a_ta(graded):
    course, _, first = graded
    assert first.failures == []
    assert first.guard_problems == []
    needs_manual, manual, max_score, _ = _grade(course)
    assert needs_manual
    assert manual is None
    assert max_score == 2.0


def test_the_formgrader_notebook_shows_the_rubric_and_the_answer(graded):
    course, _, _ = graded
    release = nbformat.read(
        os.path.join(course, "release", ASSIGNMENT, f"{ASSIGNMENT}.ipynb"), as_version=4
    )
    assert not any("Rubric for the TA" in c.source for c in release.cells)
    autograded = nbformat.read(
        os.path.join(course, "autograded", STUDENT, ASSIGNMENT, f"{ASSIGNMENT}.ipynb"),
        as_version=4,
    )
    index = next(
        i
        for i, c in enumerate(autograded.cells)
        if c.metadata.get("nbgrader", {}).get("grade_id") == WRITTEN
    )
    assert "**Rubric for the TA (2 points).**" in autograded.cells[index].source
    assert ANSWER in autograded.cells[index + 1].source  # as the student wrote it


def test_feedback_shows_the_answer_but_not_the_rubric(graded):
    _, _, first = graded
    (page,) = [p for p in first.feedback if p.endswith(".html")]
    with open(page, encoding="utf-8") as fh:
        text = fh.read()
    assert ANSWER in text
    assert "Rubric for the TA" not in text


def test_a_manual_score_survives_a_regrade(graded):
    from nbgrader.api import Gradebook

    course, env, _ = graded
    with Gradebook(C.db_url(course)) as gb:
        grade = gb.find_grade(WRITTEN, ASSIGNMENT, ASSIGNMENT, STUDENT)
        grade.manual_score = 1.5  # what the Formgrader stores when a TA saves a score
        grade.needs_manual_grade = False
        gb.db.commit()
        before = gb.find_submission(ASSIGNMENT, STUDENT).score
    again = pipeline.run_pipeline(
        course, [ASSIGNMENT], env=env, generate=False, feedback=False, export=False, quiet=True
    )
    assert again.failures == []
    needs_manual, manual, _, score = _grade(course)
    assert manual == 1.5
    assert score == 1.5
    assert needs_manual  # nbgrader's rule: a kept manual score is flagged for review
    with Gradebook(C.db_url(course)) as gb:
        assert gb.find_submission(ASSIGNMENT, STUDENT).score == before
