"""``generate_assignment`` refuses test cells the grader has no question for (real nbgrader)."""

from __future__ import annotations

import os

import nbformat
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
FIXTURE = os.path.join(HERE, "fixtures", "grading_course")

from autograder.grader.course_check import ungradable_cells  # noqa: E402
from autograder.tools import course as C  # noqa: E402

pytestmark = pytest.mark.grading

MASTER = os.path.join(FIXTURE, "source", "fixture_ps", "fixture_ps.ipynb")


def _assert_cell(grade_id: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell("assert double(2) == 4")
    cell.metadata["nbgrader"] = {
        "grade": True,
        "grade_id": grade_id,
        "locked": True,
        "points": 1,
        "schema_version": 3,
        "solution": False,
    }
    return cell


def _course(tmp_path, assignment: str, extra_cells) -> str:
    nb = nbformat.read(MASTER, as_version=4)
    nb.cells.extend(extra_cells)
    folder = tmp_path / "masters" / assignment
    folder.mkdir(parents=True)
    nbformat.write(nb, str(folder / f"{assignment}.ipynb"))
    course = str(tmp_path / "course")
    C.make_course(
        course,
        {assignment: str(folder)},
        course_module="fixture_questions",
        extra_sys_path=[FIXTURE],
    )
    return course


def test_the_fixture_course_still_releases(tmp_path):
    course = _course(tmp_path, "fixture_ps", [])
    C.run_nbgrader(course, "generate_assignment", "fixture_ps", "--force")
    assert os.path.isfile(os.path.join(course, "release", "fixture_ps", "fixture_ps.ipynb"))


def test_a_plain_assert_cell_is_refused_with_a_clear_message(tmp_path):
    course = _course(tmp_path, "fixture_ps", [_assert_cell("my_assert")])
    with pytest.raises(C.ToolError) as error:
        C.run_nbgrader(course, "generate_assignment", "fixture_ps", "--force")
    message = str(error.value)
    assert "test cell(s) 'my_assert' (no question has this key)" in message
    assert "a plain `assert` cell would score 0 for every student" in message
    assert not os.path.exists(os.path.join(course, "release", "fixture_ps", "fixture_ps.ipynb"))


def test_a_new_assignment_without_questions_is_refused_not_crashed(tmp_path):
    nb = nbformat.read(MASTER, as_version=4)
    nb.cells.append(_assert_cell("ps5_custom-q1"))
    assert ungradable_cells(nb, "ps5_custom", "cnnlab.grading")[-1] == (
        "ps5_custom-q1",
        "no question has this key",
    )
    # a question of another assignment is named as such
    nb.cells.append(_assert_cell("ps2_conv-conv_forward"))
    assert ungradable_cells(nb, "ps5_custom", "cnnlab.grading")[-1] == (
        "ps2_conv-conv_forward",
        "its question belongs to ps2_conv",
    )
