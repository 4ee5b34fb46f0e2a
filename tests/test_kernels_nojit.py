"""The kernels are also correct as plain Python (``NUMBA_DISABLE_JIT=1``).

Numba compiles a subset of Python; a kernel that only works compiled (or only works
interpreted) is a bug, and coverage tools only see the interpreted version. This
runs a small representative subset of the layer tests in a subprocess with the JIT
disabled: the lecture's max-pool example, ties, padding, overlapping windows, a few
grid cases of conv and pooling against finite differences and the naive loops, the
random naive-vs-fast cases, every kind of block of the register-blocked convolution
(a block that runs on into the next row, or past the last pixel, must stay inside its
arrays: plain Python raises where compiled code would quietly read past the end), and
the doctests of the layers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SUBSET = [
    "tests/test_layers_pool.py::test_maxpool_seed_example_forward_and_backward",
    "tests/test_layers_pool.py::test_tie_goes_to_first_maximum_in_row_major_order",
    "tests/test_layers_pool.py::test_padding_never_wins_even_against_minus_infinity",
    "tests/test_layers_pool.py::test_overlapping_windows_accumulate",
    "tests/test_layers_pool.py::test_nan_propagates_like_pytorch",
    "tests/test_layers_pool.py::test_pool_matches_finite_differences_and_naive[max-k3-pad1-s2-ceil]",
    "tests/test_layers_pool.py::test_pool_matches_finite_differences_and_naive[avg-k(3,2)-padsame-s1-floor]",
    "tests/test_layers_pool.py::test_avg_pool_count_include_pad",
    "tests/test_layers_conv.py::test_conv_worked_example",
    "tests/test_layers_conv.py::test_conv_overlapping_windows_accumulate",
    "tests/test_layers_conv.py::test_conv_matches_finite_differences_and_naive[pad1-s2-d2-g2]",
    "tests/test_layers_conv.py::test_conv_matches_finite_differences_and_naive[padsame-s1-d1-gdepthwise]",
    "tests/test_layers_conv.py::test_conv_matches_finite_differences_and_naive[pad1-s2-d2-gC9]",
    "tests/test_layers_conv.py::test_conv_matches_finite_differences_and_naive[pad(1,2)-s2-d2-gdepthwise-x2]",
    "tests/test_layers_conv.py::test_channel_last_kernel_covers_every_block",
    "tests/test_layers_conv.py::test_channel_last_kernel_runs_each_group",
    "tests/test_layers_dispatch.py::test_each_warmup_example_takes_its_path",
    "tests/test_layers_dispatch.py::test_forced_paths_agree_with_naive[float64-False-depthwise-stride2]",
    "tests/test_layers_residual.py::test_block_against_finite_differences_and_naive[identity]",
    "tests/test_layers_norm.py::test_training_mode_against_finite_differences_and_naive[shape4-one-thread]",
    "tests/test_layers_norm.py::test_evaluation_mode_against_everything[fd-naive-parallel]",
    "tests/test_naive.py",
    "cnnlab/layers",
    "cnnlab/kernels",
]


def _env() -> dict[str, str]:
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    env.pop("PYTEST_ADDOPTS", None)
    return env


def test_kernels_are_plain_python_functions_without_the_jit():
    code = (
        "from cnnlab.kernels import conv, pool; "
        "print(type(conv.im2col).__name__, type(pool.max_pool_forward).__name__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=_env(), capture_output=True, text=True,
        check=True,
    )
    assert out.stdout.split() == ["function", "function"]


@pytest.mark.timeout(300)
def test_layer_subset_passes_with_numba_disabled():
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SUBSET]
    result = subprocess.run(command, cwd=ROOT, env=_env(), capture_output=True, text=True)
    tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
    assert result.returncode == 0, tail
    assert " passed" in tail
    assert "failed" not in tail
