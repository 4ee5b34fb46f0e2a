"""A student's own checks from the released files alone (a JupyterHub server).

The server has the released folder of an assignment (its notebook and its questions
file) and the installed cnnlab, nothing of the course's source. A check run there must
read the released questions file, next to the notebook, and print the grading text.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cnnlab.grading.questions import SOURCES_ENV

ROOT = Path(__file__).resolve().parents[1]
RELEASE = ROOT / "autograder" / "release"

# (assignment, a wrong answer as a student writes it, its check, what the report says)
STUDENTS = [
    (
        "ps2_conv",
        "import numpy as np\n"
        "def conv2d_out(x, w, b, stride, padding):\n"
        "    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))\n"
        "    F, _, KH, KW = w.shape\n"
        "    H_out = (xp.shape[2] - KH) // stride + 1\n"
        "    W_out = (xp.shape[3] - KW) // stride + 1\n"
        "    out = np.zeros((x.shape[0], F, H_out, W_out))\n"
        "    for i in range(H_out):\n"
        "        for j in range(W_out):\n"
        "            rows = slice(i * stride, i * stride + KH)\n"
        "            cols = slice(j * stride, j * stride + KW)\n"
        "            window = xp[:, :, rows, cols]\n"
        "            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))\n"
        "    return out  # no bias\n",
        "check('ps2_conv-conv_forward', conv2d_out)",
        [
            "ps2_conv-conv_forward (conv2d_forward): 0 / 4 points",
            "Likely mistake: the bias b[f] was not added to the output of filter f.",
        ],
    ),
]


@pytest.mark.parametrize(("assignment", "answer", "call", "expected"), STUDENTS)
def test_a_students_check_reads_the_released_questions_file(
    assignment, answer, call, expected, tmp_path
):
    released = RELEASE / assignment
    folder = tmp_path / assignment
    folder.mkdir()
    for name in (f"{assignment}.ipynb", f"{assignment}_questions.py"):
        shutil.copyfile(released / name, folder / name)
    code = (
        "import sys\n"
        "from cnnlab.grading import check\n"
        f"{answer}"
        f"{call}\n"
        f"print('loaded from', sys.modules['{assignment}_questions'].__file__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=folder,
        capture_output=True,
        text=True,
        env={**{k: v for k, v in os.environ.items() if k != SOURCES_ENV}, "PYTHONPATH": ""},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for line in expected:
        assert line in result.stdout, result.stdout
    # the released copy, not the course's source, answered
    assert f"loaded from {folder / f'{assignment}_questions.py'}" in result.stdout
