"""nbgrader preprocessors: grade in this process, run student code only in the sandbox.

* :class:`RestoreCellMetadata` (sanitize step, first): rewrites every cell's nbgrader
  metadata from the gradebook, so a submission cannot turn a test cell into something
  else, change its points, duplicate ids or set an old schema version (which would
  stop nbgrader's whole batch).
* :class:`SandboxedGrading` (autograde step, replaces nbgrader's ``Execute``): runs the
  student's code cells in the sandbox, asks each question on the cases of this
  student's variant, grades with the course's ``Question.grade`` here, and writes each
  test cell's outputs itself: the report as stdout and the score as the
  ``execute_result`` nbgrader reads for partial credit. Test cell code never runs.
* :class:`HideTestSources` (generate_feedback): replaces each test cell's source by a
  one-line header, so no test code, visible or hidden, reaches the feedback.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_markdown_cell, new_output
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Enum, Float, Integer, List, Unicode

from . import gradebook_guard, sandbox
from .course_content import Course, case_seed
from .plan import (
    GradingOutcome,
    GradingPlan,
    ResultStore,
    TestSpec,
    code_fingerprint,
    execute_plan,
    read_files,
    secret_fingerprint,
)

SECRET_ENV = "CNNLAB_COURSE_SECRET"
SECRET_FILE_ENV = "CNNLAB_COURSE_SECRET_FILE"
FOOTER_KEY = "cnnlab_grading_footer"
VARIANT_TAG = "cnnlab-variant"
DEFAULT_EXCHANGE = "/usr/local/share/nbgrader/exchange"  # nbgrader's Exchange.root
SCHEMA_VERSION = 3
HERE = os.path.dirname(os.path.abspath(__file__))


# --------------------------------------------------------------------------- helpers


def is_test_cell(cell: NotebookNode) -> bool:
    """An autograded test cell: a code grade cell that is not an answer cell."""
    return cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)


def is_variant_cell(cell: NotebookNode) -> bool:
    """The assignment's ``VARIANT = {...}`` cell (tagged ``cnnlab-variant``)."""
    tags = cell.get("metadata", {}).get("tags", [])
    return cell.cell_type == "code" and isinstance(tags, list) and VARIANT_TAG in tags


def variant_source(variant) -> str:
    """``VARIANT = {...}`` as a literal dict, the form DESIGN.md fixes."""
    return "VARIANT = {" + ", ".join(f"{k!r}: {v!r}" for k, v in variant.items()) + "}"


def grade_id(cell: NotebookNode) -> str | None:
    meta = cell.metadata.get("nbgrader")
    gid = meta.get("grade_id") if isinstance(meta, dict) else None
    return gid if isinstance(gid, str) else None


def course_root_from(resources: dict) -> str:
    """The course directory: where gradebook.db lives (sqlite), else the cwd."""
    url = resources.get("nbgrader", {}).get("db_url", "")
    if url.startswith("sqlite:///"):
        return os.path.dirname(os.path.abspath(url[len("sqlite:///"):]))
    return os.getcwd()


def _stream(name: str, text: str) -> NotebookNode:
    return new_output("stream", name=name, text=text)


def _cell_outputs(rec: sandbox.CellRecord) -> list[NotebookNode]:
    outputs = []
    if rec.stdout:
        outputs.append(_stream("stdout", rec.stdout))
    if rec.stderr:
        outputs.append(_stream("stderr", rec.stderr))
    if rec.result is not None and rec.error is None:
        outputs.append(new_output("execute_result", data={"text/plain": rec.result},
                                  execution_count=None))
    if rec.error is not None:
        outputs.append(new_output("error", ename=rec.error["ename"],
                                  evalue=rec.error["evalue"],
                                  traceback=list(rec.error["traceback"])))
    return outputs


def _score_output(score: float) -> NotebookNode:
    return new_output("execute_result", data={"text/plain": repr(float(score))},
                      execution_count=None)


# ----------------------------------------------------------------------- sanitizing


