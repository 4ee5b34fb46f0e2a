"""The students' side: release and solution notebooks run in a real kernel.

- A release notebook runs top to bottom: the stubs raise ``NotImplementedError``; a
  value answer's cell raises it where the stub stands; every test cell still runs,
  prints "not implemented yet" / "not answered yet" and scores 0 without an error.
- A solution notebook runs with every test cell at full marks and nothing on stderr.
- ``nbgrader validate`` reports the release as failing and the solution as passing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cnnlab.grading import ASSIGNMENTS, question

ROOT = Path(__file__).resolve().parents[1]
RELEASE = ROOT / "autograder" / "release"
SOLUTIONS = ROOT / "solutions"

pytestmark = pytest.mark.notebooks


def _execute(nb: nbformat.NotebookNode, cwd: Path) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    client = NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True)
    client.execute(cwd=str(cwd))
    return nb


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _text(cell, stream: str = "stdout") -> str:
    return "".join(
        o.get("text", "")
        for o in cell.get("outputs", [])
        if o.output_type == "stream" and o.name == stream
    )


def _score(cell) -> float | None:
    results = [o for o in cell.outputs if o.output_type == "execute_result"]
    return float(results[-1]["data"]["text/plain"]) if results else None


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_notebook_runs_top_to_bottom_and_reports_what_is_missing(assignment, tmp_path):
    nb = nbformat.read(RELEASE / assignment / f"{assignment}.ipynb", as_version=4)
    nb = _execute(nb, tmp_path)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = _meta(cell)
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if meta.get("grade"):
            q = question(meta["grade_id"])
            assert errors == [], (q.key, errors)
            assert _text(cell, "stderr") == ""
            out = _text(cell)
            assert out.startswith(f"{q.key} ({q.title}): 0 / {q.points:g} points"), out
            expected = "not implemented yet" if q.kind == "function" else "not answered yet"
            assert expected in out
            assert _score(cell) == 0.0
        elif errors:
            # only a value answer's own stub raises: at top level, where it stands
            assert meta.get("solution"), cell.source
            assert [e.ename for e in errors] == ["NotImplementedError"]
            assert "raise NotImplementedError()" in cell.source


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_notebook_passes_every_check(assignment, tmp_path):
    nb = nbformat.read(SOLUTIONS / assignment / f"{assignment}.ipynb", as_version=4)
    if assignment == "ps2_conv":  # its gradient check is a function students call
        nb.cells.append(
            nbformat.v4.new_code_cell(
                "errors = gradient_check()\nassert max(errors.values()) < 1e-6, errors"
            )
        )
    nb = _execute(nb, tmp_path)
    graded = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        assert [o for o in cell.outputs if o.output_type == "error"] == [], cell.source
        meta = _meta(cell)
        if meta.get("grade"):
            graded += 1
            assert _text(cell, "stderr") == "", meta["grade_id"]
            assert _score(cell) == meta["points"], (meta["grade_id"], _text(cell))
            assert "[FAIL]" not in _text(cell)
    tests = [c for c in nb.cells if _meta(c).get("grade") and c.cell_type == "code"]
    assert graded == len(tests) > 0


def _validate(path: Path) -> str:
    """What ``nbgrader validate`` reports (its stdout). Its stderr is left out: that
    is nbgrader's and the kernel's log, where ipykernel sometimes logs a traceback of
    its own while shutting down (a race of its IOPub socket, ZMQError "Socket
    operation on non-socket"), which is not part of the report a student reads."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "nbgrader"), "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=path.parent,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.grading
def test_nbgrader_validate_fails_the_release_and_passes_the_solution(tmp_path):
    assignment = "ps1_shapes_params"  # plain arithmetic: the quickest to run twice
    release = tmp_path / "release" / f"{assignment}.ipynb"
    solution = tmp_path / "solution" / f"{assignment}.ipynb"
    for src, dest in (
        (RELEASE / assignment / f"{assignment}.ipynb", release),
        (SOLUTIONS / assignment / f"{assignment}.ipynb", solution),
    ):
        dest.parent.mkdir()
        shutil.copyfile(src, dest)
    failing = _validate(release)
    assert "VALIDATION FAILED ON 16 CELL(S)!" in failing
    assert 'check("ps1_shapes_params-output_size", output_size, variant=VARIANT)' in failing
    assert "Traceback" not in failing
    passing = _validate(solution)
    assert "Success! Your notebook passes all the tests." in passing
