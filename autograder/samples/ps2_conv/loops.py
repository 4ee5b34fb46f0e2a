"""conv2d_backward never returns (only its question loses points)."""

import importlib.util
from pathlib import Path

_COMMON = Path(__file__).parents[1] / "_common.py"
_spec = importlib.util.spec_from_file_location("cnnlab_samples_common", _COMMON)
common = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(common)

ANSWERS = common.with_changes(
    "ps2_conv",
    answer__conv_backward='''
def conv2d_backward(dout, cache):
    """Convolution backward: dout (N, F, H_out, W_out) -> (dx, dw, db)."""
    while True:
        pass
''',
)
