"""The kernels are also correct with 256-bit vectors on a CPU that has AVX-512.

cnnlab picks its vector width from the CPU (:data:`cnnlab.kernels.simd.VECTOR_BYTES`);
a machine with AVX-512 never runs the AVX2 layout of its arrays unless forced. This runs
a subset of the convolution tests in a subprocess with ``CNNLAB_VECTOR_BYTES=32`` and a
kernel cache of its own (the forced width compiles other kernels), so that both widths
are tested here, against the naive loops and finite differences.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SUBSET = [
    "tests/test_layers_conv.py::test_channel_last_kernel_covers_every_block",
    "tests/test_layers_conv.py::test_channel_last_kernel_runs_each_group",
    "tests/test_layers_conv.py::test_conv_matches_finite_differences_and_naive",
    "tests/test_layers_dispatch.py::test_forced_paths_agree_with_naive",
]


def _width() -> int:
    from cnnlab.kernels.simd import VECTOR_BYTES

    return VECTOR_BYTES


@pytest.mark.slow
def test_the_avx2_width_passes_the_kernel_tests(tmp_path):
    if _width() == 32:
        pytest.skip("this CPU runs the 256-bit kernels already; the whole suite tests them")
    env = dict(os.environ, CNNLAB_VECTOR_BYTES="32", NUMBA_CACHE_DIR=str(tmp_path))
    env.pop("PYTEST_ADDOPTS", None)
    code = "from cnnlab.kernels.simd import VECTOR_BYTES; print(VECTOR_BYTES)"
    check = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )
    assert check.stdout.strip() == "32"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *SUBSET],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_a_forced_width_needs_its_own_cache():
    env = dict(os.environ, CNNLAB_VECTOR_BYTES="32")
    env.pop("NUMBA_CACHE_DIR", None)
    env.pop("NUMBA_DISABLE_JIT", None)
    result = subprocess.run(
        [sys.executable, "-c", "import cnnlab.kernels.simd"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    assert result.returncode != 0
    assert "set NUMBA_CACHE_DIR" in result.stderr
