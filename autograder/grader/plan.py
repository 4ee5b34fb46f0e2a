"""One notebook's grading as plain data: the plan, its execution, its outcome.

The grading of one submitted notebook splits in three steps so that the expensive
middle one can run anywhere:

1. **plan** (where the course secret is: nbgrader's process or the coordinator of
   ``python -m autograder.tools grade``): the student's code cells, and for every test
   cell its question and cases, drawn from the secret. See
   :meth:`autograder.grader.preprocessor.SandboxedGrading.plan`.
2. **execute** (:func:`execute_plan`, any process with the course package installed,
   a Dask worker for instance): the sandboxed run of the student's code, then each
   question's verdict. Needs neither the secret nor the gradebook.
3. **apply** (nbgrader's process): the outcome is written into the notebook's cells,
   and nbgrader's ``SaveAutoGrades`` stores the scores in the gradebook.

:meth:`GradingPlan.key` is a content hash of everything the outcome depends on, so a
result computed by a worker is found again by the nbgrader process that applies it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import hashlib
import hmac
import json
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import sandbox

#: Bumped whenever the meaning of a stored outcome changes.
OUTCOME_VERSION = 1
#: What nbgrader's ``CourseDirectory.ignore`` leaves out by default, plus notebooks.
IGNORED_FILES = (".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.ipynb")


@dataclass(frozen=True)
class TestSpec:
    """One test cell: its grade id, points, question key (None: no such question) and
    the cases it is graded on (course objects; their inputs are also in the jobs)."""

    grade_id: str
    points: float
    question: str | None
    cases: tuple = ()


@dataclass(frozen=True)
class GradingPlan:
    """Everything needed to grade one notebook, without the secret or the gradebook."""

    assignment: str
    student: str
    notebook: str
    course_module: str
    plain_path: str                       # configured path, or "" for the module's own
    cells: tuple[tuple[int, str], ...]    # the student's code cells (index, source)
    tests: tuple[TestSpec, ...]
    jobs: tuple[sandbox.QuestionJob, ...]
    variant: Mapping[str, Any]
    files: tuple[tuple[str, bytes], ...]  # the submission's own files (path, content)
    limits: sandbox.Limits
    isolation: str
    blocked_modules: tuple[str, ...]
    sensitive: tuple[str, ...] = ()
    salt: str = ""                        # fingerprint of the secret and the course code

    @property
    def unmatched(self) -> list[str]:
        """Test cells without a question (a course configuration problem)."""
        return [t.grade_id for t in self.tests if t.question is None]

    def key(self) -> str:
        """Content hash of what the outcome depends on (not of where it runs)."""
        data = {
            "version": OUTCOME_VERSION, "assignment": self.assignment,
            "student": self.student, "notebook": self.notebook,
            "course_module": self.course_module, "cells": list(self.cells),
            "tests": [(t.grade_id, t.points, t.question, len(t.cases)) for t in self.tests],
            "jobs": [(j.key, j.target, j.kind, list(j.calls)) for j in self.jobs],
            "variant": {k: repr(v) for k, v in sorted(self.variant.items())},
            "files": [(p, hashlib.sha256(b).hexdigest()) for p, b in self.files],
            "limits": dataclasses.asdict(self.limits), "isolation": self.isolation,
            "blocked": list(self.blocked_modules), "salt": self.salt,
        }
        text = json.dumps(data, sort_keys=True, default=repr)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class GradingOutcome:
    """What :func:`execute_plan` returns: plain data only (stored as JSON)."""

    cells: dict[int, dict]                 # cell index -> CellRecord fields
    verdicts: dict[str, tuple[str, float]]  # grade id -> (report text, score)
    status: str
    footer: str
    protections: str
    seconds: float
    startup_seconds: float | None = None
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)   # grading problems for the log
    setup_error: str | None = None         # the sandbox could not start: no grades
    cpu_seconds: float | None = None       # CPU of the sandbox's processes (a measurement)

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    def to_json(self) -> dict:
        return {"version": OUTCOME_VERSION, **dataclasses.asdict(self)}

    @classmethod
    def from_json(cls, data: Mapping) -> GradingOutcome:
        if data.get("version") != OUTCOME_VERSION:
            raise ValueError("stored outcome of another version")
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        values["cells"] = {int(k): v for k, v in values["cells"].items()}
        values["verdicts"] = {k: (str(t), float(s)) for k, (t, s) in values["verdicts"].items()}
        return cls(**values)


# ----------------------------------------------------------------------- planning help


def secret_fingerprint(secret: str | None) -> str:
    """A value that changes with the secret and reveals nothing about it."""
    key = (secret or "").encode()
    return hmac.new(key, b"cnnlab-grading-fingerprint", hashlib.sha256).hexdigest()[:32]


_CODE_FINGERPRINTS: dict[tuple[str, ...], str] = {}


def code_fingerprint(paths: Iterable[str]) -> str:
    """Hash of the Python sources in ``paths`` (files, or folders walked recursively):
    a changed question, reference or grader invalidates every stored outcome."""
    paths = tuple(sorted({os.path.abspath(p) for p in paths if p}))
    if paths in _CODE_FINGERPRINTS:
        return _CODE_FINGERPRINTS[paths]
    digest = hashlib.sha256()
    for root in paths:
        files = [root] if os.path.isfile(root) else sorted(
            os.path.join(d, f) for d, dirs, names in os.walk(root)
            for f in names if f.endswith(".py") and "__pycache__" not in d)
        for path in files:
            digest.update(path.encode())
            with open(path, "rb") as fh:
                digest.update(hashlib.sha256(fh.read()).digest())
    _CODE_FINGERPRINTS[paths] = digest.hexdigest()[:32]
    return _CODE_FINGERPRINTS[paths]


def _ignored(rel: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(part, pat) for part in rel.split(os.sep) for pat in patterns)


def read_files(folders: Sequence[str | None], *, ignore: Sequence[str] = IGNORED_FILES,
               max_bytes: int = 64 * 2**20, max_files: int = 2000) -> tuple:
    """A submission's own files as ``(relative path, bytes)``, sorted; a later folder's
    file replaces an earlier one's (nbgrader copies the master's files over the
    student's). Only regular files, as the intake checks them (never a link, FIFO or
    device); notebooks and nbgrader's ignored names are left out; beyond ``max_files``
    files or ``max_bytes`` in all, the rest is left out too."""
    from . import intake

    found: dict[str, str] = {}
    for folder in folders:
        if not folder or not os.path.isdir(folder) or os.path.islink(folder):
            continue
        for rel, _size in intake.scan(folder, notebooks=False).files:  # none is read
            if not _ignored(rel, ignore):
                found[rel] = os.path.join(folder, rel)
    out, total = [], 0
    for rel in sorted(found)[:max_files]:
        data = intake.open_data(found[rel], max_bytes - total)
        if data is None:
            continue
        total += len(data)
        out.append((rel, data))
    return tuple(out)


# -------------------------------------------------------------------------- execution


def _course(module: str, plain_path: str):
    from .course_content import Course

    return Course.shared(module, plain_path)


def _write_files(files: Sequence[tuple[str, bytes]], folder: str) -> None:
    for rel, data in files:
        target = os.path.normpath(os.path.join(folder, rel))
        if not target.startswith(os.path.join(folder, "")):
            continue  # never outside the folder, whatever the plan says
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as fh:
            fh.write(data)


def execute_plan(plan: GradingPlan, *, course=None) -> GradingOutcome:
    """Run the plan's sandbox, then grade each test cell. Runs in any process that has
    the course package; never raises because of what the student's code did."""
    course = course or _course(plan.course_module, plan.plain_path)
    start, cpu = time.monotonic(), _children_cpu()
    with tempfile.TemporaryDirectory(prefix="cnnlab-files-") as files_dir:
        _write_files(plan.files, files_dir)
        try:
            run = sandbox.run_submission(
                list(plan.cells), list(plan.jobs), plain_path=course.plain_path,
                files_dir=files_dir, limits=plan.limits, isolation=plan.isolation,
                blocked_modules=plan.blocked_modules, sensitive=plan.sensitive,
                plain=course.plain)
        except (sandbox.SandboxSetupError, RuntimeError, OSError) as exc:
            reason = " ".join(str(exc).split())[:400]
            return GradingOutcome({}, {}, "not run", "", "", time.monotonic() - start,
                                  setup_error=f"the sandbox could not start: {reason}")
    outcome = GradingOutcome(
        cells={i: dataclasses.asdict(rec) for i, rec in run.cells.items()}, verdicts={},
        status=run.status, footer=_footer(run), protections=run.protections.summary(),
        seconds=time.monotonic() - start, startup_seconds=run.startup_seconds,
        notes=list(run.notes), cpu_seconds=_children_cpu() - cpu)
    for test in plan.tests:
        text, score, error = grade_test(course, plan, test, run)
        outcome.verdicts[test.grade_id] = (text, score)
        if error:
            outcome.errors.append(error)
    return outcome


