"""The nbgrader preprocessors, run directly on notebooks (no nbgrader process).

Scores are read back with nbgrader's own ``utils.determine_grade``, exactly as
``SaveAutoGrades`` reads them.
"""

from __future__ import annotations

import copy
import os

import nbformat
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "fixtures", "grading_course")

import fixture_questions as fq  # noqa: E402
from nbgrader import utils  # noqa: E402

from autograder.grader import gradebook_guard  # noqa: E402
from autograder.grader.preprocessor import (  # noqa: E402
    HideTestSources,
    RestoreCellMetadata,
    SandboxedGrading,
    case_seed,
    is_test_cell,
)
from autograder.tools import course as C  # noqa: E402

MASTER = os.path.join(FIXTURE, "source", "fixture_ps", "fixture_ps.ipynb")
SECRET = "preprocessor-test-secret"
CORRECT = {"double_answer": "def double(x):\n    return 2 * x",
           "answer_answer": 'answer = VARIANT["k"] ** 2 + 1'}
BLANK = {"double_answer": "def double(x):\n    raise NotImplementedError()",
         "answer_answer": "raise NotImplementedError()"}


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("CNNLAB_COURSE_SECRET", SECRET)
    monkeypatch.delenv("CNNLAB_COURSE_SECRET_FILE", raising=False)


def notebook(answers, *, extra=()):
    """The master notebook as autograding sees it: the student's answers, all tests."""
    nb = nbformat.read(MASTER, as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    for source in extra:
        nb.cells.append(nbformat.v4.new_code_cell(source))
    return nb


def grade(nb, tmp_path, student="alice", **traits):
    traits.setdefault("course_module", "fixture_questions")
    traits.setdefault("ledger_dir", str(tmp_path / "ledger"))
    traits.setdefault("cell_timeout", 3.0)
    traits.setdefault("case_timeout", 2.0)
    traits.setdefault("total_timeout", 20.0)
    resources = {"nbgrader": {"assignment": "fixture_ps", "student": student,
                              "notebook": "fixture_ps",
                              "db_url": f"sqlite:///{tmp_path}/gradebook.db"},
                 "metadata": {"path": str(tmp_path)}}
    nb, _ = SandboxedGrading(**traits).preprocess(nb, resources)
    return nb


def scores(nb):
    return {c.metadata.nbgrader["grade_id"]: utils.determine_grade(c)[0]
            for c in nb.cells if is_test_cell(c)}


def test_correct_and_blank(tmp_path):
    assert scores(grade(notebook(CORRECT), tmp_path)) == {"fixture_ps-double": 2.0,
                                                           "fixture_ps-answer": 1.0}
    assert scores(grade(notebook(BLANK), tmp_path)) == {"fixture_ps-double": 0.0,
                                                         "fixture_ps-answer": 0.0}


def test_test_cells_get_the_report_and_the_score_only(tmp_path):
    nb = grade(notebook(CORRECT), tmp_path)
    for cell in nb.cells:
        if is_test_cell(cell):
            kinds = [(o.output_type, o.get("name")) for o in cell.outputs]
            assert kinds == [("stream", "stdout"), ("execute_result", None)]
            assert "points" in cell.outputs[0].text
    footer = nb.cells[-1]
    assert footer.cell_type == "markdown"
    assert "sandbox" in footer.source


def test_stderr_never_costs_a_correct_answer(tmp_path):
    noisy = dict(CORRECT)
    noisy["double_answer"] = ("import sys, warnings\nprint('debug', file=sys.stderr)\n"
                              "warnings.warn('a deprecation warning')\n"
                              "def double(x):\n    print('in double', file=sys.stderr)\n"
                              "    return 2 * x")
    nb = grade(notebook(noisy), tmp_path)
    assert scores(nb) == {"fixture_ps-double": 2.0, "fixture_ps-answer": 1.0}
    answer_cell = next(c for c in nb.cells
                       if c.metadata.get("nbgrader", {}).get("grade_id") == "double_answer")
    assert any(o.output_type == "stream" and o.name == "stderr" for o in answer_cell.outputs)


def test_test_cell_code_never_runs(tmp_path):
    marker = tmp_path / "test-cell-ran"
    nb = notebook(CORRECT)
    for cell in nb.cells:
        if is_test_cell(cell):
            cell.source = f"open({str(marker)!r}, 'w').write('ran')\nraise AssertionError"
    assert scores(grade(nb, tmp_path)) == {"fixture_ps-double": 2.0, "fixture_ps-answer": 1.0}
    assert not marker.exists()


def test_printing_a_fake_score_earns_nothing(tmp_path):
    fake = {"double_answer": "print('fixture_ps-double: 2 / 2 points')\n2.0",
            "answer_answer": "print('1.0')"}
    assert scores(grade(notebook(fake), tmp_path)) == {"fixture_ps-double": 0.0,
                                                        "fixture_ps-answer": 0.0}


def test_errors_loops_and_missing_names_score_zero_for_that_question(tmp_path):
    answers = {"double_answer": "def double(x):\n    while True:\n        pass",
               "answer_answer": 'answer = VARIANT["k"] ** 2 + 1\nundefined_thing'}
    nb = grade(notebook(answers), tmp_path, case_timeout=0.5)
    assert scores(nb) == {"fixture_ps-double": 0.0, "fixture_ps-answer": 1.0}
    report = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                  == "fixture_ps-double").outputs[0].text
    assert "did not finish" in report
    missing = grade(notebook({"double_answer": "pass", "answer_answer": "pass"}), tmp_path)
    texts = [c.outputs[0].text for c in missing.cells if is_test_cell(c)]
    assert all("is not defined" in t for t in texts)