def _flags(meta) -> tuple:
    if not isinstance(meta, dict):
        return ()
    return (bool(meta.get("grade")), bool(meta.get("solution")), bool(meta.get("locked")),
            bool(meta.get("task")), meta.get("points"))


class RestoreCellMetadata(NbGraderPreprocessor):
    """Rewrite all nbgrader cell metadata from the gradebook (sanitize step, first).

    A cell whose grade_id the gradebook does not know, or a second cell with the same
    id, becomes an ordinary cell; every known cell gets exactly the master's flags,
    points, checksum and the current schema version.
    """

    def preprocess(self, nb: NotebookNode, resources: dict):
        from .master_cells import read_master

        nbg = resources["nbgrader"]
        master = read_master(nbg["db_url"], nbg["notebook"], nbg["assignment"])
        if not master.exists:
            return nb, resources
        sources = {c.name: c for c in master.source_cells}
        grades = {c.name: float(c.max_score) for c in master.grade_cells}
        solutions = {c.name for c in master.solution_cells}
        tasks = {c.name: float(c.max_score) for c in master.task_cells}
        seen: set[str] = set()
        for cell in reversed(nb.cells):  # like nbgrader's DeduplicateIds, the last copy wins
            if "nbgrader" not in cell.get("metadata", {}):
                continue
            gid = grade_id(cell)
            if gid is None or gid not in sources or gid in seen:
                if gid is not None and gid in seen:
                    self.log.warning("Duplicate cell id %r: the earlier copy is now a plain "
                                     "cell", gid)
                del cell.metadata["nbgrader"]
                continue
            seen.add(gid)
            src = sources[gid]
            meta = {"schema_version": SCHEMA_VERSION, "grade": gid in grades,
                    "solution": gid in solutions, "locked": bool(src.locked),
                    "task": gid in tasks, "grade_id": gid}
            if gid in grades or gid in tasks:
                meta["points"] = grades.get(gid, tasks.get(gid))
            if src.checksum:
                meta["checksum"] = src.checksum
            if src.cell_type in ("code", "markdown", "raw"):
                meta["cell_type"] = src.cell_type
            if _flags(cell.metadata["nbgrader"]) != _flags(meta):
                self.log.warning("Restored the nbgrader metadata of cell %r (it was edited)",
                                 gid)
            cell.metadata["nbgrader"] = NotebookNode(meta)
        return nb, resources


# ------------------------------------------------------------------------- grading


