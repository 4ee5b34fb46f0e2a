"""autograder.grader.variant_check: a notebook that showed someone else's numbers is flagged.

One real nbgrader class (ps1, four submissions graded by ``python -m autograder.tools
grade``): alice's own notebook, run as alice; mallory submits bob's notebook;
eve edits her ``VARIANT`` cell; nora never ran hers. Each typed the answer of question
1a as a number computed from the numbers her notebook showed.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys

import nbformat
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if os.path.dirname(HERE) not in sys.path:
    sys.path.insert(0, os.path.dirname(HERE))

from autograder.grader import variant_check  # noqa: E402
from autograder.tools import course as C  # noqa: E402
from cnnlab import shapes  # noqa: E402
from cnnlab.grading.variants import RECORD_MIME, variant_cell_source, variant_for  # noqa: E402

ASSIGNMENT = "ps1_shapes_params"
QUESTION = "ps1_shapes_params-stride_fits"


def _stride_fits(variant) -> int:
    return shapes.conv_output_size(variant["n_fit"], variant["k_fit"], variant["s_fit"])


def _run_variant_cell(nb, as_user: str) -> None:
    """Run the notebook's variant cell in a real kernel as JupyterHub would for ``as_user``."""
    from nbclient import NotebookClient

    cell = nb.cells[0]
    single = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell.source)])
    env = {k: v for k, v in os.environ.items() if k != "JUPYTERHUB_USER"}
    env["JUPYTERHUB_USER"] = as_user
    NotebookClient(single, timeout=60, kernel_name="python3").execute(env=env)
    cell.outputs = single.cells[0].outputs


def _answer(nb, value: int) -> None:
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "answer-stride_fits":
            cell.source = f"ans_stride_fits = {value}"
            return
    raise AssertionError("no answer-stride_fits cell in the release notebook")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = str(tmp_path_factory.mktemp("variant") / "course")
    C.make_course(course, {ASSIGNMENT: os.path.join(C.AUTOGRADER, "source", ASSIGNMENT)})
    saved = os.environ.get("CNNLAB_COURSE_SECRET")
    os.environ["CNNLAB_COURSE_SECRET"] = "variant-check-test-secret"
    try:
        C.run_nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
        release = C.release_path(course, ASSIGNMENT)
        notebooks = {}
        for student, shown_as in (("alice", "alice"), ("mallory", "bob"), ("nora", None),
                                  ("eve", None)):
            nb = nbformat.read(release, as_version=4)
            assert nb.cells[0].source == variant_cell_source(ASSIGNMENT)
            if shown_as:
                _run_variant_cell(nb, shown_as)
            numbers = variant_for(ASSIGNMENT, shown_as or student)
            if student == "eve":  # her own numbers, with the input size changed
                numbers = dict(variant_for(ASSIGNMENT, "eve"), n_fit=99)
                nb.cells[0].source = "VARIANT = " + repr(numbers)
            _answer(nb, _stride_fits(numbers))
            notebooks[student] = nb
        for student, nb in notebooks.items():
            folder = os.path.join(course, "submitted", student, ASSIGNMENT)
            os.makedirs(folder)
            nbformat.write(nb, os.path.join(folder, ASSIGNMENT + ".ipynb"))
        # `grade` as an instructor runs it (a process of its own, its own workers).
        proc = subprocess.run(
            [sys.executable, "-m", "autograder.tools", "grade", ASSIGNMENT, "--course", course],
            cwd=C.REPO, env=C.nbgrader_env(), capture_output=True, text=True, timeout=900)
    finally:
        if saved is None:
            os.environ.pop("CNNLAB_COURSE_SECRET", None)
        else:
            os.environ["CNNLAB_COURSE_SECRET"] = saved
    return course, proc, proc.stdout


def _feedback(course: str, student: str) -> str:
    path = os.path.join(course, "feedback", student, ASSIGNMENT, ASSIGNMENT + ".html")
    with open(path, encoding="utf-8") as fh:
        text = html.unescape(re.sub(r"<[^>]+>", "", fh.read()))
    return re.sub(r"\s+", " ", text)


def _flagged_in_gradebook(course: str) -> dict[str, bool]:
    from nbgrader.api import Gradebook

    with Gradebook(C.db_url(course)) as gb:
        return {s: gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, s).flagged
                for s in ("alice", "mallory", "nora", "eve")}