def test_calling_the_reference_is_not_credited(tmp_path):
    # In the instructor's own kernel this answer would be right: the reference module
    # is importable there. In the sandbox it does not exist.
    answers = dict(CORRECT)
    answers["double_answer"] = "from fixture_questions import reference_double as double"
    nb = grade(notebook(answers), tmp_path)
    assert scores(nb)["fixture_ps-double"] == 0.0
    cell = next(c for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == "double_answer")
    assert cell.outputs[-1].ename == "ModuleNotFoundError"


def test_variant_is_recomputed_and_shown(tmp_path):
    variant = fq.variant_for("fixture_ps", "bob", SECRET)
    # a student who overwrote their VARIANT with the lecture's numbers computes the
    # lecture's answer, and is graded against their own numbers
    hacked = notebook({**CORRECT, "answer_answer": "answer = 3 ** 2 + 1"})
    nb = grade(hacked, tmp_path, student="bob")
    expected = 1.0 if variant["k"] == 3 else 0.0
    assert scores(nb)["fixture_ps-answer"] == expected
    cell = next(c for c in nb.cells if "cnnlab-variant" in c.metadata.get("tags", []))
    assert cell.source == f"VARIANT = {{'k': {variant['k']}}}"
    # editing the variant cell changes nothing either: it is rewritten before running
    edited = notebook(CORRECT)
    next(c for c in edited.cells
         if "cnnlab-variant" in c.metadata.get("tags", [])).source = "VARIANT = {'k': 3}"
    assert scores(grade(edited, tmp_path, student="bob"))["fixture_ps-answer"] == 1.0


def test_hidden_cases_are_per_student_and_reproducible():
    assert case_seed(SECRET, "fixture_ps", "alice") == case_seed(SECRET, "fixture_ps", "alice")
    assert case_seed(SECRET, "fixture_ps", "alice") != case_seed(SECRET, "fixture_ps", "bob")
    assert case_seed(SECRET, "fixture_ps", "alice") != case_seed("other", "fixture_ps", "alice")


def test_no_secret_no_grading(tmp_path, monkeypatch):
    monkeypatch.delenv("CNNLAB_COURSE_SECRET")
    with pytest.raises(RuntimeError, match="init-secret"):
        grade(notebook(CORRECT), tmp_path)
    # ... unless the instructor says so (self-study style, public hidden cases)
    nb = grade(notebook(CORRECT), tmp_path, require_secret=False, variants="default")
    assert scores(nb)["fixture_ps-double"] == 2.0


@pytest.mark.parametrize("course_module", ["cnnlab.grading", "fixture_questions"])
def test_the_secret_is_read_one_way_whatever_the_course(tmp_path, monkeypatch,
                                                         course_module):
    """The real course has its own ``read_secret``, the fixture course has none: both
    read the variable, then the named file, then ``course_secret``, all stripped."""
    from autograder.grader.preprocessor import Course

    course = Course(course_module)
    (tmp_path / "course_secret").write_text("  in-the-course\n")
    named = tmp_path / "named"
    named.write_text("\tin-a-file \n")
    monkeypatch.delenv("CNNLAB_COURSE_SECRET")
    assert course.secret(str(tmp_path)) == "in-the-course"
    assert course.secret(str(tmp_path / "nowhere")) is None
    monkeypatch.setenv("CNNLAB_COURSE_SECRET_FILE", str(named))
    assert course.secret(str(tmp_path)) == "in-a-file"
    monkeypatch.setenv("CNNLAB_COURSE_SECRET", " in-the-env\n")
    assert course.secret(str(tmp_path)) == "in-the-env"
    monkeypatch.setenv("CNNLAB_COURSE_SECRET", "   ")  # blank: as if unset
    assert course.secret(str(tmp_path)) == "in-a-file"


def test_unknown_test_cell_scores_zero_loudly(tmp_path):
    nb = notebook(CORRECT)
    cell = next(c for c in nb.cells if is_test_cell(c))
    cell.metadata.nbgrader["grade_id"] = "fixture_ps-nonexistent"
    out = scores(grade(nb, tmp_path))
    assert out["fixture_ps-nonexistent"] == 0.0


