"""Course-directory helpers behind ``python -m autograder.tools``.

A *course directory* is what nbgrader calls the course root: ``source/``,
``release/``, ``submitted/``, ``autograded/``, ``feedback/``, ``gradebook.db`` and an
``nbgrader_config.py``. The real course is ``autograder/`` itself; the demo and the
tests build throw-away ones whose ``nbgrader_config.py`` loads
``autograder/nbgrader_config.py`` and only changes the root (and, for tests, the
question registry and the limits).
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

AUTOGRADER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(AUTOGRADER)
MAIN_CONFIG = os.path.join(AUTOGRADER, "nbgrader_config.py")
SAMPLES = os.path.join(AUTOGRADER, "samples")
DEMO_SECRET = os.path.join(AUTOGRADER, "demo_secret")
VARIANT_TAG = "cnnlab-variant"
_ID = re.compile(r"^[A-Za-z0-9_.@+\-]+$")


class ToolError(RuntimeError):
    """A problem the instructor has to fix; printed without a traceback."""


# ----------------------------------------------------------------------- nbgrader


def nbgrader_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for nbgrader: this Python's bin/ first on PATH (for ``alembic``)."""
    env = dict(os.environ)
    bindir = os.path.dirname(os.path.abspath(sys.executable))
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.setdefault("JUPYTER_PLATFORM_DIRS", "1")
    env.setdefault("MPLBACKEND", "Agg")
    env["PYTHONPATH"] = REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    if extra:
        env.update(extra)
    return env


def run_nbgrader(course: str, *args: str, env: Mapping[str, str] | None = None,
                 check: bool = True, quiet: bool = True) -> subprocess.CompletedProcess:
    """Run ``nbgrader <args>`` in the course directory (a real nbgrader process)."""
    cmd = [sys.executable, "-m", "nbgrader", *args]
    proc = subprocess.run(cmd, cwd=course, env=dict(env or nbgrader_env()), text=True,
                          capture_output=True, check=False)
    if not quiet:
        sys.stderr.write(proc.stderr)
    if check and proc.returncode != 0:
        raise nbgrader_failed(course, args, proc.returncode, proc.stderr.splitlines())
    return proc


#: Where a run's log and a failed nbgrader command's whole log are written.
LOGS = os.path.join(".cnnlab", "logs")
#: The last line of a Python traceback (``ValueError: ...``, ``pkg.SomeError: ...``).
TRACEBACK_END = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Mismatch|Exit): ")
#: An error nbgrader's log states; group 1 is its text.
NBGRADER_ERROR = re.compile(r"\[\w+App \| (?:ERROR|CRITICAL)\] (.*)")


def nbgrader_cause(lines: Sequence[str]) -> str:
    """The one line of an nbgrader log that says why it failed: the last exception
    line of a traceback, else the last error it logged, else its last line."""
    for line in reversed(lines):
        if TRACEBACK_END.match(line.strip()):
            return line.strip()
    for line in reversed(lines):
        if (m := NBGRADER_ERROR.search(line)) and m.group(1).strip() and \
                not m.group(1).startswith("Traceback"):
            return m.group(1).strip()
    return next((ln.strip() for ln in reversed(lines) if ln.strip()), "no output")


def nbgrader_failed(course: str, args: Sequence[str], code: int,
                    lines: Sequence[str]) -> ToolError:
    """The error of a failed ``nbgrader <args>``: one line with its cause; its whole
    log goes into ``<course>/.cnnlab/logs/``."""
    folder = os.path.join(course, LOGS)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"nbgrader-{args[0]}-{time.strftime('%Y%m%d-%H%M%S')}.log")
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"$ nbgrader {' '.join(args)}\n" + "".join(ln + "\n" for ln in lines))
    return ToolError(f"nbgrader {' '.join(args)} failed (exit {code}): "
                     f"{nbgrader_cause(lines)[:500]} (its log: {path})")


def db_url(course: str) -> str:
    return "sqlite:///" + os.path.join(os.path.abspath(course), "gradebook.db")