@pytest.mark.grading
@pytest.mark.slow
def test_only_the_mismatched_notebooks_are_flagged(graded):
    course, proc, _ = graded
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert _flagged_in_gradebook(course) == {"alice": False, "mallory": True, "nora": False,
                                            "eve": True}
    flags = {f["student"]: f["reason"] for f in variant_check.read_flags(course)}
    assert sorted(flags) == ["eve", "mallory"]
    assert flags["mallory"].startswith("The notebook showed the numbers of student bob, not "
                                       "of mallory; graded with the numbers of student mallory")
    assert flags["eve"].startswith("The VARIANT cell was edited")


@pytest.mark.grading
@pytest.mark.slow
def test_every_notebook_is_graded_with_its_students_own_numbers(graded):
    course, _, _ = graded
    scores = C.scores(course, [ASSIGNMENT])
    assert scores[("alice", ASSIGNMENT, QUESTION)] == 1.0  # her numbers, her answer
    assert _stride_fits(variant_for(ASSIGNMENT, "bob")) != _stride_fits(
        variant_for(ASSIGNMENT, "mallory"))
    assert scores[("mallory", ASSIGNMENT, QUESTION)] == 0.0  # bob's answer, mallory's numbers
    assert scores[("eve", ASSIGNMENT, QUESTION)] == 0.0
    # nora never ran the cell but typed her own numbers' answer: nothing to flag
    assert scores[("nora", ASSIGNMENT, QUESTION)] == 1.0


@pytest.mark.grading
@pytest.mark.slow
def test_grade_prints_the_flags_under_the_table(graded):
    _, _, printed = graded
    rows = {line.split()[0]: line for line in printed.splitlines()
            if line.split() and line.split()[0] in ("alice", "mallory", "nora", "eve")}
    assert rows["mallory"].rstrip().endswith("!")
    assert rows["eve"].rstrip().endswith("!")
    assert not rows["alice"].rstrip().endswith("!")
    assert "! FLAGGED: these notebooks showed numbers that are not their student's own" in printed
    assert "  mallory/ps1_shapes_params: The notebook showed the numbers of student bob" in printed


@pytest.mark.grading
@pytest.mark.slow
def test_the_feedback_says_which_numbers_were_graded(graded):
    course, _, _ = graded
    assert "FLAGGED for the instructor: The notebook showed the numbers of student bob" in (
        _feedback(course, "mallory"))
    alice = _feedback(course, "alice")
    assert "Graded with the numbers of student alice, the numbers this notebook showed" in alice
    assert "FLAGGED" not in alice
    assert "holds no record of the numbers it showed" in _feedback(course, "nora")


def test_judge_accepts_a_personalized_or_literal_own_variant():
    own = variant_for("ps2_conv", "alice")
    record = {"assignment": "ps2_conv", "student": "alice", "variant": own}
    source = variant_cell_source("ps2_conv", "alice")
    assert not variant_check.judge("ps2_conv", "alice", own, record, source).flagged
    literal = "VARIANT = " + repr(own)
    assert not variant_check.judge("ps2_conv", "alice", own, None, literal).flagged


def test_judge_flags_another_assignment_or_the_default_under_a_personal_class():
    own = variant_for("ps2_conv", "alice")
    source = variant_cell_source("ps2_conv")
    other = {"assignment": "ps3_pooling", "student": "alice", "variant": own}
    assert "not ps2_conv" in variant_check.judge("ps2_conv", "alice", own, other, source).reason
    lecture = {"assignment": "ps2_conv", "student": None,
               "variant": variant_for("ps2_conv")}
    verdict = variant_check.judge("ps2_conv", "alice", own, lecture, source)
    assert verdict.flagged
    assert "the lecture (run without a student id)" in verdict.reason
    # A class graded with the lecture's numbers accepts them from anyone.
    default = variant_for("ps2_conv")
    assert not variant_check.judge("ps2_conv", "alice", default, lecture, source,
                                   personal=False).flagged


def test_shown_record_reads_the_display_output():
    record = {"assignment": "ps2_conv", "student": "bob", "variant": {"H": 7}}
    cell = nbformat.v4.new_code_cell("x", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="hi\n"),
        nbformat.v4.new_output("display_data", data={"text/plain": "t", RECORD_MIME: record}),
    ])
    assert variant_check.shown_record(cell) == record
    assert variant_check.shown_record(nbformat.v4.new_code_cell("x")) is None
