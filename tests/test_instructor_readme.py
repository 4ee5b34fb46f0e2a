"""The README's "Run a class" steps, as written, on a fresh copy of the repository.

Every ``python -m autograder.tools ...`` line of that section's code blocks runs in
order, alternately from the copy's root and from its ``autograder/`` folder (both
must work). The class: a roster of the first assignment's sample students, their
personalized notebooks answered as the samples answer, zipped as an LMS export.
Scores must be the samples' expected ones; names must reach the gradebook and the
Canvas export.
"""

from __future__ import annotations

import csv
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile

import nbformat
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from autograder.tools import course as C  # noqa: E402

pytestmark = [pytest.mark.grading, pytest.mark.slow]
ASSIGNMENT = "ps1_shapes_params"


def readme_commands() -> list[str]:
    """The tool commands of the README's "### Run a class" section, in order."""
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as fh:
        text = fh.read()
    section = text.split("### Run a class", 1)[1].split("\n### ", 1)[0]
    commands = []
    for block in re.findall(r"```\n(.*?)```", section, flags=re.S):
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("python -m autograder.tools "):
                commands.append(line.split("#", 1)[0].strip())
    return commands


def fresh_copy(dest: str) -> str:
    """The repository's tracked files (as they are in the work tree), nothing else."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = os.path.join(REPO, rel)
        if os.path.isfile(src):
            os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
            shutil.copy2(src, os.path.join(dest, rel))
    return dest


def write_roster(path: str, students: list[str]) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "first_name", "last_name", "email"])
        for s in students:
            writer.writerow([s, s.capitalize(), "Sample", f"{s}@example.edu"])


def zip_submissions(copy: str, path: str, samples: list) -> None:
    """Each student's personalized notebook, answered as their sample answers."""
    with zipfile.ZipFile(path, "w") as zf:
        for sub in samples:
            folder = os.path.join(copy, "autograder", "personalized", sub.student, ASSIGNMENT)
            nb = nbformat.read(os.path.join(folder, ASSIGNMENT + ".ipynb"), as_version=4)
            C.apply_submission(nb, sub)
            zf.writestr(f"submitted/{sub.student}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb",
                        nbformat.writes(nb))


def test_the_readme_instructor_steps_work_on_a_fresh_copy(tmp_path):
    commands = readme_commands()
    names = [shlex.split(c)[3] for c in commands]
    assert names == ["init-secret", "roster", "prepare", "personalize", "grade", "export"]
    copy = fresh_copy(str(tmp_path / "cnnlab"))
    samples = C.load_samples(C.SAMPLES, ASSIGNMENT)
    students = sorted(s.student for s in samples)
    for folder in (copy, os.path.join(copy, "autograder")):
        write_roster(os.path.join(folder, "roster.csv"), students)
    env = C.nbgrader_env()
    env["PYTHONPATH"] = copy  # the copy's autograder, not the installed checkout's
    for var in ("CNNLAB_COURSE_SECRET", "CNNLAB_COURSE_SECRET_FILE", "JUPYTERHUB_USER"):
        env.pop(var, None)
    outputs = {}
    for i, command in enumerate(commands):
        cwd = copy if i % 2 else os.path.join(copy, "autograder")
        if shlex.split(command)[3] == "grade":
            zip_submissions(copy, os.path.join(cwd, "submissions.zip"), samples)
        args = [sys.executable if a == "python" else a for a in shlex.split(command)]
        proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=900)
        assert proc.returncode == 0, (command, cwd, proc.stdout[-3000:], proc.stderr[-3000:])
        outputs[shlex.split(command)[3]] = proc.stdout
        if shlex.split(command)[3] == "export":  # its own file (--to), from its folder
            words = shlex.split(command)
            exported = os.path.join(cwd, words[words.index("--to") + 1])
    course = os.path.join(copy, "autograder")
    assert os.stat(os.path.join(course, "course_secret")).st_mode & 0o777 == 0o600
    # the committed release is untouched; the gradebook has the assignment
    assert subprocess.run(["git", "diff", "--quiet", "--no-index",
                           os.path.join(REPO, "autograder", "release", ASSIGNMENT),
                           os.path.join(course, "release", ASSIGNMENT)]).returncode == 0
    assert ASSIGNMENT in C.gradebook_assignments(course)
    for student in students:
        assert f"{student}/{ASSIGNMENT}" in outputs["grade"]
    expected = {k: v for k, v in C.read_expected(os.path.join(C.SAMPLES,
                                                              "expected_scores.csv")).items()
                if k[1] == ASSIGNMENT}
    assert C.compare_expected(C.scores(course, [ASSIGNMENT]), expected) == []
    with open(exported, newline="") as fh:
        rows = list(csv.reader(fh))
    by_id = {r[2]: r for r in rows[2:]}
    assert sorted(by_id) == students
    assert by_id["correct"][0] == "Sample, Correct"
    assert by_id["correct"][3] == "correct@example.edu"
    assert rows[0][5] == ASSIGNMENT
    assert any(h.startswith(f"{ASSIGNMENT}: ") for h in rows[0][6:])  # --per-question
