"""Widens the receptive field by d*(k - 1) without the jump."""

import importlib.util
from pathlib import Path

_COMMON = Path(__file__).parents[1] / "_common.py"
_spec = importlib.util.spec_from_file_location("cnnlab_samples_common", _COMMON)
common = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(common)

ANSWERS = common.with_changes(
    "ps4_receptive_saliency_transfer",
    answer__receptive_field='''
def receptive_field(layers):
    """(receptive field, jump) of a stack of (kernel, stride, padding, dilation) layers."""
    r, j = 1, 1
    for k, s, _, d in layers:
        r += d * (k - 1)
        j *= s
    return r, j
''',
)
