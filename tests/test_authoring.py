"""docs/authoring.md, followed: a new assignment with two questions, released, answered,
graded end to end with real nbgrader; and the student's own checks from the release alone.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if os.path.dirname(HERE) not in sys.path:
    sys.path.insert(0, os.path.dirname(HERE))

from autograder.tools import authoring, pipeline  # noqa: E402
from autograder.tools.__main__ import main  # noqa: E402
from cnnlab.grading.questions import ASSIGNMENTS  # noqa: E402

ASSIGNMENT = "ps5_custom"
COURSE_SOURCE = Path(__file__).resolve().parents[1] / "autograder" / "source"

# What docs/authoring.md tells the instructor to write for the added question.
DECLARATION = """CONV_PARAMS = function_question(
    f"{ASSIGNMENT}-conv_params",
    "conv_params",
    points=3,
    reference=lambda c_in, c_out, k: params.conv2d_params(c_in, c_out, k),
    visible=[(3, 16, 3), (8, 16, 5)],
    hidden=lambda rng: [
        (int(rng.integers(1, 65)), int(rng.integers(1, 257)), int(rng.integers(1, 8)))
        for _ in range(6)
    ],
    mistakes=[
        Mistake(
            "the biases are missing: every filter has one bias.",
            lambda c_in, c_out, k: c_out * c_in * k * k,
        ),
    ],
    describe=lambda c_in, c_out, k: "a 1x1 kernel" if k == 1 else "a k x k kernel",
    title="conv_params(c_in, c_out, k)",
)"""
SOLUTION = (
    "def conv_params(c_in, c_out, k):\n"
    "    ### BEGIN SOLUTION\n"
    "    return c_out * (c_in * k * k + 1)\n"
    "    ### END SOLUTION"
)
ANSWERS = {
    "correct": {
        "answer-output_size": "def output_size(n, k, s=1):\n    return (n - k) // s + 1",
        "answer-conv_params": (
            "def conv_params(c_in, c_out, k):\n    return c_out * (c_in * k * k + 1)"
        ),
    },
    "no_bias": {
        "answer-output_size": "def output_size(n, k, s=1):\n    return (n - k) // s + 1",
        "answer-conv_params": "def conv_params(c_in, c_out, k):\n    return c_out * c_in * k * k",
    },
}
EXPECTED = [
    ("correct", "ps5_custom-output_size", 2),
    ("correct", "ps5_custom-conv_params", 3),
    ("no_bias", "ps5_custom-output_size", 2),
    ("no_bias", "ps5_custom-conv_params", 0),
]


def _author(source: Path) -> None:
    """The steps of docs/authoring.md, as an instructor types them."""
    assert main(["new-assignment", ASSIGNMENT, "--source", str(source)]) == 0
    assert (
        main(
            [
                "add-question",
                ASSIGNMENT,
                "conv_params",
                "--target",
                "conv_params",
                "--points",
                "3",
                "--source",
                str(source),
            ]
        )
        == 0
    )
    questions = source / ASSIGNMENT / f"{ASSIGNMENT}_questions.py"
    text = questions.read_text(encoding="utf-8")
    start = text.index("CONV_PARAMS = function_question(")
    end = text.index("\n)\n", start) + 2
    text = text[:start] + DECLARATION + text[end:]
    text = text.replace("from cnnlab import shapes\n", "from cnnlab import params, shapes\n")
    questions.write_text(text, encoding="utf-8")
    path = source / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    (cell,) = [c for c in nb.cells if c.get("id") == "answer-conv_params"]
    cell.source = SOLUTION
    nbformat.write(nb, str(path))
    assert main(["sync-points", ASSIGNMENT, "--source", str(source)]) == 0


@pytest.fixture(scope="module")
def authored(tmp_path_factory):
    work = tmp_path_factory.mktemp("authoring")
    source = work / "source"
    source.mkdir()
    _author(source)
    return work, source


def test_the_template_and_the_new_question_are_declared_once(authored):
    _, source = authored
    from cnnlab.grading import question, questions_for

    keys = [q.key for q in questions_for(ASSIGNMENT)]
    assert keys == ["ps5_custom-output_size", "ps5_custom-conv_params"]
    assert question("ps5_custom-conv_params").points == 3
    nb = nbformat.read(str(source / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"), as_version=4)
    tests = [
        c
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"
    ]
    assert [c.metadata["nbgrader"]["grade_id"] for c in tests] == keys
    assert [c.metadata["nbgrader"]["points"] for c in tests] == [2, 3]
    table = next(c for c in nb.cells if authoring.POINTS_TAG in c.metadata.get("tags", []))
    assert "worth **7 points**" in table.source  # 2 + 3 + a 2-point written answer
    assert authoring.sync_points(source, ASSIGNMENT, write=False) == []


@pytest.mark.grading
@pytest.mark.slow
def test_the_new_assignment_is_released_answered_and_graded(authored):
    work, source = authored
    samples = work / "samples" / ASSIGNMENT
    samples.mkdir(parents=True)
    for student, answers in ANSWERS.items():
        (samples / f"{student}.py").write_text(f"ANSWERS = {answers!r}\n", encoding="utf-8")
    expected = work / "expected.csv"
    with expected.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["student", "assignment", "question", "expected_score", "why"])
        out.writerows([(s, ASSIGNMENT, q, score, "") for s, q, score in EXPECTED])
    result = pipeline.demo(
        str(work / "course"),
        source_root=str(source),
        samples_dir=str(work / "samples"),
        expected_csv=str(expected),
        assignments=[ASSIGNMENT],
        quiet=True,
    )
    assert result.failures == []
    assert result.guard_problems == []
    assert result.expected_problems == []
    (page,) = [p for p in result.feedback if f"{os.sep}no_bias{os.sep}" in p]
    text = Path(page).read_text(encoding="utf-8")
    assert "the biases are missing: every filter has one bias." in text
    release = work / "course" / "release" / ASSIGNMENT
    assert (release / f"{ASSIGNMENT}_questions.py").is_file()  # released with the notebook


def test_a_students_check_works_from_the_released_files_alone(authored, tmp_path):
    _, source = authored
    # A JupyterHub server: the released folder and the installed cnnlab, nothing else.
    folder = tmp_path / ASSIGNMENT
    folder.mkdir()
    for name in (f"{ASSIGNMENT}_questions.py",):
        (folder / name).write_text((source / ASSIGNMENT / name).read_text(), encoding="utf-8")
    code = (
        "from cnnlab.grading import check\n"
        "def output_size(n, k, s=1):\n"
        "    return (n - k) // s\n"
        "check('ps5_custom-output_size', output_size)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=folder,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ""},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "ps5_custom-output_size (output_size(n, k, s)): 0 / 2 points" in result.stdout
    assert "Likely mistake: the count is one short" in result.stdout


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_add_question_extends_each_course_assignment(tmp_path, assignment):
    """add-question works on the four course files too (no add-question mark there):
    the declaration goes before QUESTIONS, the name at its end, the cells before the
    written answers; the file still loads, with the new question last."""
    shutil.copytree(COURSE_SOURCE / assignment, tmp_path / assignment)
    args = ["add-question", assignment, "extra_check", "--target", "extra_check",
            "--points", "2", "--source", str(tmp_path)]
    assert main(args) == 0
    path = tmp_path / assignment / f"{assignment}_questions.py"
    spec = importlib.util.spec_from_file_location(f"{assignment}_questions_copy", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    assert module.QUESTIONS[-1] is module.EXTRA_CHECK
    assert module.EXTRA_CHECK.key == f"{assignment}-extra_check"
    assert module.EXTRA_CHECK.points == 2
    nb = nbformat.read(str(tmp_path / assignment / f"{assignment}.ipynb"), as_version=4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    assert f"{assignment}-extra_check" in ids
