"""Regenerate the release and solution notebooks from the master notebooks, with real nbgrader.

Usage::

    python scripts/build_course.py              # rewrite autograder/release/ and solutions/
    python scripts/build_course.py ps2_conv     # only some assignments
    python scripts/build_course.py --check      # exit 1 if the committed copies are stale

First it writes each question's points, declared once in the question registry, into
the master notebook: the test cells' nbgrader metadata and the points table under the
title (a markdown cell tagged ``cnnlab-points``). Then, for each assignment, it copies
``autograder/source/<assignment>/`` into a temporary
course, runs ``nbgrader generate_assignment`` (stubs, hidden tests removed, checksums)
and ``nbgrader generate_solution`` (solutions and hidden tests kept, the notebook
executed) there, checks the results, and copies them to
``autograder/release/<assignment>/`` (with the questions file released beside the
notebook) and ``solutions/<assignment>/``. Solution notebooks
are executed without timing metadata and their stream outputs are merged per cell, so
rebuilding unchanged sources changes no byte. The gradebook
lives and dies in the temporary directory: nothing is written into the course root but
the master notebooks' points and the two output folders.

The temporary course has its own minimal ``nbgrader_config.py`` (course root and
gradebook path only), so the build does not depend on the grading machinery's
configuration; nbgrader's default stub (``raise NotImplementedError()``) is used.

Checks before anything is copied: every release notebook has no solution and no hidden
test left, and every solution notebook ran without an error and scored full points in
each test cell (the ``check`` calls return the score as the cell's value).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the repository's packages
    sys.path.insert(0, str(ROOT))

from autograder.tools import authoring  # noqa: E402

COURSE = ROOT / "autograder"
SOURCE = COURSE / "source"
RELEASE = COURSE / "release"
SOLUTIONS = ROOT / "solutions"
#: Every assignment of the course: the folders of autograder/source.
ASSIGNMENTS = tuple(
    sorted(p.name for p in SOURCE.iterdir() if (p / f"{p.name}.ipynb").is_file())
)
#: nbgrader metadata keys that depend on the build, not on the master notebook.
VOLATILE_KEYS = ("checksum", "cell_type")

CONFIG = """\
c = get_config()  # noqa: F821
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = "cnnlab"
c.CourseDirectory.db_url = {db!r}
c.Execute.timeout = 300
c.Execute.record_timing = False  # no timestamps in the committed solutions
"""


def _bin(name: str) -> str:
    """A program of this Python's environment (nbgrader runs `alembic` from PATH)."""
    return str(Path(sys.executable).parent / name)


def _nbgrader(course: Path, *args: str) -> None:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.setdefault("MPLBACKEND", "Agg")
    env.pop("CNNLAB_COURSE_SECRET", None)
    env.pop("CNNLAB_COURSE_SECRET_FILE", None)
    env.pop("JUPYTERHUB_USER", None)  # solutions show the lecture's numbers, even on a hub
    result = subprocess.run(
        [_bin("nbgrader"), *args], cwd=course, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"nbgrader {' '.join(args)} failed (exit {result.returncode})")


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def structure(path: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """``(cell type, source, nbgrader metadata without volatile keys)`` of every cell."""
    cells = []
    for cell in _read(path)["cells"]:
        source = cell["source"]
        if isinstance(source, list):
            source = "".join(source)
        meta = dict(cell.get("metadata", {}).get("nbgrader", {}))
        for key in VOLATILE_KEYS:
            meta.pop(key, None)
        cells.append((cell["cell_type"], source, meta))
    return cells


def coalesce_streams(path: Path) -> None:
    """Merge each cell's stream outputs by name (stdout, stderr), in place.

    The kernel chunks printed text unpredictably; merged, a rebuild of unchanged
    sources gives byte-identical solution notebooks.
    """
    notebook = _read(path)
    for cell in notebook["cells"]:
        merged: list[dict[str, Any]] = []
        streams: dict[str, dict[str, Any]] = {}
        for output in cell.get("outputs", []):
            if output["output_type"] != "stream":
                merged.append(output)
                continue
            text = output["text"] if isinstance(output["text"], str) else "".join(output["text"])
            if output["name"] in streams:
                streams[output["name"]]["text"] += text
            else:
                streams[output["name"]] = {**output, "text": text}
                merged.append(streams[output["name"]])
        if "outputs" in cell:
            cell["outputs"] = merged
        for output in merged:
            if output["output_type"] == "stream":
                output["text"] = output["text"].splitlines(keepends=True)
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _problems_release(path: Path) -> list[str]:
    problems = []
    for kind, source, _ in structure(path):
        if any(mark in source for mark in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "MARK SCHEME")):
            problems.append(
                f"{path.name}: a {kind} cell still holds a solution, hidden test or rubric"
            )
    return problems


