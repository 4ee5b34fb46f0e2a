"""Deleted test cells are restored, also when the cell before them is a read-only one.

nbgrader's ``OverwriteCells.add_missing_grade_cells`` puts a missing test cell after
the master cell before it, looked up among the submission's grade and solution cells
only: a test cell that follows a locked read-only cell (``given-conv_out`` before
``ps2_conv-conv_forward``) made it raise ``KeyError`` and the submission could not be
graded. Here ``ps2_conv`` is graded with real nbgrader: the correct sample, the same
with that test cell deleted, and with its grade_id changed, must all earn the same
points; and ``OverwriteCellsFromMaster`` alone puts missing cells back where the master
has them.
"""

from __future__ import annotations

import copy
import os

import nbformat
import pytest

from autograder.grader import master_cells
from autograder.tools import course as C
from autograder.tools import pipeline

pytestmark = pytest.mark.grading

ASSIGNMENT = "ps2_conv"
TEST_CELL = "ps2_conv-conv_forward"  # a test cell right after a read-only cell
READ_ONLY = "given-conv_out"
TASK_CELL = "written-weight_sharing"  # the written answer, after a read-only cell too
LIMITS = {"SandboxedGrading.case_timeout": 5.0, "SandboxedGrading.question_timeout": 10.0}


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _index(nb, grade_id: str) -> int:
    (found,) = [i for i, c in enumerate(nb.cells) if _grade_id(c) == grade_id]
    return found


def _delete_test_cell(nb) -> None:
    del nb.cells[_index(nb, TEST_CELL)]


def _rename_test_cell(nb) -> None:
    nb.cells[_index(nb, TEST_CELL)].metadata["nbgrader"]["grade_id"] = "my-own-cell"


