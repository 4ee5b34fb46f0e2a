"""The top-level package: lazy re-exports resolve and importing stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import cnnlab


def test_every_advertised_name_resolves():
    missing = [name for name in cnnlab.__all__ if not hasattr(cnnlab, name)]
    assert missing == []


def test_unknown_attribute_says_so():
    with pytest.raises(AttributeError, match="no_such_layer"):
        cnnlab.no_such_layer  # noqa: B018


def test_import_does_not_load_numba_or_matplotlib():
    code = (
        "import sys, cnnlab; cnnlab.conv_output_size(32, 5);"
        "print(sorted(m for m in ('numba', 'matplotlib', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
