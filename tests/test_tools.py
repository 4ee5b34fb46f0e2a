"""Instructor commands (``python -m autograder.tools``) and the nbgrader configuration."""

from __future__ import annotations

import csv
import os
import stat
import subprocess
import sys
import zipfile

import nbformat
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
FIXTURE = os.path.join(HERE, "fixtures", "grading_course")

import fixture_questions as fq  # noqa: E402
from traitlets.config.loader import PyFileConfigLoader  # noqa: E402

from autograder.tools import course as C  # noqa: E402
from autograder.tools import pipeline  # noqa: E402
from autograder.tools.__main__ import main  # noqa: E402

MASTER_DIR = os.path.join(FIXTURE, "source", "fixture_ps")


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read().strip()


def test_config_resolves_the_course_root_from_its_own_location(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # anywhere but the repository
    config = PyFileConfigLoader("nbgrader_config.py", path=C.AUTOGRADER).load_config()
    assert config.CourseDirectory.root == C.AUTOGRADER
    pre = config.Autograde.autograde_preprocessors
    assert pre[0] == "autograder.grader.preprocessor.SandboxedGrading"
    assert not any(str(p).endswith(".Execute") for p in pre)
    assert "autograder.grader.gradebook_writes.SaveAutoGradesAtOnce" in pre
    assert config.Autograde.sanitize_preprocessors[1].endswith("RestoreCellMetadata")
    assert config.OverwriteCells.add_missing_cells is True
    assert any(str(p).endswith("HideTestSources") for p in config.GenerateFeedback.preprocessors)


def test_throwaway_course_config_keeps_the_course_settings(tmp_path):
    course = str(tmp_path / "c")
    C.make_course(course, {"fixture_ps": MASTER_DIR}, course_module="fixture_questions",
                  extra_sys_path=[FIXTURE], settings={"SandboxedGrading.case_timeout": 1.5})
    config = PyFileConfigLoader("nbgrader_config.py", path=course).load_config()
    assert config.CourseDirectory.root == os.path.abspath(course)
    assert config.SandboxedGrading.course_module == "fixture_questions"
    assert config.SandboxedGrading.case_timeout == 1.5
    assert config.OverwriteCells.add_missing_cells is True
    assert C.assignments_in(os.path.join(course, "source")) == ["fixture_ps"]


def test_init_secret(tmp_path):
    path = str(tmp_path / "course_secret")
    assert main(["init-secret", "--path", path]) == 0
    text = _read(path)
    assert len(text) == 64
    assert int(text, 16) >= 0
    if os.name == "posix":
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert main(["init-secret", "--path", path]) == 2  # never overwritten silently
    assert _read(path) == text
    assert main(["init-secret", "--path", path, "--force"]) == 0
    assert _read(path) != text


def test_roster(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name\nalice,Alice\nbob,Bob\n,nobody\n")
    assert C.read_roster(str(roster)) == ["alice", "bob"]
    roster.write_text("student_id\n../etc\n")
    with pytest.raises(C.ToolError, match="unusable"):
        C.read_roster(str(roster))


def test_personalize_writes_each_students_numbers(tmp_path):
    course = str(tmp_path / "course")
    release = os.path.join(course, "release", "fixture_ps")
    os.makedirs(release)
    nb = nbformat.read(os.path.join(MASTER_DIR, "fixture_ps.ipynb"), as_version=4)
    nbformat.write(nb, os.path.join(release, "fixture_ps.ipynb"))
    out = str(tmp_path / "out")
    written = C.personalize(course, "fixture_ps", ["alice", "bob"], out, secret="s3cret",
                            course_module="fixture_questions")
    assert len(written) == 2
    for student, path in zip(["alice", "bob"], written, strict=True):
        cell = C.variant_cell(nbformat.read(path, as_version=4))
        k = fq.variant_for("fixture_ps", student, "s3cret")["k"]
        assert cell.source == f"VARIANT = {{'k': {k}}}"
    with pytest.raises(C.ToolError, match="secret"):
        C.personalize(course, "fixture_ps", ["alice"], out, secret=None,
                      course_module="fixture_questions")


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def test_import_submissions_is_the_archives_module(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    _zip(tmp_path / "good.zip", {"alice/ps/ps.ipynb": "{}"})
    report = C.import_submissions(str(course), str(tmp_path / "good.zip"))
    assert report.imported == [("alice", "ps")]
    (tmp_path / "not.zip").write_text("x")
    with pytest.raises(C.ToolError, match="neither a folder nor a zip"):
        C.import_submissions(str(course), str(tmp_path / "not.zip"))


def test_expected_scores_and_table(tmp_path):
    path = tmp_path / "expected.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["student", "assignment", "question", "expected_score"])
        w.writerow(["alice", "ps1", "ps1-q1", "2"])
        w.writerow(["alice", "ps1", "ps1.q2", "0.5"])
    expected = C.read_expected(str(path))
    got = {("alice", "ps1", "ps1-q1"): 2.0, ("alice", "ps1", "ps1-q2"): 0.25}
    problems = C.compare_expected(got, expected)
    assert problems == ["alice/ps1 ps1.q2: got 0.25, expected 0.5"]
    table = C.format_table(["alice"], ["ps1", "ps2"], {("alice", "ps1"): (2.25, 3.0)})
    assert "2.25/3" in table
    assert table.splitlines()[-1].rstrip().endswith("-")


def test_master_answers_strip_the_solution_markers():
    answers = C.master_answers(os.path.join(MASTER_DIR, "fixture_ps.ipynb"))
    assert answers["double_answer"] == "def double(x):\n    return 2 * x"
    assert "SOLUTION" not in answers["answer_answer"]


def test_protections_command():
    proc = subprocess.run([sys.executable, "-m", "autograder.tools", "protections"],
                          cwd=REPO, capture_output=True, text=True, check=True)
    assert "sandbox mode" in proc.stdout


@pytest.mark.grading
@pytest.mark.slow
def test_grade_a_class_from_a_zip(tmp_path, monkeypatch):
    """The documented command for a real class, on the fixture assignment."""
    course = str(tmp_path / "course")
    C.make_course(course, {"fixture_ps": MASTER_DIR}, course_module="fixture_questions",
                  extra_sys_path=[FIXTURE], settings={"SandboxedGrading.case_timeout": 1.0})
    (tmp_path / "course" / "course_secret").write_text("zip-secret\n")
    monkeypatch.delenv("CNNLAB_COURSE_SECRET", raising=False)
    monkeypatch.delenv("CNNLAB_COURSE_SECRET_FILE", raising=False)
    # the submissions, zipped as an LMS export would be (answers put into the master
    # notebook: the grader restores its test cells whatever the student sent)
    api = C.course_api("fixture_questions")
    archive = str(tmp_path / "submissions.zip")
    with zipfile.ZipFile(archive, "w") as zf:
        for sub in C.load_samples(os.path.join(FIXTURE, "samples"), "fixture_ps"):
            if sub.student in ("correct", "unchanged"):
                nb = nbformat.read(os.path.join(MASTER_DIR, "fixture_ps.ipynb"), as_version=4)
                C.personalize_notebook(nb, api.variant("fixture_ps", sub.student, "zip-secret"))
                C.apply_submission(nb, sub)
                zf.writestr(f"submitted/{sub.student}/fixture_ps/fixture_ps.ipynb",
                            nbformat.writes(nb))
    monkeypatch.chdir(tmp_path)
    result = pipeline.grade(course, None, archive, quiet=True)
    assert result.ok, (result.failures, result.guard_problems)
    assert result.table[("correct", "fixture_ps")] == (3.0, 3.0)
    assert result.table[("unchanged", "fixture_ps")][0] < 3.0
    assert result.csv_path
    assert os.path.exists(result.csv_path)
    assert len(result.feedback) == 2
    for path in result.feedback:
        assert "FIXTURE-HIDDEN-TEST-MARKER" not in _read(path)


def test_a_roster_saved_by_excel_imports_its_names(tmp_path):
    """Excel's "CSV UTF-8" starts with a byte-order mark; headers may carry capitals,
    spaces and extra columns; names may be anything Unicode."""
    from nbgrader.api import Gradebook

    course = str(tmp_path / "course")
    C.make_course(course, {"fixture_ps": MASTER_DIR}, course_module="fixture_questions")
    roster = tmp_path / "roster.csv"
    roster.write_bytes("\ufeffID, First_Name ,Last_Name,Email,Section\n"
                       "jane.doe1,José,Núñez,j@uni.example,L1\n"
                       "Mixed-Case2,Anne-Marie,\"O'Brien, Jr.\",,L2\n".encode())
    assert C.read_roster(str(roster)) == ["jane.doe1", "Mixed-Case2"]
    assert C.import_roster(course, str(roster)) == 2
    with Gradebook(C.db_url(course)) as gb:
        names = {s.id: (s.first_name, s.last_name, s.email) for s in gb.students}
    assert names == {"jane.doe1": ("José", "Núñez", "j@uni.example"),
                     "Mixed-Case2": ("Anne-Marie", "O'Brien, Jr.", None)}
    assert not [f for f in os.listdir(os.path.join(course, ".cnnlab")) if "roster" in f]


def test_a_failed_nbgrader_command_is_one_line_naming_its_cause(tmp_path):
    lines = ["[GenerateAssignmentApp | INFO] Copying ...",
             "[GenerateAssignmentApp | ERROR] There was an error processing assignment: x",
             "[GenerateAssignmentApp | ERROR] Traceback (most recent call last):",
             '  File "nbgrader/converters/base.py", line 1, in convert_notebooks',
             "autograder.grader.course_check.CourseConfigurationError: test cell "
             "'ps1-bogus' (no question has this key)",
             "[GenerateAssignmentApp | ERROR] Please see the error message above."]
    assert C.nbgrader_cause(lines).startswith(
        "autograder.grader.course_check.CourseConfigurationError: test cell 'ps1-bogus'")
    assert C.nbgrader_cause(["[AutogradeApp | ERROR] No assignment with ID 'ps2' exists",
                             "[AutogradeApp | INFO] done"]) == "No assignment with ID 'ps2' exists"
    error = C.nbgrader_failed(str(tmp_path), ["generate_assignment", "ps1"], 1, lines)
    message = str(error)
    assert "\n" not in message
    assert message.startswith("nbgrader generate_assignment ps1 failed (exit 1): autograder.")
    log = message.rsplit("(its log: ", 1)[1].rstrip(")")
    with open(log, encoding="utf-8") as fh:
        assert fh.read().splitlines()[1:] == lines