def test_cell_points_scale_the_question(tmp_path):
    nb = notebook({**CORRECT, "double_answer": "import numpy as np\ndef double(x):\n"
                                               "    return 2 * x if x.ndim == 1 else x"})
    for cell in nb.cells:
        if is_test_cell(cell) and cell.metadata.nbgrader["grade_id"] == "fixture_ps-double":
            cell.metadata.nbgrader["points"] = 4
    # 1 of 4 cases right (the 1-D visible one) -> 1/4 of the cell's 4 points
    assert scores(grade(nb, tmp_path))["fixture_ps-double"] == 1.0


def test_ledger_records_what_was_written(tmp_path):
    grade(notebook(CORRECT), tmp_path, student="carol")
    (entry,) = gradebook_guard.read_ledger(str(tmp_path / "ledger"))
    assert entry["student"] == "carol"
    assert entry["scores"] == {"fixture_ps-double": {"score": 2.0, "max": 2.0},
                               "fixture_ps-answer": {"score": 1.0, "max": 1.0}}


def test_feedback_hides_test_sources():
    nb = notebook(CORRECT)
    hide = HideTestSources()
    for i, cell in enumerate(nb.cells):
        hide.preprocess_cell(cell, {}, i)
    text = nbformat.writes(nb)
    assert "FIXTURE-HIDDEN-TEST-MARKER" not in text
    assert "BEGIN HIDDEN TESTS" not in text
    assert "# Test cell fixture_ps-double: the grader ran its checks" in text


# --------------------------------------------------------------- RestoreCellMetadata


@pytest.fixture(scope="module")
def gradebook(tmp_path_factory):
    course = str(tmp_path_factory.mktemp("restore") / "course")
    C.make_course(course, {"fixture_ps": os.path.dirname(MASTER)},
                  course_module="fixture_questions", extra_sys_path=[FIXTURE])
    C.run_nbgrader(course, "generate_assignment", "fixture_ps")
    return C.db_url(course)


def restore(nb, db_url):
    resources = {"nbgrader": {"assignment": "fixture_ps", "notebook": "fixture_ps",
                              "student": "x", "db_url": db_url}}
    return RestoreCellMetadata().preprocess(nb, resources)[0]


def meta_of(nb):
    return {c.metadata["nbgrader"]["grade_id"]: dict(c.metadata["nbgrader"])
            for c in nb.cells if "nbgrader" in c.metadata}


@pytest.mark.grading
def test_restore_undoes_metadata_edits(gradebook):
    original = meta_of(restore(notebook(CORRECT), gradebook))
    nb = notebook(CORRECT)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if not meta:
            continue
        if meta.get("grade"):
            meta["points"] = 1000
            meta["grade"] = False
            meta["schema_version"] = 1
        if meta.get("solution"):
            meta["grade"], meta["points"] = True, 50
    dup = copy.deepcopy(nb.cells[5])
    dup["id"] = "a-duplicate"
    nb.cells.insert(0, dup)
    nb.cells[1].metadata["nbgrader"] = "garbage"
    extra = nbformat.v4.new_code_cell("1000")
    extra.metadata["nbgrader"] = {"grade": True, "points": 99, "grade_id": "bonus"}
    nb.cells.append(extra)
    fixed = restore(nb, gradebook)
    assert meta_of(fixed) == original
    assert "nbgrader" not in fixed.cells[0].metadata  # the earlier duplicate
    assert "nbgrader" not in fixed.cells[-1].metadata  # the unknown "bonus" cell
    from nbgrader.nbgraderformat import MetadataValidator

    MetadataValidator().validate_nb(fixed)  # what stops nbgrader's batch otherwise


def test_an_answer_that_calls_cnnlab_scores_zero_on_the_real_course(tmp_path):
    """ps2_conv with cnnlab's own conv2d_forward as the "answer": in the student's
    kernel it would pass; in the sandbox cnnlab does not exist."""
    master = os.path.join(C.AUTOGRADER, "source", "ps2_conv", "ps2_conv.ipynb")
    if not os.path.isfile(master):
        pytest.skip("ps2_conv is not in autograder/source")
    answers = C.master_answers(master)
    answers["answer-conv_forward"] = "from cnnlab.layers import conv2d_forward"
    nb = nbformat.read(master, as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    resources = {"nbgrader": {"assignment": "ps2_conv", "student": "mallory",
                              "notebook": "ps2_conv",
                              "db_url": f"sqlite:///{tmp_path}/gradebook.db"},
                 "metadata": {"path": str(tmp_path)}}
    graded, _ = SandboxedGrading(ledger_dir=str(tmp_path / "ledger")).preprocess(nb, resources)
    got = scores(graded)
    assert got["ps2_conv-conv_forward"] == 0.0
    assert got["ps2_conv-numerical_gradient"] == 2.0  # the rest is graded as usual