def _problems_solution(path: Path) -> list[str]:
    problems = []
    for cell in _read(path)["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        for output in cell.get("outputs", []):
            if output["output_type"] == "error":
                problems.append(f"{path.name}: {output['ename']}: {output['evalue']}")
            if output["output_type"] == "stream" and output["name"] == "stderr" and meta:
                problems.append(f"{path.name}: {meta.get('grade_id')} wrote to stderr")
        if meta.get("grade") and cell["cell_type"] == "code":
            results = [o for o in cell["outputs"] if o["output_type"] == "execute_result"]
            text = results[-1]["data"]["text/plain"] if results else ""
            if isinstance(text, list):
                text = "".join(text)
            try:
                score = float(text)
            except ValueError:
                score = -1.0
            if score != float(meta["points"]):
                problems.append(
                    f"{path.name}: {meta['grade_id']} scored {text or 'nothing'} of "
                    f"{meta['points']}"
                )
    return problems


def sync_master(assignment: str, *, write: bool) -> list[str]:
    """Write the registry's points into the master notebook (test cells, points table)."""
    return authoring.sync_points(SOURCE, assignment, write=write)


def build(assignments: list[str], out_release: Path, out_solutions: Path) -> list[str]:
    """Generate the notebooks of ``assignments`` into the two output folders."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="cnnlab-course-") as tmp:
        course = Path(tmp)
        (course / "nbgrader_config.py").write_text(
            CONFIG.format(root=str(course), db=f"sqlite:///{course / 'gradebook.db'}"),
            encoding="utf-8",
        )
        for assignment in assignments:
            shutil.copytree(SOURCE / assignment, course / "source" / assignment)
            _nbgrader(course, "generate_assignment", assignment, "--force")
            _nbgrader(course, "generate_solution", assignment, "--force")
            release = course / "release" / assignment / f"{assignment}.ipynb"
            solution = course / "solution" / assignment / f"{assignment}.ipynb"
            coalesce_streams(solution)
            problems += _problems_release(release)
            problems += _problems_solution(solution)
            for src, dest_root in ((release, out_release), (solution, out_solutions)):
                dest = dest_root / assignment / src.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest)
            for src in released_files(release.parent):
                shutil.copyfile(src, out_release / assignment / src.name)
    return problems


def released_files(folder: Path) -> list[Path]:
    """The files released beside the notebook (its questions file): what a student's
    ``check`` needs where only the release and the installed cnnlab exist."""
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix == ".py" and p.name[0] != "."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignments", nargs="*", help="default: all of autograder/source")
    parser.add_argument(
        "--check", action="store_true", help="compare with the committed copies, change nothing"
    )
    args = parser.parse_args(argv)
    assignments = args.assignments or list(ASSIGNMENTS)
    unknown = sorted(set(assignments) - set(ASSIGNMENTS))
    if unknown:
        parser.error(f"unknown assignment(s): {', '.join(unknown)}")
    if not args.check:
        for assignment in assignments:
            for change in sync_master(assignment, write=True):
                print("updated:", change)
        problems = build(assignments, RELEASE, SOLUTIONS)
        for problem in problems:
            print("problem:", problem, file=sys.stderr)
        print(f"built {', '.join(assignments)} into {RELEASE} and {SOLUTIONS}")
        return 1 if problems else 0
    with tempfile.TemporaryDirectory(prefix="cnnlab-check-") as tmp:
        fresh_release, fresh_solutions = Path(tmp) / "release", Path(tmp) / "solutions"
        problems = [p for a in assignments for p in sync_master(a, write=False)]
        problems += build(assignments, fresh_release, fresh_solutions)
        for assignment in assignments:
            name = f"{assignment}.ipynb"
            for fresh, committed in (
                (fresh_release / assignment / name, RELEASE / assignment / name),
                (fresh_solutions / assignment / name, SOLUTIONS / assignment / name),
            ):
                if not committed.exists():
                    problems.append(f"missing {committed.relative_to(ROOT)}")
                elif structure(fresh) != structure(committed):
                    problems.append(f"stale {committed.relative_to(ROOT)}: rerun the build")
            fresh_files = {p.name: p for p in released_files(fresh_release / assignment)}
            committed_files = {p.name: p for p in released_files(RELEASE / assignment)}
            for name in sorted(set(fresh_files) | set(committed_files)):
                where = (RELEASE / assignment / name).relative_to(ROOT)
                if name not in committed_files:
                    problems.append(f"missing {where}")
                elif name not in fresh_files:
                    problems.append(f"{where} is not in the source: rerun the build")
                elif fresh_files[name].read_bytes() != committed_files[name].read_bytes():
                    problems.append(f"stale {where}: rerun the build")
    for problem in problems:
        print("problem:", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
