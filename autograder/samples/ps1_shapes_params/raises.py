"""separable_params raises NameError (math is never imported); so does the cell using it."""

import importlib.util
from pathlib import Path

_COMMON = Path(__file__).parents[1] / "_common.py"
_spec = importlib.util.spec_from_file_location("cnnlab_samples_common", _COMMON)
common = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(common)

ANSWERS = common.with_changes(
    "ps1_shapes_params",
    answer__separable_params='''
def separable_params(c_in, c_out, k):
    """Parameters of a depthwise k x k plus pointwise 1 x 1 convolution, biases included."""
    return math.prod((k, k, c_in)) + c_in + c_in * c_out + c_out
''',
)