def _children_cpu() -> float:
    """CPU seconds of this process's ended child processes (the sandbox's, once it is
    over: a worker runs one sandbox at a time)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _footer(run: sandbox.RunResult) -> str:
    text = run.protections.markdown()
    if not run.completed:
        text += f"\n\n*This notebook's grading run {run.status}.*"
    return text


def grade_test(course, plan: GradingPlan, test: TestSpec,
               run: sandbox.RunResult) -> tuple[str, float, str | None]:
    """(report text, score, problem for the instructor's log or None) of one test cell."""
    points, gid = test.points, test.grade_id
    q = course.question(plan.assignment, test.question) if test.question else None
    if q is None:
        return (f"{gid}: 0 / {points:g} points\n  This check is not available "
                "(a course configuration problem, reported to the instructor).", 0.0,
                f"test cell {gid!r} of {plan.assignment} has no cnnlab question: scored 0 "
                "(question keys are the test cells' grade ids)")
    if not run.found.get(q.key, False):
        if run.completed and hasattr(q, "missing_report"):
            return q.missing_report().text(), 0.0, None
        why = ("your notebook's grading run did not finish" if not run.completed
               else f"`{q.target}` is not defined when your notebook runs from top to "
                    "bottom; define it in the answer cell")
        return f"{q.key}: 0 / {points:g} points\n  [FAIL] {why}.", 0.0, None
    try:
        report = q.grade(run.outcomes[q.key], list(test.cases), plan.variant)
        text = report.text()
        full = float(report.points) or points
        score = float(report.score) / full * points if full else 0.0
    except Exception as exc:
        return (f"{q.key}: 0 / {points:g} points\n  Your answer could not be checked "
                "(it returned something the checks did not expect).", 0.0,
                f"grading {q.key} raised {type(exc).__name__}: {exc}; scored 0")
    if not np.isfinite(score):
        score = 0.0
    return text, min(max(score, 0.0), points), None


# ------------------------------------------------------------------------------ store


class ResultStore:
    """Outcomes by plan key, one JSON file each, written atomically (a killed run
    leaves whole files or none)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def _path(self, key: str) -> str:
        if not key.isalnum():
            raise ValueError(f"not a plan key: {key!r}")
        return os.path.join(self.folder, key[:2], key + ".json")

    def get(self, key: str) -> GradingOutcome | None:
        try:
            with open(self._path(key), encoding="utf-8") as fh:
                return GradingOutcome.from_json(json.load(fh))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def __contains__(self, key: str) -> bool:
        return os.path.isfile(self._path(key))

    def put(self, key: str, outcome: GradingOutcome, about: Mapping | None = None) -> str:
        """Store ``outcome``; ``about`` (whose notebook it is) is kept beside it."""
        path = self._path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({**dict(about or {}), **outcome.to_json()}, fh)
        os.replace(tmp, path)
        return path

    def keys(self) -> list[str]:
        """Every stored outcome's key."""
        out = []
        for _, _, names in os.walk(self.folder):
            out += [n[:-5] for n in names if n.endswith(".json") and n[:-5].isalnum()]
        return sorted(out)

    def about(self, key: str) -> dict:
        """Whose notebook an outcome is (``assignment``, ``student``, ``notebook``);
        empty when unreadable."""
        try:
            with open(self._path(key), encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            return {}
        return {k: data.get(k) for k in ("assignment", "student", "notebook")}

    def prune(self, keep) -> int:
        """Delete every outcome for which ``keep(key)`` is false, and what a killed
        :meth:`put` left half-written (``*.tmp``); returns how many outcomes went."""
        removed = 0
        for key in self.keys():
            if not keep(key):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(self._path(key))
                    removed += 1
        for dirpath, _, names in os.walk(self.folder, topdown=False):
            for name in names:
                if name.endswith(".tmp"):
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(os.path.join(dirpath, name))
            if dirpath != self.folder:
                with contextlib.suppress(OSError):
                    os.rmdir(dirpath)  # only when empty
        return removed

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
