"""The course is one piece: master notebooks, registry, release, solutions and samples agree.

Fast structural checks (no kernel): ``scripts/build_course.py`` regenerates
``autograder/release`` and ``solutions`` with real nbgrader; here the release is
recomputed from the master notebook with nbgrader's own ``ClearSolutions`` and
``ClearHiddenTests`` preprocessors, and compared cell by cell (sources and nbgrader
metadata, not checksums or outputs).
"""

from __future__ import annotations

import copy
import csv
import importlib.util
import json
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.tools.course import load_module_file
from cnnlab.grading import ASSIGNMENTS, question, questions_for
from cnnlab.grading.variants import variant_cell_source

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "autograder"
VOLATILE = ("checksum", "cell_type")


def _source(assignment: str) -> Path:
    return COURSE / "source" / assignment / f"{assignment}.ipynb"


def _load_build_script():
    spec = importlib.util.spec_from_file_location(
        "build_course", ROOT / "scripts" / "build_course.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_course", module)
    spec.loader.exec_module(module)
    return module


BUILD = _load_build_script()


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_folder_holds_only_the_master_notebook_and_its_questions(assignment):
    # nbgrader releases everything in source/<assignment>/ to students.
    files = sorted(p.name for p in (COURSE / "source" / assignment).iterdir())
    # the questions file and its sibling modules are named after the assignment
    assert f"{assignment}.ipynb" in files
    for name in files:
        assert name == "__pycache__" or name.startswith(assignment), name
        assert name.endswith((".ipynb", ".py")) or name == "__pycache__", name


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_master_notebook_starts_with_the_variant_cell(assignment):
    nb = nbformat.read(_source(assignment), as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "code"
    assert "cnnlab-variant" in first.metadata.get("tags", [])
    assert "nbgrader" not in first.metadata  # never restored from the master at grading
    # The released notebook computes the student's numbers itself (DESIGN.md, variants).
    assert first.source == variant_cell_source(assignment)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_test_cells_are_the_registry(assignment):
    nb = nbformat.read(_source(assignment), as_version=4)
    grade_cells = [c for c in nb.cells if _nbgrader(c).get("grade") and c.cell_type == "code"]
    assert [_nbgrader(c)["grade_id"] for c in grade_cells] == [
        q.key for q in questions_for(assignment)
    ]
    for cell in grade_cells:
        meta = _nbgrader(cell)
        q = question(meta["grade_id"])
        assert meta["points"] == q.points
        assert meta["locked"]
        assert not meta["solution"]
        assert f'check("{q.key}"' in cell.source or f'"{q.key}",' in cell.source
        assert cell.source.startswith("from cnnlab.grading import check\n")
        if q.kind == "function":
            assert q.target in cell.source
            assert "### BEGIN HIDDEN TESTS" in cell.source
            assert "hidden=True" in cell.source
        else:
            assert "BEGIN HIDDEN TESTS" not in cell.source


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_master_notebook_metadata_is_valid_nbgrader(assignment):
    from nbgrader.nbgraderformat import MetadataValidator

    nb = nbformat.read(_source(assignment), as_version=4)
    MetadataValidator().validate_nb(nb)
    for cell in nb.cells:
        meta = _nbgrader(cell)
        if meta.get("solution"):
            assert "### BEGIN SOLUTION" in cell.source
            assert "### END SOLUTION" in cell.source
        # every question's target is defined by a solution or a read-only cell
    defined = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for q in questions_for(assignment):
        assert f"def {q.target}(" in defined or f"{q.target} =" in defined, q.key


def _expected_release(assignment: str) -> nbformat.NotebookNode:
    from nbgrader.preprocessors import ClearHiddenTests, ClearMarkScheme, ClearSolutions

    nb = nbformat.read(_source(assignment), as_version=4)
    resources: dict = {}
    nb, resources = ClearSolutions().preprocess(copy.deepcopy(nb), resources)
    nb, resources = ClearHiddenTests().preprocess(nb, resources)
    nb, resources = ClearMarkScheme().preprocess(nb, resources)
    return nb


def _structure(nb) -> list[tuple[str, str, dict]]:
    cells = []
    for cell in nb.cells:
        meta = {k: v for k, v in _nbgrader(cell).items() if k not in VOLATILE}
        tags = tuple(cell.get("metadata", {}).get("tags", []))
        cells.append((cell.cell_type, cell.source, meta, tags))
    return cells


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_is_in_sync_with_the_master(assignment):
    path = COURSE / "release" / assignment / f"{assignment}.ipynb"
    release = nbformat.read(path, as_version=4)
    assert _structure(release) == _structure(_expected_release(assignment))
    for cell in release.cells:
        meta = _nbgrader(cell)
        if meta.get("grade") or meta.get("solution") or meta.get("locked"):
            assert meta.get("checksum"), meta["grade_id"]
        assert not cell.get("outputs")
        assert "BEGIN SOLUTION" not in cell.source
        assert "HIDDEN TESTS" not in cell.source
        assert "MARK SCHEME" not in cell.source
        assert "Rubric for the TA" not in cell.source


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solutions_are_in_sync_with_the_master(assignment):
    path = ROOT / "solutions" / assignment / f"{assignment}.ipynb"
    solution = nbformat.read(path, as_version=4)
    from nbgrader.preprocessors import ClearMarkScheme

    master = nbformat.read(_source(assignment), as_version=4)
    master, _ = ClearMarkScheme().preprocess(master, {})  # rubrics stay with the TAs
    assert _structure(solution) == _structure(master)
    # generate_solution ran it: every test cell shows full marks
    for cell in solution.cells:
        meta = _nbgrader(cell)
        if meta.get("grade") and cell.cell_type == "code":
            results = [o for o in cell.outputs if o.output_type == "execute_result"]
            assert float(results[-1]["data"]["text/plain"]) == meta["points"], meta["grade_id"]
        assert not any(o.output_type == "error" for o in cell.get("outputs", []))


def test_build_script_structure_ignores_only_volatile_fields(tmp_path):
    path = COURSE / "release" / "ps2_conv" / "ps2_conv.ipynb"
    data = json.loads(path.read_text(encoding="utf-8"))
    for cell in data["cells"]:
        cell.get("metadata", {}).get("nbgrader", {}).pop("checksum", None)
        cell["outputs"] = [] if cell["cell_type"] == "code" else cell.get("outputs")
    copy_path = tmp_path / "copy.ipynb"
    copy_path.write_text(json.dumps(data), encoding="utf-8")
    assert BUILD.structure(copy_path) == BUILD.structure(path)
    data["cells"][3]["source"] = "changed"
    copy_path.write_text(json.dumps(data), encoding="utf-8")
    assert BUILD.structure(copy_path) != BUILD.structure(path)


# --- samples -------------------------------------------------------------------------------


def _solution_ids(assignment: str) -> set[str]:
    nb = nbformat.read(_source(assignment), as_version=4)
    return {_nbgrader(c)["grade_id"] for c in nb.cells if _nbgrader(c).get("solution")}


def _load_sample(path: Path):
    return load_module_file(str(path))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_samples_answer_existing_solution_cells(assignment):
    ids = _solution_ids(assignment)
    samples = sorted((COURSE / "samples" / assignment).glob("[!_]*.py"))
    assert {p.stem for p in samples} >= {"correct", "blank", "raises", "loops"}
    for path in samples:
        answers = _load_sample(path).ANSWERS
        assert set(answers) <= ids, path.name
        assert all(isinstance(v, str) for v in answers.values())
        assert "BEGIN SOLUTION" not in "".join(answers.values())
    correct = _load_sample(COURSE / "samples" / assignment / "correct.py").ANSWERS
    assert set(correct) == ids
    assert _load_sample(COURSE / "samples" / assignment / "blank.py").ANSWERS == {}


def test_expected_scores_name_real_questions_and_respect_points():
    with (COURSE / "samples" / "expected_scores.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows
    seen = set()
    for row in rows:
        q = question(row["question"])
        assert q.assignment == row["assignment"]
        assert 0 <= float(row["expected_score"]) <= q.points
        seen.add((row["student"], row["assignment"], row["question"]))
    assert len(seen) == len(rows)
    by_sample = {(r["student"], r["assignment"]) for r in rows}
    for student, assignment in by_sample:
        keys = {q for s, a, q in seen if (s, a) == (student, assignment)}
        assert keys == {q.key for q in questions_for(assignment)}


def test_demo_secret_is_a_fixed_hex_string():
    text = (COURSE / "demo_secret").read_text(encoding="utf-8").strip()
    assert len(text) == 64
    int(text, 16)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_points_are_written_from_the_registry(assignment):
    # `make course` copies each question's points into the test cell and the table at
    # the top; nothing is left to copy.
    assert BUILD.sync_master(assignment, write=False) == []
    nb = nbformat.read(_source(assignment), as_version=4)
    table = next(c for c in nb.cells if "cnnlab-points" in c.metadata.get("tags", []))
    total = sum(q.points for q in questions_for(assignment))
    total += sum(points for _, points in BUILD.authoring.written_answers(nb))
    assert f"worth **{total:g} points**" in table.source
    for q in questions_for(assignment):
        assert f"| `{q.key.partition('-')[2]}` | {q.title} | {q.points:g} |" in table.source
    assert nb.cells.index(table) == 2  # right under the title


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_each_assignment_has_a_written_answer_with_a_rubric(assignment):
    nb = nbformat.read(_source(assignment), as_version=4)
    written = BUILD.authoring.written_answers(nb)
    assert written, "no written answer"
    for gid, points in written:
        index = next(i for i, c in enumerate(nb.cells) if _nbgrader(c).get("grade_id") == gid)
        task = nb.cells[index]
        assert gid.startswith("written-")
        assert points > 0
        assert _nbgrader(task)["locked"]
        assert "marked by hand" in task.source
        assert "=== BEGIN MARK SCHEME ===" in task.source
        assert "**Rubric for the TA" in task.source
        answer = nb.cells[index + 1]  # the student writes in the cell after the task
        assert answer.cell_type == "markdown"
        assert "nbgrader" not in answer.metadata