class SandboxedGrading(NbGraderPreprocessor):
    """Autograde without running test code: the sandbox answers, this process grades."""

    course_module = Unicode(
        "cnnlab.grading",
        help="Module with question(key) and variant_for(...) (DESIGN.md)").tag(config=True)
    plain_path = Unicode(
        "", help="Path of the plain-data module; default: <course_module>.plain").tag(config=True)
    isolation = Enum(["auto", "namespaces", "none"], "auto",
                     help="Sandbox isolation: auto, namespaces (required) or none").tag(
                         config=True)
    variants = Enum(["personal", "default"], "personal",
                    help="'personal': grade each student's own variant (what the "
                         "released notebook shows under their JupyterHub user name, or a "
                         "`personalize`d notebook); 'default': everyone worked with the "
                         "lecture's numbers").tag(config=True)
    require_secret = Bool(True, help="Refuse to grade without a course secret").tag(config=True)
    cell_timeout = Float(60.0, help="Soft time limit per student cell (s)").tag(config=True)
    case_timeout = Float(10.0, help="Time limit per call of a student function (s)").tag(
        config=True)
    question_timeout = Float(30.0, help="Time for all the calls of one question (s); "
                             "cases left when it is spent count as timeouts").tag(config=True)
    total_timeout = Float(600.0, help="Hard limit for one notebook's whole run (s)").tag(
        config=True)
    memory_limit = Integer(3 * 2**30, help="Address space per sandbox process (bytes)").tag(
        config=True)
    process_limit = Integer(48, help="Processes a submission may run at once").tag(config=True)
    file_size_limit = Integer(64 * 2**20, help="Largest file a submission may write").tag(
        config=True)
    blocked_modules = List(list(sandbox.DEFAULT_BLOCKED),
                           help="Packages a graded answer may not import").tag(config=True)
    ledger_dir = Unicode("", help="Where computed scores are recorded for the gradebook "
                                  "guard; default <course root>/.cnnlab/ledger").tag(config=True)
    footer = Bool(True, help="Append the sandbox's protections to the notebook").tag(config=True)
    result_store = Unicode("", help="Folder of outcomes computed in advance by workers "
                                    "(python -m autograder.tools grade sets it); a notebook "
                                    "without one is graded here").tag(config=True)

    def limits(self) -> sandbox.Limits:
        return sandbox.Limits(cell_seconds=self.cell_timeout, case_seconds=self.case_timeout,
                              question_seconds=self.question_timeout,
                              total_seconds=self.total_timeout, memory_bytes=self.memory_limit,
                              processes=self.process_limit, file_bytes=self.file_size_limit)

    def student_variant(self, course: Course, assignment: str, student: str,
                        secret) -> dict:
        """The numbers this student's notebook is graded with."""
        return course.variant(assignment, student if self.variants == "personal" else None,
                              secret)

    def plan(self, nb: NotebookNode, resources: dict, *,
             files_dirs: Sequence[str | None] | None = None) -> GradingPlan:
        """The plan of one sanitized notebook (see :mod:`autograder.grader.plan`).

        Sets the variant cell to this student's numbers, recomputed from the secret:
        editing it changes nothing, and code that reads VARIANT sees what is checked.
        ``files_dirs`` are the folders of the submission's own files (default: the
        notebook's folder, which nbgrader fills with the student's and the master's).
        """
        nbg = resources["nbgrader"]
        assignment, student, notebook = nbg["assignment"], nbg["student"], nbg["notebook"]
        root = course_root_from(resources)
        course = Course.shared(self.course_module, self.plain_path, root)
        secret = course.secret(root)
        if secret is None and self.require_secret:
            raise RuntimeError(
                "no course secret: run `python -m autograder.tools init-secret` (or set "
                f"${SECRET_ENV} / ${SECRET_FILE_ENV}); refusing to grade with predictable "
                "hidden cases")
        variant = self.student_variant(course, assignment, student, secret)
        rng = course.rng(secret, assignment, student)
        for cell in nb.cells:
            if is_variant_cell(cell):
                cell.source = variant_source(variant)

        test_cells = [c for c in nb.cells if is_test_cell(c)]
        test_ids = {grade_id(c) for c in test_cells}
        student_cells = tuple((i, c.source) for i, c in enumerate(nb.cells)
                              if c.cell_type == "code" and not is_test_cell(c)
                              and grade_id(c) not in test_ids)
        asked = {}  # grade_id -> (question, cases), drawn in grade_id order
        for gid in sorted(g or "" for g in test_ids):
            q = course.question(assignment, gid)
            if q is not None:
                asked[gid] = (q, tuple(q.visible_cases(variant))
                              + tuple(q.hidden_cases(rng, variant)))
        tests = []
        for cell in test_cells:
            gid = grade_id(cell)
            q, cases = asked.get(gid, (None, ()))
            tests.append(TestSpec(gid, float(cell.metadata["nbgrader"].get("points", 0)),
                                  q.key if q is not None else None, cases))
        jobs = tuple(sandbox.QuestionJob(q.key, q.target, q.kind,
                                         [course.plain.encode({"args": tuple(c.args),
                                                               "kwargs": dict(c.kwargs)})
                                          for c in cases])
                     for q, cases in asked.values())
        if files_dirs is None:
            files_dirs = [resources.get("metadata", {}).get("path") or None]
        salt = secret_fingerprint(secret) + code_fingerprint(
            [os.path.dirname(course.module.__file__), course.plain_path, HERE])
        return GradingPlan(
            assignment=assignment, student=student, notebook=notebook,
            course_module=self.course_module, plain_path=self.plain_path,
            cells=student_cells, tests=tuple(tests), jobs=jobs, variant=dict(variant),
            files=read_files(files_dirs, max_bytes=self.file_size_limit),
            limits=self.limits(), isolation=self.isolation,
            blocked_modules=tuple(self.blocked_modules),
            sensitive=tuple(self._sensitive(root)), salt=salt)

    def preprocess(self, nb: NotebookNode, resources: dict):
        plan = self.plan(nb, resources)
        who = f"{plan.student}/{plan.assignment}"
        outcome = None
        if self.result_store:
            outcome = ResultStore(self.result_store).get(plan.key())
            if outcome is None:
                self.log.warning("%s: no result computed in advance; grading it here", who)
        if outcome is None:
            outcome = execute_plan(plan)
        if outcome.setup_error:
            raise RuntimeError(f"{who}: {outcome.setup_error}")
        self.log.info("Sandbox for %s: %s, %.1f s (startup %s s); %s", who, outcome.status,
                      outcome.seconds, outcome.startup_seconds, outcome.protections)
        for note in outcome.notes:
            self.log.warning("%s: %s", who, note)
        for error in outcome.errors:
            self.log.error("%s: %s", who, error)
        scores = apply_outcome(nb, plan, outcome, footer=self.footer)
        root = course_root_from(resources)
        ledger = self.ledger_dir or gradebook_guard.default_ledger_dir(root)
        gradebook_guard.record(ledger, plan.assignment, plan.student, plan.notebook, scores,
                               protections=outcome.protections, status=outcome.status)
        return nb, resources

    def _sensitive(self, root: str) -> list[str]:
        """Paths hidden in the sandbox even when they sit under a directory it gets
        (/usr, /etc, site-packages): the course, the secret, nbgrader's exchange."""
        paths = [root, os.path.join(root, "course_secret"),
                 os.environ.get(SECRET_FILE_ENV, ""), DEFAULT_EXCHANGE]
        exchange = self.config.get("Exchange", {}).get("root")
        if isinstance(exchange, str):
            paths.append(exchange)
        return [p for p in paths if p]


