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
        "ps1_shapes_params",
        "def output_size(n, k, s=1, p=0, d=1):\n"
        "    return (n + 2 * p - d * (k - 1) - 1) // s  # the +1 left out\n",
        "check('ps1_shapes_params-output_size', output_size)",
        [
            "ps1_shapes_params-output_size (output_size(n, k, s, p, d)): 0 / 3 points",
            "Likely mistake: the count is one short",
        ],
    ),
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
    (
        "ps3_pooling",
        "import numpy as np\n"
        "def max_pool_dx(x, dout, kernel, stride, padding):\n"
        "    pads = ((0, 0), (0, 0), (padding, padding), (padding, padding))\n"
        "    xp = np.pad(x, pads, constant_values=-np.inf)\n"
        "    dxp = np.zeros_like(xp)\n"
        "    N, C, H_out, W_out = dout.shape\n"
        "    for n in range(N):\n"
        "        for c in range(C):\n"
        "            for i in range(H_out):\n"
        "                for j in range(W_out):\n"
        "                    top, left = i * stride, j * stride\n"
        "                    window = xp[n, c, top : top + kernel, left : left + kernel]\n"
        "                    last = window.size - 1 - np.argmax(window.ravel()[::-1])\n"
        "                    a, b = np.unravel_index(last, window.shape)  # the last maximum\n"
        "                    dxp[n, c, top + a, left + b] += dout[n, c, i, j]\n"
        "    H, W = x.shape[2:]\n"
        "    return dxp[:, :, padding : padding + H, padding : padding + W]\n",
        "check('ps3_pooling-max_backward', max_pool_dx)",
        [
            "ps3_pooling-max_backward (max_pool2d_backward): ",
            "Likely mistake: on a tie the gradient went to the last maximum",
        ],
    ),
    (
        "ps4_receptive_saliency_transfer",
        "def receptive_field(layers):\n"
        "    r, j = 1, 1\n"
        "    for k, s, _, d in layers:\n"
        "        r += d * (k - 1)  # the jump left out\n"
        "        j *= s\n"
        "    return r, j\n",
        "check('ps4_receptive_saliency_transfer-receptive_field', receptive_field)",
        [
            "ps4_receptive_saliency_transfer-receptive_field (receptive_field(layers)): ",
            "Likely mistake: each layer widens the receptive field",
        ],
    ),
]


@pytest.mark.parametrize(("assignment", "answer", "call", "expected"), STUDENTS)
def test_a_students_check_reads_the_released_questions_file(
    assignment, answer, call, expected, tmp_path
):
    # the whole released folder: the notebook, its questions file and any sibling module
    folder = tmp_path / assignment
    shutil.copytree(RELEASE / assignment, folder)
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from cnnlab.grading import check, questions\n"
        "questions.CHECKOUT_SOURCE = Path('/nonexistent')  # as if cnnlab were installed\n"
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
