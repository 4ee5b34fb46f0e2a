"""Did the submitted notebook show this student's own numbers?

The released notebook computes its ``VARIANT`` from the identity JupyterHub and
nbgrader use (``cnnlab.grading.variants.show_variant``) and records, in the variant
cell's output, which student and which numbers it showed. Two preprocessors compare
that record with the submission:

* :class:`ClearOutputKeepingShownVariant` (sanitize step, in place of nbgrader's
  ``ClearOutput``) copies the record and the cell's source into the cell's metadata,
  then clears the outputs.
* :class:`ReportVariant` (autograde step, right after ``SandboxedGrading``, which has
  rewritten the cell to the numbers it graded with) compares: a record of another
  student, other numbers or an edited variant cell **flags** the submission. The flag
  is set in the gradebook (the Formgrader's flag column), written as the variant cell's
  output (the student's feedback and the Formgrader's view), logged by ``autograde``
  and kept in ``<course>/.cnnlab/variant_flags/`` for ``python -m autograder.tools
  grade``'s summary.

Grading itself is not changed by a flag: every question is graded with the numbers of
the student the submission belongs to (docs/instructors.md, "When numbers do not match").
"""

from __future__ import annotations

import ast
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_output
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import ClearOutput, NbGraderPreprocessor

from cnnlab.grading.variants import RECORD_MIME, variant_cell_source

from .preprocessor import course_root_from, is_variant_cell

SHOWN_KEY = "cnnlab_shown_variant"
FLAGS_DIR = os.path.join(".cnnlab", "variant_flags")


@dataclass(frozen=True)
class VariantVerdict:
    """What the grader concluded about the numbers a submission showed."""

    flagged: bool
    reason: str  # one sentence for the student, the instructor and the log


def _variant_cell(nb: NotebookNode) -> NotebookNode | None:
    return next((c for c in nb.cells if is_variant_cell(c)), None)


def shown_record(cell: NotebookNode) -> dict[str, Any] | None:
    """The record ``show_variant`` left in ``cell``'s outputs, or ``None``."""
    for output in cell.get("outputs", []):
        data = output.get("data", {}) if isinstance(output, Mapping) else {}
        record = data.get(RECORD_MIME)
        if isinstance(record, str):
            try:
                record = json.loads(record)
            except ValueError:
                record = None
        if isinstance(record, Mapping):
            return {"assignment": record.get("assignment"), "student": record.get("student"),
                    "variant": dict(record.get("variant") or {})}
    return None


def _literal_variant(source: str) -> dict[str, Any] | None:
    """``{...}`` of a cell that is exactly ``VARIANT = {...}``; else ``None``."""
    try:
        tree = ast.parse(source)
        (stmt,) = tree.body
        if isinstance(stmt, ast.Assign) and [getattr(t, "id", None) for t in stmt.targets] \
                == ["VARIANT"]:
            value = ast.literal_eval(stmt.value)
            return dict(value) if isinstance(value, dict) else None
    except (SyntaxError, ValueError, TypeError):
        return None
    return None


def _canonical_sources(assignment: str, student: str) -> set[str]:
    return {variant_cell_source(assignment), variant_cell_source(assignment, student)}


def _describe(numbers: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in numbers.items())


def judge(assignment: str, student: str, graded: Mapping[str, Any],
          shown: Mapping[str, Any] | None, source: str | None,
          *, personal: bool = True) -> VariantVerdict:
    """Compare what a notebook showed with what it is graded against.

    Parameters
    ----------
    assignment, student : str
        The submission.
    graded : dict
        The numbers the grader uses (the student's own, or the default variant).
    shown : dict or None
        The notebook's record (:func:`shown_record`): ``None`` when the variant cell
        was never run or its output was removed.
    source : str or None
        The variant cell's source as submitted.
    personal : bool
        Whether the class is graded with personal variants (then the record must name
        this student).
    """
    grader = f"the numbers of student {student}" if personal else "the lecture's numbers"
    if source is not None and source.strip() not in _canonical_sources(assignment, student):
        literal = _literal_variant(source)
        if literal is None or literal != dict(graded):
            return VariantVerdict(True, f"The VARIANT cell was edited; graded with {grader} "
                                  f"({_describe(graded)}).")
    if shown is None:
        return VariantVerdict(False, f"Graded with {grader} ({_describe(graded)}); the "
                              "notebook holds no record of the numbers it showed (its "
                              "first cell was not run, or its output was cleared).")
    who = shown.get("student")
    if shown.get("assignment") != assignment:
        return VariantVerdict(True, f"The notebook showed the numbers of "
                              f"{shown.get('assignment')!r}, not {assignment}; graded with "
                              f"{grader}.")
    if personal and who != student:
        whose = f"student {who}" if who else "the lecture (run without a student id)"
        return VariantVerdict(True, f"The notebook showed the numbers of {whose}, not of "
                              f"{student}; graded with {grader} ({_describe(graded)}).")
    if dict(shown.get("variant") or {}) != dict(graded):
        return VariantVerdict(True, f"The notebook showed other numbers "
                              f"({_describe(shown.get('variant') or {})}); graded with "
                              f"{grader} ({_describe(graded)}).")
    return VariantVerdict(False, f"Graded with {grader}, the numbers this notebook showed "
                          f"({_describe(graded)}).")