#: Where ``ensure_in_gradebook`` lets nbgrader write the release it regenerates, so a
#: committed ``release/`` is never overwritten.
SCRATCH_RELEASE = os.path.join(".cnnlab", "release")


def gradebook_assignments(course: str) -> set[str]:
    """The assignments nbgrader's gradebook knows (none if there is no gradebook)."""
    from nbgrader.api import Gradebook

    if not os.path.exists(os.path.join(course, "gradebook.db")):
        return set()
    with Gradebook(db_url(course)) as gb:
        return {a.name for a in gb.assignments if a.notebooks}


def ensure_in_gradebook(course: str, assignments: Iterable[str], *,
                        env: Mapping[str, str] | None = None) -> list[str]:
    """Put each assignment's master cells into the gradebook when it lacks them.

    nbgrader does that in ``generate_assignment``, which skips an assignment whose
    release exists, as a committed ``release/`` does. So an existing release is left as
    it is and nbgrader writes its new copy into a scratch folder (``.cnnlab/release``);
    without one, the release is written to ``release/`` as usual. Returns the
    assignments added.
    """
    have = gradebook_assignments(course)
    added = []
    for a in assignments:
        if a in have:
            continue
        args = ["generate_assignment", a, "--force"]
        if os.path.exists(os.path.join(course, "release", a)):
            args.append(f"--CourseDirectory.release_directory={SCRATCH_RELEASE}")
        run_nbgrader(course, *args, env=env)
        if a not in gradebook_assignments(course):
            raise ToolError(f"assignment {a!r} is still missing from the gradebook after "
                            "`nbgrader generate_assignment`")
        added.append(a)
    return added


ROSTER_COLUMNS = ("id", "first_name", "last_name", "email")
#: A roster may start with a byte-order mark (Excel's "CSV UTF-8" writes one).
ROSTER_ENCODING = "utf-8-sig"


def import_roster(course: str, path: str, *, env: Mapping[str, str] | None = None) -> int:
    """Add or update the roster's students in the gradebook (``nbgrader db student
    import``), so names appear in the formgrader and the exports. The CSV needs the
    columns ``id,first_name,last_name,email``; returns the number of students."""
    ids = read_roster(path)  # the ids are checked first, with a clear message
    with open(path, newline="", encoding=ROSTER_ENCODING) as fh:
        rows = [[cell.strip() for cell in row] for row in csv.reader(fh)]
    header = [h.strip().lower() for h in (rows[0] if rows else [])]
    missing = [c for c in ROSTER_COLUMNS if c not in header]
    if missing:
        raise ToolError(f"{path}: the roster needs the columns {','.join(ROSTER_COLUMNS)} "
                        f"(missing: {', '.join(missing)})")
    # nbgrader reads the header as it is: give it the one read here (no BOM, no spaces,
    # lower case), in UTF-8
    folder = os.path.join(course, ".cnnlab")
    os.makedirs(folder, exist_ok=True)
    fd, plain = tempfile.mkstemp(dir=folder, prefix="roster-", suffix=".csv")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows([header, *rows[1:]])
        run_nbgrader(course, "db", "student", "import", plain, env=env)
    finally:
        os.remove(plain)
    return len(ids)


# --------------------------------------------------------------------- course dirs


def write_config(course: str, *, course_module: str | None = None,
                 extra_sys_path: Sequence[str] = (), settings: Mapping[str, Any] | None = None,
                 ) -> str:
    """Write ``<course>/nbgrader_config.py``: the course's config, rooted at ``course``."""
    lines = [
        '"""A throw-away cnnlab course directory (written by autograder.tools)."""',
        "import sys",
        "c = get_config()  # noqa: F821",
        f"for _p in {list(extra_sys_path)!r}:",
        "    if _p not in sys.path:",
        "        sys.path.insert(0, _p)",
        f"load_subconfig({MAIN_CONFIG!r})  # noqa: F821",
        f"c.CourseDirectory.root = {os.path.abspath(course)!r}",
    ]
    if course_module:
        lines.append(f"c.SandboxedGrading.course_module = {course_module!r}")
    for name, value in (settings or {}).items():
        lines.append(f"c.{name} = {value!r}")
    path = os.path.join(course, "nbgrader_config.py")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def make_course(course: str, sources: Mapping[str, str], **config: Any) -> str:
    """Create a course directory with ``source/<assignment>`` copied from ``sources``."""
    os.makedirs(course, exist_ok=True)
    for assignment, src in sources.items():
        dest = os.path.join(course, "source", assignment)
        if os.path.exists(dest):
            shutil.rmtree(dest)
        shutil.copytree(src, dest, ignore=shutil.ignore_patterns(
            ".ipynb_checkpoints", "__pycache__"))
    write_config(course, **config)
    return course