def apply_outcome(nb: NotebookNode, plan: GradingPlan, outcome: GradingOutcome, *,
                  footer: bool = True) -> dict[str, tuple[float, float]]:
    """Write an outcome into the notebook: the student's cells get their outputs, each
    test cell its report (stdout) and score (``execute_result``). Returns the scores
    (grade_id -> (score, points)) for the gradebook guard."""
    for i, _ in plan.cells:
        cell = nb.cells[i]
        rec = outcome.cells.get(i)
        cell.outputs = _cell_outputs(sandbox.CellRecord(**rec)) if rec else []
        cell.execution_count = None
    scores: dict[str, tuple[float, float]] = {}
    tests = iter(plan.tests)
    for cell in nb.cells:
        if not is_test_cell(cell):
            continue
        test = next(tests)
        text, score = outcome.verdicts[test.grade_id]
        cell.outputs = [_stream("stdout", text), _score_output(score)]
        cell.execution_count = None
        scores[test.grade_id] = (score, test.points)
    if footer:
        nb.cells = [c for c in nb.cells if not c.get("metadata", {}).get(FOOTER_KEY)]
        cell = new_markdown_cell(outcome.footer)
        cell.metadata[FOOTER_KEY] = True
        nb.cells.append(cell)
    return scores


# ------------------------------------------------------------------------- feedback


class HideTestSources(NbGraderPreprocessor):
    """Replace each test cell's source with a one-line header (generate_feedback)."""

    header = Unicode("# Test cell {grade_id}: the grader ran its checks outside your "
                     "notebook; the report is below.").tag(config=True)

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int):
        if utils.is_grade(cell) and not utils.is_solution(cell):
            cell.source = self.header.format(grade_id=grade_id(cell) or "?")
        return cell, resources


def grade_notebook(nb: NotebookNode, resources: dict, **traits: Any):
    """Run :class:`SandboxedGrading` on one notebook outside nbgrader (tests, tools)."""
    pre = SandboxedGrading(**traits)
    return pre.preprocess(nb, resources)


__all__: Sequence[str] = ("Course", "HideTestSources", "RestoreCellMetadata",
                          "SandboxedGrading", "case_seed", "grade_notebook")