def _delete_every_graded_cell(nb) -> None:
    """Every test cell and the written answer's question cell."""
    nb.cells = [c for c in nb.cells if not c.get("metadata", {}).get("nbgrader", {})
                .get("grade")]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course with ps2_conv released and the correct sample submitted as it is,
    with the test cell deleted, with its grade_id changed, and with every graded cell
    deleted."""
    root = str(tmp_path_factory.mktemp("deleted") / "course")
    C.make_course(root, {ASSIGNMENT: os.path.join(C.AUTOGRADER, "source", ASSIGNMENT)},
                  settings=LIMITS)
    env = C.nbgrader_env({"CNNLAB_COURSE_SECRET_FILE": C.DEMO_SECRET})
    env.pop("CNNLAB_COURSE_SECRET", None)
    C.run_nbgrader(root, "generate_assignment", ASSIGNMENT, "--force", env=env)
    with open(C.DEMO_SECRET, encoding="utf-8") as fh:
        secret = fh.read().strip()
    api = C.course_api()
    (correct,) = [s for s in C.load_samples(C.SAMPLES, ASSIGNMENT) if s.student == "correct"]
    for sub in (correct,
                C.Submission(student="deleted", answers=correct.answers,
                             mutate=_delete_test_cell),
                C.Submission(student="renamed", answers=correct.answers,
                             mutate=_rename_test_cell),
                C.Submission(student="no_graded_cells", answers=correct.answers,
                             mutate=_delete_every_graded_cell)):
        C.write_submission(root, ASSIGNMENT, sub,
                           variant=api.variant(ASSIGNMENT, sub.student, secret))
    return root, env


@pytest.fixture(scope="module")
def graded(course):
    root, env = course
    result = pipeline.run_pipeline(root, [ASSIGNMENT], env=env, generate=False,
                                   feedback=False, export=False, quiet=True)
    return root, result


def _scores(root: str, student: str) -> dict[str, float]:
    return {gid: score for (who, _, gid), score in C.scores(root, [ASSIGNMENT]).items()
            if who == student}


def _autograded(root: str, student: str):
    return nbformat.read(os.path.join(root, "autograded", student, ASSIGNMENT,
                                      ASSIGNMENT + ".ipynb"), as_version=4)


def test_the_release_has_a_test_cell_after_a_read_only_cell(course):
    root, _ = course
    release = nbformat.read(C.release_path(root, ASSIGNMENT), as_version=4)
    before = release.cells[_index(release, TEST_CELL) - 1].metadata["nbgrader"]
    assert before["grade_id"] == READ_ONLY
    assert before["locked"]
    assert not before["grade"]
    assert not before["solution"]


@pytest.mark.parametrize("student", ["deleted", "renamed", "no_graded_cells"])
def test_a_deleted_or_renamed_test_cell_is_graded_as_if_untouched(graded, student):
    root, result = graded
    assert result.failures == []
    assert result.guard_problems == []
    correct = _scores(root, "correct")
    assert correct[TEST_CELL] == 4.0  # the comparison means something: full marks
    assert _scores(root, student) == correct
    nb = _autograded(root, student)
    assert _index(nb, TEST_CELL) == _index(nb, READ_ONLY) + 1


def test_a_restored_written_answer_still_waits_for_a_ta(graded):
    from nbgrader.api import Gradebook

    root, _ = graded
    with Gradebook(C.db_url(root)) as gb:
        for student in ("correct", "no_graded_cells"):
            grade = gb.find_grade(TASK_CELL, ASSIGNMENT, ASSIGNMENT, student)
            assert grade.needs_manual_grade
            assert grade.max_score == 2.0


# ------------------------------------------------------------ the preprocessor alone


def _restore(root: str, nb):
    resources = {"nbgrader": {"student": "deleted", "assignment": ASSIGNMENT,
                              "notebook": ASSIGNMENT, "db_url": C.db_url(root)}}
    pre = master_cells.OverwriteCellsFromMaster(add_missing_cells=True)
    out, _ = pre.preprocess(copy.deepcopy(nb), resources)
    return out


def _release(root: str):
    return nbformat.read(C.release_path(root, ASSIGNMENT), as_version=4)


def test_a_missing_cell_after_a_read_only_cell_goes_back_in_its_place(course):
    root, _ = course
    release = _release(root)
    where = _index(release, TEST_CELL)
    submitted = copy.deepcopy(release)
    del submitted.cells[where]
    restored = _restore(root, submitted)
    assert len(restored.cells) == len(release.cells)
    assert [_grade_id(c) for c in restored.cells] == [_grade_id(c) for c in release.cells]
    cell = restored.cells[where]
    master = master_cells.read_master(C.db_url(root), ASSIGNMENT, ASSIGNMENT)
    source = master.find_source_cell(TEST_CELL, ASSIGNMENT, ASSIGNMENT)
    assert cell.cell_type == "code"
    assert cell.outputs == []
    assert cell.execution_count is None
    assert cell.source.endswith(source.source)  # the master's, hidden tests and all
    meta = cell.metadata["nbgrader"]
    assert meta["grade"]
    assert meta["locked"]
    assert not meta["solution"]
    assert meta["points"] == 4.0
    assert meta["checksum"] == source.checksum


def _flags(cell) -> dict:
    meta = cell.metadata["nbgrader"]
    return {k: meta.get(k, False) for k in ("grade", "solution", "locked", "task", "points")}


def test_several_missing_cells_go_back_in_the_masters_order(course):
    from autograder.grader.cell_metadata import CheckCellMetadata

    root, _ = course
    release = _release(root)
    master = master_cells.read_master(C.db_url(root), ASSIGNMENT, ASSIGNMENT)
    graded = {c.name for c in master.grade_cells + master.task_cells}
    assert TASK_CELL in graded  # the written answer: a grade and a task cell
    submitted = copy.deepcopy(release)
    submitted.cells = [c for c in submitted.cells if _grade_id(c) not in graded]
    restored = _restore(root, submitted)
    assert [_grade_id(c) for c in restored.cells] == [_grade_id(c) for c in release.cells]
    for name in graded:
        assert _flags(restored.cells[_index(restored, name)]) == _flags(
            release.cells[_index(release, name)]), name
    CheckCellMetadata().preprocess(restored, {})  # nbgrader's check, next in sanitize


def test_a_missing_cell_with_no_master_cell_before_it_goes_first(course):
    root, _ = course
    release = _release(root)
    master = master_cells.read_master(C.db_url(root), ASSIGNMENT, ASSIGNMENT)
    names = [c.name for c in master.source_cells]
    before = set(names[: names.index(TEST_CELL) + 1])
    submitted = copy.deepcopy(release)
    submitted.cells = [c for c in submitted.cells if _grade_id(c) not in before]
    restored = _restore(root, submitted)
    assert _grade_id(restored.cells[0]) == TEST_CELL
    assert len(restored.cells) == len(submitted.cells) + 1