def assignments_in(source_root: str) -> list[str]:
    if not os.path.isdir(source_root):
        return []
    return sorted(d for d in os.listdir(source_root)
                  if os.path.isfile(os.path.join(source_root, d, d + ".ipynb")))


def release_path(course: str, assignment: str) -> str:
    return os.path.join(course, "release", assignment, assignment + ".ipynb")


# ------------------------------------------------------------------------ variants


def variant_cell(nb) -> Any:
    for cell in nb.cells:
        if cell.cell_type == "code" and VARIANT_TAG in cell.get("metadata", {}).get("tags", []):
            return cell
    return None


def personalize_notebook(nb, variant: Mapping[str, Any]):
    """Set the ``cnnlab-variant`` cell to ``VARIANT = {...}`` (a literal dict)."""
    from autograder.grader.preprocessor import variant_source

    cell = variant_cell(nb)
    if cell is not None:
        cell.source = variant_source(variant)
    return nb


def course_api(course_module: str = "cnnlab.grading"):
    from autograder.grader.preprocessor import Course

    return Course(course_module)


def read_roster(path: str) -> list[str]:
    """Student ids from a CSV with an ``id`` (or ``student_id``/``student``) column."""
    with open(path, newline="", encoding=ROSTER_ENCODING) as fh:
        rows = list(csv.DictReader(fh))
    ids = []
    for row in rows:
        lowered = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        sid = lowered.get("id") or lowered.get("student_id") or lowered.get("student")
        if sid:
            if not _ID.match(sid):
                raise ToolError(f"unusable student id in {path}: {sid!r}")
            ids.append(sid)
    if not ids:
        raise ToolError(f"{path}: no student ids (expected a column 'id')")
    return ids


def personalize(course: str, assignment: str, students: Iterable[str], out_dir: str, *,
                secret: str | None, course_module: str = "cnnlab.grading") -> list[str]:
    """One release notebook per student under ``out_dir/<student>/<assignment>/``."""
    import nbformat

    if not secret:
        raise ToolError("no course secret: run `python -m autograder.tools init-secret` first")
    src = release_path(course, assignment)
    if not os.path.isfile(src):
        raise ToolError(f"{src} does not exist: run `nbgrader generate_assignment "
                        f"{assignment}` first")
    api = course_api(course_module)
    written = []
    release_dir = os.path.dirname(src)
    for student in students:
        nb = nbformat.read(src, as_version=4)
        cell_source = getattr(api.variants, "variant_cell_source", None)
        if cell_source is not None and variant_cell(nb) is not None:
            # The cell computes, shows and records this student's numbers wherever it runs,
            # as the released notebook does under the student's JupyterHub name.
            variant_cell(nb).source = cell_source(assignment, student)
        else:
            personalize_notebook(nb, api.variant(assignment, student, secret))
        dest_dir = os.path.join(out_dir, student, assignment)
        shutil.copytree(release_dir, dest_dir, dirs_exist_ok=True)
        dest = os.path.join(dest_dir, assignment + ".ipynb")
        nbformat.write(nb, dest)
        written.append(dest)
    return written


# ------------------------------------------------------------------------- samples


@dataclass(frozen=True)
class Submission:
    """A sample or hostile submission: edits applied to the release notebook."""

    student: str
    answers: Mapping[str, str]            # solution-cell grade_id -> new source
    extra_cells: Sequence[str] = ()       # code cells appended at the end
    prepend_cells: Sequence[str] = ()     # code cells inserted before the first cell
    files: Mapping[str, str] = ()         # extra files in the submission folder
    mutate: Any = None                    # callable(nb) for structural edits


