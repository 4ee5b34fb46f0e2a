"""input_region never returns (only its question loses points)."""

import importlib.util
from pathlib import Path

_COMMON = Path(__file__).parents[1] / "_common.py"
_spec = importlib.util.spec_from_file_location("cnnlab_samples_common", _COMMON)
common = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(common)

ANSWERS = common.with_changes(
    "ps4_receptive_saliency_transfer",
    answer__input_region='''
def input_region(layers, i):
    """Input pixels [start, stop) seen by unit i of the last layer (may reach into padding)."""
    while True:
        pass
''',
)
