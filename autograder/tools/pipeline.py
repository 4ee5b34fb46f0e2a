"""The grading pipeline behind ``python -m autograder.tools demo`` and ``grade``.

Both go through the same steps with nbgrader's own commands: generate_assignment
(the demo always; ``grade`` only when the gradebook lacks the assignment), autograde
(sandboxed: see ``autograder/grader``), the gradebook check, generate_feedback (test
sources hidden) and the CSV export, then print the student x assignment table.
autograde and export run in this process (one import of nbgrader and the course for
the whole run: :mod:`autograder.tools.nbgrader_app`); generate_feedback too, shared with
up to ``workers - 1`` helper processes of this machine (:mod:`autograder.tools.feedback`),
started as soon as the workers have returned every outcome.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from autograder.tools import course as C

DEFAULT_DEMO_DIR = os.path.join(C.AUTOGRADER, ".scratch", "demo")


@dataclass
class PipelineResult:
    course: str
    assignments: list[str]
    students: list[str]
    table: dict
    csv_path: str | None
    feedback: list[str]
    failures: list[str] = field(default_factory=list)
    guard_problems: list[str] = field(default_factory=list)
    expected_problems: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # submissions that were not plain data
    seconds: dict[str, float] = field(default_factory=dict)
    batch: Any = None  # autograder.tools.batch.BatchResult

    @property
    def ok(self) -> bool:
        return not (self.failures or self.guard_problems or self.expected_problems)


def _say(quiet: bool, *parts: object) -> None:
    if not quiet:
        print(*parts, flush=True)


def _batches(course: str, assignments: Sequence[str]) -> list[str]:
    """One nbgrader call for all when they are all the course has (each call costs
    seconds of start-up), else one per assignment."""
    everything = C.assignments_in(os.path.join(course, "source"))
    return ["*"] if sorted(assignments) == everything else list(assignments)


def run_pipeline(course: str, assignments: Sequence[str], *, env: dict[str, str],
                 generate: bool, feedback: bool = True, export: bool = True,
                 quiet: bool = False, workers: int | None = None,
                 scheduler: str | None = None, force: bool = True,
                 students: Sequence[str] | None = None) -> PipelineResult:
    """generate_assignment (when asked), grade (:mod:`autograder.tools.batch`), check the
    gradebook, feedback, export."""
    from autograder.grader import gradebook_guard
    from autograder.tools.batch import grade_class

    timing: dict[str, float] = {}
    assignments = list(assignments)
    batches = _batches(course, assignments)
    if generate:
        t = time.monotonic()
        for a in batches:
            C.run_nbgrader(course, "generate_assignment", a, "--force", env=env)
        timing["generate_assignment"] = time.monotonic() - t
    from autograder.tools.feedback import NOTEBOOKS_PER_JOB, Helpers, generate_feedback

    # feedback helpers, started when the workers are done: their imports then use a
    # core the last gradebook pass leaves free
    helpers = Helpers(course, env, _local_processes(workers) - 1 if feedback else 0)
    try:
        t = time.monotonic()
        batch = grade_class(course, assignments, env=env, workers=workers,
                            scheduler=scheduler, force=force, students=students,
                            quiet=quiet, on_sandboxes_done=lambda n: helpers.start(
                                -(-n // NOTEBOOKS_PER_JOB)))
        timing["autograde"] = time.monotonic() - t
        timing.update({f"autograde.{k}": v for k, v in batch.seconds.items()})
        problems = gradebook_guard.verify(C.db_url(course),
                                          gradebook_guard.default_ledger_dir(course),
                                          assignments)
        if feedback and batch.feedback_due:
            from autograder.tools.state import GradingState

            t = time.monotonic()
            due: dict[str, list[str]] = {}
            for ref in batch.feedback_due:
                due.setdefault(ref.assignment, []).append(ref.student)
            generate_feedback(course, due, env=env, helpers=helpers)
            state = GradingState(course)
            state.feedback_written(str(ref) for ref in batch.feedback_due)
            state.save()
            timing["generate_feedback"] = time.monotonic() - t
    finally:
        helpers.close()
    fb = C.feedback_files(course) if feedback else []
    csv_path = None
    if export:
        csv_path = os.path.join(course, "exports", "grades.csv")
        os.makedirs(os.path.dirname(csv_path), exist_ok=True)
        _nbgrader(course, "export", f"--to={csv_path}", env=env)
        from autograder.tools.export import write_canvas_csv

        write_canvas_csv(course, os.path.join(course, "exports", "canvas.csv"))
    students_all, table = C.totals(course, assignments)
    result = PipelineResult(course, assignments, students_all, table, csv_path, fb,
                            batch.failures, [str(p) for p in problems], seconds=timing,
                            refused=batch.refused)
    result.batch = batch
    return result


def _nbgrader(course: str, *args: str, env: dict[str, str]) -> None:
    """``nbgrader <args>`` in this process (:mod:`autograder.tools.nbgrader_app`): a
    failure is a :class:`~autograder.tools.course.ToolError` naming its cause."""
    from autograder.tools import nbgrader_app

    done = nbgrader_app.run(course, args, env=env)
    if done.code != 0:
        raise C.nbgrader_failed(course, args, done.code, done.lines)


def _local_processes(workers: int | None) -> int:
    """Processes of this machine the coordinator's own work may use: ``workers`` (all
    cores by default, one with ``workers=0``), never more than the cores (that work
    keeps a core busy: a process more only costs its start-up)."""
    from autograder.tools.workers import default_workers

    return 1 if workers == 0 else min(workers or default_workers(), default_workers())


def report(result: PipelineResult, *, quiet: bool = False) -> None:
    from autograder.grader import platform, variant_check
    from autograder.tools.batch import format_rows

    flags = [f for f in variant_check.read_flags(result.course)
             if f["assignment"] in result.assignments]
    _say(quiet, "")
    if result.batch is not None and result.batch.rows:
        _say(quiet, format_rows(result.batch.rows))
        _say(quiet, "")
    _say(quiet, C.format_table(result.students, result.assignments, result.table,
                               flagged={(f["student"], f["assignment"]) for f in flags}))
    if flags:
        _say(quiet, "! FLAGGED: these notebooks showed numbers that are not their student's "
                    "own; graded with the student's own (docs/instructors.md):")
        for f in flags:
            _say(quiet, f"  {f['student']}/{f['assignment']}: {f['reason']}")
    _say(quiet, "")
    _say(quiet, "Sandbox:", platform.describe())
    _say(quiet, f"Gradebook:       {C.db_url(result.course)}")
    if result.csv_path:
        _say(quiet, f"CSV export:      {result.csv_path} (nbgrader's), "
                    f"{os.path.join(os.path.dirname(result.csv_path), 'canvas.csv')} "
                    "(one row per student, Canvas's import columns)")
    if result.feedback:
        _say(quiet, f"Feedback HTML:   {os.path.join(result.course, 'feedback')}"
                    f"/<student>/<assignment>/ ({len(result.feedback)} files)")
    if result.guard_problems:
        _say(quiet, "GRADEBOOK CHECK FAILED: the gradebook differs from what the grader "
                    "computed:")
        for p in result.guard_problems:
            _say(quiet, "  " + p)
    else:
        _say(quiet, "Gradebook check: every stored score is the one the grader computed.")
    for line in result.refused:
        _say(quiet, line)
    if result.batch is not None:
        phases = {**result.batch.seconds,
                  "feedback": result.seconds.get("generate_feedback", 0.0)}
        _say(quiet, "Seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in phases.items()))
        _say(quiet, f"CPU of this process: {time.process_time():.1f} s (planning, nbgrader, "
                    "feedback; the workers', sandboxes' and feedback helpers' are their "
                    "own)")
        _say(quiet, f"Log (with nbgrader's): {result.batch.log_path}")
    for f in result.failures:
        _say(quiet, "FAILED: " + f)
    for p in result.expected_problems:
        _say(quiet, "UNEXPECTED SCORE: " + p)


# --------------------------------------------------------------------------- commands


def demo(workdir: str = DEFAULT_DEMO_DIR, *, source_root: str | None = None,
         samples_dir: str = C.SAMPLES, expected_csv: str | None = None,
         secret_file: str = C.DEMO_SECRET, course_module: str | None = None,
         extra_sys_path: Sequence[str] = (), settings: dict | None = None,
         assignments: Sequence[str] | None = None, quiet: bool = False) -> PipelineResult:
    """The sample class, from scratch, in ``workdir``: the same path as a real class."""
    source_root = source_root or os.path.join(C.AUTOGRADER, "source")
    found = C.assignments_in(source_root)
    assignments = list(assignments or found)
    if not assignments:
        raise C.ToolError(f"no assignments under {source_root}")
    expected_csv = expected_csv or os.path.join(samples_dir, "expected_scores.csv")
    if os.path.exists(workdir):
        shutil.rmtree(workdir)
    C.make_course(workdir, {a: os.path.join(source_root, a) for a in assignments},
                  course_module=course_module, extra_sys_path=extra_sys_path,
                  settings=settings)
    env = C.nbgrader_env({"CNNLAB_COURSE_SECRET_FILE": os.path.abspath(secret_file)})
    env.pop("CNNLAB_COURSE_SECRET", None)
    with open(secret_file, encoding="utf-8") as fh:
        secret = fh.read().strip()
    _say(quiet, f"Demo course directory: {workdir}")
    t = time.monotonic()
    C.run_nbgrader(workdir, "generate_assignment", "*", "--force", env=env)
    gen = time.monotonic() - t
    for path in extra_sys_path:  # the test registry, for building the samples here
        if path not in sys.path:
            sys.path.insert(0, path)
    built = C.build_samples(workdir, samples_dir, assignments, secret=secret,
                            course_module=course_module or "cnnlab.grading")
    _say(quiet, "Sample submissions: " + ", ".join(
        f"{a}: {len(s)}" for a, s in sorted(built.items())))
    result = run_pipeline(workdir, assignments, env=env, generate=False, quiet=quiet)
    result.seconds["generate_assignment"] = gen
    if os.path.isfile(expected_csv):
        expected = C.read_expected(expected_csv)
        expected = {k: v for k, v in expected.items() if k[1] in assignments}
        result.expected_problems = C.compare_expected(C.scores(workdir, assignments), expected)
    report(result, quiet=quiet)
    if not quiet and os.path.isfile(expected_csv):
        state = "match" if not result.expected_problems else "DIFFER from"
        print(f"Scores {state} {os.path.relpath(expected_csv, C.REPO)}")
    return result


def grade(course: str, assignments: Sequence[str] | None, submissions: str | None, *,
          quiet: bool = False, workers: int | None = None, scheduler: str | None = None,
          force: bool = False, students: Sequence[str] | None = None,
          roster: str | None = None) -> PipelineResult:
    """Autograde a real class in ``course`` (default: autograder/): what is new or
    changed since the last run (everything with ``force``)."""
    from autograder.tools.workers import check_local_workers

    try:
        check_local_workers(workers)
    except ValueError as exc:
        raise C.ToolError(str(exc)) from None
    course = os.path.abspath(course)
    if not os.path.exists(os.path.join(course, "nbgrader_config.py")):
        raise C.ToolError(f"{course} has no nbgrader_config.py")
    if submissions:
        imported = C.import_submissions(course, submissions)
        _say(quiet, f"Imported {len(imported)} submissions from {submissions}")
        for line in imported.refused:
            _say(quiet, line)
    submitted = os.path.join(course, "submitted")
    if not os.path.isdir(submitted):
        raise C.ToolError(f"no submissions: {submitted} does not exist")
    known = C.assignments_in(os.path.join(course, "source"))
    for a in assignments or ():
        if a not in known:
            raise C.ToolError(f"unknown assignment {a!r}: there is no source/{a}/{a}.ipynb "
                              f"in {course} (the course has: {', '.join(known) or 'none'})")
    folders = sorted((s, a) for s in os.listdir(submitted)
                     if os.path.isdir(os.path.join(submitted, s))
                     for a in os.listdir(os.path.join(submitted, s))
                     if not a.startswith(".") and os.path.isdir(os.path.join(submitted, s, a)))
    # grading everything: a folder that is no assignment of the course is said, not skipped
    strays = [] if assignments else [
        f"submitted/{s}/{a}: not an assignment of this course (there is no "
        f"source/{a}/{a}.ipynb); not graded" for s, a in folders
        if a not in known and (not students or s in students)]
    lost = [f"--student {s}: no submission in {submitted}" for s in students or ()
            if not os.path.isdir(os.path.join(submitted, s))]
    assignments = list(assignments or sorted({a for _, a in folders if a in known}))
    if not assignments:
        raise C.ToolError("no assignment to grade (none of submitted/ has a source/ folder)")
    env = C.nbgrader_env()
    for a in C.ensure_in_gradebook(course, assignments, env=env):
        _say(quiet, f"{a}: added to the gradebook from source/{a} (release/ left as it is)")
    if roster:
        n = C.import_roster(course, roster, env=env)
        _say(quiet, f"Roster: {n} students in the gradebook")
    result = run_pipeline(course, assignments, env=env, generate=False, quiet=quiet,
                          workers=workers, scheduler=scheduler, force=force,
                          students=students)
    result.failures += strays + lost
    report(result, quiet=quiet)
    return result


def init_secret(path: str, *, force: bool = False) -> str:
    if os.path.exists(path) and not force:
        raise C.ToolError(f"{path} exists; keep it (students' hidden cases depend on it) or pass "
                          "--force")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    return path