def load_module_file(path: str, name: str | None = None):
    spec = importlib.util.spec_from_file_location(
        name or "_cnnlab_sample_" + re.sub(r"\W", "_", os.path.abspath(path)), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_samples(samples_dir: str, assignment: str) -> list[Submission]:
    """``samples_dir/<assignment>/<student>.py`` files, each with ``ANSWERS``."""
    folder = os.path.join(samples_dir, assignment)
    out = []
    if not os.path.isdir(folder):
        return out
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".py") or name.startswith("_"):
            continue
        module = load_module_file(os.path.join(folder, name))
        out.append(Submission(student=name[:-3], answers=dict(getattr(module, "ANSWERS", {})),
                              extra_cells=tuple(getattr(module, "EXTRA_CELLS", ())),
                              files=dict(getattr(module, "FILES", {}))))
    return out


def apply_submission(nb, sub: Submission):
    import nbformat
    from nbgrader import utils

    by_id = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta and utils.is_solution(cell):
            by_id[meta["grade_id"]] = cell
    unknown = set(sub.answers) - set(by_id)
    if unknown:
        raise ToolError(f"{sub.student}: no solution cells {sorted(unknown)} in the notebook")
    for gid, source in sub.answers.items():
        by_id[gid].source = source
    for source in sub.extra_cells:
        nb.cells.append(nbformat.v4.new_code_cell(source))
    for source in reversed(list(sub.prepend_cells)):
        nb.cells.insert(0, nbformat.v4.new_code_cell(source))
    if sub.mutate is not None:
        sub.mutate(nb)
    return nb


