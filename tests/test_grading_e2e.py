"""The sample class end to end, exactly as ``make grade-demo`` runs it.

Real nbgrader (generate_assignment, autograde, generate_feedback, export) with a real
gradebook on the four assignments and the content's sample submissions
(``autograder/samples``); every question's score must match
``autograder/samples/expected_scores.csv``.
"""

from __future__ import annotations

import csv
import html
import os
import re
import sys

import nbformat
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if os.path.dirname(HERE) not in sys.path:
    sys.path.insert(0, os.path.dirname(HERE))

from autograder.tools import course as C  # noqa: E402
from autograder.tools import pipeline  # noqa: E402

pytestmark = [pytest.mark.grading, pytest.mark.slow]

SOURCE = os.path.join(C.AUTOGRADER, "source")
EXPECTED = os.path.join(C.SAMPLES, "expected_scores.csv")
ASSIGNMENTS = C.assignments_in(SOURCE)
LIMITS = {"SandboxedGrading.case_timeout": 5.0, "SandboxedGrading.question_timeout": 10.0}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    if not ASSIGNMENTS or not os.path.isfile(EXPECTED):
        pytest.skip("the course's assignments or sample submissions are missing")
    work = str(tmp_path_factory.mktemp("e2e") / "demo")
    # The course's own configuration; only the time a looping sample may waste is cut
    # (each "loops" sample spends its whole question budget).
    return pipeline.demo(work, quiet=True, settings=LIMITS)


def _samples():
    return {(sub.student, a) for a in ASSIGNMENTS for sub in C.load_samples(C.SAMPLES, a)}


def _plain_text(page: str) -> str:
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    return re.sub(r"\s+", " ", text)


def _hidden_lines() -> list[str]:
    lines = []
    for a in ASSIGNMENTS:
        nb = nbformat.read(os.path.join(SOURCE, a, a + ".ipynb"), as_version=4)
        for cell in nb.cells:
            inside = False
            for line in cell.source.splitlines():
                if "BEGIN HIDDEN TESTS" in line:
                    inside = True
                elif "END HIDDEN TESTS" in line:
                    inside = False
                elif inside and len(line.strip()) >= 12:
                    lines.append(re.sub(r"\s+", " ", line.strip()))
    return lines


def test_every_score_is_the_expected_one(demo):
    assert demo.failures == []
    assert demo.expected_problems == []


def test_the_gradebook_holds_what_the_grader_computed(demo):
    assert demo.guard_problems == []


def test_every_sample_was_graded(demo):
    from nbgrader.api import Gradebook

    assert set(demo.table) == _samples()
    with Gradebook(C.db_url(demo.course)) as gb:
        for a in ASSIGNMENTS:
            correct = gb.find_submission(a, "correct")
            # every autograded point; the written answer waits for a TA
            assert correct.code_score == correct.max_code_score > 0
            assert correct.max_score > correct.max_code_score
            assert correct.needs_manual_grade
            assert demo.table[("blank", a)][0] == 0


def test_csv_export(demo):
    with open(demo.csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    got = {(r["student_id"], r["assignment"]): float(r["score"]) for r in rows}
    for key, (score, _full) in demo.table.items():
        assert got.pop(key) == score
    assert set(got.values()) <= {0.0}  # nbgrader lists every student x assignment


def test_feedback_shows_no_test_code(demo):
    hidden = _hidden_lines()
    assert hidden, "the master notebooks should have hidden tests"
    with open(C.DEMO_SECRET) as fh:
        secret = fh.read().strip()
    assert len(demo.feedback) == len(_samples())
    for path in demo.feedback:
        with open(path, encoding="utf-8") as fh:
            page = fh.read()
        text = _plain_text(page)
        assert "HIDDEN TESTS" not in text, path
        leaked = [line for line in hidden if line in text]
        assert leaked == [], path
        assert secret not in page
        assert "# Test cell " in text  # the header that replaced each test cell
        assert "sandboxed grader" in text  # the protections footer
