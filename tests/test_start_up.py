"""The grading commands' processes start without compiling ``jsonschema``'s unused
``iri`` checkers, and validate notebooks as before."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_grading_process_imports_nbgrader_without_the_iri_grammars():
    got = _run(
        "import json, sys, time\n"
        "t = time.process_time()\n"
        "import autograder.tools, nbgrader.api, nbgrader.apps, nbformat\n"
        "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('x = 1')])\n"
        "nbformat.validate(nb)\n"
        "bad = nbformat.from_dict({'nbformat': 4, 'nbformat_minor': 5, 'metadata': {},\n"
        "                          'cells': [{'cell_type': 'code'}]})\n"
        "try:\n"
        "    nbformat.validate(bad)\n"
        "    refused = False\n"
        "except nbformat.ValidationError:\n"
        "    refused = True\n"
        "print(json.dumps({'loaded': 'rfc3987_syntax.syntax_helpers' in sys.modules,\n"
        "                  'refused': refused}))\n")
    assert got == {"loaded": False, "refused": True}


def test_nothing_changes_when_jsonschema_came_first():
    got = _run(
        "import json, sys, jsonschema\n"
        "from autograder.tools.start_up import skip_unused_format_checkers\n"
        "before = sorted(jsonschema.FormatChecker().checkers)\n"
        "skip_unused_format_checkers()\n"
        "print(json.dumps({'same': sorted(jsonschema.FormatChecker().checkers) == before,\n"
        "                  'blocked': sys.modules.get('rfc3987_syntax', 1) is None}))\n")
    assert got == {"same": True, "blocked": False}
