"""Helpers for the tests of the course's questions files.

:func:`sentence_with` finds a misconception's sentence by a phrase of it.

A JupyterHub server has the released folder (notebook and questions file) and the
installed cnnlab, not this checkout's ``autograder/source``: :func:`check_from_release`
copies the release to a scratch folder, hides the checkout's course from the registry
and runs ``code`` there in a fresh Python, as a student's kernel would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from cnnlab.grading.questions import SOURCES_ENV

RELEASE = Path(__file__).resolve().parents[1] / "autograder" / "release"
PRELUDE = (
    "from pathlib import Path\n"
    "from cnnlab.grading import check, questions\n"
    "questions.CHECKOUT_SOURCE = Path('/nonexistent')\n"
)


def check_from_release(assignment: str, code: str, tmp_path: Path) -> str:
    """Run ``code`` in a copy of ``release/<assignment>``; return what it printed.

    The run fails unless the assignment's questions file was read from that copy.
    """
    folder = tmp_path / assignment
    shutil.copytree(RELEASE / assignment, folder)
    where = (
        f"\nassert questions.assignment_module({assignment!r}).__file__.startswith(\n"
        "    str(Path.cwd()))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != SOURCES_ENV}
    result = subprocess.run(
        [sys.executable, "-c", PRELUDE + code + where],
        cwd=folder,
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": ""},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def sentence_with(mistakes, phrase: str) -> str:
    """The one sentence of ``mistakes`` (builder Mistakes) that contains ``phrase``."""
    found = {m.sentence for m in mistakes if phrase in m.sentence}
    assert len(found) == 1, (phrase, found)
    return found.pop()
