"""avg_pool2d_backward never returns (only its question loses points)."""

import importlib.util
from pathlib import Path

_COMMON = Path(__file__).parents[1] / "_common.py"
_spec = importlib.util.spec_from_file_location("cnnlab_samples_common", _COMMON)
common = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(common)

ANSWERS = common.with_changes(
    "ps3_pooling",
    answer__avg_backward='''
def avg_pool2d_backward(dout, cache):
    """Average pooling backward: dout (N, C, H_out, W_out) -> dx (N, C, H, W)."""
    while True:
        pass
''',
)
