"""Shared by the sample submissions: the correct answers, read from the master notebook.

A sample file ``<assignment>/<student>.py`` defines ``ANSWERS``, a dict from a solution
cell's nbgrader ``grade_id`` to the source the sample student wrote. Cells it does not
list stay as released (``raise NotImplementedError()``). The correct answers are the
master notebook's solutions with the ``### BEGIN/END SOLUTION`` lines removed, so the
samples never drift from the assignment; a misconception is the correct answers with
one cell replaced.

Sample files import it as ``autograder.samples._common``; it needs only the standard library.
"""

from __future__ import annotations

import json
from pathlib import Path

SAMPLES = Path(__file__).resolve().parent
SOURCE = SAMPLES.parent / "source"
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def solutions(assignment: str) -> dict[str, str]:
    """``{grade_id: source}`` of every solution cell, markers removed."""
    path = SOURCE / assignment / f"{assignment}.ipynb"
    notebook = json.loads(path.read_text(encoding="utf-8"))
    answers = {}
    for cell in notebook["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("solution"):
            continue
        source = cell["source"]
        if isinstance(source, list):
            source = "".join(source)
        lines = [line for line in source.split("\n") if line.strip() not in MARKERS]
        answers[meta["grade_id"]] = "\n".join(lines)
    return answers


def with_changes(assignment: str, **changes: str) -> dict[str, str]:
    """The correct answers with some cells replaced (keyword = grade_id, ``-`` as ``_``).

    ``with_changes(A, answer__output_size=...)`` replaces the cell ``answer-output_size``.
    """
    answers = solutions(assignment)
    for name, source in changes.items():
        grade_id = name.replace("__", "-")
        if grade_id not in answers:
            raise KeyError(f"{assignment} has no solution cell {grade_id!r}")
        answers[grade_id] = source.strip("\n")
    return answers