class ClearOutputKeepingShownVariant(ClearOutput):
    """nbgrader's ``ClearOutput`` (sanitize step), which first keeps the variant cell's
    record and source in the cell's metadata.

    Whatever a submission wrote under that metadata key itself is replaced.
    """

    def preprocess(self, nb: NotebookNode, resources: dict):
        for cell in nb.cells:
            cell.get("metadata", {}).pop(SHOWN_KEY, None)
        cell = _variant_cell(nb)
        if cell is not None:
            cell.metadata[SHOWN_KEY] = {"record": shown_record(cell), "source": cell.source}
        return super().preprocess(nb, resources)


class ReportVariant(NbGraderPreprocessor):
    """Autograde step, right after ``SandboxedGrading``: judge, then flag or note."""

    def preprocess(self, nb: NotebookNode, resources: dict):
        nbg = resources["nbgrader"]
        assignment, student, notebook = nbg["assignment"], nbg["student"], nbg["notebook"]
        cell = _variant_cell(nb)
        if cell is None:
            return nb, resources
        kept = cell.metadata.pop(SHOWN_KEY, None) or {}
        graded = _literal_variant(cell.source)
        if graded is None:  # SandboxedGrading always writes a literal; be loud if not
            self.log.error("%s/%s: the variant cell does not hold the graded numbers",
                           student, assignment)
            return nb, resources
        personal = self._personal()
        verdict = judge(assignment, student, graded, kept.get("record"), kept.get("source"),
                        personal=personal)
        prefix = "FLAGGED for the instructor: " if verdict.flagged else ""
        cell.outputs = [new_output("stream", name="stdout", text=prefix + verdict.reason + "\n")]
        if verdict.flagged:
            self.log.warning("VARIANT MISMATCH %s/%s: %s", student, assignment, verdict.reason)
        root = course_root_from(resources)
        write_flag(root, assignment, student, verdict)
        self._set_gradebook_flag(nbg["db_url"], assignment, student, notebook, verdict.flagged)
        return nb, resources

    def _personal(self) -> bool:
        traits = self.config.get("SandboxedGrading", {})
        return traits.get("variants", "personal") == "personal"

    def _set_gradebook_flag(self, db_url: str, assignment: str, student: str, notebook: str,
                            flagged: bool) -> None:
        with Gradebook(db_url) as gb:
            try:
                nb = gb.find_submission_notebook(notebook, assignment, student)
            except MissingEntry:
                self.log.error("%s/%s: no submitted notebook %r in the gradebook to flag",
                               student, assignment, notebook)
                return
            nb.flagged = flagged
            gb.db.commit()


def _flag_path(course_root: str, assignment: str, student: str) -> str:
    return os.path.join(course_root, FLAGS_DIR, assignment, student + ".json")


def write_flag(course_root: str, assignment: str, student: str, verdict: VariantVerdict) -> None:
    """Keep (or clear) a submission's flag for :func:`read_flags`."""
    path = _flag_path(course_root, assignment, student)
    if not verdict.flagged:
        if os.path.exists(path):
            os.remove(path)
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"assignment": assignment, "student": student, "reason": verdict.reason}, fh)


def read_flags(course_root: str) -> list[dict[str, str]]:
    """Every flagged submission: ``{"assignment", "student", "reason"}``, sorted."""
    top = os.path.join(course_root, FLAGS_DIR)
    flags = []
    if os.path.isdir(top):
        for assignment in sorted(os.listdir(top)):
            folder = os.path.join(top, assignment)
            for name in sorted(os.listdir(folder)):
                if name.endswith(".json"):
                    with open(os.path.join(folder, name), encoding="utf-8") as fh:
                        flags.append(json.load(fh))
    return flags
