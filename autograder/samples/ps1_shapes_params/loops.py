"""same_padding never returns (only it loses points; ans_same is computed inline)."""

import importlib.util
from pathlib import Path

_COMMON = Path(__file__).parents[1] / "_common.py"
_spec = importlib.util.spec_from_file_location("cnnlab_samples_common", _COMMON)
common = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(common)

ANSWERS = common.with_changes(
    "ps1_shapes_params",
    answer__same_padding='''
def same_padding(n, k, s):
    """'same' padding (before, after) along one axis: TensorFlow's rule."""
    while True:
        pass
''',
    answer__same="""
n, k, s = VARIANT["n_same"], VARIANT["k_same"], VARIANT["s_same"]
out = -(-n // s)
total = max((out - 1) * s + k - n, 0)
ans_same = (out, total // 2, total - total // 2)
""",
)