def write_submission(course: str, assignment: str, sub: Submission, *,
                     variant: Mapping[str, Any] | None = None, when: str | None = None) -> str:
    import nbformat

    nb = nbformat.read(release_path(course, assignment), as_version=4)
    if variant is not None:
        personalize_notebook(nb, variant)
    apply_submission(nb, sub)
    folder = os.path.join(course, "submitted", sub.student, assignment)
    if os.path.exists(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    path = os.path.join(folder, assignment + ".ipynb")
    with open(path, "w", encoding="utf-8") as fh:
        nbformat.write(nb, fh)
    for name, text in dict(sub.files).items():
        target = os.path.join(folder, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as fh:
            fh.write(text)
    stamp = when or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    with open(os.path.join(folder, "timestamp.txt"), "w") as fh:
        fh.write(stamp)
    return path


def build_samples(course: str, samples_dir: str, assignments: Iterable[str], *,
                  secret: str | None, course_module: str = "cnnlab.grading",
                  personal: bool = True) -> dict[str, list[str]]:
    """Write every sample submission into ``<course>/submitted/``."""
    api = course_api(course_module)
    built: dict[str, list[str]] = {}
    for assignment in assignments:
        for sub in load_samples(samples_dir, assignment):
            variant = api.variant(assignment, sub.student if personal else None, secret)
            write_submission(course, assignment, sub, variant=variant)
            built.setdefault(assignment, []).append(sub.student)
    return built


# -------------------------------------------------------------------- submissions


def import_submissions(course: str, source: str):
    """Import a ``submitted/`` folder or a .zip of one (see ``archives``): returns the
    :class:`~autograder.tools.archives.ImportReport`; a bad member costs only its own
    submission."""
    from autograder.tools import archives

    try:
        return archives.import_submissions(course, source)
    except archives.ArchiveError as exc:
        raise ToolError(str(exc)) from None


# -------------------------------------------------------------------------- results


def scores(course: str, assignments: Iterable[str]) -> dict[tuple[str, str, str], float]:
    """(student, assignment, grade_id) -> score, from the gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    out = {}
    with Gradebook(db_url(course)) as gb:
        for assignment in assignments:
            try:
                a = gb.find_assignment(assignment)
            except MissingEntry:
                continue
            for submission in a.submissions:
                for snb in submission.notebooks:
                    for grade in snb.grades:
                        out[(submission.student.id, assignment, grade.name)] = grade.score
    return out


def totals(course: str, assignments: Sequence[str]) -> tuple[list[str], dict]:
    from nbgrader.api import Gradebook, MissingEntry

    table: dict[tuple[str, str], tuple[float, float]] = {}
    students = set()
    with Gradebook(db_url(course)) as gb:
        for assignment in assignments:
            try:
                a = gb.find_assignment(assignment)
            except MissingEntry:
                continue
            for submission in a.submissions:
                students.add(submission.student.id)
                table[(submission.student.id, assignment)] = (submission.score,
                                                              submission.max_score)
    return sorted(students), table


def format_table(students: Sequence[str], assignments: Sequence[str], table: Mapping,
                 flagged: Iterable[tuple[str, str]] = ()) -> str:
    """Students x assignments; ``!`` marks a flagged (student, assignment)."""
    flagged = set(flagged)
    width = max([7] + [len(s) for s in students])
    cols = [max(len(a), 11) for a in assignments]
    head = "student".ljust(width) + "  " + "  ".join(
        a.rjust(w) for a, w in zip(assignments, cols, strict=True))
    lines = [head, "-" * len(head)]
    for student in students:
        cells = []
        for a, w in zip(assignments, cols, strict=True):
            if (student, a) in table:
                got, full = table[(student, a)]
                mark = "!" if (student, a) in flagged else ""
                cells.append(f"{got:g}/{full:g}{mark}".rjust(w))
            else:
                cells.append("-".rjust(w))
        lines.append(student.ljust(width) + "  " + "  ".join(cells))
    return "\n".join(lines)


def read_expected(path: str) -> dict[tuple[str, str, str], float]:
    """``expected_scores.csv``: student, assignment, question key, expected score."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields = {name.strip().lower(): name for name in reader.fieldnames or []}

        def col(*names: str) -> str:
            for n in names:
                for low, orig in fields.items():
                    if n in low:
                        return orig
            raise ToolError(f"{path}: no column like {names[0]!r} (have {list(fields)})")

        cs, ca = col("student"), col("assignment")
        cq, cv = col("question", "key", "grade_id"), col("expected", "score", "points")
        return {(row[cs].strip(), row[ca].strip(), row[cq].strip()): float(row[cv])
                for row in reader if row.get(cs)}


def compare_expected(got: Mapping[tuple[str, str, str], float],
                     expected: Mapping[tuple[str, str, str], float]) -> list[str]:
    problems = []
    for (student, assignment, key), want in sorted(expected.items()):
        candidates = [key, key.split(".", 1)[-1], key.replace(".", "-", 1)]
        have = next((got[(student, assignment, k)] for k in candidates
                     if (student, assignment, k) in got), None)
        if have is None:
            problems.append(f"{student}/{assignment} {key}: no score (expected {want:g})")
        elif abs(have - want) > 1e-6:
            problems.append(f"{student}/{assignment} {key}: got {have:g}, expected {want:g}")
    return problems


def feedback_files(course: str) -> list[str]:
    root = os.path.join(course, "feedback")
    out = []
    for dirpath, _, filenames in os.walk(root):
        out += [os.path.join(dirpath, f) for f in filenames if f.endswith(".html")]
    return sorted(out)


def ledger_summary(course: str) -> dict[str, Any]:
    from autograder.grader.gradebook_guard import default_ledger_dir, read_ledger

    entries = read_ledger(default_ledger_dir(course))
    return {f"{e['student']}/{e['assignment']}": e.get("protections") for e in entries}


def dump_json(path: str, data: Any) -> None:
    with open(path, "w") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)


def master_answers(source_notebook: str) -> dict[str, str]:
    """The master notebook's own solutions (marker lines removed), by solution grade_id:
    a submission built from them must earn full marks."""
    import nbformat
    from nbgrader import utils

    nb = nbformat.read(source_notebook, as_version=4)
    out = {}
    for cell in nb.cells:
        if utils.is_solution(cell) and cell.cell_type == "code":
            lines = [ln for ln in cell.source.splitlines()
                     if ln.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")]
            out[cell.metadata["nbgrader"]["grade_id"]] = "\n".join(lines)
    return out
